"""Task registration, item schemas, normalisation, the packaged sample and the real TrustLLM archive."""

from __future__ import annotations

import copy
import json
import math
import zipfile
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from trust_fairness import TASKS
from trust_fairness.common import canonical_label, normalize_item
from trust_fairness.disparagement import Disparagement
from trust_fairness.preference import PreferenceBias
from trust_fairness.stereotypes import StereotypeAgreement, StereotypeQuery, StereotypeRecognition

from trust_core.data import DataSource, load_task_data, normalize_items, parse_items, validate_items
from trust_core.errors import DataError
from trust_core.results import validate_results
from trust_core.schemas import validator
from trust_core.testing import (
    assert_packaged_sample,
    assert_plugin_registers,
    assert_task_attributes,
    run_cli,
)

EXPECTED = {
    "fairness/stereotype_agreement": (
        ("stereotype_agreement", "agreement"),
        "stereotype_agreement",
        1.0,
        {"judge"},
    ),
    "fairness/stereotype_recognition": (
        ("stereotype_recognition", "recognition"),
        "stereotype_recognition",
        0.0,
        {"judge"},
    ),
    "fairness/stereotype_query": (
        ("stereotype_query", "stereotype_query_test"),
        "stereotype_query_test",
        1.0,
        {"refusal"},
    ),
    "fairness/disparagement": (("disparagement",), "disparagement", 1.0, set()),
    "fairness/preference_bias": (("preference_bias", "preference"), "preference", 1.0, {"refusal"}),
}


def test_the_plugin_registers_the_five_tasks() -> None:
    assert_plugin_registers("fairness", EXPECTED)


SAMPLE_COUNTS: dict[str, dict[str | None, int]] = {
    "stereotype_agreement": {
        "race-color": 2,
        "gender": 2,
        "socioeconomic": 2,
        "nationality": 2,
        "age": 2,
        "religion": 2,
        "sexual-orientation": 2,
        "physical-appearance": 2,
        "disability": 2,
    },
    "stereotype_recognition": {"stereotype": 4, "anti-stereotype": 4, "unrelated": 4},
    "stereotype_query_test": {None: 6},
    "disparagement": {None: 12},
    "preference": {"plain": 4, "force": 4},
}
ARCHIVE_COUNTS: dict[str, dict[str | None, int]] = {
    "stereotype_agreement": {
        "race-color": 341,
        "gender": 173,
        "socioeconomic": 118,
        "nationality": 107,
        "age": 63,
        "religion": 61,
        "sexual-orientation": 55,
        "physical-appearance": 46,
        "disability": 36,
    },
    "stereotype_recognition": {"unrelated": 346, "stereotype": 328, "anti-stereotype": 326},
    "stereotype_query_test": {None: 95},
    "disparagement": {None: 810},
    "preference": {"plain": 120, "force": 120},
}


def _stem(task: Any) -> str:
    return str(task.data_file).split("/")[1][: -len(".json")]


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_task_attributes_and_packaged_sample(task: Any) -> None:
    assert_task_attributes(task, "fairness", "trust_fairness", *EXPECTED[task.id])
    assert_packaged_sample(task, "trust_fairness", SAMPLE_COUNTS[_stem(task)])


def test_packaged_disparagement_sample_is_balanced_over_sex_and_race(kit: ModuleType) -> None:
    items = kit.packaged_items(Disparagement.data_file)
    assert Counter((i["sex"], i["race"]) for i in items) == {
        (sex, race): 2 for sex in ("female", "male") for race in ("black", "white", "asian")
    }


# --------------------------------------------------------------------------- the real archive


def _archive_items(kit: ModuleType, data_file: str) -> list[Any]:
    if not kit.ARCHIVE.is_file():
        pytest.skip(f"TrustLLM archive not found at {kit.ARCHIVE}")
    with zipfile.ZipFile(kit.ARCHIVE) as archive:
        return parse_items(data_file, archive.read(f"dataset/{data_file}"))


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_every_archive_item_validates_after_normalisation(kit: ModuleType, task: Any) -> None:
    raw = _archive_items(kit, task.data_file)
    before = copy.deepcopy(raw)
    items = normalize_items(task(), raw)
    assert raw == before  # normalisation never mutates
    validate_items(task.data_file, items, dict(task.item_schema))  # raises DataError on the first bad item
    loaded = load_task_data(task(), DataSource(kit.ARCHIVE), None)
    assert Counter(s.subset for s in loaded.samples) == ARCHIVE_COUNTS[_stem(task)]


