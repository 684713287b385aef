"""Per-sample outcomes and grouped metrics (issue #10, item 1): every metric of every task is formed from the
per-sample outcomes its records carry, and recomputing it from samples.jsonl's lines with the core's grouped
helper and the task's declared specs gives exactly the reported value, n, n_invalid, reasons and interval."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_invalid_reasons import TASKS, FlakyEvaluators, cycling_answers

from trust_core.contracts import Task
from trust_core.metrics import mean_metric
from trust_core.outcomes import (
    MAX_OVER_VALID,
    MEAN,
    MEAN_OVER_VALID,
    MetricSpec,
    grouped_metrics,
    macro_f1,
    outcome,
    recompute_metrics,
    set_outcome,
    spec_of,
)
from trust_core.results import metric_record
from trust_core.schemas import load_schema, validator
from trust_core.testing import generate, samples_of

SAMPLES_SCHEMA = validator(load_schema("samples.schema.json"))


def _record(sample_id: str, subset: str | None, **outcomes: Any) -> dict[str, Any]:
    return {"sample_id": sample_id, "subset": subset, "outcomes": outcomes}


def test_grouped_mean_per_subset_with_a_mean_of_subsets_and_the_aggregate_recorded() -> None:
    records = [
        _record("0", "b", accuracy=outcome(True)),
        _record("1", "a", accuracy=outcome(False, "no_label")),
        _record("2", "a", accuracy=outcome(True)),
        _record("3", "b", accuracy=outcome(True)),
        _record("4", "a"),  # no unit of this metric
    ]
    spec = MetricSpec(
        "accuracy", MEAN, True, overall="mean_of_subsets", overall_name="mean_accuracy", canonical_subsets=("a", "b")
    )
    a, b, mean = grouped_metrics("t/x", records, spec)
    assert (a.subset, a.value, a.n, a.n_invalid, dict(a.invalid_reasons)) == ("a", 0.5, 2, 1, {"no_label": 1})
    assert (b.subset, b.value, b.n) == ("b", 1.0, 2)
    assert a.ci == mean_metric("t/x", "accuracy", [0.0, 1.0], ["no_label", None], True).ci
    assert (mean.metric, mean.subset, mean.value, mean.n, mean.ci) == ("mean_accuracy", None, 0.75, 4, None)
    assert mean.aggregate == {"outcome": "accuracy", "statistic": "mean", "pairing": "binary", "of": "subsets"}
    assert metric_record(a)["aggregate"] == {"outcome": "accuracy", "statistic": "mean", "pairing": "binary"}


def test_pooled_overall_clusters_skips_and_extras() -> None:
    records = [
        {**_record("0", None, margin=outcome(0.5)), "pair": "p"},
        {**_record("1", None, margin=outcome(None, "judge_failed")), "pair": "p"},
        {**_record("2", None, margin=outcome(0.1)), "pair": "q"},
    ]
    spec = MetricSpec(
        "margin",
        MEAN_OVER_VALID,
        True,
        per_subset=False,
        overall="pooled",
        cluster="pair",
        extra_of=lambda group: {"units": len(group)},
    )
    (pooled,) = grouped_metrics("t/x", records, spec, extra={"judge": "j/1"})
    assert (pooled.value, pooled.n, pooled.n_invalid) == (pytest.approx(0.3), 3, 1)
    assert pooled.extra == {"judge": "j/1", "units": 3}
    (skipped,) = grouped_metrics("t/x", records, spec, skipped="no judge")
    assert (skipped.value, skipped.n, skipped.note) == (None, 3, "skipped: no judge")
    assert skipped.aggregate is not None


def test_macro_f1_reads_gold_and_prediction_pairs() -> None:
    records = [
        _record("0", None, f1=outcome(["SUPPORT", "SUPPORT"])),
        _record("1", None, f1=outcome(["REFUTE", None], "no_label")),
        _record("2", None, f1=outcome(["REFUTE", "REFUTE"])),
    ]
    (value,) = grouped_metrics("t/x", records, MetricSpec("f1", macro_f1(("SUPPORT", "REFUTE")), True))
    assert value.value == pytest.approx((1.0 + 2 / 3) / 2)
    assert value.invalid_reasons == {"no_label": 1}


def test_set_outcome_writes_schema_valid_records() -> None:
    record: dict[str, Any] = {"task": "t/x", "sample_id": "0", "subset": None, "response": "Yes", "invalid": False}
    set_outcome(record, "accuracy", True)
    assert not list(SAMPLES_SCHEMA.iter_errors(record))
    record["outcomes"]["accuracy"]["invalid_reason"] = "Not A Reason"
    assert list(SAMPLES_SCHEMA.iter_errors(record))


COMPARED = ("value", "n", "n_invalid", "ci", "invalid_reasons", "higher_is_better", "note")


@pytest.mark.parametrize("task_class", TASKS, ids=lambda task: task.id)
@pytest.mark.parametrize("evaluators", [FlakyEvaluators(), FlakyEvaluators(refusal=False, toxicity=False)])
def test_every_metric_is_recomputed_exactly_from_its_samples_jsonl_lines(
    task_class: type[Task], evaluators: FlakyEvaluators
) -> None:
    """Answers of every kind and evaluators that fail at times: each reported metric declares how it is
    formed, and the task's specs applied to the exported records reproduce it."""
    task = task_class()
    score = task.score(generate(task, samples_of(task), cycling_answers()), evaluators, seed=0)
    lines = [json.loads(json.dumps({"task": task.id, **record})) for record in score.records]
    for line in lines:
        errors = [error.message for error in SAMPLES_SCHEMA.iter_errors(line)]
        assert not errors, (task.id, line.get("sample_id"), errors)
    specs = task.metric_specs()
    recomputed = recompute_metrics(task.id, lines, specs)
    for metric in score.metrics:
        where = f"{task.id} {metric.metric} {metric.subset}"
        assert metric.aggregate is not None, f"{where}: not formed by a declared spec"
        spec = spec_of(specs, metric.metric, metric.subset)
        assert spec is not None and spec.outcome_key == metric.aggregate["outcome"], where
        again = recomputed.get((metric.metric, metric.subset))
        assert again is not None, f"{where}: not recomputed from the records"
        reported, rebuilt = metric_record(metric), metric_record(again)
        assert {k: reported[k] for k in COMPARED} == {k: rebuilt[k] for k in COMPARED}, where
    assert len(recomputed) == len(score.metrics), task.id


