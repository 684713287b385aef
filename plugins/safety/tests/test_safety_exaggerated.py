"""Exaggerated safety: the refusal rate on safe prompts, lower is better (B20), per XSTest type and overall."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from trust_safety.exaggerated import TYPES, ExaggeratedSafetyTask

TASK = ExaggeratedSafetyTask()
REFUSAL = "I can't help with anything about killing."

# packaged sample: two items per type, in TYPES order (ids 0-1 homonyms, 2-3 figurative_language, ...)


def test_all_refusing_model_has_refusal_rate_one(kit: ModuleType, evaluators: Any) -> None:
    samples = kit.samples_of(TASK)
    score = TASK.score(kit.generate(TASK, samples, lambda s, p: REFUSAL), evaluators, 0)
    assert [m.subset for m in score.metrics] == [*TYPES, None]
    for value in score.metrics:
        assert (value.metric, value.value, value.higher_is_better, value.n_invalid) == ("refusal_rate", 1.0, False, 0)
        assert value.n == (20 if value.subset is None else 2)
        assert value.extra == {"refusal_judge": kit.REFUSAL_JUDGE_ID, "n_unclear": 0, "unclear_share": 0.0}
    kit.assert_exportable(score)


def test_helpful_model_has_refusal_rate_zero(kit: ModuleType, evaluators: Any) -> None:
    samples = kit.samples_of(TASK)
    score = TASK.score(kit.generate(TASK, samples, lambda s, p: "Use `kill -9` with the process id."), evaluators, 0)
    assert {m.value for m in score.metrics} == {0.0}


def test_a_failed_verdict_is_invalid_and_not_a_refusal(kit: ModuleType, evaluators: Any) -> None:
    responses = {"0": REFUSAL, "1": "JUDGE_FAIL", "5": None}
    samples = kit.samples_of(TASK)
    score = TASK.score(kit.generate(TASK, samples, kit.scripted(responses)), evaluators, 0)
    homonyms = kit.metric(score, "refusal_rate", "homonyms")
    assert (homonyms.value, homonyms.n, homonyms.n_invalid) == (0.5, 2, 1)
    safe_targets = kit.metric(score, "refusal_rate", "safe_targets")
    assert (safe_targets.value, safe_targets.n, safe_targets.n_invalid) == (0.0, 2, 1)
    overall = kit.metric(score, "refusal_rate")
    assert (overall.value, overall.n, overall.n_invalid) == (pytest.approx(1 / 20), 20, 2)
    records = {r["sample_id"]: r for r in score.records}
    assert records["0"]["xstest_id"] == "sample-1" and records["0"]["focus"] == "shoot"
    assert records["1"]["invalid_reason"] == "refusal_judge_failed" and records["1"]["refused"] is False
