"""AdvInstruction: each perturbed answer is compared with its OWN group's original answer (B2)."""

from __future__ import annotations

import math
import random
from types import ModuleType
from typing import Any

import pytest
from trust_robustness.advinstruction import PERTURBATIONS, AdversarialInstruction, limit_groups

from trust_core.contracts import Sample

TASK = AdversarialInstruction()


def per_group_answer(sample: Sample, prompt: Any) -> str:
    """Answers that differ only across groups: identical within each group."""
    return f"The answer to instruction {sample.item['index']}."


def test_answers_that_differ_only_across_groups_score_one(kit: ModuleType, evaluators: Any) -> None:
    """With TrustLLM's cross-group pairing this model would score 0 (identity embedder: different texts ⟂)."""
    score = TASK.score(kit.generate(TASK, kit.samples_of(TASK), per_group_answer), evaluators, 0)
    overall = kit.metric(score, "mean_cosine")
    assert (overall.value, overall.n, overall.n_invalid, overall.higher_is_better) == (1.0, 22, 0, True)
    for perturbation in PERTURBATIONS:
        value = kit.metric(score, "mean_cosine", perturbation)
        assert (value.value, value.n, value.n_invalid) == (1.0, 2, 0)
    records = {r["sample_id"]: r for r in score.records}
    assert all(records[str(i)]["original_id"] == "0" for i in range(1, 12))
    assert all(records[str(i)]["original_id"] == "12" for i in range(13, 24))
    kit.assert_exportable(score)


def test_the_whole_archive_pairs_within_groups(kit: ModuleType, evaluators: Any) -> None:
    samples = kit.samples_of(TASK, kit.archive_items(TASK.data_file))
    generations = kit.generate(TASK, samples, per_group_answer)
    random.Random(5).shuffle(generations)  # pairing never depends on order
    score = TASK.score(generations, evaluators, 0)
    overall = kit.metric(score, "mean_cosine")
    assert (overall.value, overall.n, overall.n_invalid) == (1.0, 550, 0)
    assert [m.subset for m in score.metrics] == [None, *PERTURBATIONS]
    assert all(m.n == 50 for m in score.metrics[1:])
    assert len(evaluators.embedded) == 600


# packaged sample: group 0 = ids 0 (original) .. 11, group 1 = ids 12 (original) .. 23;
# the "ab" embedder maps a text to (count of a, count of b).
AB: dict[str, str | None] = {"0": "a", "1": "a", "2": "b", "3": "ab", "4": None} | {str(i): "a" for i in range(5, 12)}
AB |= {"12": "  "} | {str(i): "a" for i in range(13, 24)}


def test_exact_values_and_invalid_pairs(kit: ModuleType) -> None:
    evaluators = kit.RuleEvaluators(embed_mode="ab")
    score = TASK.score(kit.generate(TASK, kit.samples_of(TASK), kit.scripted(AB)), evaluators, 0)
    overall = kit.metric(score, "mean_cosine")
    assert overall.value == pytest.approx((8 + 1 / math.sqrt(2)) / 10)  # 10 valid pairs, all in group 0
    assert (overall.n, overall.n_invalid) == (22, 12)  # id 4 failed; group 1's original is blank
    expected = {"word_change": 1.0, "letter_change": 0.0, "one_url": 1 / math.sqrt(2), "html_others": 1.0}
    for perturbation, value in expected.items():
        metric = kit.metric(score, "mean_cosine", perturbation)
        assert (metric.value, metric.n, metric.n_invalid) == (pytest.approx(value), 2, 1)
    empty = kit.metric(score, "mean_cosine", "detail_url")
    assert (empty.value, empty.n, empty.n_invalid, empty.ci) == (None, 2, 2, None)
    assert empty.note == "no valid items (2 invalid)"
    records = {r["sample_id"]: r for r in score.records}
    assert records["4"]["invalid_reason"] == "generation_failed" and records["4"]["cosine"] is None
    assert records["13"]["invalid_reason"] == "original_empty_response"
    assert records["12"]["invalid_reason"] == "empty_response" and records["12"]["role"] == "original"
    assert records["3"]["cosine"] == pytest.approx(1 / math.sqrt(2))
    assert records["3"]["outcomes"]["mean_cosine"] == {"value": records["3"]["cosine"], "invalid_reason": None}
    assert records["13"]["outcomes"]["mean_cosine"] == {"value": None, "invalid_reason": "original_empty_response"}
    assert "outcomes" not in records["0"] and "outcomes" not in records["12"]
    assert sorted(evaluators.embedded) == sorted(["a", "a", "b", "ab", *["a"] * 7])  # only answers in valid pairs
    kit.assert_exportable(score)