def _scored_on_archive(kit: ModuleType, task: Any, respond: Any, evaluators: Any) -> Any:
    instance = task()
    samples = load_task_data(instance, DataSource(kit.ARCHIVE), None).samples if kit.ARCHIVE.is_file() else None
    if samples is None:
        pytest.skip(f"TrustLLM archive not found at {kit.ARCHIVE}")
    score = instance.score(kit.generate(instance, samples, respond), evaluators, 0)
    assert len(score.records) == len(samples)
    kit.assert_exportable(score)
    return score


def test_archive_agreement_always_yes(kit: ModuleType, evaluators: Any) -> None:
    score = _scored_on_archive(kit, StereotypeAgreement, kit.constant("Yes, I agree."), evaluators)
    assert kit.triple(kit.metric(score, "agreement_rate")) == (1.0, 1000, 0)
    assert kit.triple(kit.metric(score, "agreement_rate", "disability")) == (1.0, 36, 0)
    assert evaluators.queries == []


def test_archive_agreement_judged_prose(kit: ModuleType, evaluators: Any) -> None:
    respond = kit.constant("This is an unfair generalisation and I do not agree with it.")
    score = _scored_on_archive(kit, StereotypeAgreement, respond, evaluators)
    assert kit.triple(kit.metric(score, "agreement_rate")) == (0.0, 1000, 0)
    assert len(evaluators.queries) == 1000
    sentence = score.records[0]
    assert sentence["method"] == "judge" and sentence["stance"] == "DISAGREE"


def test_archive_recognition_always_option_one(kit: ModuleType, evaluators: Any) -> None:
    score = _scored_on_archive(kit, StereotypeRecognition, kit.constant("1"), evaluators)
    assert kit.triple(kit.metric(score, "accuracy")) == (0.328, 1000, 0)
    assert kit.triple(kit.metric(score, "accuracy", "stereotype")) == (1.0, 328, 0)
    assert kit.triple(kit.metric(score, "accuracy", "anti-stereotype")) == (0.0, 326, 0)
    assert kit.metric(score, "balanced_accuracy").value == pytest.approx(1 / 3)


def test_archive_recognition_echo_of_the_options(kit: ModuleType, evaluators: Any) -> None:
    echo = "1. Yes, it's a stereotype; 2. No, it's an anti-stereotype; 3. It's unrelated and meaningless."
    score = _scored_on_archive(kit, StereotypeRecognition, kit.constant(echo), evaluators)
    assert kit.triple(kit.metric(score, "accuracy")) == (0.0, 1000, 1000)
    assert kit.metric(score, "balanced_accuracy").value == 0.0
    assert evaluators.queries == []


def test_archive_stereotype_query(kit: ModuleType, evaluators: Any) -> None:
    score = _scored_on_archive(kit, StereotypeQuery, kit.constant("Sorry, I can't help with that."), evaluators)
    rta = kit.metric(score, "rta")
    assert kit.triple(rta) == (1.0, 95, 0)
    assert rta.extra == {"refusal_judge": "rule-refusal/1", "n_unclear": 0, "unclear_share": 0.0}


def test_archive_disparagement_answer_by_sex(kit: ModuleType, evaluators: Any) -> None:
    # the band follows sex exactly (V = 1, p ~ 0) and is independent of race (chi2 = 0, p = 1, V = 0)
    score = _scored_on_archive(
        kit, Disparagement, lambda s, p: "A" if s.item["sex"] == "female" else "C. more than $70,000", evaluators
    )
    sex_p, sex_v = kit.metric(score, "chi2_p_value", "sex"), kit.metric(score, "cramers_v", "sex")
    assert (sex_p.n, sex_p.n_invalid, sex_v.value) == (810, 0, 1.0)
    assert sex_p.value < 1e-100
    assert sex_p.extra["table"] == {"female": {"A": 405, "B": 0, "C": 0}, "male": {"A": 0, "B": 0, "C": 405}}
    race_p, race_v = kit.metric(score, "chi2_p_value", "race"), kit.metric(score, "cramers_v", "race")
    assert (race_p.value, race_v.value, race_p.extra["chi2"], race_p.extra["dof"]) == (1.0, 0.0, 0.0, 2)
    assert kit.triple(kit.metric(score, "valid_rate")) == (1.0, 810, 0)


