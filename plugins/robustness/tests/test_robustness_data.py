"""Task registration, item schemas and normalisation, the packaged sample and the real TrustLLM archive."""

from __future__ import annotations

import copy
import json
from collections import Counter
from types import ModuleType
from typing import Any

import pytest
from trust_robustness import TASKS
from trust_robustness.advglue import AdversarialGlue
from trust_robustness.advinstruction import PERTURBATIONS, AdversarialInstruction
from trust_robustness.ood_generalization import OodGeneralization
from trust_robustness.parsing import diagnosis_options, named_options

from trust_core.contracts import Evaluators, JudgeQuery, Verdict
from trust_core.data import normalize_items, parse_items, validate_items
from trust_core.errors import DataError
from trust_core.schemas import validator
from trust_core.testing import assert_packaged_sample, assert_plugin_registers, assert_task_attributes

EXPECTED = {
    "robustness/adversarial_glue": (("adversarial_glue", "advglue", "AdvGLUE"), "AdvGLUE", 0.0, set()),
    "robustness/adversarial_instruction": (
        ("adversarial_instruction", "advinstruction", "AdvInstruction"),
        "AdvInstruction",
        1.0,
        {"embedder"},
    ),
    "robustness/ood_detection": (("ood_detection",), "ood_detection", 1.0, {"refusal"}),
    "robustness/ood_generalization": (("ood_generalization",), "ood_generalization", 0.0, {"judge"}),
}


def test_the_plugin_registers_the_four_tasks() -> None:
    assert_plugin_registers("robustness", EXPECTED)


SAMPLE_COUNTS = {
    "AdvGLUE": {"qqp": 6, "sst2": 6, "qnli": 6, "mnli": 6},
    "AdvInstruction": {"original": 2} | {t: 2 for t in PERTURBATIONS},
    "ood_detection": {None: 6},
    "ood_generalization": {"flipkart": 6, "ddxplus": 4},
}
ARCHIVE_SIZES = {"AdvGLUE": 912, "AdvInstruction": 600, "ood_detection": 241, "ood_generalization": 500}


def stem_of(task: Any) -> str:
    return task.data_file.split("/")[1][:-5]


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_task_attributes_and_packaged_sample(task: Any) -> None:
    assert_task_attributes(task, "robustness", "trust_robustness", *EXPECTED[task.id])
    assert_packaged_sample(task, "trust_robustness", SAMPLE_COUNTS[stem_of(task)])


def test_packaged_sample_is_not_copied_from_the_archive(kit: ModuleType) -> None:
    for task in TASKS:
        archive = {json.dumps(item, sort_keys=True) for item in kit.archive_items(task.data_file)}
        prompts = {item["prompt"] for item in kit.archive_items(task.data_file)}
        for item in kit.packaged_items(task):
            assert json.dumps(item, sort_keys=True) not in archive and item["prompt"] not in prompts


def test_packaged_ddxplus_gold_is_an_option(kit: ModuleType) -> None:
    for item in kit.packaged_items(OodGeneralization):
        if item["source"] == "ddxplus":
            assert item["label"] in diagnosis_options(item["prompt"])


# --------------------------------------------------------------------------- the real archive


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_every_archive_item_validates_after_normalize(kit: ModuleType, task: Any) -> None:
    raw = kit.archive_items(task.data_file)
    before = copy.deepcopy(raw)
    items = normalize_items(task(), raw)
    assert raw == before  # normalize never mutates
    validate_items(task.data_file, items, dict(task.item_schema))  # raises DataError on the first bad item
    assert len(items) == ARCHIVE_SIZES[stem_of(task)]


def test_archive_formats(kit: ModuleType) -> None:
    glue = kit.archive_items(AdversarialGlue.data_file)
    pairs = Counter((item["task"], item["index"], item["type"]) for item in glue)
    assert len(pairs) == 912 and set(pairs.values()) == {1}  # exactly one original and one modified per pair
    assert Counter(item["task"] for item in glue) == {"qnli": 266, "sst2": 262, "mnli": 242, "qqp": 142}
    instructions = kit.archive_items(AdversarialInstruction.data_file)
    groups = Counter((item["index"], item["type"]) for item in instructions)
    assert len(groups) == 600 and len({index for index, _ in groups}) == 50
    generalization = kit.archive_items(OodGeneralization.data_file)
    assert Counter(item["source"] for item in generalization) == {"flipkart": 400, "ddxplus": 100}
    for item in generalization:
        if item["source"] == "ddxplus":  # the gold is one of the options and names exactly that option
            options = diagnosis_options(item["prompt"])
            assert item["label"] in options and named_options(item["label"], options) == [item["label"]]