def test_interval_resamples_groups(kit: ModuleType) -> None:
    samples = kit.samples_of(TASK, kit.archive_items(TASK.data_file))
    rng = random.Random(2)
    answers = {s.id: rng.choice(["a", "b", "ab", "aab"]) for s in samples}
    score = TASK.score(kit.generate(TASK, samples, kit.scripted(answers)), kit.RuleEvaluators(embed_mode="ab"), 0)
    overall = kit.metric(score, "mean_cosine")
    assert overall.ci is not None and overall.ci[0] < overall.value < overall.ci[1]
    assert (overall.n, overall.n_invalid) == (550, 0)


def test_a_group_without_its_original(kit: ModuleType, evaluators: Any) -> None:
    samples = [s for s in kit.samples_of(TASK) if s.id != "12"]
    score = TASK.score(kit.generate(TASK, samples, per_group_answer), evaluators, 0)
    overall = kit.metric(score, "mean_cosine")
    assert (overall.value, overall.n, overall.n_invalid) == (1.0, 22, 11)
    assert {r.get("invalid_reason") for r in score.records if r["group"] == 1} == {"missing_original"}


def test_no_embedder_skips_the_metrics(kit: ModuleType) -> None:
    evaluators = kit.RuleEvaluators(unavailable=["embedder"])
    score = TASK.score(kit.generate(TASK, kit.samples_of(TASK), per_group_answer), evaluators, 0)
    assert len(score.metrics) == 12
    for metric in score.metrics:
        assert metric.value is None and metric.note == "skipped: test: no embedder" and metric.n_invalid == 0
    assert kit.metric(score, "mean_cosine").n == 22
    records = {r["sample_id"]: r for r in score.records}
    assert records["1"]["outcomes"] == {
        "mean_cosine": {"value": {"skipped": "test: no embedder"}, "invalid_reason": None}
    }
    assert "outcomes" not in records["0"]  # an original is no unit: its pairs' outcomes sit on the perturbed ones
    kit.assert_exportable(score)


def test_limit_keeps_groups_whole() -> None:
    samples = [
        Sample(id=str(i), item={"index": i // 12, "type": (["original", *PERTURBATIONS])[i % 12]}, subset=None)
        for i in range(36)
    ]
    previous: set[str] = set()
    for limit in [*range(0, 40), None]:
        chosen = limit_groups(samples, limit)
        ids = {s.id for s in chosen}
        rounded = limit if not limit else max(limit, 2)  # --limit 1 is rounded up to an original and a perturbation
        assert (rounded is None or len(chosen) <= rounded) and previous <= ids
        previous = ids
        groups = {s.item["index"] for s in chosen}
        if limit is None:
            assert len(chosen) == 36
        elif limit >= 12:
            assert len(chosen) == 12 * min(3, limit // 12)  # whole groups only
        elif chosen:
            assert groups == {0} and chosen[0].item["type"] == "original"  # a partial first group, original first
    assert [s.id for s in limit_groups(samples, 2)] == [s.id for s in limit_groups(samples, 1)] == ["0", "1"]
    assert limit_groups(samples, 0) == []
