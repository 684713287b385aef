"""The plugin's own statistics: AdvGLUE's pair statistics (ASR, RS). Skip markers and the mean over subsets are
the core's (trust_core.outcomes), tested in tests/test_outcomes.py."""

from __future__ import annotations

import numpy as np
import pytest
from trust_robustness.advglue import ATTACK_SUCCESS_RATE, ROBUSTNESS_SCORE, attack_success_rate

from trust_core.metrics import bootstrap_ci

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
