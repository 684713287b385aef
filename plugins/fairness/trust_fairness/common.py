"""What the fairness tasks share: the base task, item normalisation, judge availability, the judge-calibration
entries, and the per-sample outcomes of metrics that a run without an evaluator skips.

The generic helpers (records, invalid marking, accuracy, refuse-to-answer scoring) live in ``trust_core.task_scoring``;
the outcome and spec machinery, skip markers and the mean of subsets included, in ``trust_core.outcomes``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from trust_core.plugin import (
    EvaluatorUnavailable,
    SinglePromptTask,
    flag_outcome,
    packaged_calibration,
    repair_item,
    set_outcome,
    skipped_value,
)

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
    return packaged_calibration(PACKAGE, task_id)


# --------------------------------------------------------------------------- outcomes of skippable metrics


def flag_or_skip(
    record: dict[str, Any], metric: str, unavailable: str | None, flag: str, subset_key: str | None = None
) -> None:
    """Write ``record``'s outcome for ``metric``: when the run has no evaluator for it (``unavailable``, the
    reason), the core's skip marker (:func:`trust_core.outcomes.skipped_value`) with no invalid reason (nothing
    was judged, whatever the record says); else its true/false ``flag`` with the record's invalid reason (see
    :func:`trust_core.outcomes.flag_outcome`), as ``[record[subset_key], flag]`` for a
    :func:`trust_core.outcomes.mean_of_subsets` metric when ``subset_key`` is given."""
    if unavailable:
        set_outcome(record, metric, skipped_value(unavailable))
    elif subset_key is None:
        flag_outcome(record, metric, flag)
    else:
        reason = record.get("invalid_reason") if record.get("invalid") else None
        set_outcome(record, metric, [record.get(subset_key), bool(record.get(flag))], reason)
