"""Task registration, item schemas, the packaged sample and the real TrustLLM archive."""

from __future__ import annotations

import copy
import json
import zipfile
from types import ModuleType
from typing import Any

import pytest
from trust_truthfulness import TASKS
from trust_truthfulness.sycophancy import Sycophancy

from trust_core.contracts import BackendOptions, Evaluators, JudgeQuery, Verdict
from trust_core.data import validate_items
from trust_core.errors import DataError
from trust_core.registry import ComponentContext, Registry
from trust_core.schemas import validator
from trust_core.testing import assert_packaged_sample, assert_plugin_registers, assert_task_attributes

EXPECTED = {
    "truthfulness/use_internal_knowledge": (("use_internal_knowledge", "internal"), "internal", 1.0, {"judge"}),
    "truthfulness/use_external_knowledge": (("use_external_knowledge", "external"), "external", 0.0, set()),
    "truthfulness/hallucination": (("hallucination",), "hallucination", 0.0, set()),
    "truthfulness/sycophancy": (("sycophancy",), "sycophancy", 1.0, {"judge", "embedder"}),
    "truthfulness/adversarial_factuality": (
        ("adversarial_factuality", "advfact", "golden_advfactuality"),
        "golden_advfactuality",
        1.0,
        {"judge"},
    ),
}


def test_the_plugin_registers_the_five_tasks() -> None:
    assert_plugin_registers("truthfulness", EXPECTED)


SAMPLE_COUNTS = {
    "internal": {"codah": 4, "squad": 4, "hotpot": 4, "adversarial": 4},
    "external": {"climate": 4, "healthver": 4, "covid": 4, "scifact": 4},
    "hallucination": {"mc": 4, "halu_qa": 4, "halu_summ": 4, "halu_dial": 4},
    "sycophancy": {"persona": 4, "preference": 4},
    "golden_advfactuality": {None: 4},
}


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_task_attributes_and_packaged_sample(task: Any) -> None:
    assert_task_attributes(task, "truthfulness", "trust_truthfulness", *EXPECTED[task.id])
    assert_packaged_sample(task, "trust_truthfulness", SAMPLE_COUNTS[task.data_file.split("/")[1][:-5]])


def _archive_items(kit: ModuleType, data_file: str) -> list[dict[str, Any]]:
    if not kit.ARCHIVE.is_file():
        pytest.skip(f"TrustLLM archive not found at {kit.ARCHIVE}")
    with zipfile.ZipFile(kit.ARCHIVE) as archive:
        return json.loads(archive.read(f"dataset/{data_file}"))


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_every_archive_item_validates(kit: ModuleType, task: Any) -> None:
    items = _archive_items(kit, task.data_file)
    validate_items(task.data_file, items, dict(task.item_schema))  # raises DataError on the first bad item
    sizes = {"internal": 400, "external": 400, "hallucination": 652, "sycophancy": 419, "golden_advfactuality": 209}
    assert len(items) == sizes[task.data_file.split("/")[1][:-5]]


class _NoEvaluators(Evaluators):
    def judge(self, queries: list[JudgeQuery]) -> list[Verdict]:  # type: ignore[override]
        return [Verdict(label=None, error="no judge") for _ in queries]

    def embed(self, texts: list[str]) -> list[list[float]]:  # type: ignore[override]
        return [[1.0, 0.0] for _ in texts]


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_every_archive_item_scores_without_errors(kit: ModuleType, task: Any) -> None:
    """Prompts and scoring run on the full archive (a judge that always fails: all judged items invalid)."""
    items = _archive_items(kit, task.data_file)
    instance = task()
    samples = [instance.to_sample(i, item) for i, item in instance.select_items(items)]
    score = instance.score(kit.generate(instance, samples, lambda s, p: "Answer: A"), _NoEvaluators(), 0)
    assert len(score.records) == len(samples)
    kit.assert_exportable(score)


# --------------------------------------------------------------------------- schema strictness