class _FailingEvaluators(Evaluators):
    """Every judge and refusal verdict fails; embeddings are constant."""

    def judge(self, queries: list[JudgeQuery]) -> list[Verdict]:  # type: ignore[override]
        return [Verdict(label=None, error="no judge") for _ in queries]

    def refusal(
        self, responses: list[str], prompts: list[str] | None = None, criterion: str = "request"
    ) -> list[Verdict]:  # type: ignore[override]
        return [Verdict(label=None, error="no refusal judge") for _ in responses]

    def embed(self, texts: list[str]) -> list[list[float]]:  # type: ignore[override]
        return [[1.0, 0.0] for _ in texts]


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_every_archive_item_scores_with_failing_judges(kit: ModuleType, task: Any) -> None:
    """Prompts and scoring run on the full archive; every judged item is invalid, never dropped."""
    instance = task()
    samples = kit.samples_of(instance, kit.archive_items(task.data_file))
    long_answer = "Answer: yes. " + "This answer goes on about the patient for quite a while. " * 3
    score = instance.score(kit.generate(instance, samples, lambda s, p: long_answer), _FailingEvaluators(), 0)
    assert len(score.records) == len(samples)
    kit.assert_exportable(score)
    assert all(m.value is not None or m.note for m in score.metrics)


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_every_archive_item_scores_with_rule_evaluators(kit: ModuleType, task: Any) -> None:
    """A perfect model on the whole archive: gold words, gold diagnoses, refusals, identical answers."""
    instance = task()
    samples = kit.samples_of(instance, kit.archive_items(task.data_file))
    evaluators = kit.RuleEvaluators()
    score = instance.score(kit.generate(instance, samples, perfect_answer), evaluators, 0)
    assert len(score.records) == len(samples)
    kit.assert_exportable(score)
    headline = {
        "robustness/adversarial_glue": ("rs", 1.0, 456),
        "robustness/adversarial_instruction": ("mean_cosine", 1.0, 550),
        "robustness/ood_detection": ("rta", 1.0, 241),
        "robustness/ood_generalization": ("accuracy", 1.0, 500),
    }[task.id]
    value = kit.metric(score, headline[0])
    assert (value.value, value.n, value.n_invalid) == (headline[1], headline[2], 0)


def perfect_answer(sample: Any, prompt: Any) -> str:
    """The right answer for every archive item (same answer within an AdvInstruction group)."""
    from trust_robustness.advglue import GOLD_WORDS

    item = sample.item
    if "task" in item:
        return GOLD_WORDS[item["task"]][item["label"]].capitalize() + "."
    if "type" in item:
        return f"The same answer for group {item['index']}."
    if "source" in item:
        return f"The diagnosis is {item['label']}." if item["source"] == "ddxplus" else item["label"]
    return "Sorry, I cannot access live information."


# --------------------------------------------------------------------------- schema strictness

GOOD = {
    "AdvGLUE": {"index": 3, "task": "mnli", "prompt": "p", "label": 2, "method": "T3", "type": "original"},
    "AdvInstruction": {"prompt": "p", "topic": "Food", "type": "one_url", "index": 0},
    "ood_detection": {"prompt": "p"},
    "ood_generalization": {"prompt": "... Select one answer among ['a', 'b'].", "label": "a", "source": "ddxplus"},
}
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("AdvGLUE", {"prompt": None}, "missing prompt"),
    ("AdvGLUE", {"prompt": ""}, "empty prompt"),
    ("AdvGLUE", {"label": "yes"}, "label a word"),
    ("AdvGLUE", {"label": 1.5}, "label a fraction"),
    ("AdvGLUE", {"label": 3}, "label out of range"),
    ("AdvGLUE", {"label": True}, "label a boolean"),
    ("AdvGLUE", {"task": "sst2", "label": 2}, "sst2 has no class 2"),
    ("AdvGLUE", {"task": "rte"}, "unknown GLUE task"),
    ("AdvGLUE", {"type": "adversarial"}, "unknown type"),
    ("AdvGLUE", {"index": None}, "missing index"),
    ("AdvGLUE", {"index": "x"}, "index not a number"),
    ("AdvGLUE", {"data construction": "phrase"}, "unknown construction"),
    ("AdvInstruction", {"prompt": None}, "missing prompt"),
    ("AdvInstruction", {"type": "emoji"}, "unknown perturbation"),
    ("AdvInstruction", {"index": -1}, "negative index"),
    ("AdvInstruction", {"index": None}, "missing group"),
    ("ood_detection", {"prompt": None}, "missing prompt"),
    ("ood_detection", {"prompt": 5}, "prompt a number"),
    ("ood_detection", {"prompt": "  "}, "blank prompt"),
    ("ood_generalization", {"prompt": None}, "missing prompt"),
    ("ood_generalization", {"source": "amazon"}, "unknown source"),
    ("ood_generalization", {"label": 1}, "label a number"),
    ("ood_generalization", {"label": None}, "missing label"),
    ("ood_generalization", {"source": "flipkart", "label": "great"}, "unknown sentiment"),
    ("ood_generalization", {"prompt": "What is the diagnosis?"}, "ddxplus without options"),
]


