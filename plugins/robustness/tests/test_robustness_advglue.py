"""AdvGLUE: label words per GLUE task, pairs by task + index, acc_ben / acc_adv / ASR / RS with exact values."""

from __future__ import annotations

import random
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from trust_robustness.advglue import GOLD_WORDS, AdversarialGlue, attack_success_rate, pair_key, score_answer

from trust_core.contracts import Sample
from trust_core.metrics import bootstrap_ci

TASK = AdversarialGlue()

# packaged sample, (modified id, original id) per pair, gold word:
#   qqp  (0,1) yes  (2,3) no     (4,5) yes
#   sst2 (6,7) pos  (8,9) neg    (10,11) pos
#   qnli (12,13) yes (14,15) no  (16,17) yes
#   mnli (18,19) yes (20,21) maybe (22,23) no
MIXED: dict[str, str | None] = {
    # qqp: attack succeeds on pair 1; pair 3's original is invalid
    "1": "Yes",
    "0": "No",
    "3": "No.",
    "2": "no",
    "5": "I cannot know.",
    "4": "yes",
    # sst2: pair 4 attacked; pair 5's modified answer echoes both labels; pair 6's original negated
    "7": "positive",
    "6": "Negative",
    "9": "negative",
    "8": "positive or negative",
    "11": "not positive",
    "10": "positive",
    # qnli: all right
    "13": "Yes",
    "12": "Answer: yes",
    "15": "No, it does not.",
    "14": "no",
    "17": "yes",
    "16": "Yes.",
    # mnli: a failed original, an empty modified answer
    "19": None,
    "18": "yes",
    "21": "maybe",
    "20": "Maybe.",
    "23": "no",
    "22": "",
}


def test_exact_metrics_of_a_mixed_model(kit: ModuleType, evaluators: Any) -> None:
    score = TASK.score(kit.generate(TASK, kit.samples_of(TASK), kit.scripted(MIXED)), evaluators, 0)
    expected = {  # task: (acc_ben, acc_adv, asr, rs), (ben invalid, adv invalid, pair invalid)
        "sst2": ((2 / 3, 1 / 3, 1.0, 1 / 3 - 1), (0, 1, 1)),
        "qqp": ((2 / 3, 2 / 3, 0.5, 2 / 3 - 0.5), (1, 0, 1)),
        "qnli": ((1.0, 1.0, 0.0, 1.0), (0, 0, 0)),
        "mnli": ((2 / 3, 2 / 3, 0.5, 2 / 3 - 0.5), (1, 1, 2)),
    }
    for glue_task, (values, invalid) in expected.items():
        got = [kit.metric(score, name, glue_task) for name in ("acc_ben", "acc_adv", "asr", "rs")]
        assert [m.value for m in got] == pytest.approx(values), glue_task
        assert [m.n for m in got] == [3, 3, 3, 3]
        assert [m.n_invalid for m in got] == [invalid[0], invalid[1], invalid[2], invalid[2]], glue_task
        assert [m.higher_is_better for m in got] == [True, True, False, True]
    mnli = {name: kit.metric(score, name, "mnli").invalid_reasons for name in ("acc_ben", "acc_adv", "asr", "rs")}
    assert mnli == {  # a pair counts once, under the reason of its invalid side
        "acc_ben": {"generation_failed": 1},
        "acc_adv": {"empty_response": 1},
        "asr": {"empty_response": 1, "generation_failed": 1},
        "rs": {"empty_response": 1, "generation_failed": 1},
    }
    means = {name: kit.metric(score, name) for name in ("mean_acc_ben", "mean_acc_adv", "mean_asr", "rs")}
    assert means["mean_acc_ben"].value == pytest.approx(3 / 4)
    assert means["mean_acc_adv"].value == pytest.approx(2 / 3)
    assert means["mean_asr"].value == pytest.approx(1 / 2)
    assert means["rs"].value == pytest.approx(2 / 3 - 1 / 2)
    assert means["mean_asr"].higher_is_better is False and means["rs"].higher_is_better is True
    assert (means["rs"].n, means["rs"].n_invalid, means["rs"].ci) == (12, 4, None)
    assert means["mean_acc_ben"].extra["of"] == ["sst2", "qqp", "qnli", "mnli"]
    assert [m.subset for m in score.metrics if m.metric == "asr"] == ["sst2", "qqp", "qnli", "mnli"]
    kit.assert_exportable(score)
    records = {r["sample_id"]: r for r in score.records}
    assert records["5"]["invalid_reason"] == "no_label" and records["5"]["correct"] is False
    assert (
        records["19"]["invalid_reason"] == "generation_failed" and records["22"]["invalid_reason"] == "empty_response"
    )
    assert records["11"]["parsed"] == "negative" and records["11"]["gold"] == "positive"
    assert (
        records["0"]["pair_id"] == "qqp:1" and records["0"]["partner_id"] == "1" and records["1"]["partner_id"] == "0"
    )
    assert records["20"]["type"] == "modified" and records["21"]["type"] == "original"
    # a pair is one unit: its outcomes sit on its first record (sample order) only
    assert records["18"]["outcomes"] == {
        "acc_ben": {"value": False, "invalid_reason": "generation_failed"},
        "acc_adv": {"value": True, "invalid_reason": None},
        "asr": {"value": [False, True], "invalid_reason": "generation_failed"},
        "rs": {"value": [False, True], "invalid_reason": "generation_failed"},
    }
    assert "outcomes" not in records["19"]


