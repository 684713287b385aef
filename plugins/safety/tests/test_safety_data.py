"""Task registration, item schemas, the packaged sample and the real TrustLLM archive (B22: counts from data)."""

from __future__ import annotations

import copy
from collections import Counter
from types import ModuleType
from typing import Any

import jsonschema
import pytest
from trust_safety import TASKS
from trust_safety.exaggerated import TYPES, ExaggeratedSafetyTask
from trust_safety.jailbreak import STYLES, JailbreakTask
from trust_safety.misuse import SOURCES, MisuseTask
from trust_safety.toxicity import ToxicityTask

from trust_core.data import DataSource, load_task_data, normalize_items, validate_items
from trust_core.errors import DataError
from trust_core.schemas import validator
from trust_core.testing import assert_packaged_sample, assert_plugin_registers, assert_task_attributes

EXPECTED = {
    "safety/jailbreak": (("jailbreak",), "jailbreak", {"refusal"}),
    "safety/toxicity": (("toxicity",), "jailbreak", {"refusal", "toxicity"}),
    "safety/misuse": (("misuse",), "misuse", {"refusal"}),
    "safety/exaggerated_safety": (("exaggerated_safety", "exaggerated", "xstest"), "exaggerated_safety", {"refusal"}),
}


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_item_schema_is_a_valid_draft_2020_12_schema(task: Any) -> None:
    jsonschema.Draft202012Validator.check_schema(dict(task.item_schema))


def test_toxicity_scores_the_jailbreak_generations() -> None:
    assert ToxicityTask.generation_of is JailbreakTask
    assert ToxicityTask.item_schema is JailbreakTask.item_schema
    assert all(task.generation_of is None for task in TASKS if task is not ToxicityTask)


def test_the_plugin_registers_the_four_tasks() -> None:
    assert_plugin_registers("safety", EXPECTED)


SAMPLE_SUBSETS = {
    "safety/jailbreak": Counter({style: 2 for style in STYLES}),
    "safety/toxicity": Counter({style: 2 for style in STYLES}),
    "safety/misuse": Counter({source: 4 for source in SOURCES}),
    "safety/exaggerated_safety": Counter({kind: 2 for kind in TYPES}),
}


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_task_attributes_and_packaged_sample(task: Any) -> None:
    aliases, stem, needs = EXPECTED[task.id]  # every safety task samples at temperature 1.0
    assert_task_attributes(task, "safety", "trust_safety", aliases, stem, 1.0, needs)
    assert_packaged_sample(task, "trust_safety", SAMPLE_SUBSETS[task.id])


def test_packaged_jailbreak_sample_has_every_style_in_both_request_sets(kit: ModuleType) -> None:
    items = kit.packaged_items("safety/jailbreak.json")
    assert Counter((item["label"][0], item["source"]) for item in items) == Counter(
        {(style, source): 1 for style in STYLES for source in ("ITC", "QBB")}
    )


def test_packaged_misuse_sample_keeps_the_archive_label_shapes(kit: ModuleType) -> None:
    shapes = {(item["source"], type(item.get("label")).__name__) for item in kit.packaged_items("safety/misuse.json")}
    assert shapes == {("Do-anything-now", "NoneType"), ("do_not_answer", "dict"), ("misuse_add", "list")}


def test_limit_spreads_over_styles() -> None:
    loaded = load_task_data(JailbreakTask(), DataSource(), 3)
    assert [s.subset for s in loaded.samples] == ["fixed sentence", "no_punctuation", "programming"]


# --------------------------------------------------------------------------- the real archive

ARCHIVE_FILES = {"jailbreak": 1400, "misuse": 1174, "exaggerated_safety": 200}


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_every_archive_item_validates_after_normalisation(kit: ModuleType, task: Any) -> None:
    instance = task()
    raw = kit.archive_items(task.data_file)
    items = normalize_items(instance, raw)
    validate_items(task.data_file, items, dict(task.item_schema))  # raises DataError on the first bad item
    assert len(items) == ARCHIVE_FILES[task.data_file.split("/")[1][:-5]]


def test_archive_counts_derived_from_the_data(kit: ModuleType) -> None:
    """B22: 14 styles × 100 (the README says 13 × 100); misuse 390 + 343 + 441; XSTest 10 types × 20."""
    jailbreak = kit.samples_of(JailbreakTask(), kit.archive_items("safety/jailbreak.json"))
    assert Counter(s.subset for s in jailbreak) == Counter({style: 100 for style in STYLES})
    assert Counter(s.item["source"] for s in jailbreak) == Counter({"ITC": 700, "QBB": 700})
    misuse = kit.samples_of(MisuseTask(), kit.archive_items("safety/misuse.json"))
    assert Counter(s.subset for s in misuse) == Counter(
        {"Do-anything-now": 390, "do_not_answer": 343, "misuse_add": 441}
    )
    assert {len(s.item["label"]) for s in misuse if s.subset == "do_not_answer"} == {3}
    assert {len(s.item["label"]) for s in misuse if s.subset == "misuse_add"} == {1}
    assert all("label" not in s.item for s in misuse if s.subset == "Do-anything-now")
    exaggerated = kit.samples_of(ExaggeratedSafetyTask(), kit.archive_items("safety/exaggerated_safety.json"))
    assert Counter(s.subset for s in exaggerated) == Counter({kind: 20 for kind in TYPES})


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_every_archive_item_gets_prompts_and_scores(kit: ModuleType, task: Any) -> None:
    """prompts() and score() over the whole archive with the rule evaluators: every 3rd response refuses."""
    instance = task()
    samples = kit.samples_of(instance, kit.archive_items(task.data_file))

    def respond(sample: Any, prompt: Any) -> str:
        assert prompt.messages == ({"role": "user", "content": sample.item["prompt"]},)
        return "I cannot help with that." if int(sample.id) % 3 == 0 else "Sure: step one ... [tox=0.5]"

    evaluators = kit.RuleEvaluators()
    score = instance.score(kit.generate(instance, samples, respond), evaluators, 0)
    assert len(score.records) == len(samples)
    kit.assert_exportable(score)
    refused = sum(1 for s in samples if int(s.id) % 3 == 0)
    if task is ToxicityTask:
        assert kit.metric(score, "refusal_share").value == pytest.approx(refused / len(samples))
        mean = kit.metric(score, "mean_toxicity")
        assert (mean.value, mean.n, mean.n_invalid) == (0.5, len(samples) - refused, 0)
    else:
        overall = kit.metric(score, task.rta_name)
        assert (overall.value, overall.n, overall.n_invalid) == (pytest.approx(refused / len(samples)), len(samples), 0)
        assert [m.subset for m in score.metrics][:-1] == list(task.subsets)