GOOD = {
    "internal": {"prompt": "p", "answer": 1, "source": "codah", "question": "q"},
    "external": {"prompt": "p", "answer": "SUPPORT", "source": "climate"},
    "hallucination": {"prompt": "p", "answer": "Yes", "source": "halu_qa"},
    "sycophancy": {"prompt": "p", "n_completion": "n", "s_completion": "s", "source": "persona"},
    "golden_advfactuality": {"knowledge": "k", "modified knowledge": "m", "query": "q", "prompt": "p"},
}
BAD: list[tuple[str, dict[str, Any], str]] = [
    ("internal", {"prompt": None}, "missing prompt"),
    ("internal", {"prompt": ""}, "empty prompt"),
    ("internal", {"answer": "1"}, "codah answer not an integer"),
    ("internal", {"answer": 1.5}, "codah answer a float"),
    ("internal", {"answer": -1}, "codah answer negative"),
    ("internal", {"answer": True}, "codah answer a boolean"),
    ("internal", {"source": "boolq"}, "unknown source"),
    ("internal", {"source": "squad", "answer": 3}, "squad answer not text"),
    ("internal", {"source": "squad", "answer": []}, "squad answer an empty list"),
    ("internal", {"source": "hotpot", "answer": [1]}, "hotpot answer list of numbers"),
    ("internal", {"source": "squad", "answer": "x", "question": {"title": "t"}}, "squad question an object"),
    ("internal", {"source": "adversarial", "answer": "x", "question": {"title": "t"}}, "article without paragraphs"),
    ("external", {"answer": "SUPPORTS"}, "external answer not SUPPORT/REFUTE"),
    ("external", {"answer": "NOT ENOUGH INFO"}, "external NEI"),
    ("external", {"source": "fever"}, "unknown source"),
    ("external", {"prompt": None}, "missing prompt"),
    ("hallucination", {"answer": "yes"}, "halu answer not Yes/No"),
    ("hallucination", {"answer": "Maybe"}, "halu answer Maybe"),
    ("hallucination", {"source": "truthfulqa"}, "unknown source"),
    ("hallucination", {"source": "mc", "answer": "x", "prompt": "Pick one: x or y"}, "mc prompt without options"),
    ("hallucination", {"prompt": None}, "missing prompt"),
    ("sycophancy", {"n_completion": ""}, "persona without reference"),
    ("sycophancy", {"source": "opinion"}, "unknown source"),
    ("sycophancy", {"s_completion": None}, "missing s_completion"),
    ("sycophancy", {"source": "preference", "pair_id": 1.5}, "pair_id a float"),
    ("golden_advfactuality", {"modified knowledge": None}, "missing modified knowledge"),
    ("golden_advfactuality", {"prompt": None}, "missing prompt"),
    ("golden_advfactuality", {"source": "internal"}, "unknown source"),
]


def _schema(stem: str) -> dict[str, Any]:
    return next(dict(task.item_schema) for task in TASKS if task.data_file == f"truthfulness/{stem}.json")


@pytest.mark.parametrize("stem", sorted(GOOD))
def test_minimal_items_validate(stem: str) -> None:
    assert list(validator(_schema(stem)).iter_errors(GOOD[stem])) == []


@pytest.mark.parametrize(("stem", "change", "why"), BAD, ids=[why for _, _, why in BAD])
def test_bad_items_are_rejected(stem: str, change: dict[str, Any], why: str) -> None:
    item = copy.deepcopy(GOOD[stem])
    for key, value in change.items():
        if value is None:
            item.pop(key, None)
        else:
            item[key] = value
    with pytest.raises(DataError):
        validate_items(f"truthfulness/{stem}.json", [item], _schema(stem))


def test_imported_generation_fields_are_allowed() -> None:
    item = GOOD["external"] | {"res": "Answer: Supports"}
    assert list(validator(_schema("external")).iter_errors(item)) == []


# --------------------------------------------------------------------------- the real embedder


class _EmbedderOnly(Evaluators):
    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder

    def judge(self, queries: list[JudgeQuery]) -> list[Verdict]:  # type: ignore[override]
        raise AssertionError("persona scoring needs no judge")

    def embed(self, texts: list[str]) -> list[list[float]]:  # type: ignore[override]
        return self.embedder.embed(texts)


@pytest.mark.slow
def test_persona_margin_with_the_real_minilm_embedder(kit: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("trust_sentence_transformers")
    monkeypatch.setenv("TRUST_LOAD_PLUGINS", "sentence_transformers")
    registry = Registry()
    evaluators = _EmbedderOnly(registry.make_embedder(None, ComponentContext(registry, BackendOptions())))
    task = Sycophancy()
    samples = [s for s in kit.samples_of(task) if s.subset == "persona"]
    honest = task.score(kit.generate(task, samples, lambda s, p: s.item["n_completion"]), evaluators, 0)
    flattering = task.score(kit.generate(task, samples, lambda s, p: s.item["s_completion"]), evaluators, 0)
    assert kit.metric(honest, "persona_cosine_margin", "persona").value > 0.1
    assert kit.metric(flattering, "persona_cosine_margin", "persona").value < -0.1
