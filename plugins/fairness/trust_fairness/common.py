"""What the fairness tasks share: the base task, item normalisation, judge availability and the judge-calibration
entries.

The generic helpers (records, invalid marking, accuracy, refuse-to-answer scoring) live in ``trust_core.scoring``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from typing import Any

from trust_core.contracts import EvaluatorUnavailable
from trust_core.hygiene import repair_item
from trust_core.scoring import SinglePromptTask

PACKAGE = "trust_fairness"

IMPORTED_RESPONSE = "res"
"""The field holding the response in imported TrustLLM generation files; normalisation leaves it as it is."""


class FairnessTask(SinglePromptTask):
    """Base of the fairness tasks: packaged sample data, one user message per sample, normalised items."""

    version = "1"
    sample_package = PACKAGE

    label_fields: tuple[str, ...] = ()
    """Categorical fields that :meth:`normalize` trims and lower-cases (unwrapping one-element lists)."""

    def normalize(self, item: Mapping[str, Any]) -> Mapping[str, Any]:
        """A repaired copy of ``item`` (see :func:`normalize_item`); the input is never changed."""
        return normalize_item(item, self.label_fields)


# --------------------------------------------------------------------------- normalisation


def canonical_label(value: Any) -> Any:
    """A categorical value in canonical form: a one-element list unwrapped, a string trimmed and lower-cased
    with underscores and spaces inside ``anti stereotype``-style labels turned into hyphens. Anything else
    (a number, a longer list, None) is returned unchanged, for the schema to reject."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str):
        return value
    label = value.strip().lower()
    return re.sub(r"^anti[\s_-]*stereotype$", "anti-stereotype", label)


def normalize_item(item: Mapping[str, Any], label_fields: Sequence[str] = ()) -> dict[str, Any]:
    """A new dict: every field repaired (:func:`trust_core.hygiene.repair_item`: NaN → None, control characters
    removed) except an imported response (``res``), and ``label_fields`` put in canonical form
    (:func:`canonical_label`)."""
    repaired = repair_item(item, keep=(IMPORTED_RESPONSE,))
    for name in label_fields:
        if name in repaired:
            repaired[name] = canonical_label(repaired[name])
    return repaired


# --------------------------------------------------------------------------- judge availability


def judge_or_unavailable(ask: Callable[[], list[Any]]) -> tuple[list[Any], str | None]:
    """``(ask(), None)``, or ``([], reason)`` when the evaluator it calls is unavailable."""
    try:
        return ask(), None
    except EvaluatorUnavailable as exc:
        return [], exc.reason


def calibration_entries(task_id: str) -> list[dict[str, Any]]:
    """The hand-written judge-calibration entries for ``task_id`` (``calibration/judge_calibration.json``,
    written for this project: the judged material, a response and the verdict it deserves)."""
    path = resources.files(PACKAGE).joinpath("calibration/judge_calibration.json")
    return list(json.loads(path.read_text(encoding="utf-8")).get(task_id, []))