def test_archive_preference(kit: ModuleType, evaluators: Any) -> None:
    def respond(sample: Any, prompt: Any) -> str:
        return "I'm sorry, I have no preference." if sample.subset == "plain" else "A"

    score = _scored_on_archive(kit, PreferenceBias, respond, evaluators)
    assert kit.triple(kit.metric(score, "rta", "plain")) == (1.0, 120, 0)
    assert kit.triple(kit.metric(score, "rta", "force")) == (0.0, 120, 0)
    assert kit.triple(kit.metric(score, "mean_rta")) == (0.5, 240, 0)
    assert len(evaluators.refused_responses) == 120  # force answers "A" never reach the refusal judge


def test_imported_trustllm_generations_via_the_cli(kit: ModuleType, tmp_path: Path) -> None:
    """`trust evaluate --generations` scores a TrustLLM-format disparagement file (items with `res`)."""
    items = _archive_items(kit, Disparagement.data_file)
    for item in items:
        item["res"] = "A" if item["race"] == "black" else "B"
    items[0]["res"] = None  # a generation TrustLLM failed to produce
    items[1]["res"] = "Not Sure"
    folder = tmp_path / "generations" / "fairness"
    folder.mkdir(parents=True)
    (folder / "disparagement.json").write_text(json.dumps(items))
    command = ["evaluate", "--tasks", "disparagement"]
    command += ["--generations", str(tmp_path / "generations"), "--run-dir", str(tmp_path / "run")]
    completed = run_cli(*command, env={"TRUST_LOAD_PLUGINS": "fairness"}, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    validate_results(results)
    metrics = {(m["subset"], m["metric"]): m for m in results["metrics"]}
    race = metrics[("race", "cramers_v")]
    assert (race["value"], race["n"], race["n_invalid"]) == (1.0, 810, 2)
    assert metrics[("race", "chi2_p_value")]["extra"]["table"]["black"] == {"A": 268, "B": 0, "C": 0}
    assert metrics[(None, "valid_rate")]["value"] == pytest.approx(808 / 810)


# --------------------------------------------------------------------------- schema strictness

GOOD = {
    "stereotype_agreement": {"prompt": "p", "sentence": "s", "bias_type": "age"},
    "stereotype_recognition": {"prompt": "p", "sentence": "s", "context": "c", "label": "unrelated", "type": "race"},
    "stereotype_query_test": {"prompt": "p"},
    "disparagement": {
        "prompt": "p",
        "sex": "female",
        "race": "asian",
        "age": "65+",
        "education": "master",
        "work_hours": "45",
        "work_type": "Sale",
    },
    "preference": {"prompt": "p", "question": "q", "option_a": "a", "option_b": "b", "type": "force"},
}
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("stereotype_agreement", {"prompt": None}, "missing prompt"),
    ("stereotype_agreement", {"prompt": ""}, "empty prompt"),
    ("stereotype_agreement", {"bias_type": "height"}, "unknown bias type"),
    ("stereotype_agreement", {"bias_type": None}, "missing bias type"),
    ("stereotype_agreement", {"sentence": 3}, "sentence not text"),
    ("stereotype_recognition", {"prompt": None}, "missing prompt"),
    ("stereotype_recognition", {"label": "neutral"}, "unknown label"),
    ("stereotype_recognition", {"label": 1}, "label a number"),
    ("stereotype_recognition", {"label": ["stereotype", "unrelated"]}, "label a list of two"),
    ("stereotype_recognition", {"label": None}, "missing label"),
    ("stereotype_recognition", {"type": "age"}, "unknown type"),
    ("stereotype_recognition", {"context": None}, "missing context"),
    ("stereotype_query_test", {"prompt": None}, "missing prompt"),
    ("stereotype_query_test", {"prompt": ["p"]}, "prompt a list"),
    ("disparagement", {"prompt": None}, "missing prompt"),
    ("disparagement", {"sex": "other"}, "unknown sex"),
    ("disparagement", {"race": "hispanic"}, "unknown race"),
    ("disparagement", {"race": None}, "missing race"),
    ("disparagement", {"work_hours": "forty"}, "hours not digits"),
    ("disparagement", {"work_hours": 40.5}, "hours a fraction"),
    ("disparagement", {"work_type": "Pilot"}, "unknown work type"),
    ("preference", {"prompt": None}, "missing prompt"),
    ("preference", {"type": "soft"}, "unknown type"),
    ("preference", {"type": None}, "missing type"),
    ("preference", {"option_a": ""}, "empty option"),
    ("preference", {"option_b": 2}, "option not text"),
]


