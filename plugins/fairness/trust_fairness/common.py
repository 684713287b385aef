"""What the fairness tasks share: the base task, item normalisation, judge availability, the judge-calibration
entries, and the per-sample outcomes of metrics that a run without an evaluator skips.

The generic helpers (records, invalid marking, accuracy, refuse-to-answer scoring) live in ``trust_core.scoring``;
the outcome and spec machinery in ``trust_core.outcomes``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import replace
from importlib import resources
from typing import Any

import numpy as np

from trust_core.contracts import EvaluatorUnavailable, MetricValue
from trust_core.hygiene import repair_item
from trust_core.metrics import InvalidReason, mean_metric, mean_of_metrics, skipped_metric
from trust_core.outcomes import MetricSpec, Statistic, flag_outcome, record_outcome, set_outcome
from trust_core.scoring import SinglePromptTask, ordered_subsets

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


# --------------------------------------------------------------------------- outcomes of skippable metrics

SKIPPED = "skipped"
"""The key of a skipped outcome's value, ``{"skipped": reason}``: the run lacks the evaluator the metric needs."""


def skip_outcome(record: dict[str, Any], metric: str, reason: str) -> None:
    """Write ``record``'s outcome for ``metric`` as skipped for ``reason`` (the evaluator is missing): value
    ``{"skipped": reason}``, no invalid reason (a skipped metric counts nothing invalid)."""
    set_outcome(record, metric, {SKIPPED: reason})


def skip_reason(values: Sequence[Any]) -> str | None:
    """The reason of the first skipped outcome value among ``values`` (see :func:`skip_outcome`), or None."""
    for value in values:
        if isinstance(value, Mapping) and SKIPPED in value:
            return str(value[SKIPPED])
    return None


def skippable(statistic: Statistic) -> Statistic:
    """``statistic``, except that a group holding a skipped outcome is reported skipped (value null, note
    ``skipped: <reason>``, every outcome counted in ``n``, none invalid), as the run reported it."""

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
        if skip_reason(values) is not None or statistic.value is None:
            return None
        return statistic.value(values)

    description = f"{statistic.description}; skipped (null) when an outcome is {{{SKIPPED!r}: reason}}"
    return Statistic(statistic.name, description, compute, statistic.pairing, value if statistic.value else None)


def unless_skipped(
    extra_of: Callable[[Sequence[Mapping[str, Any]]], Mapping[str, Any]] | None, outcome: str
) -> Callable[[Sequence[Mapping[str, Any]]], Mapping[str, Any]]:
    """``extra_of`` of a group of records, or nothing when one of their ``outcome`` outcomes is skipped."""

    def fields(records: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
        found = [record_outcome(record, outcome) for record in records]
        values = [result["value"] for result in found if result is not None]
        return {} if extra_of is None or skip_reason(values) is not None else extra_of(records)

    return fields


def skippable_spec(spec: MetricSpec) -> MetricSpec:
    """``spec`` with its statistic :func:`skippable` and no extra fields for a skipped group."""
    return replace(spec, statistic=skippable(spec.statistic), extra_of=unless_skipped(spec.extra_of, spec.outcome_key))


def flag_or_skip(record: dict[str, Any], metric: str, unavailable: str | None, flag: str) -> None:
    """Write ``record``'s outcome for ``metric``: skipped when the run has no evaluator for it (``unavailable``,
    the reason), else its true/false ``flag`` (see :func:`trust_core.outcomes.flag_outcome`)."""
    if unavailable:
        skip_outcome(record, metric, unavailable)
    else:
        flag_outcome(record, metric, flag)


# --------------------------------------------------------------------------- a mean of subsets, by outcome


def subset_flag_or_skip(
    record: dict[str, Any], metric: str, unavailable: str | None, subset_key: str, flag: str
) -> None:
    """Write ``record``'s outcome for a :func:`mean_of_subsets` metric: skipped when the run has no evaluator
    for it (``unavailable``), else ``[record[subset_key], bool(record[flag])]`` with the record's invalid reason."""
    if unavailable:
        skip_outcome(record, metric, unavailable)
        return
    reason = record.get("invalid_reason") if record.get("invalid") else None
    set_outcome(record, metric, [record.get(subset_key), bool(record.get(flag))], reason)


def _by_subset(values: Sequence[Any], canonical: Sequence[str]) -> list[tuple[str, list[int]]]:
    """The subsets among ``values`` (each ``[subset, flag]``), canonical ones first, with their positions."""
    subsets = ordered_subsets((value[0] for value in values), canonical)
    return [(subset, [i for i, value in enumerate(values) if value[0] == subset]) for subset in subsets]


def mean_of_subsets(canonical: Sequence[str]) -> Statistic:
    """The unweighted mean over subsets of each subset's share of true flags (as
    :func:`trust_core.metrics.mean_of_metrics` of the subsets' means: no interval, ``n`` and ``n_invalid``
    summed, null when a subset has none); each value is ``[subset, flag]``, ``canonical`` subsets first. It is
    :func:`skippable`: one outcome per sample, so a run that skips the subsets' metric skips this one too."""
    order = tuple(canonical)

    def compute(
        task: str,
        metric: str,
        values: list[Any],
        reasons: list[InvalidReason],
        higher_is_better: bool | None,
        subset: str | None,
        groups: Sequence[Hashable] | None,
    ) -> MetricValue:
        parts = [
            mean_metric(
                task,
                metric,
                [float(values[i][1]) for i in positions],
                [reasons[i] for i in positions],
                higher_is_better,
                subset=name,
            )
            for name, positions in _by_subset(values, order)
        ]
        return replace(mean_of_metrics(task, metric, parts, higher_is_better), subset=subset)

    def value(values: Sequence[Any]) -> float | None:
        shares = [np.mean([float(values[i][1]) for i in positions]) for _, positions in _by_subset(values, order)]
        return float(np.mean(shares)) if shares else None

    description = f"unweighted mean over subsets ({list(order)} first) of each one's share; value = [subset, flag]"
    return skippable(Statistic("mean_of_subsets", description, compute, "statistic", value))