def sst2_samples(kit: ModuleType) -> list[Sample]:
    return [s for s in kit.samples_of(TASK) if s.subset == "sst2"]


def test_all_positive_model_on_sst2(kit: ModuleType, evaluators: Any) -> None:
    """Gold positive, negative, positive: benign and adversarial accuracy 2/3, no attack succeeds."""
    score = TASK.score(kit.generate(TASK, sst2_samples(kit), lambda s, p: "positive"), evaluators, 0)
    assert kit.metric(score, "acc_ben", "sst2").value == pytest.approx(2 / 3)
    assert kit.metric(score, "acc_adv", "sst2").value == pytest.approx(2 / 3)
    asr = kit.metric(score, "asr", "sst2")
    assert (asr.value, asr.n, asr.n_invalid) == (0.0, 3, 0)
    assert asr.extra == {"unit": "pairs", "originals_correct": 2, "successful_attacks": 0}
    assert kit.metric(score, "rs", "sst2").value == pytest.approx(2 / 3)
    assert kit.metric(score, "rs").value == pytest.approx(2 / 3)  # the mean over the one task present
    assert kit.metric(score, "mean_asr").value == 0.0


def test_all_positive_model_on_archive_sst2(kit: ModuleType, evaluators: Any) -> None:
    samples = [s for s in kit.samples_of(TASK, kit.archive_items(TASK.data_file)) if s.subset == "sst2"]
    score = TASK.score(kit.generate(TASK, samples, lambda s, p: "Positive."), evaluators, 0)
    positive_pairs = sum(1 for s in samples if s.item["type"] == "original" and s.item["label"] == 1)
    assert (len(samples), positive_pairs) == (262, 66)
    asr, rs = kit.metric(score, "asr", "sst2"), kit.metric(score, "rs", "sst2")
    assert (asr.value, asr.n, asr.n_invalid) == (0.0, 131, 0)
    assert rs.value == pytest.approx(66 / 131) and kit.metric(score, "acc_ben", "sst2").value == pytest.approx(66 / 131)


def test_unknown_answers_are_never_dropped(kit: ModuleType, evaluators: Any) -> None:
    """B5: TrustLLM drops pairs with an Unknown answer; here they are wrong and counted invalid."""

    def respond(sample: Sample, prompt: Any) -> str:
        gold = GOLD_WORDS[sample.item["task"]][sample.item["label"]]
        return gold if sample.item["type"] == "original" else "I would rather not say."

    score = TASK.score(kit.generate(TASK, kit.samples_of(TASK), respond), evaluators, 0)
    for glue_task in ("sst2", "qqp", "qnli", "mnli"):
        adv, asr = kit.metric(score, "acc_adv", glue_task), kit.metric(score, "asr", glue_task)
        assert (adv.value, adv.n, adv.n_invalid) == (0.0, 3, 3)
        assert (asr.value, asr.n, asr.n_invalid) == (1.0, 3, 3)
    assert kit.metric(score, "rs").value == -1.0


def test_asr_is_zero_when_no_original_is_right(kit: ModuleType, evaluators: Any) -> None:
    score = TASK.score(kit.generate(TASK, sst2_samples(kit), lambda s, p: "neutral"), evaluators, 0)
    asr = kit.metric(score, "asr", "sst2")
    assert (asr.value, asr.n_invalid) == (0.0, 3) and "0 by definition" in (asr.note or "")
    assert kit.metric(score, "rs", "sst2").value == 0.0


def test_pairs_are_found_by_task_and_index_in_any_order(kit: ModuleType, evaluators: Any) -> None:
    generations = kit.generate(TASK, kit.samples_of(TASK), kit.scripted(MIXED))
    expected = TASK.score(generations, evaluators, 0)
    shuffled = list(generations)
    random.Random(7).shuffle(shuffled)
    again = TASK.score(shuffled, kit.RuleEvaluators(), 0)
    assert sorted(map(repr, again.metrics)) == sorted(map(repr, expected.metrics))


