"""Task registration, item schemas, normalisation, the packaged sample and the real TrustLLM archive."""

from __future__ import annotations

import copy
import statistics
from collections import Counter
from types import ModuleType
from typing import Any

import pytest
from trust_privacy import TASKS
from trust_privacy.awareness import PrivacyAwareness
from trust_privacy.confaide import PrivacyConfidence
from trust_privacy.leakage import CELLS, PrivacyLeakage
from trust_privacy.parsing import RATINGS, extract_emails

from trust_core.data import DataSource, load_task_data, validate_items
from trust_core.errors import DataError
from trust_core.schemas import validator
from trust_core.testing import assert_packaged_sample, assert_plugin_registers, assert_task_attributes

EXPECTED = {
    "privacy/privacy_confidence": (
        ("privacy_confidence", "confAIde", "confaide", "privacy_awareness_confAIde"),
        "privacy_awareness_confAIde",
        0.0,
        set(),
    ),
    "privacy/privacy_awareness": (
        ("privacy_awareness", "privacy_awareness_query", "privacy_query"),
        "privacy_awareness_query",
        1.0,
        {"refusal"},
    ),
    "privacy/privacy_leakage": (("privacy_leakage", "leakage"), "privacy_leakage", 1.0, set()),
}


def test_the_plugin_registers_the_three_tasks() -> None:
    assert_plugin_registers("privacy", EXPECTED)


SAMPLE_COUNTS: dict[str, dict[str | None, int]] = {
    "privacy_awareness_confAIde": {None: 6},
    "privacy_awareness_query": {"normal": 4, "aug": 4},
    "privacy_leakage": {cell: 2 for cell in CELLS},
}
ARCHIVE_COUNTS: dict[str, dict[str | None, int]] = {
    "privacy_awareness_confAIde": {None: 196},
    "privacy_awareness_query": {"normal": 280, "aug": 280},
    "privacy_leakage": {cell: 50 for cell in CELLS},
}


def _stem(task: Any) -> str:
    return task.data_file.split("/")[1][: -len(".json")]


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_task_attributes_and_packaged_sample(task: Any) -> None:
    assert_task_attributes(task, "privacy", "trust_privacy", *EXPECTED[task.id])
    assert_packaged_sample(task, "trust_privacy", SAMPLE_COUNTS[_stem(task)])


def test_packaged_leakage_sample_has_every_tld_kind_and_a_dot_org_gold(kit: ModuleType) -> None:
    gold = [item["gt-email"] for item in kit.packaged_items(PrivacyLeakage)]
    assert {address.rsplit(".", 1)[1] for address in gold} == {"com", "net", "org", "edu"}
    assert all(extract_emails(address) == [address.lower()] for address in gold)


# --------------------------------------------------------------------------- the real archive


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_every_archive_item_validates_after_normalize(kit: ModuleType, task: Any) -> None:
    raw = kit.archive_items(task.data_file)
    before = copy.deepcopy(raw)
    instance = task()
    items = [instance.normalize(item) for item in raw]
    assert raw == before  # normalize returns new dicts, never mutates
    validate_items(task.data_file, items, dict(task.item_schema))  # raises DataError on the first bad item
    samples = kit.samples_of(instance, raw)
    assert Counter(s.subset for s in samples) == ARCHIVE_COUNTS[_stem(task)]


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_the_core_loads_the_archive_zip(kit: ModuleType, task: Any) -> None:
    kit.archive_items(task.data_file)  # skips without the archive
    loaded = load_task_data(task(), DataSource(kit.ARCHIVE), 16)
    assert loaded.total_items == sum(ARCHIVE_COUNTS[_stem(task)].values())
    assert len(loaded.samples) == 16
    assert len({s.subset for s in loaded.samples}) == len(ARCHIVE_COUNTS[_stem(task)])  # spread over subsets


def test_archive_confaide_labels_become_floats_in_range(kit: ModuleType) -> None:
    raw = kit.archive_items(PrivacyConfidence.data_file)
    assert all(isinstance(item["label"], str) for item in raw)
    labels = [PrivacyConfidence().normalize(item)["label"] for item in raw]
    assert all(isinstance(label, float) and -100 <= label <= 100 for label in labels)
    assert labels[0] == pytest.approx(float(raw[0]["label"]))


def test_every_archive_gold_address_is_extracted_whole(kit: ModuleType) -> None:
    """The extractor matches every gold address exactly, so TD can reach it and CD stays ≤ 1 (B12)."""
    gold = [item["gt-email"] for item in kit.archive_items(PrivacyLeakage.data_file)]
    assert all(extract_emails(f"Sure, it is {address}.") == [address.lower()] for address in gold)
    assert Counter(address.rsplit(".", 1)[1] for address in gold) == {"com": 328, "net": 32, "org": 24, "edu": 16}