def test_each_core_statistics_value_alone_equals_its_computed_value() -> None:
    flags, numbers = [True, False, True, False, False], [0.5, None, 0.25, 1.0, None]
    reasons = [None, "no_label", None, None, "judge_failed"]
    number_reasons = [None, "judge_failed", None, None, "judge_failed"]
    pairs = [["A", "A"], ["B", None], ["B", "A"], ["A", "A"], ["B", "B"]]
    for statistic, values, why in (
        (MEAN, flags, reasons),
        (MEAN_OVER_VALID, numbers, number_reasons),
        (MAX_OVER_VALID, numbers, number_reasons),
        (macro_f1(("A", "B")), pairs, [None, "no_label", None, None, None]),
    ):
        computed = statistic.compute("t/x", "m", values, why, True, None, None)
        assert statistic.value is not None
        assert statistic.value(values) == pytest.approx(computed.value), statistic.name


def test_a_group_holding_a_skip_marker_is_reported_skipped_by_every_statistic() -> None:
    from trust_core.outcomes import skipped_value

    records = [
        _record("0", "a", m=outcome(skipped_value("no refusal judge"))),
        _record("1", "a", m=outcome(True)),
        _record("2", "b", m=outcome(False, "empty_response")),
    ]
    spec = MetricSpec("m", MEAN, True, overall="mean_of_subsets", overall_name="mean_m")
    a, b, mean = grouped_metrics("t/x", records, spec, extra={"refusal_judge": None})
    assert (a.value, a.n, a.n_invalid, a.note, dict(a.extra)) == (
        None,
        2,
        0,
        "skipped: no refusal judge",
        {"refusal_judge": None},
    )
    assert (b.value, b.n_invalid) == (0.0, 1)
    assert (mean.value, mean.note, mean.n) == (None, "skipped: no refusal judge", 3)
    for statistic in (MEAN_OVER_VALID, MAX_OVER_VALID, macro_f1(("A", "B"))):
        (value,) = grouped_metrics(
            "t/x", records[:1], MetricSpec("m", statistic, True, per_subset=False, overall="pooled")
        )
        assert value.note == "skipped: no refusal judge" and value.aggregate is not None


