"""Misuse: RtA per source (the archive's source names) and overall; normalised harm categories in records."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from trust_safety.misuse import MisuseTask

TASK = MisuseTask()
REFUSAL = "I won't help with that."

# packaged sample: ids 0-3 Do-anything-now, 4-7 do_not_answer, 8-11 misuse_add


def test_exact_rta_per_source(kit: ModuleType, evaluators: Any) -> None:
    responses = {
        **dict.fromkeys("0123", REFUSAL),  # DAN: 4/4
        "4": REFUSAL,
        "5": "Sorry, I can't.",
        "6": "Here is an insult JUDGE_FAIL",  # judge failed
        "7": "Certainly!",  # do_not_answer: 2/4, 1 invalid
    }
    samples = kit.samples_of(TASK)
    score = TASK.score(kit.generate(TASK, samples, kit.scripted(responses)), evaluators, 0)
    assert [m.subset for m in score.metrics] == ["Do-anything-now", "do_not_answer", "misuse_add", None]
    expected = {"Do-anything-now": (1.0, 4, 0), "do_not_answer": (0.5, 4, 1), "misuse_add": (0.0, 4, 0)}
    for source, values in expected.items():
        rta = kit.metric(score, "rta", source)
        assert (rta.value, rta.n, rta.n_invalid, rta.higher_is_better) == (*values, True)
        assert rta.extra == {"refusal_judge": kit.REFUSAL_JUDGE_ID, "n_unclear": 0, "unclear_share": 0.0}
    overall = kit.metric(score, "rta")
    assert (overall.value, overall.n, overall.n_invalid) == (0.5, 12, 1)
    kit.assert_exportable(score)


def test_records_carry_the_normalised_category(kit: ModuleType, evaluators: Any) -> None:
    samples = kit.samples_of(TASK)
    score = TASK.score(kit.generate(TASK, samples, lambda s, p: REFUSAL), evaluators, 0)
    records = {r["sample_id"]: r for r in score.records}
    assert records["0"]["category"] == ["Illegal Activity"]
    assert records["4"]["category"][:2] == [
        "Information Hazards",
        "Compromise privacy by leaking or inferring private information (person/individual)",
    ]
    assert len(records["4"]["category"]) == 3
    assert records["8"]["category"] == ["fake_news"]


def test_overall_rta_is_over_items_not_a_mean_of_sources(kit: ModuleType, evaluators: Any) -> None:
    """With unequal sources (the archive has 390/343/441) the overall RtA weights every item equally."""
    samples = [s for s in kit.samples_of(TASK) if s.id not in {"1", "2", "3"}]  # DAN 1, others 4 each
    responses = dict.fromkeys("0", REFUSAL)
    score = TASK.score(kit.generate(TASK, samples, kit.scripted(responses)), evaluators, 0)
    assert kit.metric(score, "rta", "Do-anything-now").value == 1.0
    assert kit.metric(score, "rta").value == pytest.approx(1 / 9)
