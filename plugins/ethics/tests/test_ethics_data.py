"""Task registration, item schemas and repairs, the packaged sample and the real TrustLLM archive."""

from __future__ import annotations

import copy
import json
import math
from collections import Counter
from types import ModuleType
from typing import Any

import pytest
from trust_ethics import TASKS
from trust_ethics.awareness import Awareness
from trust_ethics.common import as_number, repair
from trust_ethics.implicit import ImplicitEthics, ImplicitSocial, ethics_gold
from trust_ethics.moralchoice import ExplicitMoralChoiceHigh, ExplicitMoralChoiceLow
from trust_ethics.parsing import emotion_options

from trust_core.contracts import Evaluators, JudgeQuery, Verdict
from trust_core.data import normalize_items, parse_items, sample_file, validate_items
from trust_core.errors import DataError
from trust_core.schemas import validator
from trust_core.testing import assert_packaged_sample, assert_plugin_registers, assert_task_attributes

EXPECTED = {
    "ethics/explicit_moralchoice_low": (
        ("explicit_moralchoice_low", "moralchoice_low", "explicit_low"),
        "explicit_moralchoice",
        1.0,
        set(),
    ),
    "ethics/explicit_moralchoice_high": (
        ("explicit_moralchoice_high", "moralchoice_high", "explicit_high"),
        "explicit_moralchoice",
        1.0,
        {"refusal"},
    ),
    "ethics/implicit_ethics": (("implicit_ethics", "implicit_ETHICS", "ETHICS"), "implicit_ETHICS", 0.0, {"judge"}),
    "ethics/implicit_social": (
        ("implicit_social", "implicit_SocialChemistry101", "social_chemistry", "social_norm"),
        "implicit_SocialChemistry101",
        0.0,
        set(),
    ),
    "ethics/awareness": (("awareness", "ethics_awareness"), "awareness", 0.0, set()),
}


def test_the_plugin_registers_the_five_tasks() -> None:
    assert_plugin_registers("ethics", EXPECTED)


SAMPLE_COUNTS: dict[str, dict[str | None, int]] = {
    "ethics/explicit_moralchoice_low": {None: 6},
    "ethics/explicit_moralchoice_high": {None: 4},
    "ethics/implicit_ethics": {"commonsense": 4, "justice": 4},
    "ethics/implicit_social": {"bad": 2, "neutral": 2, "good": 2},
    "ethics/awareness": {"mission": 3, "perspective": 3, "capability": 2, "emotion": 3},
}
ARCHIVE_COUNTS: dict[str, dict[str | None, int]] = {
    "ethics/explicit_moralchoice_low": {None: 687},
    "ethics/explicit_moralchoice_high": {None: 680},
    "ethics/implicit_ethics": {"commonsense": 250, "justice": 250},
    "ethics/implicit_social": {"bad": 200, "neutral": 100, "good": 200},
    "ethics/awareness": {"mission": 966, "perspective": 900, "capability": 600, "emotion": 200},
}


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_task_attributes_and_packaged_sample(task: Any) -> None:
    assert_task_attributes(task, "ethics", "trust_ethics", *EXPECTED[task.id])
    assert_packaged_sample(task, "trust_ethics", SAMPLE_COUNTS[task.id])


def test_packaged_sample_keeps_the_archive_conventions(kit: ModuleType) -> None:
    """The sample is in the archive's format: backspace before option C, inverted justice labels."""
    awareness = kit.packaged_items(Awareness.data_file)
    assert sum("\b" in item["prompt"] for item in awareness) == 6
    ethics = [s.item for s in kit.samples_of(ImplicitEthics())]
    justice = [item for item in ethics if item["topic"] == "justice"]
    assert [ethics_gold(item) for item in justice] == ["not wrong", "wrong", "not wrong", "wrong"]
    assert [item["label"] for item in justice] == ["wrong", "not wrong", "wrong", "not wrong"]


# --------------------------------------------------------------------------- the real archive


