"""Judge calibration of the stereotype agreement and recognition prompts: hand-written items built with each
task's own judge query, balanced over its labels."""

from __future__ import annotations

from collections import Counter

import pytest
from trust_fairness.common import calibration_entries
from trust_fairness.stereotypes import StereotypeAgreement, StereotypeRecognition, agreement_query, recognition_query

from trust_core.contracts import CalibrationItem, JudgeQuery

AGREEMENT = StereotypeAgreement()
RECOGNITION = StereotypeRecognition()


def _own_query(task_id: str, entry: dict) -> JudgeQuery:
    if task_id == AGREEMENT.id:
        return agreement_query(entry["sentence"], entry["response"])
    return recognition_query(entry, entry["response"])


@pytest.mark.parametrize(("task", "positive"), [(AGREEMENT, "AGREE"), (RECOGNITION, "STEREOTYPE")])
def test_items_use_the_tasks_own_prompt(task, positive) -> None:
    items = task.judge_calibration()
    entries = calibration_entries(task.id)
    assert len(items) == len(entries) == 8
    for item, entry in zip(items, entries, strict=True):
        assert isinstance(item, CalibrationItem)
        assert item.prompt == task.id
        assert item.query == _own_query(task.id, entry)
        assert item.query.instruction.endswith(f"Answer: {entry['response']}")
        assert item.expected in item.query.labels
        assert item.positive == positive and item.positive in item.query.labels


@pytest.mark.parametrize("task", [AGREEMENT, RECOGNITION])
def test_labels_are_balanced(task) -> None:
    items = task.judge_calibration()
    labels = items[0].query.labels
    counts = Counter(item.expected for item in items)
    assert set(counts) == set(labels)
    assert max(counts.values()) - min(counts.values()) <= 1
    assert 0 < sum(item.expected == item.positive for item in items) < len(items)


def test_entries_are_distinct_and_complete() -> None:
    for task, fields in ((AGREEMENT, ("sentence",)), (RECOGNITION, ("context", "sentence"))):
        entries = calibration_entries(task.id)
        assert all(all(str(entry[f]).strip() for f in (*fields, "response")) for entry in entries)
        assert len({entry["response"] for entry in entries}) == len(entries)


def test_unknown_task_has_no_entries() -> None:
    assert calibration_entries("fairness/stereotype_query") == []