# --------------------------------------------------------------------------- schema strictness

GOOD = {
    "jailbreak": {"prompt": "p", "label": ["cot"], "source": "ITC"},
    "misuse_dan": {"prompt": "p", "type": "Fraud", "source": "Do-anything-now"},
    "misuse_dna": {
        "prompt": "p",
        "label": {"first_class": "a", "second_class": "b", "third_class": "c"},
        "source": "do_not_answer",
    },
    "misuse_add": {"prompt": "p", "label": ["fake_news"], "source": "misuse_add"},
    "exaggerated_safety": {
        "id": "v1-1",
        "type": "homonyms",
        "prompt": "p",
        "focus": "f",
        "note": "None",
        "source": "xstest",
    },
}
SCHEMA_OF = {
    "jailbreak": JailbreakTask,
    "misuse_dan": MisuseTask,
    "misuse_dna": MisuseTask,
    "misuse_add": MisuseTask,
    "exaggerated_safety": ExaggeratedSafetyTask,
}
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("jailbreak", {"prompt": None}, "missing prompt"),
    ("jailbreak", {"prompt": "  \n"}, "blank prompt"),
    ("jailbreak", {"prompt": 5}, "prompt a number"),
    ("jailbreak", {"label": None}, "missing style"),
    ("jailbreak", {"label": []}, "empty label"),
    ("jailbreak", {"label": ["roleplay"]}, "unknown style"),
    ("jailbreak", {"label": [3]}, "style a number"),
    ("jailbreak", {"label": 3}, "label a number"),
    ("jailbreak", {"source": "XYZ"}, "unknown source"),
    ("jailbreak", {"source": None}, "missing source"),
    ("misuse_dan", {"type": "Jaywalking"}, "unknown DAN type"),
    ("misuse_dan", {"type": None}, "DAN without type"),
    ("misuse_dan", {"source": "DAN"}, "unknown source"),
    ("misuse_dan", {"prompt": None}, "missing prompt"),
    ("misuse_dna", {"label": None}, "do_not_answer without label"),
    ("misuse_dna", {"label": {"first_class": "a"}}, "do_not_answer label with one class"),
    ("misuse_dna", {"label": {"first_class": "a", "second_class": 2, "third_class": "c"}}, "class a number"),
    ("misuse_dna", {"label": 1.5}, "label a float"),
    ("misuse_add", {"label": None}, "misuse_add without label"),
    ("misuse_add", {"label": ["a", "b"]}, "misuse_add two categories"),
    ("misuse_add", {"label": [""]}, "misuse_add empty category"),
    ("exaggerated_safety", {"type": "unsafe_contexts"}, "unknown type"),
    ("exaggerated_safety", {"type": None}, "missing type"),
    ("exaggerated_safety", {"source": "harmbench"}, "unknown source"),
    ("exaggerated_safety", {"prompt": None}, "missing prompt"),
    ("exaggerated_safety", {"focus": 3}, "focus a number"),
]


@pytest.mark.parametrize("name", sorted(GOOD))
def test_minimal_items_validate(name: str) -> None:
    task = SCHEMA_OF[name]()
    assert list(validator(dict(task.item_schema)).iter_errors(task.normalize(GOOD[name]))) == []


@pytest.mark.parametrize(("name", "change", "why"), BAD, ids=[why for _, _, why in BAD])
def test_bad_items_are_rejected(name: str, change: dict[str, Any], why: str) -> None:
    task = SCHEMA_OF[name]()
    item = copy.deepcopy(GOOD[name])
    for key, value in change.items():
        if value is None:
            item.pop(key, None)
        else:
            item[key] = value
    with pytest.raises(DataError):
        validate_items(task.data_file, [task.normalize(item)], dict(task.item_schema))


@pytest.mark.parametrize("name", sorted(GOOD))
def test_imported_generation_fields_are_allowed(name: str) -> None:
    task = SCHEMA_OF[name]()
    item = task.normalize(GOOD[name] | {"res": "I cannot help with that."})
    assert list(validator(dict(task.item_schema)).iter_errors(item)) == []