def _archive_samples(kit: ModuleType, task: Any) -> list[Any]:
    items = normalize_items(task, kit.archive_items(task.data_file))
    validate_items(task.data_file, items, dict(task.item_schema))  # raises DataError on the first bad item
    return [task.to_sample(i, item) for i, item in task.select_items(items)]


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_every_archive_item_validates_after_normalisation(kit: ModuleType, task: Any) -> None:
    samples = _archive_samples(kit, task())
    assert Counter(s.subset for s in samples) == ARCHIVE_COUNTS[task.id]


def test_the_archive_quirks_are_repaired(kit: ModuleType) -> None:
    raw_social = kit.archive_items(ImplicitSocial.data_file)
    nan_fields = [(i, k) for i, item in enumerate(raw_social) for k, v in item.items() if v != v]
    assert len(nan_fields) == 4  # B29: the NaN literals, all in metadata fields
    social = normalize_items(ImplicitSocial(), raw_social)
    assert all(social[i][k] is None for i, k in nan_fields)
    assert all(isinstance(item["label"], float) for item in social)
    raw_awareness = kit.archive_items(Awareness.data_file)
    assert sum("\b" in item["prompt"] for item in raw_awareness) == 1866  # B29: backspaces
    awareness = normalize_items(Awareness(), raw_awareness)
    assert not any("\b" in item["prompt"] for item in awareness)
    lettered = [item for item in awareness if item["dimension"] != "emotion"]
    assert all(item["label"] in item["choices"] for item in lettered)
    assert all(f"\nC.{item['choices']['C']}" in item["prompt"] for item in lettered if "C" in item["choices"])
    emotion = [item for item in awareness if item["dimension"] == "emotion"]
    assert all(len(emotion_options(item["prompt"])) == 4 and item["label"] in "1234" for item in emotion)


def test_archive_moralchoice_labels_name_the_good_action(kit: ModuleType) -> None:
    from trust_ethics.moralchoice import options_of

    for task in (ExplicitMoralChoiceLow(), ExplicitMoralChoiceHigh()):
        for sample in _archive_samples(kit, task):
            options = options_of(sample.item)
            assert options[sample.item["label"]] == sample.item["good_action"].strip()
            assert set(options.values()) == {sample.item["good_action"].strip(), sample.item["bad_action"].strip()}


def test_archive_justice_labels_are_inverted(kit: ModuleType) -> None:
    """Every justice item is scored against the opposite of its archive label; commonsense as is."""
    samples = _archive_samples(kit, ImplicitEthics())
    for sample in samples:
        flipped = ethics_gold(sample.item) != sample.item["label"]
        assert flipped is (sample.subset == "justice")
    gold = Counter((s.subset, ethics_gold(s.item)) for s in samples)
    assert gold == {
        ("commonsense", "not wrong"): 142,
        ("commonsense", "wrong"): 108,
        ("justice", "not wrong"): 139,
        ("justice", "wrong"): 111,
    }


class _FailingEvaluators(Evaluators):
    """A judge and a refusal judge whose every verdict fails."""

    def judge(self, queries: list[JudgeQuery]) -> list[Verdict]:  # type: ignore[override]
        return [Verdict(label=None, error="no judge") for _ in queries]

    def embed(self, texts: list[str]) -> list[list[float]]:  # type: ignore[override]
        raise AssertionError("no embedding")

    def refusal(self, responses: Any, prompts: Any = None, criterion: str = "request") -> list[Verdict]:
        return [Verdict(label=None, error="no refusal judge") for _ in responses]


def perfect(task: Any, sample: Any) -> str:
    """A model that always answers correctly, in the form each task asks for."""
    item = sample.item
    if isinstance(task, ExplicitMoralChoiceLow):
        return f"{item['label']}. {item['good_action']}"
    if isinstance(task, ExplicitMoralChoiceHigh):
        return "I'm sorry, but I cannot choose between these actions."
    if isinstance(task, ImplicitEthics):
        return f"The action is {ethics_gold(item)}."
    if isinstance(task, ImplicitSocial):
        return f"This action is {sample.subset}."
    if item["dimension"] == "emotion":
        return f"({item['label']}) {emotion_options(item['prompt'])[item['label']]}"
    return f"Answer: {item['label']}"


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_every_archive_item_scores(kit: ModuleType, task: Any, evaluators: Any) -> None:
    """Prompts and scoring run on the full archive: a perfect model gets 1.0 everywhere; with a model
    that answers "Answer: A" and evaluators that always fail, nothing crashes and nothing is dropped."""
    instance = task()
    samples = _archive_samples(kit, instance)
    score = instance.score(kit.generate(instance, samples, lambda s, p: perfect(instance, s)), evaluators, 0)
    assert len(score.records) == len(samples)
    headline = [m for m in score.metrics if m.subset is None and m.higher_is_better]
    assert headline and all((m.value, m.n, m.n_invalid) == (1.0, len(samples), 0) for m in headline)
    assert evaluators.queries == []  # every perfect answer parses without the judge
    kit.assert_exportable(score)
    failing = instance.score(kit.generate(instance, samples, lambda s, p: "Answer: A"), _FailingEvaluators(), 0)
    assert len(failing.records) == len(samples)
    assert all(m.n == len(samples) for m in failing.metrics if m.subset is None)
    kit.assert_exportable(failing)


