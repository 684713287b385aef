"""Paired comparison of a base model's results with its variants' (``trust compare``), item by item.

Each side is a run: its results.json and the samples.jsonl beside it. For every metric both sides report that
is formed from per-sample outcomes (results.json's ``aggregate``, :mod:`trust_core.outcomes`), the units of the
metric are paired by ``(sample_id, variant)``; units present on one side only are left out and counted. On the
shared units the comparison reports:

* both sides' values recomputed on the shared units, and ``delta`` = variant − base;
* a 95 % paired bootstrap interval of the delta (the same resampled units on both sides, so item difficulty
  cancels out), with :data:`~trust_core.metrics.BOOTSTRAP_RESAMPLES` resamples and a fixed seed;
* for true/false outcomes (pairing ``binary``), the units that flipped each way and an exact two-sided McNemar
  test (binomial on the discordant pairs);
* ``significant``: the interval excludes 0.

Metrics that are not a mean over units (pairing ``statistic``: macro-F1, ratios, chi-square) are compared the
same way, through their statistic's ``value`` function; a statistic without one gets no interval, with a note.
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trust_core.contracts import Task
from trust_core.errors import UserError
from trust_core.metrics import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE
from trust_core.outcomes import MetricSpec, Outcome, record_outcome, skip_reason, spec_of

UnitKey = tuple[str, str]
"""A unit's identity on both sides: ``(sample_id, variant)``."""


@dataclass(frozen=True)
class RunSide:
    """One side of a comparison: a run's label, results and per-sample records."""

    label: str
    path: Path
    results: Mapping[str, Any]
    records: list[dict[str, Any]]


@dataclass(frozen=True)
class Flips:
    """Units whose true/false outcome changed: ``gained`` (false → true) and ``lost`` (true → false)."""

    gained: list[UnitKey]
    lost: list[UnitKey]


@dataclass(frozen=True)
class MetricComparison:
    """One metric of one task and subset, base against variant, on the units both report."""

    task: str
    metric: str
    subset: str | None
    higher_is_better: bool | None
    pairing: str
    n_shared: int
    n_only_base: int
    n_only_variant: int
    base: float | None
    variant: float | None
    delta: float | None
    ci: tuple[float, float] | None
    significant: bool
    mcnemar_p: float | None = None
    flips: Flips | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``trust compare --json``)."""
        data: dict[str, Any] = {
            key: getattr(self, key)
            for key in (
                "task",
                "metric",
                "subset",
                "higher_is_better",
                "pairing",
                "n_shared",
                "n_only_base",
                "n_only_variant",
                "base",
                "variant",
                "delta",
                "significant",
                "mcnemar_p",
                "note",
            )
        }
        data["ci"] = list(self.ci) if self.ci else None
        data["flips"] = (
            None
            if self.flips is None
            else {
                "gained": [list(unit) for unit in self.flips.gained],
                "lost": [list(unit) for unit in self.flips.lost],
            }
        )
        return data


@dataclass
class Comparison:
    """Every metric of one variant against the base."""

    base: str
    variant: str
    metrics: list[MetricComparison] = field(default_factory=list)
    not_compared: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "base": self.base,
            "variant": self.variant,
            "metrics": [metric.as_dict() for metric in self.metrics],
            "not_compared": self.not_compared,
        }


# --------------------------------------------------------------------------- loading


def load_side(location: Path) -> RunSide:
    """A run directory (or its results.json) with the samples.jsonl beside it; UserError naming what is
    missing or malformed."""
    results_path = location / "results.json" if location.is_dir() else location
    samples_path = results_path.with_name("samples.jsonl")
    for needed in (results_path, samples_path):
        if not needed.is_file():
            raise UserError(f"{location}: no {needed.name} (give a run directory or its results.json)")
    try:
        results = json.loads(results_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{results_path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    records = []
    for number, line in enumerate(samples_path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise UserError(f"{samples_path}: line {number} is not valid JSON ({exc.msg})") from None
    if not isinstance(results, dict) or not isinstance(results.get("metrics"), list):
        raise UserError(f"{results_path}: no metrics (is it a trust results.json?)")
    label = (results_path.parent if location.is_file() else location).name or str(location)
    return RunSide(label, location, results, records)


# --------------------------------------------------------------------------- pairing


def _is_overall(metric: Mapping[str, Any], spec: MetricSpec) -> bool:
    return (
        spec.overall is not None
        and metric["metric"] == (spec.overall_name or spec.name)
        and metric["subset"] == spec.overall_subset
    )


def _units(
    records: Sequence[Mapping[str, Any]], task: str, spec: MetricSpec
) -> dict[UnitKey, tuple[str | None, Outcome]]:
    """The units of ``spec``'s metric on one side: key -> (record subset, outcome)."""
    found: dict[UnitKey, tuple[str | None, Outcome]] = {}
    for record in records:
        if record.get("task") != task:
            continue
        result = record_outcome(record, spec.outcome_key)
        if result is not None:
            key = (str(record.get("sample_id")), str(record.get("variant") or ""))
            found[key] = (record.get("subset"), result)
    return found


