"""Per-sample outcomes and the metrics grouped from them (in the spirit of inspect_ai's ``grouped()`` and
lm-evaluation-harness's ``process_results`` / ``aggregation``).

A task decides each sample in ``score()`` and writes the decision into the sample's record under
``outcomes``: per metric, the sample's :func:`outcome` (its ``value`` and, when it is invalid, its
``invalid_reason``). How a metric aggregates those outcomes is declared once, as a :class:`MetricSpec`
(which outcome, which :class:`Statistic`, per subset and/or over all samples), and :func:`grouped_metrics`
computes every :class:`~trust_core.contracts.MetricValue` of it from the records. So each number in
results.json can be recomputed from samples.jsonl (:func:`recompute_metrics`), and ``trust compare`` can pair
two models' outcomes item by item.

Record keys (schemas/samples.schema.json): ``task``, ``sample_id``, ``subset``, ``variant`` (when the item has
several prompts), ``response``, ``invalid`` / ``invalid_reason`` (the record as a whole), ``parsed`` / ``gold``
/ ``correct`` / ``refused`` / ``refusal`` / verdicts (what the task decided), ``outcomes`` and ``messages``.

A sample's outcome for a metric whose unit is a pair or group (an original and its perturbation, the two
prompts of a persona pair) sits on one record of the unit, so ``n`` counts units; other records of the unit
carry no outcome for that metric.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypedDict

from trust_core.contracts import MetricValue
from trust_core.metrics import (
    InvalidReason,
    macro_f1_metric,
    max_over_valid,
    mean_metric,
    mean_of_metrics,
    mean_over_valid,
    skipped_metric,
)
from trust_core.metrics import (
    macro_f1 as metrics_macro_f1,
)

OUTCOMES_KEY = "outcomes"
"""The record key holding the sample's outcome per metric."""


class Outcome(TypedDict):
    """One sample's outcome for one metric: ``value`` (bool, number, label, or a small list the statistic
    reads) and ``invalid_reason`` (None when the sample is valid for this metric)."""

    value: Any
    invalid_reason: str | None


class SampleRecord(TypedDict, total=False):
    """The typed form of one line of samples.jsonl (schemas/samples.schema.json); tasks may add keys."""

    task: str
    sample_id: str
    subset: str | None
    variant: str
    response: str | None
    generation_error: str
    parsed: Any
    gold: Any
    correct: bool
    refused: bool | None
    refusal: str | None
    invalid: bool
    invalid_reason: str
    outcomes: dict[str, Outcome]
    messages: list[dict[str, str]]


SKIPPED = "skipped"
"""The key of a skip marker: the outcome value ``{"skipped": reason}`` of a sample its task could not decide
because the run has no evaluator of a kind (no refusal judge, no toxicity scorer). A group holding one is
reported skipped (value null, ``note`` ``skipped: <reason>``), by every statistic, and never compared."""


def skipped_value(reason: str) -> dict[str, str]:
    """The outcome value of a sample left undecided because the run lacks an evaluator (``reason``)."""
    return {SKIPPED: reason}


def skip_reason(values: Sequence[Any]) -> str | None:
    """The reason of the first skip marker among outcome ``values``, or None when none is skipped."""
    for value in values:
        if isinstance(value, Mapping) and SKIPPED in value:
            return str(value[SKIPPED])
    return None


def outcome(value: Any, invalid_reason: str | None = None) -> Outcome:
    """A sample's outcome: ``value``, and ``invalid_reason`` when the sample is invalid for the metric."""
    return Outcome(value=value, invalid_reason=invalid_reason)


def set_outcome(record: dict[str, Any], metric: str, value: Any, invalid_reason: str | None = None) -> None:
    """Write ``record``'s outcome for ``metric``."""
    record.setdefault(OUTCOMES_KEY, {})[metric] = outcome(value, invalid_reason)


def flag_outcome(record: dict[str, Any], metric: str, flag: str = "correct") -> None:
    """Write ``record``'s outcome for ``metric`` from its true/false ``flag`` (``correct``, ``refused``, ...)
    and, when the record is ``invalid``, its ``invalid_reason``."""
    reason = record.get("invalid_reason") if record.get("invalid") else None
    set_outcome(record, metric, bool(record.get(flag)), reason)


def record_outcome(record: Mapping[str, Any], metric: str) -> Outcome | None:
    """``record``'s outcome for ``metric``, or None when the record is no unit of that metric."""
    outcomes = record.get(OUTCOMES_KEY)
    if not isinstance(outcomes, Mapping):
        return None
    found = outcomes.get(metric)
    return found if isinstance(found, Mapping) else None  # type: ignore[return-value]


# --------------------------------------------------------------------------- statistics

