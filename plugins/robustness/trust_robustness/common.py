"""What the robustness tasks share: the base task and item repairs (whole-unit limiting is
``trust_core.selection.stratified_units``).

The generic helpers (records, invalid marking, accuracy) live in ``trust_core.task_scoring``.
"""

from __future__ import annotations

from typing import Any

from trust_core.plugin import SinglePromptTask, packaged_calibration

PACKAGE = "trust_robustness"


class RobustnessTask(SinglePromptTask):
    """Base of the robustness tasks: packaged sample data, the item's prompt as one user message."""

    version = "1"
    sample_package = PACKAGE


def calibration_entries(task_id: str) -> list[dict[str, Any]]:
    """The hand-written judge-calibration entries for ``task_id`` (``calibration/judge_calibration.json``,
    written for this project: an item, a response to it and the verdict the response deserves)."""
    return packaged_calibration(PACKAGE, task_id)


# --------------------------------------------------------------------------- item repairs (B29)


def single(value: Any) -> Any:
    """A one-element list or a one-value dict as its element (list-or-dict labels, B29); else ``value``."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value.values()))
    return value