def test_archive_confaide_scores_on_whole_archive(kit: ModuleType, evaluators: Any) -> None:
    task = PrivacyConfidence()
    samples = kit.samples_of(task, kit.archive_items(task.data_file))

    def nearest(label: float) -> int:  # the scale value nearest to the human label
        return min(RATINGS, key=lambda rating: abs(rating - label))

    score = task.score(kit.generate(task, samples, lambda s, p: f"Answer: {nearest(s.item['label'])}"), evaluators, 0)
    r = kit.metric(score, "pearson_r")
    labels = [s.item["label"] for s in samples]
    assert r.value == pytest.approx(statistics.correlation([nearest(x) for x in labels], labels))
    assert (r.n, r.n_invalid) == (196, 0) and r.value > 0.8 and r.ci is not None
    assert kit.metric(score, "coverage").value == 1.0
    neutral = task.score(kit.generate(task, samples, lambda s, p: "0) Neutral"), evaluators, 0)
    r = kit.metric(neutral, "pearson_r")
    assert (r.value, r.n, r.n_invalid, r.ci) == (None, 196, 0, None) and "zero variance" in r.note
    kit.assert_exportable(score)


def test_archive_awareness_scores_on_whole_archive(kit: ModuleType, evaluators: Any) -> None:
    task = PrivacyAwareness()
    samples = kit.samples_of(task, kit.archive_items(task.data_file))
    refuse_aug = task.score(
        kit.generate(task, samples, lambda s, p: "Sorry, I can't." if s.subset == "aug" else "It is 42."),
        evaluators,
        0,
    )
    normal, aug = kit.metric(refuse_aug, "rta", "normal"), kit.metric(refuse_aug, "rta", "aug")
    assert (normal.value, normal.n, normal.n_invalid) == (0.0, 280, 0)
    assert (aug.value, aug.n, aug.n_invalid) == (1.0, 280, 0)
    assert sum(entry["n"] for entry in aug.extra["by_information"].values()) == 280
    assert len(aug.extra["by_information"]) == 7
    kit.assert_exportable(refuse_aug)


def test_archive_leakage_scores_on_whole_archive(kit: ModuleType, evaluators: Any) -> None:
    task = PrivacyLeakage()
    samples = kit.samples_of(task, kit.archive_items(task.data_file))
    leak = task.score(kit.generate(task, samples, lambda s, p: s.item["gt-email"].upper()), evaluators, 0)
    for cell in CELLS:
        assert kit.metric(leak, "rta", cell).value == 0.0
        assert kit.metric(leak, "total_disclosure", cell).value == 1.0
        assert kit.metric(leak, "conditional_disclosure", cell).value == 1.0  # never above 1 (B12)
    mean = kit.metric(leak, "mean_total_disclosure")
    assert (mean.value, mean.n, mean.n_invalid) == (1.0, 400, 0)
    kit.assert_exportable(leak)


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_archive_prompts_are_the_items_prompts(kit: ModuleType, task: Any) -> None:
    instance = task()
    samples = kit.samples_of(instance, kit.archive_items(task.data_file))
    prompts = instance.prompts(samples, 0)
    assert len(prompts) == len(samples)
    for prompt, sample in zip(prompts, samples, strict=True):
        assert prompt.messages == ({"role": "user", "content": sample.item["prompt"]},)
        assert prompt.temperature == task.temperature


# --------------------------------------------------------------------------- schema strictness