StatisticFunction = Callable[
    [str, str, list[Any], list[InvalidReason], "bool | None", "str | None", "Sequence[Hashable] | None"], MetricValue
]
"""``(task, metric, values, invalid_reasons, higher_is_better, subset, groups) -> MetricValue``."""

Pairing = Literal["binary", "mean", "statistic"]
"""How two models' outcomes of a metric pair item by item: ``binary`` (each value is true/false: paired
bootstrap of the difference and an exact McNemar test), ``mean`` (numbers: paired bootstrap of the mean
difference) or ``statistic`` (not a mean over items: a bootstrap over the shared items of both sides)."""


@dataclass(frozen=True)
class Statistic:
    """How a metric turns the outcomes of a group of samples into one :class:`MetricValue`."""

    name: str
    description: str
    compute: StatisticFunction
    pairing: Pairing = "mean"
    value: Callable[[Sequence[Any]], float | None] | None = None
    """The value alone from a group's outcome values (no interval): what ``trust compare`` recomputes on each
    paired bootstrap resample. None: not offered (the comparison then reports no interval for the metric)."""
    reports_skips: bool = False
    """True when :attr:`compute` itself reports a group holding skip markers (:data:`SKIPPED`); otherwise the core
    reports such a group skipped, with ``n`` all its samples, before the statistic is asked."""


def _mean(
    task: str,
    metric: str,
    values: list[Any],
    reasons: list[InvalidReason],
    hib: bool | None,
    subset: str | None,
    groups: Sequence[Hashable] | None,
) -> MetricValue:
    return mean_metric(task, metric, [float(v) for v in values], reasons, hib, subset=subset, groups=groups)


def _mean_over_valid(
    task: str,
    metric: str,
    values: list[Any],
    reasons: list[InvalidReason],
    hib: bool | None,
    subset: str | None,
    groups: Sequence[Hashable] | None,
) -> MetricValue:
    numbers = [None if value is None else float(value) for value in values]
    return mean_over_valid(task, metric, numbers, hib, subset=subset, groups=groups, reasons=reasons)


def _max_over_valid(
    task: str,
    metric: str,
    values: list[Any],
    reasons: list[InvalidReason],
    hib: bool | None,
    subset: str | None,
    groups: Sequence[Hashable] | None,
) -> MetricValue:
    numbers = [None if value is None else float(value) for value in values]
    return replace(max_over_valid(task, metric, numbers, hib, reasons=reasons), subset=subset)


def _mean_value(values: Sequence[Any]) -> float | None:
    return sum(float(value) for value in values) / len(values) if values else None


def _valid_numbers(values: Sequence[Any]) -> list[float]:
    return [float(value) for value in values if value is not None]


def _mean_over_valid_value(values: Sequence[Any]) -> float | None:
    return _mean_value(_valid_numbers(values))


def _max_over_valid_value(values: Sequence[Any]) -> float | None:
    numbers = _valid_numbers(values)
    return max(numbers) if numbers else None


MEAN = Statistic(
    "mean",
    "share (true = 1) or mean of the values over all samples; an invalid sample keeps the value its task gave "
    "it (normally false / 0) and stays in the denominator",
    _mean,
    pairing="binary",
    value=_mean_value,
)
MEAN_OF_NUMBERS = Statistic("mean", MEAN.description, _mean, pairing="mean", value=_mean_value)
"""The mean of numeric (not true/false) outcomes."""

MEAN_OVER_VALID = Statistic(
    "mean_over_valid",
    "mean of the values of the valid samples (value null = invalid, left out of the value, counted in n_invalid)",
    _mean_over_valid,
    pairing="mean",
    value=_mean_over_valid_value,
)
MAX_OVER_VALID = Statistic(
    "max_over_valid",
    "the largest value among the valid samples; no interval",
    _max_over_valid,
    "statistic",
    value=_max_over_valid_value,
)


def macro_f1(labels: Sequence[str]) -> Statistic:
    """Macro-F1 over ``labels``; each value is ``[gold, predicted]`` (predicted null or off-list = a miss)."""
    chosen = tuple(labels)

    def compute(
        task: str,
        metric: str,
        values: list[Any],
        reasons: list[InvalidReason],
        hib: bool | None,
        subset: str | None,
        groups: Sequence[Hashable] | None,
    ) -> MetricValue:
        gold = [str(value[0]) for value in values]
        predicted = [value[1] for value in values]
        return macro_f1_metric(task, metric, gold, predicted, chosen, subset, reasons=reasons)

    def value(values: Sequence[Any]) -> float | None:
        return metrics_macro_f1([str(v[0]) for v in values], [v[1] for v in values], chosen) if values else None

    description = f"macro-F1 over {list(chosen)}; value = [gold, predicted]"
    return Statistic("macro_f1", description, compute, "statistic", value=value)


