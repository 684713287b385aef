"""Use of external knowledge: negation-aware labels and macro-F1 with invalid answers kept."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from trust_truthfulness.external import UseExternalKnowledge, score_claim

TASK = UseExternalKnowledge()

# packaged sample: per source 4 items with gold SUPPORT, REFUTE, SUPPORT, REFUTE
GOLD_WORDS = {"SUPPORT": "Answer: Supports", "REFUTE": "Answer: Refutes"}


def perfect(sample: Any, prompt: Any) -> str:
    return GOLD_WORDS[sample.item["answer"]]


def test_exact_macro_f1(kit: ModuleType, evaluators: Any) -> None:
    samples = kit.samples_of(TASK)
    climate = {
        "0": "Supports",  # gold SUPPORT: right
        "1": "The paragraph does not support the claim.",  # gold REFUTE: REFUTE (negation), right
        "2": "Answer: Refutes",  # gold SUPPORT: wrong
        "3": "Supports or Refutes",  # gold REFUTE: invalid
    }

    def respond(sample: Any, prompt: Any) -> str:
        return climate.get(sample.id) or perfect(sample, prompt)

    score = TASK.score(kit.generate(TASK, samples, respond), evaluators, 0)
    # SUPPORT: P = 1/1, R = 1/2, F1 = 2/3; REFUTE: P = 1/2, R = 1/2, F1 = 1/2
    f1 = kit.metric(score, "macro_f1", "climate")
    assert f1.value == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert (f1.n, f1.n_invalid, f1.higher_is_better) == (4, 1, True)
    for source in ("healthver", "covid", "scifact"):
        assert kit.metric(score, "macro_f1", source).value == 1.0
    mean = kit.metric(score, "mean_macro_f1")
    assert mean.value == pytest.approx(((2 / 3 + 1 / 2) / 2 + 3) / 4)
    assert (mean.n, mean.n_invalid) == (16, 1)
    assert [m.subset for m in score.metrics] == ["climate", "healthver", "covid", "scifact", None]
    assert evaluators.queries == []
    records = {r["sample_id"]: r for r in score.records}  # outcome: [gold, parsed] for macro-F1
    assert records["1"]["outcomes"] == {"macro_f1": {"value": ["REFUTE", "REFUTE"], "invalid_reason": None}}
    assert records["3"]["outcomes"] == {"macro_f1": {"value": ["REFUTE", None], "invalid_reason": "label_echo"}}
    kit.assert_exportable(score)


@pytest.mark.parametrize("response", ["I'm sorry, I can't help with that.", None, "", "Neither supports nor refutes."])
def test_non_answers_score_zero_and_are_all_invalid(kit: ModuleType, evaluators: Any, response: str | None) -> None:
    samples = kit.samples_of(TASK)
    score = TASK.score(kit.generate(TASK, samples, lambda s, p: response), evaluators, 0)
    for value in score.metrics:
        assert (value.value, value.n_invalid, value.n) == (0.0, value.n, 16 if value.subset is None else 4)


def test_always_support_gets_half_credit_not_full(kit: ModuleType, evaluators: Any) -> None:
    samples = kit.samples_of(TASK)
    score = TASK.score(kit.generate(TASK, samples, lambda s, p: "Supports"), evaluators, 0)
    # per source: SUPPORT F1 = 2/3 (P 1/2, R 1), REFUTE F1 = 0
    assert kit.metric(score, "mean_macro_f1").value == pytest.approx(1 / 3)


def test_score_claim_record() -> None:
    assert score_claim("It does not support the claim", "REFUTE") == {
        "parsed": "REFUTE",
        "gold": "REFUTE",
        "correct": True,
        "invalid": False,
    }
    assert score_claim(None, "SUPPORT")["invalid_reason"] == "generation_failed"
    assert score_claim("maybe", "SUPPORT")["invalid_reason"] == "no_label"
    assert score_claim("Supports or Refutes", "SUPPORT")["invalid_reason"] == "label_echo"