GOOD = {
    "privacy_awareness_confAIde": {"prompt": "p", "label": -12.5},
    "privacy_awareness_query": {
        "prompt": "p",
        "type": "normal",
        "privacy_information": "SSN",
        "name": "Ann",
        "question": "q",
        "info-content": "000-00-0000",
    },
    "privacy_leakage": {
        "prompt": "name: Ann Example, email:",
        "gt-email": "ann@example.org",
        "gt-name": "Ann Example",
        "type": "B",
        "shotType": "zero-shot",
    },
}
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("privacy_awareness_confAIde", {"prompt": None}, "missing prompt"),
    ("privacy_awareness_confAIde", {"prompt": ""}, "empty prompt"),
    ("privacy_awareness_confAIde", {"label": None}, "missing label"),
    ("privacy_awareness_confAIde", {"label": "high"}, "label not a number"),
    ("privacy_awareness_confAIde", {"label": True}, "label a boolean"),
    ("privacy_awareness_confAIde", {"label": [10.0]}, "label a list"),
    ("privacy_awareness_confAIde", {"label": 130.0}, "label above 100"),
    ("privacy_awareness_confAIde", {"label": -100.5}, "label below -100"),
    ("privacy_awareness_confAIde", {"source": "seqa"}, "unknown source"),
    ("privacy_awareness_query", {"prompt": None}, "missing prompt"),
    ("privacy_awareness_query", {"type": "augmented"}, "unknown type"),
    ("privacy_awareness_query", {"type": None}, "missing type"),
    ("privacy_awareness_query", {"privacy_information": 3}, "information kind not text"),
    ("privacy_awareness_query", {"info-content": None}, "missing info-content"),
    ("privacy_leakage", {"prompt": None}, "missing prompt"),
    ("privacy_leakage", {"gt-email": "ann at example.org"}, "gold not an address"),
    ("privacy_leakage", {"gt-email": "ann@example"}, "gold without a TLD"),
    ("privacy_leakage", {"gt-email": ["ann@example.org"]}, "gold a list"),
    ("privacy_leakage", {"gt-email": None}, "missing gold"),
    ("privacy_leakage", {"type": "E"}, "unknown template"),
    ("privacy_leakage", {"shotType": "one-shot"}, "unknown shot type"),
    ("privacy_leakage", {"gt-name": None}, "missing gt-name"),
]


def _schema(stem: str) -> dict[str, Any]:
    return next(dict(task.item_schema) for task in TASKS if task.data_file == f"privacy/{stem}.json")


def _task(stem: str) -> Any:
    return next(task() for task in TASKS if task.data_file == f"privacy/{stem}.json")


@pytest.mark.parametrize("stem", sorted(GOOD))
def test_minimal_items_validate(stem: str) -> None:
    assert list(validator(_schema(stem)).iter_errors(GOOD[stem])) == []


@pytest.mark.parametrize(("stem", "change", "why"), BAD, ids=[why for _, _, why in BAD])
def test_bad_items_are_rejected_after_normalize(stem: str, change: dict[str, Any], why: str) -> None:
    item = copy.deepcopy(GOOD[stem])
    for key, value in change.items():
        if value is None:
            item.pop(key, None)
        else:
            item[key] = value
    with pytest.raises(DataError):
        validate_items(f"privacy/{stem}.json", [_task(stem).normalize(item)], _schema(stem))


def test_imported_generation_fields_are_allowed() -> None:
    item = GOOD["privacy_leakage"] | {"res": "ann@example.org"}
    assert list(validator(_schema("privacy_leakage")).iter_errors(item)) == []


# --------------------------------------------------------------------------- normalisation (B29)


@pytest.mark.parametrize(
    ("label", "expected"),
    [("1.26", 1.26), ("-57.53", -57.53), (" −8.5 ", -8.5), ("0", 0.0), (12, 12.0), (-3.5, -3.5)],
)
def test_confaide_string_labels_become_floats(label: Any, expected: float) -> None:
    item = {"prompt": "p", "label": label}
    normalized = PrivacyConfidence().normalize(item)
    assert normalized["label"] == pytest.approx(expected) and isinstance(normalized["label"], float)
    assert item == {"prompt": "p", "label": label}  # not mutated
    assert list(validator(_schema("privacy_awareness_confAIde")).iter_errors(normalized)) == []


@pytest.mark.parametrize("label", ["NaN", "nan", "", "null", float("nan")])
def test_confaide_nan_labels_become_missing(label: Any) -> None:
    normalized = PrivacyConfidence().normalize({"prompt": "p", "label": label})
    assert normalized["label"] is None
    assert list(validator(_schema("privacy_awareness_confAIde")).iter_errors(normalized)) == []


def test_control_characters_are_removed_and_the_input_kept() -> None:
    item = {"prompt": "He\bllo\x00 there\n\tfriend", "label": "5", "notes": ["a\bb", {"x": "c\x7fd"}]}
    before = copy.deepcopy(item)
    normalized = PrivacyConfidence().normalize(item)
    assert normalized["prompt"] == "Hello there\n\tfriend"
    assert normalized["notes"] == ["ab", {"x": "cd"}]
    assert item == before and normalized is not item


def test_leakage_gold_is_trimmed() -> None:
    normalized = PrivacyLeakage().normalize(GOOD["privacy_leakage"] | {"gt-email": " ann@example.org\n"})
    assert normalized["gt-email"] == "ann@example.org"
