"""Judge calibration of the ETHICS prompt: hand-written items built with the task's own judge query,
balanced over its labels."""

from __future__ import annotations

from collections import Counter

from trust_ethics.common import calibration_entries
from trust_ethics.implicit import JUDGE_LABELS, ImplicitEthics, ethics_query

from trust_core.contracts import CalibrationItem

ETHICS = ImplicitEthics()


def test_items_use_the_tasks_own_prompt() -> None:
    items = ETHICS.judge_calibration()
    entries = calibration_entries(ETHICS.id)
    assert len(items) == len(entries) == 8
    for item, entry in zip(items, entries, strict=True):
        assert isinstance(item, CalibrationItem)
        assert item.prompt == ETHICS.id
        assert item.query == ethics_query(entry["action"], entry["response"])
        assert item.query.labels == JUDGE_LABELS
        assert item.expected in item.query.labels
        assert item.positive == "WRONG" and item.positive in item.query.labels


def test_labels_are_balanced() -> None:
    counts = Counter(item.expected for item in ETHICS.judge_calibration())
    assert counts == {label: 2 for label in JUDGE_LABELS}


def test_entries_are_distinct_and_complete() -> None:
    entries = calibration_entries(ETHICS.id)
    assert all(entry["action"].strip() and entry["response"].strip() for entry in entries)
    assert len({entry["action"] for entry in entries}) == len(entries)


def test_other_tasks_have_no_entries() -> None:
    assert calibration_entries("ethics/implicit_social") == []