def _group_value(
    spec: MetricSpec, values: Sequence[Any], subsets: Sequence[str | None], of_subsets: bool
) -> float | None:
    """The metric's value over ``values`` (per subset, then their mean, for a mean of subsets)."""
    value = spec.statistic.value
    assert value is not None
    if not of_subsets:
        return value(values)
    parts = []
    for subset in dict.fromkeys(s for s in subsets if s is not None):
        part = value([v for v, s in zip(values, subsets, strict=True) if s == subset])
        if part is None:
            return None
        parts.append(part)
    return float(np.mean(parts)) if parts else None


def _paired_interval(
    statistic: Callable[[np.ndarray[Any, np.dtype[np.intp]]], float | None], n: int
) -> tuple[float, float] | None:
    if n < 2:
        return None
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    deltas = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        delta = statistic(rng.integers(0, n, size=n))
        if delta is not None and not math.isnan(delta):
            deltas.append(delta)
    if not deltas:
        return None
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(np.array(deltas), [alpha, 1 - alpha])
    return float(low), float(high)


def mcnemar_exact(gained: int, lost: int) -> float:
    """Two-sided exact McNemar p-value: the binomial test of ``lost`` among the discordant pairs at 1/2."""
    discordant = gained + lost
    if discordant == 0:
        return 1.0
    tail = sum(math.comb(discordant, k) for k in range(min(gained, lost) + 1)) / 2**discordant
    return float(min(1.0, 2 * tail))


