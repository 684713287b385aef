"""What the robustness tasks need beyond :mod:`trust_core.outcomes`: outcomes a run could not decide (no
evaluator) and a mean over subsets that can be skipped.

A sample whose outcome needs an evaluator the run does not have (no refusal judge, judge or embedder) carries
the *skipped* outcome ``{"skipped": <reason>}`` (:func:`skip_outcome`). A statistic wrapped by :func:`skippable`
reports a group holding such an outcome as skipped (value null, ``skipped: <reason>``, ``n`` = the group's
units), as :func:`trust_core.metrics.skipped_metric` does, so the skipped metric is recomputed from the records
like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from trust_core.contracts import MetricValue
from trust_core.metrics import InvalidReason, mean_of_metrics, skipped_metric
from trust_core.outcomes import MEAN, MetricSpec, Statistic, record_outcome, set_outcome
from trust_core.scoring import ordered_subsets

SKIPPED = "skipped"
"""The key of a skipped outcome's value: ``{"skipped": <why the run could not decide it>}``."""


def skip_outcome(record: dict[str, Any], metric: str, reason: str) -> None:
    """Write ``record``'s outcome for ``metric`` as skipped for ``reason`` (the run lacks an evaluator); an
    invalid record keeps its ``invalid_reason`` (a skipped metric still counts nothing invalid)."""
    set_outcome(record, metric, {SKIPPED: reason}, record.get("invalid_reason") if record.get("invalid") else None)


def skip_reason(values: Sequence[Any]) -> str | None:
    """Why a group of outcome values is skipped: the reason of its first skipped value; None when none is."""
    for value in values:
        if isinstance(value, Mapping) and SKIPPED in value:
            return str(value[SKIPPED])
    return None


def skippable(statistic: Statistic) -> Statistic:
    """``statistic``, except that a group with a skipped outcome is reported as skipped (no value, no interval,
    ``n_invalid`` 0) and has no value when compared."""

    def compute(
        task: str,
        metric: str,
        values: list[Any],
        reasons: list[InvalidReason],
        hib: bool | None,
        subset: str | None,
        groups: Sequence[Hashable] | None,
    ) -> MetricValue:
        reason = skip_reason(values)
        if reason is not None:
            return skipped_metric(task, metric, hib, reason, len(values), subset)
        return statistic.compute(task, metric, values, reasons, hib, subset, groups)

    inner = statistic.value

    def value(values: Sequence[Any]) -> float | None:
        return None if inner is None or skip_reason(values) is not None else inner(values)

    description = f"{statistic.description}; skipped when a sample's outcome is skipped (no evaluator)"
    return Statistic(statistic.name, description, compute, statistic.pairing, value=value)


def skippable_spec(spec: MetricSpec) -> MetricSpec:
    """``spec`` with a :func:`skippable` statistic; its ``extra_of`` fields are left out of a skipped value."""
    extra_of = spec.extra_of
    if extra_of is None:
        return replace(spec, statistic=skippable(spec.statistic))

    def fields(records: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
        outcomes = [record_outcome(record, spec.outcome_key) for record in records]
        return {} if skip_reason([o["value"] for o in outcomes if o is not None]) else extra_of(records)

    return replace(spec, statistic=skippable(spec.statistic), extra_of=fields)


def mean_of_subsets(canonical: Sequence[str], statistic: Statistic = MEAN) -> Statistic:
    """The unweighted mean over subsets of ``statistic``; each value is ``[subset, value]`` (the subsets in
    ``canonical`` order first). As :func:`trust_core.metrics.mean_of_metrics`: ``n`` and the reasons add up
    over the subsets, no interval, null when a subset's value is. For a mean of subsets that must itself be
    reported skipped (see :func:`skippable`), which a spec's ``overall="mean_of_subsets"`` cannot express."""
    chosen = tuple(canonical)

    def split(values: Sequence[Any], reasons: Sequence[InvalidReason]) -> dict[str, tuple[list[Any], list[Any]]]:
        parts: dict[str, tuple[list[Any], list[Any]]] = {}
        for (subset, value), reason in zip(values, reasons, strict=True):
            members, why = parts.setdefault(str(subset), ([], []))
            members.append(value)
            why.append(reason)
        return {subset: parts[subset] for subset in ordered_subsets(parts, chosen)}

    def compute(
        task: str,
        metric: str,
        values: list[Any],
        reasons: list[InvalidReason],
        hib: bool | None,
        subset: str | None,
        groups: Sequence[Hashable] | None,
    ) -> MetricValue:
        parts = [
            statistic.compute(task, metric, members, why, hib, part, None)
            for part, (members, why) in split(values, reasons).items()
        ]
        return replace(mean_of_metrics(task, metric, parts, hib), subset=subset)

    inner: Callable[[Sequence[Any]], float | None] | None = statistic.value

    def value(values: Sequence[Any]) -> float | None:
        if inner is None:
            return None
        parts = [inner(members) for members, _ in split(values, [None] * len(values)).values()]
        if not parts or any(part is None for part in parts):
            return None
        return float(np.mean([float(part) for part in parts if part is not None]))

    description = f"unweighted mean over subsets ({list(chosen)} first) of: {statistic.description}"
    return Statistic("mean_of_subsets", description, compute, "statistic", value=value)