def mean_of_subsets(canonical: Sequence[str], statistic: Statistic = MEAN) -> Statistic:
    """The unweighted mean over subsets of ``statistic``, as one outcome per sample whose value is
    ``[subset, value]`` (``canonical`` subsets first): for a mean of subsets declared as a metric of its own (a
    pooled spec), where ``MetricSpec(overall="mean_of_subsets")`` does not fit. Like
    :func:`trust_core.metrics.mean_of_metrics`: ``n`` and the reasons add up over the subsets, no interval,
    null when a subset's value is."""
    chosen = tuple(canonical)

    def split(values: Sequence[Any], reasons: Sequence[InvalidReason]) -> dict[str, tuple[list[Any], list[Any]]]:
        parts: dict[str, tuple[list[Any], list[Any]]] = {}
        for (subset, value), reason in zip(values, reasons, strict=True):
            members, why = parts.setdefault(str(subset), ([], []))
            members.append(value)
            why.append(reason)
        named = list(parts)
        order = [s for s in chosen if s in parts] + [s for s in named if s not in chosen]
        return {subset: parts[subset] for subset in order}

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

    inner = statistic.value

    def value(values: Sequence[Any]) -> float | None:
        if inner is None:
            return None
        parts = [inner(members) for members, _ in split(values, [None] * len(values)).values()]
        if not parts or any(part is None for part in parts):
            return None
        return sum(float(part) for part in parts if part is not None) / len(parts)

    description = f"unweighted mean over subsets ({list(chosen)} first) of: {statistic.description}"
    return Statistic("mean_of_subsets", description, compute, "statistic", value=value)


# --------------------------------------------------------------------------- specs and grouping

Overall = Literal["pooled", "mean_of_subsets"]
"""How a spec's overall value is formed: over all samples pooled, or as the unweighted mean of the subsets'."""


@dataclass(frozen=True)
class MetricSpec:
    """How one metric of a task is computed from the per-sample outcomes.

    ``outcome`` is the key in each record's ``outcomes`` (default: ``name``). With ``per_subset`` the metric is
    reported per subset (canonical subsets first); ``overall`` adds a value over every sample (``pooled``) or the
    mean of the subsets' values (``mean_of_subsets``), named ``overall_name`` (default: ``name``) and reported
    with subset ``overall_subset``. ``cluster`` names a record key: samples with equal values are resampled
    together by the bootstrap (e.g. the two prompts of a pair). ``extra_of`` adds fields computed from a
    group's records to the metric's ``extra``.
    """

    name: str
    statistic: Statistic
    higher_is_better: bool | None
    outcome: str | None = None
    per_subset: bool = True
    overall: Overall | None = None
    overall_name: str | None = None
    overall_subset: str | None = None
    canonical_subsets: tuple[str, ...] = ()
    cluster: str | None = None
    extra_of: Callable[[Sequence[Mapping[str, Any]]], Mapping[str, Any]] | None = field(default=None, compare=False)

    @property
    def outcome_key(self) -> str:
        """The key of this metric's outcome in a record's ``outcomes``."""
        return self.outcome or self.name

    def aggregate(self) -> dict[str, Any]:
        """What results.json records of how the metric was formed (``aggregate`` of a metric)."""
        return {"outcome": self.outcome_key, "statistic": self.statistic.name, "pairing": self.statistic.pairing}


def units(records: Sequence[Mapping[str, Any]], spec: MetricSpec) -> list[tuple[Mapping[str, Any], Outcome]]:
    """The records that are units of ``spec``'s metric, with their outcome, in record order."""
    found = [(record, record_outcome(record, spec.outcome_key)) for record in records]
    return [(record, result) for record, result in found if result is not None]


def _subsets(chosen: Sequence[tuple[Mapping[str, Any], Outcome]], spec: MetricSpec) -> list[str | None]:
    """The subsets present, canonical ones first; records without a subset form a group of their own only
    when no overall value is reported under subset null."""
    present = list(dict.fromkeys(record.get("subset") for record, _ in chosen))
    named = [subset for subset in present if subset is not None]
    canonical = spec.canonical_subsets
    ordered: list[str | None] = [s for s in canonical if s in named] + [s for s in named if s not in canonical]
    unnamed = None in present and (spec.overall is None or spec.overall_subset is not None)
    return ordered + ([None] if unnamed else [])


