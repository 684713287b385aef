"""Metric building blocks: invalid answers stay in denominators; intervals are reproducible."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from trust_core.contracts import MetricValue, Sample
from trust_core.metrics import (
    bootstrap_ci,
    cosine,
    macro_f1,
    macro_f1_metric,
    max_over_valid,
    mean_metric,
    mean_of_metrics,
    mean_over_valid,
    per_class_mean_accuracy,
    skipped_metric,
)
from trust_core.selection import stratified, stratified_units, units_of


def test_mean_metric_keeps_invalid_items_in_the_denominator():
    invalid = [None, "empty_response", "no_label", None]
    metric = mean_metric("t/x", "accuracy", [1, 0, 0, 0], invalid=invalid, higher_is_better=True)
    assert (metric.value, metric.n, metric.n_invalid) == (0.25, 4, 2)
    assert metric.invalid_reasons == {"empty_response": 1, "no_label": 1}
    low, high = metric.ci
    assert 0.0 <= low <= 0.25 <= high <= 1.0


def test_bootstrap_is_reproducible_and_resamples_groups_whole():
    values = np.array([1, 1, 0, 0, 1, 0, 1, 1], dtype=float)
    first = bootstrap_ci(len(values), lambda idx: float(values[idx].mean()))
    assert first == bootstrap_ci(len(values), lambda idx: float(values[idx].mean()))
    # pairs (0,1), (2,3), ...: each resample holds whole pairs, so sizes stay even
    sizes = set()
    bootstrap_ci(len(values), lambda idx: sizes.add(len(idx)) or 0.0, groups=[0, 0, 1, 1, 2, 2, 3, 3])
    assert sizes == {8}
    assert bootstrap_ci(1, lambda idx: 1.0) is None


def test_macro_f1_counts_invalid_predictions_as_misses():
    gold = ["SUPPORT", "SUPPORT", "REFUTE", "REFUTE"]
    assert macro_f1(gold, gold, ["SUPPORT", "REFUTE"]) == 1.0
    with_invalid = macro_f1(gold, ["SUPPORT", None, "REFUTE", "REFUTE"], ["SUPPORT", "REFUTE"])
    # SUPPORT: P=1, R=0.5 -> 2/3; REFUTE: P=1, R=1 -> 1
    assert with_invalid == pytest.approx((2 / 3 + 1) / 2)
    metric = macro_f1_metric("t/x", "macro_f1", gold, [None] * 4, ["SUPPORT", "REFUTE"], reasons=["no_label"] * 4)
    assert (metric.value, metric.n, metric.n_invalid, metric.invalid_reasons) == (0.0, 4, 4, {"no_label": 4})


def test_per_class_mean_accuracy_is_unweighted_over_classes():
    assert per_class_mean_accuracy(["a", "a", "a", "b"], [True, True, True, False]) == 0.5
    assert per_class_mean_accuracy([], []) is None


def test_mean_of_metrics_sums_counts_and_is_null_when_a_part_is():
    parts = [
        MetricValue("t/x", "accuracy", 0.5, True, 10, 1, subset="a", invalid_reasons={"no_label": 1}),
        MetricValue("t/x", "accuracy", 1.0, True, 4, 0, subset="b"),
    ]
    mean = mean_of_metrics("t/x", "mean_accuracy", parts, True)
    assert (mean.value, mean.n, mean.n_invalid, mean.ci) == (0.75, 14, 1, None)
    assert mean.invalid_reasons == {"no_label": 1}
    empty = MetricValue("t/x", "accuracy", None, True, 0, 0)
    undefined = mean_of_metrics("t/x", "mean_accuracy", [*parts, empty], True)
    assert undefined.value is None and undefined.note


def test_cosine():
    assert cosine([1, 0], [1, 0]) == pytest.approx(1.0)
    assert cosine([1, 0], [0, 1]) == pytest.approx(0.0)
    assert cosine([0, 0], [1, 1]) == 0.0


def test_stratified_selection_is_round_robin_stable_and_in_file_order():
    samples = [Sample(str(i), {}, subset) for i, subset in enumerate("aaaabbc")]
    picked = stratified(samples, 4)
    assert [s.id for s in picked] == ["0", "1", "4", "6"]
    assert set(s.id for s in picked) <= set(s.id for s in stratified(samples, 5))
    assert stratified(samples, None) == samples


def test_mean_over_valid_leaves_invalid_items_out_and_can_resample_groups():
    values = [1.0, None, 0.0, 1.0, None, 1.0]
    reasons = [None, "empty_response", None, None, "missing_original", None]
    plain = mean_over_valid("t/x", "mean_cosine", values, True, reasons=reasons, unit="pairs")
    assert (plain.value, plain.n, plain.n_invalid, plain.extra) == (0.75, 6, 2, {"unit": "pairs"})
    assert plain.invalid_reasons == {"empty_response": 1, "missing_original": 1}
    grouped = mean_over_valid("t/x", "mean_cosine", values, True, groups=[0, 0, 0, 1, 1, 1], reasons=reasons)
    assert grouped.value == plain.value and grouped.ci != plain.ci
    assert grouped.ci == bootstrap_ci(4, lambda idx: float(np.array([1.0, 0.0, 1.0, 1.0])[idx].mean()), [0, 0, 1, 1])
    undefined = mean_over_valid("t/x", "mean_cosine", [None, None], True, groups=[0, 1], reasons=["x", "x"])
    assert (undefined.value, undefined.ci, undefined.note) == (None, None, "no valid items (2 invalid)")


def test_max_over_valid_has_no_interval_and_a_note_when_undefined():
    failed = [None, "toxicity_scorer_failed", None]
    top = max_over_valid("t/x", "max_toxicity", [0.2, None, 0.9], False, reasons=failed, toxicity_scorer="s")
    assert (top.value, top.n, top.n_invalid, top.ci, top.note) == (0.9, 3, 1, None, None)
    assert top.extra == {"toxicity_scorer": "s"} and top.invalid_reasons == {"toxicity_scorer_failed": 1}
    none_valid = max_over_valid("t/x", "max_toxicity", [None], False, reasons=["toxicity_scorer_failed"])
    assert none_valid.note == "no valid items (1 invalid)"
    assert max_over_valid("t/x", "max_toxicity", [], False).note == "no items"


def test_skipped_metric_is_null_with_the_reason_and_optional_extra():
    skipped = skipped_metric("t/x", "rta", True, "no refusal judge", 5, subset="a", extra={"refusal_judge": None})
    assert (skipped.value, skipped.n, skipped.n_invalid, skipped.subset) == (None, 5, 0, "a")
    assert (skipped.note, skipped.extra) == ("skipped: no refusal judge", {"refusal_judge": None})
    assert skipped_metric("t/x", "rta", True, "r", 0).extra == {}


def test_stratified_units_keeps_units_whole_round_robin_and_superset_monotone():
    # subset a: pair p (0, 2), single 1; subset b: group g (3, 4, 5), single 6
    keys = {"0": "p", "2": "p", "3": "g", "4": "g", "5": "g"}
    samples = [Sample(str(i), {}, subset) for i, subset in enumerate("aaabbbb")]
    key = keys.get
    assert [[s.id for s in unit] for unit in units_of(samples, lambda s: key(s.id))] == [
        ["0", "2"],
        ["1"],
        ["3", "4", "5"],
        ["6"],
    ]
    picked = [[s.id for s in stratified_units(samples, n, lambda s: key(s.id))] for n in range(8)]
    assert picked[1] == [] and picked[2] == ["0", "2"] and picked[5] == ["0", "2", "3", "4", "5"]
    assert picked[6] == ["0", "1", "2", "3", "4", "5"]
    assert all(set(small) <= set(large) for small, large in itertools.pairwise(picked))
    assert stratified_units(samples, None, lambda s: key(s.id)) == samples
