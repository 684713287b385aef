"""The plugin's statistics: skipped outcomes, a mean over subsets, and AdvGLUE's pair statistics (ASR, RS)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from trust_robustness.advglue import ATTACK_SUCCESS_RATE, ROBUSTNESS_SCORE, attack_success_rate
from trust_robustness.statistics import mean_of_subsets, skip_outcome, skippable, skippable_spec

from trust_core.metrics import bootstrap_ci, mean_metric, mean_of_metrics
from trust_core.outcomes import MEAN, MetricSpec, grouped_metrics, outcome


def _record(sample_id: str, subset: str | None, **outcomes: Any) -> dict[str, Any]:
    return {"sample_id": sample_id, "subset": subset, "outcomes": outcomes}


def test_a_group_with_a_skipped_outcome_is_reported_skipped_and_others_are_not() -> None:
    records = [_record("0", "a", m=outcome(True)), _record("1", "b", m=outcome(False, "no_label"))]
    skip_outcome(records[1], "m", "no judge")
    assert records[1]["outcomes"]["m"] == {"value": {"skipped": "no judge"}, "invalid_reason": None}
    spec = skippable_spec(MetricSpec("m", MEAN, True, overall="pooled", extra_of=lambda _: {"unit": "items"}))
    a, b, pooled = grouped_metrics("t/x", records, spec)
    assert (a.value, a.n, a.note, a.extra["unit"]) == (1.0, 1, None, "items")
    for skipped, n in ((b, 1), (pooled, 2)):
        assert (skipped.value, skipped.n, skipped.n_invalid, skipped.ci) == (None, n, 0, None)
        assert (skipped.note, skipped.extra) == ("skipped: no judge", {})
        assert skipped.aggregate == {"outcome": "m", "statistic": "mean", "pairing": "binary"}
    statistic = skippable(MEAN)
    assert statistic.value is not None
    assert statistic.value([True, False]) == 0.5 and statistic.value([True, {"skipped": "no judge"}]) is None


def test_mean_of_subsets_equals_the_mean_of_the_subsets_metrics() -> None:
    values = [["b", True], ["a", False], ["a", True], ["b", True], ["c", False]]
    reasons = [None, "no_label", None, None, None]
    statistic = mean_of_subsets(("a", "b"))
    got = statistic.compute("t/x", "mean_m", values, reasons, True, None, None)
    parts = [
        mean_metric("t/x", "m", [0.0, 1.0], ["no_label", None], True, subset="a"),
        mean_metric("t/x", "m", [1.0, 1.0], [None, None], True, subset="b"),
        mean_metric("t/x", "m", [0.0], [None], True, subset="c"),
    ]
    assert got == mean_of_metrics("t/x", "mean_m", parts, True)
    assert got.extra == {"of": ["a", "b", "c"]} and got.invalid_reasons == {"no_label": 1}
    assert statistic.value is not None and statistic.value(values) == pytest.approx(got.value)


PAIRS = [[True, False], [True, True], [False, False], [True, False], [False, True]]


def test_pair_statistics_match_their_definitions_and_value_functions() -> None:
    ben = np.array([p[0] for p in PAIRS])
    adv = np.array([p[1] for p in PAIRS])
    reasons = [None, None, "no_label", None, None]
    asr = ATTACK_SUCCESS_RATE.compute("t/x", "asr", PAIRS, reasons, False, "sst2", None)
    assert (asr.value, asr.n, asr.n_invalid, asr.invalid_reasons) == (2 / 3, 5, 1, {"no_label": 1})
    assert asr.ci == bootstrap_ci(5, lambda idx: attack_success_rate(ben[idx], adv[idx]))
    assert asr.extra == {"unit": "pairs", "originals_correct": 3, "successful_attacks": 2}
    rs = ROBUSTNESS_SCORE.compute("t/x", "rs", PAIRS, reasons, True, "sst2", None)
    assert rs.value == pytest.approx(2 / 5 - 2 / 3)
    for statistic, computed in ((ATTACK_SUCCESS_RATE, asr), (ROBUSTNESS_SCORE, rs)):
        assert statistic.pairing == "statistic" and statistic.value is not None
        assert statistic.value(PAIRS) == pytest.approx(computed.value)
    none_right = ATTACK_SUCCESS_RATE.compute("t/x", "asr", [[False, False]], [None], False, None, None)
    assert (none_right.value, none_right.note) == (0.0, "no original answered correctly: ASR is 0 by definition")