def _compute(
    task: str,
    spec: MetricSpec,
    chosen: Sequence[tuple[Mapping[str, Any], Outcome]],
    subset: str | None,
    name: str,
    skipped: str | None,
    extra: Mapping[str, Any],
) -> MetricValue:
    records = [record for record, _ in chosen]
    values = [result["value"] for _, result in chosen]
    if skipped is None and not spec.statistic.reports_skips:
        skipped = skip_reason(values)
    if skipped is not None:
        value = skipped_metric(task, name, spec.higher_is_better, skipped, len(chosen), subset, dict(extra))
        return replace(value, aggregate=spec.aggregate())
    fields = {**extra, **(spec.extra_of(records) if spec.extra_of else {})}
    reasons = [result.get("invalid_reason") for _, result in chosen]
    groups = [record.get(spec.cluster) for record in records] if spec.cluster else None
    value = spec.statistic.compute(task, name, values, reasons, spec.higher_is_better, subset, groups)
    return replace(value, extra={**dict(value.extra), **fields}, aggregate=spec.aggregate())


def metric_of(
    task: str,
    records: Sequence[Mapping[str, Any]],
    spec: MetricSpec,
    subset: str | None = None,
    *,
    skipped: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> MetricValue:
    """``spec``'s metric over ``records`` as one group, reported with ``subset`` (for a task that has already
    chosen the group; :func:`grouped_metrics` forms the groups itself)."""
    return _compute(task, spec, units(records, spec), subset, spec.name, skipped, dict(extra or {}))


def grouped_metrics(
    task: str,
    records: Sequence[Mapping[str, Any]],
    spec: MetricSpec,
    *,
    skipped: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> list[MetricValue]:
    """Every value of ``spec``'s metric from ``records``: per subset (when ``per_subset``), then overall.

    ``skipped`` (a reason) reports each as skipped (value null) instead, e.g. when the run has no judge;
    ``extra`` is added to every value's ``extra``. Records without an outcome for the metric are not units of
    it. A metric with no unit at all still reports its overall value (``n`` 0, "no items").
    """
    chosen = units(records, spec)
    given = dict(extra or {})
    parts: list[MetricValue] = []
    if spec.per_subset:
        for subset in _subsets(chosen, spec):
            members = [unit for unit in chosen if unit[0].get("subset") == subset]
            parts.append(_compute(task, spec, members, subset, spec.name, skipped, given))
    if spec.overall is None:
        return parts
    name = spec.overall_name or spec.name
    part_skipped = next(
        (note[len("skipped: ") :] for p in parts if (note := p.note or "").startswith("skipped: ")), None
    )
    if spec.overall == "pooled" or skipped is not None:
        overall = _compute(task, spec, chosen, spec.overall_subset, name, skipped, given)
    elif part_skipped is not None:  # a mean of subsets one of which could not be decided
        overall = skipped_metric(
            task, name, spec.higher_is_better, part_skipped, len(chosen), spec.overall_subset, given
        )
        overall = replace(overall, aggregate={**spec.aggregate(), "of": "subsets"})
    else:
        overall = mean_of_metrics(task, name, parts, spec.higher_is_better, **given)
        overall = replace(overall, subset=spec.overall_subset, aggregate={**spec.aggregate(), "of": "subsets"})
    return [*parts, overall]


def all_grouped_metrics(
    task: str,
    records: Sequence[Mapping[str, Any]],
    specs: Sequence[MetricSpec],
    *,
    skipped: Mapping[str, str] | None = None,
    extra: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[MetricValue]:
    """:func:`grouped_metrics` of each spec in order; ``skipped`` / ``extra`` by metric name."""
    metrics: list[MetricValue] = []
    for spec in specs:
        metrics += grouped_metrics(
            task,
            records,
            spec,
            skipped=(skipped or {}).get(spec.name),
            extra=(extra or {}).get(spec.name),
        )
    return metrics


def spec_of(specs: Sequence[MetricSpec], metric: str, subset: str | None = None) -> MetricSpec | None:
    """The spec that forms the reported value ``(metric, subset)``: an overall value named ``metric`` reported
    with ``subset`` first, else a per-subset value named ``metric`` (several specs may share a name and differ
    by the subset their overall value is reported with)."""
    for spec in specs:
        if spec.overall is not None and (spec.overall_name or spec.name) == metric and spec.overall_subset == subset:
            return spec
    for spec in specs:
        if spec.per_subset and spec.name == metric:
            return spec
    return None


def recompute_metrics(
    task: str, records: Sequence[Mapping[str, Any]], specs: Sequence[MetricSpec]
) -> dict[tuple[str, str | None], MetricValue]:
    """Every metric of ``specs`` recomputed from ``records`` (e.g. a task's lines of samples.jsonl), by
    ``(metric, subset)``: what results.json reports must equal it."""
    own = [record for record in records if record.get("task", task) == task]
    return {(value.metric, value.subset): value for value in all_grouped_metrics(task, own, specs)}