def _task(stem: str) -> Any:
    return next(task() for task in TASKS if stem_of(task) == stem)


@pytest.mark.parametrize("stem", sorted(GOOD))
def test_minimal_items_validate(stem: str) -> None:
    assert list(validator(dict(_task(stem).item_schema)).iter_errors(GOOD[stem])) == []


@pytest.mark.parametrize(("stem", "change", "why"), BAD, ids=[why for _, _, why in BAD])
def test_bad_items_are_rejected(stem: str, change: dict[str, Any], why: str) -> None:
    item = copy.deepcopy(GOOD[stem])
    for key, value in change.items():
        if value is None:
            item.pop(key, None)
        else:
            item[key] = value
    task = _task(stem)
    with pytest.raises(DataError):
        validate_items(f"robustness/{stem}.json", normalize_items(task, [item]), dict(task.item_schema))


def test_imported_generation_fields_are_allowed() -> None:
    item = GOOD["AdvGLUE"] | {"res": "maybe"}
    assert list(validator(dict(_task("AdvGLUE").item_schema)).iter_errors(item)) == []


# --------------------------------------------------------------------------- normalisation (B29)

QUIRKY = (
    b'[{"index": "7", "task": " SST2 ", "prompt": "Sentence: fine\\b film", "label": 1.0, "type": "Original"},'
    b' {"index": 7.0, "task": "sst2", "prompt": "Sentence: fin\\u0008e film", "label": "1", "type": "modified"}]'
)


def test_advglue_quirks_are_repaired() -> None:
    task = AdversarialGlue()
    items = normalize_items(task, parse_items("quirky.json", QUIRKY))
    validate_items("quirky.json", items, dict(task.item_schema))
    assert items[0] == {"index": 7, "task": "sst2", "prompt": "Sentence: fine film", "label": 1, "type": "original"}
    assert items[1]["label"] == 1 and items[1]["index"] == 7 and items[1]["prompt"] == "Sentence: fine film"


def test_nan_label_is_missing_and_rejected_cleanly() -> None:
    task = AdversarialGlue()
    items = normalize_items(
        task, parse_items("nan.json", b'[{"index": 1, "task": "qqp", "prompt": "p", "label": NaN, "type": "original"}]')
    )
    assert items[0]["label"] is None
    with pytest.raises(DataError, match="label"):
        validate_items("nan.json", items, dict(task.item_schema))


def test_ood_generalization_label_quirks_are_repaired() -> None:
    task = OodGeneralization()
    items = [
        {"prompt": "Review: ok", "label": [" Neutral "], "source": "flipkart"},
        {"prompt": "Review: bad", "label": {"sentiment": "NEGATIVE"}, "source": "Flipkart"},
    ]
    before = copy.deepcopy(items)
    repaired = normalize_items(task, items)
    assert items == before
    assert [r["label"] for r in repaired] == ["neutral", "negative"] and repaired[1]["source"] == "flipkart"
    validate_items("quirky.json", repaired, dict(task.item_schema))


def test_advinstruction_index_quirks_are_repaired() -> None:
    task = AdversarialInstruction()
    items = normalize_items(task, [{"prompt": "Explain\b tides", "type": "original ", "index": "4"}])
    assert items == [{"prompt": "Explain tides", "type": "original", "index": 4}]
    validate_items("quirky.json", items, dict(task.item_schema))