def compare_metric(metric: Mapping[str, Any], spec: MetricSpec, base: RunSide, variant: RunSide) -> MetricComparison:
    """One metric (a results.json entry of the base) compared on the units both sides share."""
    task, subset = str(metric["task"]), metric["subset"]
    overall = _is_overall(metric, spec)
    of_subsets = overall and spec.overall == "mean_of_subsets"

    def member(unit: tuple[str | None, Outcome]) -> bool:
        return overall or unit[0] == subset

    left = {k: u for k, u in _units(base.records, task, spec).items() if member(u)}
    right = {k: u for k, u in _units(variant.records, task, spec).items() if member(u)}
    shared = [key for key in left if key in right]
    subsets = [left[key][0] for key in shared]
    base_values = [left[key][1]["value"] for key in shared]
    variant_values = [right[key][1]["value"] for key in shared]
    pairing = spec.statistic.pairing
    common = {
        "task": task,
        "metric": str(metric["metric"]),
        "subset": subset,
        "higher_is_better": metric.get("higher_is_better"),
        "pairing": pairing,
        "n_shared": len(shared),
        "n_only_base": len(left) - len(shared),
        "n_only_variant": len(right) - len(shared),
    }
    skipped = [
        label
        for label, values in ((base.label, base_values), (variant.label, variant_values))
        if skip_reason(values) is not None
    ]
    if skipped:
        note = f"not decided in {' and '.join(skipped)} (the run had no evaluator of the kind it needs)"
        return MetricComparison(**common, base=None, variant=None, delta=None, ci=None, significant=False, note=note)
    if spec.statistic.value is None:
        note = f"statistic {spec.statistic.name} offers no value function: not compared item by item"
        return MetricComparison(**common, base=None, variant=None, delta=None, ci=None, significant=False, note=note)
    base_value = _group_value(spec, base_values, subsets, of_subsets)
    variant_value = _group_value(spec, variant_values, subsets, of_subsets)
    delta = None if base_value is None or variant_value is None else variant_value - base_value

    def resampled_delta(idx: np.ndarray[Any, np.dtype[np.intp]]) -> float | None:
        chosen = [subsets[i] for i in idx]
        b = _group_value(spec, [base_values[i] for i in idx], chosen, of_subsets)
        v = _group_value(spec, [variant_values[i] for i in idx], chosen, of_subsets)
        return None if b is None or v is None else v - b

    ci = _paired_interval(resampled_delta, len(shared)) if delta is not None else None
    significant = ci is not None and (ci[0] > 0 or ci[1] < 0)
    flips, p_value = None, None
    if pairing == "binary":
        gained = [k for k, b, v in zip(shared, base_values, variant_values, strict=True) if not b and v]
        lost = [k for k, b, v in zip(shared, base_values, variant_values, strict=True) if b and not v]
        flips, p_value = Flips(gained, lost), mcnemar_exact(len(gained), len(lost))
    return MetricComparison(
        **common,
        base=base_value,
        variant=variant_value,
        delta=delta,
        ci=ci,
        significant=significant,
        mcnemar_p=p_value,
        flips=flips,
        note=None if shared else "no shared units",
    )


def check_comparable(base: RunSide, variant: RunSide) -> None:
    """UserError (exit 2) when a task both runs scored was scored at another task version or on another data
    file: their numbers do not measure the same thing."""
    ours = {entry["task"]: entry for entry in base.results.get("run", {}).get("data", [])}
    # runs scored from imported generations hash the generation file (answers included), not the items
    generated = all(
        side.results.get("run", {}).get("model", {}).get("source") != "imported" for side in (base, variant)
    )
    checks = (
        (("task_version", "task version"), ("sha256", "data file"))
        if generated
        else (("task_version", "task version"),)
    )
    for entry in variant.results.get("run", {}).get("data", []):
        mine = ours.get(entry["task"])
        if mine is None:
            continue
        for key, what in checks:
            if mine.get(key) != entry.get(key):
                raise UserError(
                    f"{base.path} and {variant.path}: {entry['task']} was scored with another {what} "
                    f"({mine.get(key)} vs {entry.get(key)}); compare runs of the same task version on the same data"
                )


def unpaired_counts(comparison: Comparison) -> tuple[int, int]:
    """The most units any one metric had on the base only and on the variant only."""
    base_only = max((metric.n_only_base for metric in comparison.metrics), default=0)
    variant_only = max((metric.n_only_variant for metric in comparison.metrics), default=0)
    return base_only, variant_only


def compare_runs(base: RunSide, variant: RunSide, tasks: Mapping[str, Task]) -> Comparison:
    """Every metric the base reports, formed from outcomes, that the variant reports too."""
    check_comparable(base, variant)
    comparison = Comparison(base.label, variant.label)
    theirs = {(m["task"], m["metric"], m["subset"]) for m in variant.results["metrics"]}
    for metric in base.results["metrics"]:
        where = {"task": metric["task"], "metric": metric["metric"], "subset": metric["subset"]}
        task = tasks.get(str(metric["task"]))
        spec = spec_of(task.metric_specs(), str(metric["metric"]), metric["subset"]) if task is not None else None
        if (metric["task"], metric["metric"], metric["subset"]) not in theirs:
            comparison.not_compared.append({**where, "why": f"{variant.label} does not report it"})
        elif task is None:
            comparison.not_compared.append({**where, "why": "the task is not installed"})
        elif spec is None or not metric.get("aggregate"):
            comparison.not_compared.append({**where, "why": "not formed from per-sample outcomes"})
        else:
            comparison.metrics.append(compare_metric(metric, spec, base, variant))
    return comparison