# --------------------------------------------------------------------------- repairs


def test_repair_returns_a_new_value_and_never_mutates() -> None:
    item = {"label": math.nan, "prompt": "A. x\nB. y\bC.z\x07", "nested": {"v": [math.nan, "a\bb"]}, "n": 1}
    before = copy.deepcopy(item)
    fixed = repair(item)
    assert fixed == {"label": None, "prompt": "A. x\nB. y\nC.z", "nested": {"v": [None, "a\nb"]}, "n": 1}
    assert fixed is not item and fixed["nested"] is not item["nested"]
    assert item["prompt"] == before["prompt"] and item["nested"]["v"][1] == "a\bb" and item["label"] != item["label"]


@pytest.mark.parametrize(
    ("value", "expected"), [("-1.0", -1.0), (" 2 ", 2.0), ("nan", None), ("bad", "bad"), (1, 1), (None, None)]
)
def test_as_number(value: Any, expected: Any) -> None:
    assert as_number(value) == expected


def test_social_normalisation() -> None:
    task = ImplicitSocial()
    raw = {"label": "-1.5", "action": "x", "action-pressure": math.nan, "legal": math.nan, "prompt": "p"}
    fixed = task.normalize(raw)
    assert fixed == {"label": -1.5, "action": "x", "action-pressure": None, "legal": None, "prompt": "p"}
    assert math.isnan(raw["legal"])  # the input is untouched
    assert task.normalize({"label": math.nan, "prompt": "p"})["label"] is None  # B29: NaN label = unlabelled
    validate_items("x.json", [fixed, task.normalize({"label": math.nan, "prompt": "p"})], dict(task.item_schema))


def test_label_normalisation() -> None:
    assert ImplicitEthics().normalize({"label": " Not  Wrong", "topic": "Justice", "prompt": "p"}) == {
        "label": "not wrong",
        "topic": "justice",
        "prompt": "p",
    }
    assert ExplicitMoralChoiceLow().normalize({"label": "a ", "type": "LOW", "prompt": "p"})["label"] == "A"
    fixed = Awareness().normalize({"label": 2, "dimension": "Emotion", "prompt": "p", "choices": None})
    assert (fixed["label"], fixed["dimension"]) == ("2", "emotion")
    listed = Awareness().normalize({"label": "b", "dimension": "capability", "prompt": "p", "choices": ["x", "y"]})
    assert (listed["label"], listed["choices"]) == ("B", {"A": "x", "B": "y"})


def test_nan_literals_parse_and_normalise() -> None:
    raw = b'[{"label": NaN, "action": "a", "prompt": "p"}, {"label": "0.5", "action": "b", "prompt": "q"}]'
    items = normalize_items(ImplicitSocial(), parse_items("social.json", raw))
    assert [item["label"] for item in items] == [None, 0.5]
    samples = [ImplicitSocial().to_sample(i, item) for i, item in enumerate(items)]
    assert [s.subset for s in samples] == [None, "good"]


# --------------------------------------------------------------------------- schema strictness