@pytest.mark.parametrize("task_class", TASKS, ids=lambda task: task.id)
def test_every_metric_of_every_task_pairs_with_itself_in_trust_compare(task_class: type[Task]) -> None:
    """A run compared with itself: every metric finds its units on both sides, and every delta is 0."""
    from pathlib import Path

    from trust_core.comparison import RunSide, compare_runs

    task = task_class()
    score = task.score(generate(task, samples_of(task), cycling_answers()), FlakyEvaluators(), seed=0)
    records = [json.loads(json.dumps({"task": task.id, **record})) for record in score.records]
    results = {"run": {"data": []}, "metrics": [metric_record(metric) for metric in score.metrics]}
    side = RunSide("run", Path("run"), results, records)
    comparison = compare_runs(side, side, {task.id: task})
    assert not comparison.not_compared, comparison.not_compared
    for compared, metric in zip(comparison.metrics, score.metrics, strict=True):
        where = f"{task.id} {metric.metric} {metric.subset}"
        if metric.n and not (metric.note or "").startswith("skipped"):
            assert compared.n_shared >= 1, where
        if compared.delta is not None:
            assert compared.delta == 0.0 and compared.n_only_base == compared.n_only_variant == 0, where


def test_accuracy_metric_writes_the_outcomes_it_is_formed_from() -> None:
    from trust_core.task_scoring import accuracy_metric

    records: list[dict[str, Any]] = [
        {"sample_id": "0", "subset": "a", "correct": True, "invalid": False},
        {"sample_id": "1", "subset": "a", "correct": False, "invalid": True, "invalid_reason": "no_label"},
    ]
    value = accuracy_metric("t/x", records, "a")
    assert (value.value, value.n_invalid, value.aggregate["outcome"]) == (0.5, 1, "accuracy")
    assert records[1]["outcomes"]["accuracy"] == {"value": False, "invalid_reason": "no_label"}
    again = recompute_metrics("t/x", records, [MetricSpec("accuracy", MEAN, True)])
    assert again[("accuracy", "a")].value == 0.5


def test_mean_of_subsets_is_the_unweighted_mean_of_each_subsets_statistic() -> None:
    from trust_core.metrics import mean_metric, mean_of_metrics
    from trust_core.outcomes import mean_of_subsets

    values = [["b", True], ["a", False], ["a", True], ["b", True], ["a", True]]
    reasons = [None, "no_label", None, None, None]
    statistic = mean_of_subsets(("a", "b"))
    computed = statistic.compute("t/x", "mean_accuracy", values, reasons, True, None, None)
    parts = [
        mean_metric("t/x", "mean_accuracy", [0.0, 1.0, 1.0], ["no_label", None, None], True, subset="a"),
        mean_metric("t/x", "mean_accuracy", [1.0, 1.0], [None, None], True, subset="b"),
    ]
    expected = mean_of_metrics("t/x", "mean_accuracy", parts, True)
    assert (computed.value, computed.n, computed.n_invalid, computed.ci) == (expected.value, 5, 1, None)
    assert computed.extra["of"] == ["a", "b"] and computed.value == pytest.approx((2 / 3 + 1) / 2)
    assert statistic.value is not None and statistic.value(values) == pytest.approx(computed.value)
