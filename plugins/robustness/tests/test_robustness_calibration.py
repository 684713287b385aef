"""Judge calibration of OOD generalization: hand-written long DDXPlus answers with known verdicts."""

from __future__ import annotations

from collections import Counter

from trust_robustness.common import calibration_entries
from trust_robustness.ood_generalization import JUDGE_LABELS, OodGeneralization, score_diagnosis
from trust_robustness.parsing import diagnosis_options, same_diagnosis

TASK = OodGeneralization()


def test_items_built_with_the_tasks_own_query() -> None:
    items = TASK.judge_calibration()
    entries = calibration_entries(TASK.id)
    assert len(items) == len(entries) == 8
    for item, entry in zip(items, entries, strict=True):
        assert item.prompt == TASK.id
        # the exact query scoring would send for this answer: a long answer with no one-option diagnosis line
        record, query = score_diagnosis(entry["prompt"], entry["response"], entry["label"])
        assert record["rule"] == "judge" and query == item.query
        assert item.query.labels == JUDGE_LABELS
        assert item.expected in item.query.labels
        assert item.positive == "CORRECT" and item.positive in item.query.labels
        assert any(same_diagnosis(entry["label"], option) for option in diagnosis_options(entry["prompt"]))


def test_labels_balanced() -> None:
    counts = Counter(item.expected for item in TASK.judge_calibration())
    assert set(counts) == set(JUDGE_LABELS)
    assert len(set(counts.values())) == 1
