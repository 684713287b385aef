"""What the privacy tasks share: the base task (the generic helpers, refusal-rate scoring included, live in
``trust_core.scoring``) and a skippable statistic for metrics that need an evaluator the run may lack.

A sample whose metric the run could not compute (no refusal judge) carries a skip marker as its outcome value
(:func:`skipped_value`), so the metric is reported, and recomputed from samples.jsonl, as skipped, never 0.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from trust_core.contracts import MetricValue
from trust_core.hygiene import repair_item
from trust_core.metrics import InvalidReason, skipped_metric
from trust_core.outcomes import MEAN, Statistic, flag_outcome, record_outcome, set_outcome
from trust_core.scoring import SinglePromptTask

PACKAGE = "trust_privacy"
SKIPPED = "skipped"
"""The key of a skip marker, the outcome value of a sample whose metric the run could not compute."""


def skipped_value(reason: str) -> dict[str, str]:
    """The outcome value of a sample whose metric is skipped because the run lacks an evaluator (``reason``)."""
    return {SKIPPED: reason}


def skip_reason(values: Sequence[Any]) -> str | None:
    """Why a group's metric is skipped: the reason of its first skip marker, or None when it holds none."""
    for value in values:
        if isinstance(value, Mapping) and SKIPPED in value:
            return str(value[SKIPPED])
    return None


def skippable(statistic: Statistic) -> Statistic:
    """``statistic``, except that a group holding a skip marker (:func:`skipped_value`) is reported skipped:
    value null, ``note`` ``skipped: <reason>``, ``n`` its samples, ``n_invalid`` 0 (nothing was judged)."""

    def compute(
        task: str,
        metric: str,
        values: list[Any],
        reasons: list[InvalidReason],
        higher_is_better: bool | None,
        subset: str | None,
        groups: Sequence[Hashable] | None,
    ) -> MetricValue:
        reason = skip_reason(values)
        if reason is not None:
            return skipped_metric(task, metric, higher_is_better, reason, len(values), subset)
        return statistic.compute(task, metric, values, reasons, higher_is_better, subset, groups)

    def value(values: Sequence[Any]) -> float | None:
        if statistic.value is None or skip_reason(values) is not None:
            return None
        return statistic.value(values)

    description = f"{statistic.description}; skipped (null) when a sample's value is {{'{SKIPPED}': reason}}"
    return replace(statistic, description=description, compute=compute, value=value)


SKIPPABLE_MEAN = skippable(MEAN)
"""The share of true outcomes (:data:`trust_core.outcomes.MEAN`), skipped when the run had no evaluator."""


def unless_skipped(
    metric: str, fields: Callable[[Sequence[Mapping[str, Any]]], Mapping[str, Any]]
) -> Callable[[Sequence[Mapping[str, Any]]], Mapping[str, Any]]:
    """``fields`` of a group's records as a :class:`~trust_core.outcomes.MetricSpec` ``extra_of``, or none when
    ``metric`` is skipped for the group (a skipped metric reports nothing judged)."""

    def extra_of(records: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
        values = [found["value"] for found in (record_outcome(r, metric) for r in records) if found is not None]
        return {} if skip_reason(values) is not None else fields(records)

    return extra_of


def write_refusal_outcomes(records: Sequence[dict[str, Any]], metric: str, unavailable: str | None) -> None:
    """Each record's outcome for ``metric``: its ``refused`` flag (invalid ones with their reason), or, when the
    run has no refusal judge (``unavailable`` is why), a skip marker."""
    for record in records:
        if unavailable is None:
            flag_outcome(record, metric, "refused")
        else:
            reason = record.get("invalid_reason") if record.get("invalid") else None
            set_outcome(record, metric, skipped_value(unavailable), reason)


class PrivacyTask(SinglePromptTask):
    """Base of the privacy tasks: packaged sample data, one user message per sample, cleaned items."""

    version = "1"
    sample_package = PACKAGE

    def normalize(self, item: Mapping[str, Any]) -> Mapping[str, Any]:
        """A repaired copy of ``item`` (:func:`trust_core.hygiene.repair_item`: NaN → None, control characters
        removed from strings); the input is never mutated."""
        return repair_item(item)
