"""What the truthfulness tasks share: the base task (the generic helpers live in ``trust_core.task_scoring``)."""

from __future__ import annotations

from typing import Any

from trust_core.plugin import (
    SinglePromptTask,
    base_record,
    empty_reason,
    mark_invalid,
    packaged_calibration,
    sample_order,
    user_prompt,
    verdict_label,
    verdict_record,
)

PACKAGE = "trust_truthfulness"

__all__ = [
    "PACKAGE",
    "TruthfulnessTask",
    "base_record",
    "calibration_entries",
    "empty_reason",
    "mark_invalid",
    "sample_order",
    "user_prompt",
    "verdict_label",
    "verdict_record",
]


class TruthfulnessTask(SinglePromptTask):
    """Base of the truthfulness tasks: packaged sample data, one user message per sample."""

    version = "1"
    sample_package = PACKAGE


def calibration_entries(task_id: str) -> list[dict[str, Any]]:
    """The hand-written judge-calibration entries for ``task_id`` (``calibration/judge_calibration.json``,
    written for this project: the answer(s) to judge and the verdict they deserve)."""
    return packaged_calibration(PACKAGE, task_id)