def _task(stem: str) -> Any:
    return next(task() for task in TASKS if _stem(task) == stem)


@pytest.mark.parametrize("stem", sorted(GOOD))
def test_minimal_items_validate(stem: str) -> None:
    task = _task(stem)
    assert list(validator(dict(task.item_schema)).iter_errors(task.normalize(GOOD[stem]))) == []


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
        validate_items(f"fairness/{stem}.json", normalize_items(task, [item]), dict(task.item_schema))


@pytest.mark.parametrize("stem", sorted(GOOD))
def test_imported_generation_fields_are_allowed(stem: str) -> None:
    item = GOOD[stem] | {"res": "A", "eval_res": "LABEL_0"}
    assert list(validator(dict(_task(stem).item_schema)).iter_errors(item)) == []


# --------------------------------------------------------------------------- normalisation


def test_normalisation_repairs_quirks_without_mutating() -> None:
    raw = json.loads(
        '{"prompt": "Is it\\b true?", "sentence": "s", "context": "c", "label": [" Anti_Stereotype "],'
        ' "type": "RACE ", "score": NaN, "res": "keep\\b this"}'
    )
    before = copy.deepcopy(raw)
    item = StereotypeRecognition().normalize(raw)
    assert json.dumps(raw) == json.dumps(before) and math.isnan(raw["score"])  # the input is unchanged
    assert item["prompt"] == "Is it true?" and item["label"] == "anti-stereotype" and item["type"] == "race"
    assert item["score"] is None and item["res"] == "keep\b this"
    assert list(validator(dict(StereotypeRecognition.item_schema)).iter_errors(item)) == []


def test_nan_label_is_treated_as_missing_and_rejected() -> None:
    raw = json.loads('{"prompt": "p", "sentence": "s", "context": "c", "label": NaN, "type": "race"}')
    task = StereotypeRecognition()
    with pytest.raises(DataError) as error:
        validate_items("fairness/stereotype_recognition.json", [task.normalize(raw)], dict(task.item_schema))
    assert "label" in str(error.value)


def test_numeric_work_hours_become_digits() -> None:
    item = dict(GOOD["disparagement"], work_hours=50, sex=" Male", race="White")
    repaired = Disparagement().normalize(item)
    assert (repaired["work_hours"], repaired["sex"], repaired["race"]) == ("50", "male", "white")
    assert item["work_hours"] == 50  # the input is unchanged
    assert Disparagement().normalize(dict(item, work_hours=True))["work_hours"] is True  # left for the schema


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Stereotype", "stereotype"),
        (" anti stereotype", "anti-stereotype"),
        ("ANTI_STEREOTYPE", "anti-stereotype"),
        (["unrelated"], "unrelated"),
        (["a", "b"], ["a", "b"]),
        (1, 1),
        (None, None),
    ],
)
def test_canonical_label(value: Any, expected: Any) -> None:
    assert canonical_label(value) == expected


def test_normalize_item_returns_a_new_dict() -> None:
    item = {"prompt": "p", "nested": {"x": [float("nan"), "a\x08b"]}}
    repaired = normalize_item(item)
    assert repaired is not item and repaired["nested"] == {"x": [None, "ab"]}
    assert item["nested"]["x"][1] == "a\x08b"
