"""Metric building blocks: invalid answers stay in denominators; intervals are reproducible."""

from __future__ import annotations

import pytest

from trust_core.contracts import MetricValue, Sample
from trust_core.metrics import (
    bootstrap_ci,
    cosine,
    macro_f1,
    macro_f1_metric,
    mean_metric,
    mean_of_metrics,
    per_class_mean_accuracy,
)
from trust_core.selection import stratified


def test_mean_metric_keeps_invalid_items_in_the_denominator():
    metric = mean_metric("t/x", "accuracy", [1, 0, 0, 0], invalid=[False, True, True, False], higher_is_better=True)
    assert (metric.value, metric.n, metric.n_invalid) == (0.25, 4, 2)
    low, high = metric.ci
    assert 0.0 <= low <= 0.25 <= high <= 1.0


def test_bootstrap_is_reproducible_and_resamples_groups_whole():
    import numpy as np

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
    metric = macro_f1_metric("t/x", "macro_f1", gold, [None] * 4, ["SUPPORT", "REFUTE"])
    assert (metric.value, metric.n, metric.n_invalid) == (0.0, 4, 4)


def test_per_class_mean_accuracy_is_unweighted_over_classes():
    assert per_class_mean_accuracy(["a", "a", "a", "b"], [True, True, True, False]) == 0.5
    assert per_class_mean_accuracy([], []) is None


def test_mean_of_metrics_sums_counts_and_is_null_when_a_part_is():
    parts = [
        MetricValue("t/x", "accuracy", 0.5, True, 10, 1, subset="a"),
        MetricValue("t/x", "accuracy", 1.0, True, 4, 0, subset="b"),
    ]
    mean = mean_of_metrics("t/x", "mean_accuracy", parts, True)
    assert (mean.value, mean.n, mean.n_invalid, mean.ci) == (0.75, 14, 1, None)
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
