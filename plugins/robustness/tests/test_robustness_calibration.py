"""Judge calibration of OOD generalization: hand-written long DDXPlus answers with known verdicts."""

from __future__ import annotations

from collections import Counter

from trust_robustness.common import calibration_entries
from trust_robustness.ood_generalization import (
    CORRECT,
    JUDGE_LABELS,
    OodGeneralization,
    apply_verdict,
    score_diagnosis,
)
from trust_robustness.parsing import diagnosis_options, same_diagnosis

from trust_core.contracts import Verdict

TASK = OodGeneralization()


def test_items_built_with_the_tasks_own_query() -> None:
    items = TASK.judge_calibration()
    entries = calibration_entries(TASK.id)
    assert len(items) == len(entries) == 16
    for item, entry in zip(items, entries, strict=True):
        assert item.prompt == TASK.id
        # the exact query scoring would send for this answer: a long answer with no one-option diagnosis line
        record, query = score_diagnosis(entry["prompt"], entry["response"], entry["label"])
        assert record["rule"] == "judge" and query == item.query
        assert item.query.labels == JUDGE_LABELS
        assert item.expected in item.query.labels
        assert item.positive == "CORRECT" and item.positive in item.query.labels
        assert any(same_diagnosis(entry["label"], option) for option in diagnosis_options(entry["prompt"]))


def test_correct_is_half_and_every_label_has_items() -> None:
    # sensitivity (CORRECT credited) and specificity (the rest given their own label) rest on equal numbers;
    # every way of being wrong or invalid has items: another option, a diagnosis not listed, no choice
    counts = Counter(item.expected for item in TASK.judge_calibration())
    assert counts == {CORRECT: 8, "INCORRECT": 4, "NOT_LISTED": 2, "NO_DIAGNOSIS": 2}
    assert set(counts) == set(JUDGE_LABELS) and counts[CORRECT] * 2 == sum(counts.values())


def test_calibration_answers_are_distinct() -> None:
    entries = calibration_entries(TASK.id)
    assert len({entry["response"] for entry in entries}) == len({entry["prompt"] for entry in entries}) == 16


def test_the_expected_verdicts_score_as_the_definitions_say() -> None:
    # the verdict each answer deserves, applied as scoring applies it: only CORRECT is right, only CORRECT and
    # INCORRECT are valid; a diagnosis not listed is outside the options, several options ambiguous, none no label
    scored = {}
    for entry in calibration_entries(TASK.id):
        record, _ = score_diagnosis(entry["prompt"], entry["response"], entry["label"])
        record["response"] = entry["response"]
        apply_verdict(record, Verdict(label=entry["expected"], raw=entry["expected"]))
        assert record["correct"] is (entry["expected"] == CORRECT)
        assert record["invalid"] is (entry["expected"] in ("NOT_LISTED", "NO_DIAGNOSIS"))
        scored.setdefault(entry["expected"], []).append(record.get("invalid_reason"))
    assert scored["NOT_LISTED"] == ["outside_options", "outside_options"]
    assert sorted(scored["NO_DIAGNOSIS"]) == ["ambiguous", "no_label"]  # "bronchitis or pneumonia"; "see a doctor"