# --------------------------------------------------------------------------- release gating


@dataclass(frozen=True)
class RegressionRule:
    """``--fail-on-regression 'TASKS:METRIC:TOLERANCE'``: task and metric patterns (fnmatch) and the drop
    tolerated in the metric's worse direction."""

    tasks: str
    metric: str
    tolerance: float

    @classmethod
    def parse(cls, text: str) -> RegressionRule:
        """``safety/*:rta:0.02`` -> the rule; UserError naming the text otherwise."""
        parts = text.split(":")
        try:
            if len(parts) != 3 or not parts[0] or not parts[1]:
                raise ValueError
            tolerance = float(parts[2])
        except ValueError:
            raise UserError(
                f"--fail-on-regression {text!r}: expected TASKS:METRIC:TOLERANCE (e.g. 'safety/*:rta:0.02')"
            ) from None
        if tolerance < 0:
            raise UserError(f"--fail-on-regression {text!r}: the tolerance must be 0 or more")
        return cls(parts[0], parts[1], tolerance)

    def violated_by(self, metric: MetricComparison) -> bool:
        """The metric matches, got significantly worse, and by more than the tolerance."""
        if metric.higher_is_better is None or metric.delta is None or metric.ci is None:
            return False
        if not (fnmatch.fnmatchcase(metric.task, self.tasks) and fnmatch.fnmatchcase(metric.metric, self.metric)):
            return False
        worse = -metric.delta if metric.higher_is_better else metric.delta
        excludes_zero_worse = metric.ci[1] < 0 if metric.higher_is_better else metric.ci[0] > 0
        return worse > self.tolerance and excludes_zero_worse


def regressions(
    comparisons: Sequence[Comparison], rules: Sequence[RegressionRule]
) -> list[tuple[str, MetricComparison]]:
    """(variant, metric) for every metric a rule catches."""
    return [
        (comparison.variant, metric)
        for comparison in comparisons
        for metric in comparison.metrics
        if any(rule.violated_by(metric) for rule in rules)
    ]


# --------------------------------------------------------------------------- table


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def comparison_table(comparison: Comparison) -> str:
    """A plain-text table of one variant against the base: one row per metric."""
    header = ("task", "subset", "metric", "base", "variant", "delta [95% CI]", "n", "McNemar p", "flips -/+")
    rows = []
    for m in comparison.metrics:
        arrow = {True: " ↑", False: " ↓", None: ""}[m.higher_is_better]
        ci = f" [{m.ci[0]:+.3f}, {m.ci[1]:+.3f}]" if m.ci else ""
        delta = "-" if m.delta is None else f"{m.delta:+.3f}{ci}{' *' if m.significant else ''}"
        only = m.n_only_base + m.n_only_variant
        shared = f"{m.n_shared}" + (f" (+{only} unpaired)" if only else "")
        p_value = "-" if m.mcnemar_p is None else f"{m.mcnemar_p:.3g}"
        flips = "-" if m.flips is None else f"{len(m.flips.lost)}/{len(m.flips.gained)}"
        rows.append(
            (
                m.task,
                m.subset or "-",
                m.metric + arrow,
                _number(m.base),
                _number(m.variant),
                delta,
                shared,
                p_value,
                flips,
            )
        )
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = [f"{comparison.variant} vs {comparison.base}"]
    lines += [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    lines.append(
        "* the 95 % paired bootstrap interval excludes 0. flips -/+: items right (or refused...) in the base and "
        "not in the variant / the reverse."
    )
    if comparison.not_compared:
        lines.append(f"{len(comparison.not_compared)} metric(s) not compared (see --json for why)")
    return "\n".join(lines)