def test_a_missing_partner_makes_the_pair_invalid_and_wrong(kit: ModuleType, evaluators: Any) -> None:
    samples = [s for s in sst2_samples(kit) if s.id != "8"]  # pair 5 loses its modified item
    score = TASK.score(
        kit.generate(TASK, samples, lambda s, p: "negative" if s.id == "9" else "positive"), evaluators, 0
    )
    ben, adv = kit.metric(score, "acc_ben", "sst2"), kit.metric(score, "acc_adv", "sst2")
    assert (ben.value, ben.n, ben.n_invalid) == (pytest.approx(2 / 3), 3, 1)
    assert (adv.value, adv.n, adv.n_invalid) == (pytest.approx(2 / 3), 3, 1)
    records = {r["sample_id"]: r for r in score.records}
    assert records["9"]["invalid_reason"] == "missing_partner" and records["9"]["correct"] is False


def test_a_doubled_member_makes_the_pair_ambiguous(kit: ModuleType, evaluators: Any) -> None:
    items = kit.packaged_items(TASK)[6:8]  # sst2 pair 4: modified, original
    samples = kit.samples_of(TASK, [*items, dict(items[1])])
    score = TASK.score(kit.generate(TASK, samples, lambda s, p: "positive"), evaluators, 0)
    assert kit.metric(score, "acc_ben", "sst2").value == 0.0
    assert {r["invalid_reason"] for r in score.records} == {"ambiguous_pair"}


def test_intervals_resample_pairs(kit: ModuleType, evaluators: Any) -> None:
    samples = [s for s in kit.samples_of(TASK, kit.archive_items(TASK.data_file)) if s.subset == "qqp"]
    rng = random.Random(3)
    answers = {s.id: rng.choice(["yes", "no"]) for s in samples}
    score = TASK.score(kit.generate(TASK, samples, kit.scripted(answers)), evaluators, 0)
    by_pair: dict[str, dict[str, bool]] = {}
    for record in score.records:
        by_pair.setdefault(record["pair_id"], {})[record["type"]] = record["correct"]
    ben = np.array([p["original"] for p in by_pair.values()])
    adv = np.array([p["modified"] for p in by_pair.values()])
    asr = kit.metric(score, "asr", "qqp")
    assert asr.value == attack_success_rate(ben, adv) and asr.n == len(ben) == 71
    assert asr.ci == bootstrap_ci(len(ben), lambda idx: attack_success_rate(ben[idx], adv[idx]))
    acc = kit.metric(score, "acc_adv", "qqp")
    assert acc.ci == bootstrap_ci(len(adv), lambda idx: float(adv[idx].mean()))


def test_limit_keeps_pairs_whole(kit: ModuleType) -> None:
    samples = kit.samples_of(TASK, kit.archive_items(TASK.data_file))
    previous: set[str] = set()
    for limit in [*range(0, 30), 100, 911, 912, None]:
        chosen = TASK.limit(samples, limit)
        ids = {s.id for s in chosen}
        assert limit is None or len(chosen) <= max(limit, 2)  # --limit 1 is rounded up to a whole pair
        assert previous <= ids and [s.id for s in chosen] == [s.id for s in samples if s.id in ids]
        keys = [pair_key(s.item) for s in chosen]
        assert all(keys.count(key) == 2 for key in keys)  # whole pairs only
        previous = ids
    assert len(TASK.limit(samples, 0)) == 0 and len(TASK.limit(samples, 3)) == 2
    assert TASK.limit(samples, 1) == TASK.limit(samples, 2) == samples[:2]  # rounded up to the first pair
    assert {s.subset for s in TASK.limit(samples, 8)} == {"qqp", "sst2", "qnli", "mnli"}  # round-robin over tasks


def test_score_answer() -> None:
    assert score_answer("qnli", 0, "Yes") == {"gold": "yes", "parsed": "yes", "correct": True, "invalid": False}
    assert score_answer("qqp", 0, "yes")["correct"] is False
    assert score_answer("mnli", 1, "maybe")["correct"] is True
    assert score_answer("mnli", 2, "No, it contradicts it.")["correct"] is True
    assert score_answer("sst2", 0, "Answer: negative")["correct"] is True
    unknown = score_answer("sst2", 1, "I cannot tell.")
    assert (unknown["correct"], unknown["invalid"], unknown["invalid_reason"]) == (False, True, "no_label")
    assert score_answer("qqp", 1, "yes or no")["invalid_reason"] == "label_echo"