GOOD = {
    "explicit_moralchoice": {"prompt": "Scenario: s\nA. x\nB. y\nYour answer: ", "label": "A", "type": "low"},
    "implicit_ETHICS": {"prompt": "p", "label": "wrong", "topic": "commonsense", "input": "i"},
    "implicit_SocialChemistry101": {"prompt": "p", "label": -1.0, "action": "a", "legal": None},
    "awareness": {"prompt": "Q\nA. x\nB. y", "label": "B", "dimension": "capability", "choices": {"A": "x", "B": "y"}},
    "awareness_emotion": {"prompt": "Story: s\nlabels: (1) Sad; (2) Glad", "label": "2", "dimension": "emotion"},
}
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("explicit_moralchoice", {"prompt": None}, "missing prompt"),
    ("explicit_moralchoice", {"prompt": "Which would you do?"}, "prompt without options"),
    ("explicit_moralchoice", {"label": "C"}, "label not A/B"),
    ("explicit_moralchoice", {"label": 0}, "label a number"),
    ("explicit_moralchoice", {"type": "medium"}, "unknown type"),
    ("explicit_moralchoice", {"type": None}, "missing type"),
    ("explicit_moralchoice", {"good_action": 3}, "good_action not text"),
    ("implicit_ETHICS", {"prompt": None}, "missing prompt"),
    ("implicit_ETHICS", {"prompt": ""}, "empty prompt"),
    ("implicit_ETHICS", {"label": "right"}, "unknown label"),
    ("implicit_ETHICS", {"label": 1}, "label a number"),
    ("implicit_ETHICS", {"topic": "deontology"}, "unknown topic"),
    ("implicit_ETHICS", {"label": None}, "missing label"),
    ("implicit_SocialChemistry101", {"prompt": None}, "missing prompt"),
    ("implicit_SocialChemistry101", {"label": "bad"}, "label text"),
    ("implicit_SocialChemistry101", {"label": [1.0]}, "label a list"),
    ("implicit_SocialChemistry101", {"label": True}, "label a boolean"),
    ("implicit_SocialChemistry101", {"label": 3.0}, "label out of range"),
    ("implicit_SocialChemistry101", {"label": None}, "missing label"),
    ("implicit_SocialChemistry101", {"action-pressure": "high"}, "action-pressure text"),
    ("awareness", {"prompt": None}, "missing prompt"),
    ("awareness", {"dimension": "culture"}, "unknown dimension"),
    ("awareness", {"label": 1}, "label a number"),
    ("awareness", {"label": "AB"}, "label two letters"),
    ("awareness", {"label": "2"}, "lettered question with a number label"),
    ("awareness", {"choices": None}, "lettered question without choices"),
    ("awareness", {"choices": {"A": "x"}}, "one choice"),
    ("awareness", {"choices": {"1": "x", "2": "y"}}, "choices not lettered"),
    ("awareness_emotion", {"label": "B"}, "emotion label a letter"),
    ("awareness_emotion", {"prompt": "Story: how would she feel?"}, "emotion prompt without numbered labels"),
]


def _schema(stem: str) -> dict[str, Any]:
    stem = stem.removesuffix("_emotion")
    return next(dict(task.item_schema) for task in TASKS if task.data_file == f"ethics/{stem}.json")


@pytest.mark.parametrize("stem", sorted(GOOD))
def test_minimal_items_validate(stem: str) -> None:
    assert list(validator(_schema(stem)).iter_errors(GOOD[stem])) == []


@pytest.mark.parametrize(("stem", "change", "why"), BAD, ids=[why for _, _, why in BAD])
def test_bad_items_are_rejected(stem: str, change: dict[str, Any], why: str) -> None:
    item = copy.deepcopy(GOOD[stem])
    for key, value in change.items():
        if value is None and key != "choices":
            item.pop(key, None)
        else:
            item[key] = value
    with pytest.raises(DataError):
        validate_items(f"ethics/{stem}.json", [item], _schema(stem))


def test_imported_generation_fields_are_allowed() -> None:
    item = GOOD["implicit_ETHICS"] | {"res": "Not wrong"}
    assert list(validator(_schema("implicit_ETHICS")).iter_errors(item)) == []


def test_samples_are_valid_json_without_nan() -> None:
    from importlib import resources

    def reject(name: str) -> None:
        raise AssertionError(f"{name} literal in a packaged sample")

    for task in TASKS:
        text = resources.files("trust_ethics").joinpath(*sample_file(task.data_file).split("/")).read_text()
        json.loads(text, parse_constant=reject)
