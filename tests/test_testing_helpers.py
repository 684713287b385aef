"""trust_core.testing: the helpers plugin tests use, exercised on a real task plugin."""

from __future__ import annotations

import os
from typing import Any

import pytest

from trust_core.contracts import Evaluators, JudgeQuery, Verdict
from trust_core.registry import ALLOW_LIST_ENV
from trust_core.testing import (
    archive_items,
    assert_exportable,
    assert_packaged_sample,
    assert_plugin_registers,
    assert_task_attributes,
    generate,
    metric,
    samples_of,
    scripted,
)

truthfulness = pytest.importorskip("trust_truthfulness.external")


class _NoEvaluators(Evaluators):
    def judge(self, queries: list[JudgeQuery]) -> list[Verdict]:  # type: ignore[override]
        raise AssertionError("not needed")

    def embed(self, texts: list[str]) -> list[list[float]]:  # type: ignore[override]
        raise AssertionError("not needed")


def test_scripted_model_scores_exactly_on_the_packaged_sample():
    task = truthfulness.UseExternalKnowledge()
    samples = samples_of(task)
    gold = {s.id: ("Answer: Supports" if s.item["answer"] == "SUPPORT" else "Answer: Refutes") for s in samples}
    score = task.score(generate(task, samples, scripted(gold)), _NoEvaluators(), seed=0)
    assert_exportable(score)
    assert metric(score, "mean_macro_f1").value == 1.0
    failed = task.score(generate(task, samples, scripted({}, default=None)), _NoEvaluators(), seed=0)
    mean = metric(failed, "mean_macro_f1")
    assert (mean.value, mean.n, mean.n_invalid) == (0.0, len(samples), len(samples))


def test_archive_items_reads_the_real_archive(archive):
    items = archive_items("truthfulness/external.json")
    assert len(items) == 400 and {"prompt", "answer", "source"} <= set(items[0])


# --------------------------------------------------------------------------- the checks every task plugin makes

EXTERNAL: dict[str, Any] = {
    "dimension": "truthfulness",
    "package": "trust_truthfulness",
    "aliases": ("use_external_knowledge", "external"),
    "stem": "external",
    "temperature": 0.0,
    "needs": set(),
}
EXTERNAL_SUBSETS = {"climate": 4, "healthver": 4, "covid": 4, "scifact": 4}


def test_task_attributes_pass_on_the_right_expectations():
    assert_task_attributes(truthfulness.UseExternalKnowledge, **EXTERNAL)
    row = tuple(EXTERNAL[key] for key in ("aliases", "stem", "temperature", "needs"))
    assert_task_attributes(truthfulness.UseExternalKnowledge, "truthfulness", "trust_truthfulness", *row)


@pytest.mark.parametrize(
    "wrong",
    [
        {"dimension": "safety"},
        {"package": "trust_safety"},
        {"aliases": ("external", "use_external_knowledge")},
        {"aliases": ("use_external_knowledge",)},
        {"stem": "internal"},
        {"temperature": 1.0},
        {"needs": {"judge"}},
        {"version": "2"},
    ],
    ids=lambda wrong: "-".join(f"{key}={value}" for key, value in wrong.items()),
)
def test_task_attributes_fail_on_a_wrong_expectation(wrong: dict[str, Any]):
    with pytest.raises(AssertionError):
        assert_task_attributes(truthfulness.UseExternalKnowledge, **(EXTERNAL | wrong))


@pytest.mark.parametrize(
    "attributes",
    [
        {"description": ""},
        {"description": "two\nlines"},
        {"description": "x" * 121},
        {"item_schema": {"$schema": "http://json-schema.org/draft-07/schema#"}},
        {"item_schema": {}},
    ],
    ids=["no-description", "two-lines", "too-long", "draft-07", "no-dialect"],
)
def test_task_attributes_fail_on_a_malformed_task(attributes: dict[str, Any]):
    malformed = type("Malformed", (truthfulness.UseExternalKnowledge,), attributes)
    with pytest.raises(AssertionError):
        assert_task_attributes(malformed, **EXTERNAL)


def test_packaged_sample_passes_on_the_right_counts():
    loaded = assert_packaged_sample(truthfulness.UseExternalKnowledge, "trust_truthfulness", EXTERNAL_SUBSETS)
    assert len(loaded.samples) == 16


@pytest.mark.parametrize(
    ("package", "subset_counts"),
    [
        ("trust_safety", EXTERNAL_SUBSETS),
        ("trust_truthfulness", EXTERNAL_SUBSETS | {"climate": 3}),
        ("trust_truthfulness", EXTERNAL_SUBSETS | {"fever": 4}),
        ("trust_truthfulness", {key: n for key, n in EXTERNAL_SUBSETS.items() if key != "covid"}),
        ("trust_truthfulness", {None: 16}),
    ],
    ids=["wrong-package", "wrong-count", "extra-subset", "missing-subset", "no-subsets"],
)
def test_packaged_sample_fails_on_a_wrong_expectation(package: str, subset_counts: dict[str | None, int]):
    with pytest.raises(AssertionError):
        assert_packaged_sample(truthfulness.UseExternalKnowledge, package, subset_counts)


TRUTHFULNESS_IDS = [
    "truthfulness/use_internal_knowledge",
    "truthfulness/use_external_knowledge",
    "truthfulness/hallucination",
    "truthfulness/sycophancy",
    "truthfulness/adversarial_factuality",
]


@pytest.mark.parametrize("previous", [None, "safety,truthfulness"])
def test_plugin_registers_passes_and_restores_the_allow_list(monkeypatch: pytest.MonkeyPatch, previous: str | None):
    if previous is None:
        monkeypatch.delenv(ALLOW_LIST_ENV, raising=False)
    else:
        monkeypatch.setenv(ALLOW_LIST_ENV, previous)
    assert_plugin_registers("truthfulness", TRUTHFULNESS_IDS)
    assert os.environ.get(ALLOW_LIST_ENV) == previous


@pytest.mark.parametrize(
    "task_ids",
    [TRUTHFULNESS_IDS[:-1], [*TRUTHFULNESS_IDS, "truthfulness/misinformation"]],
    ids=["missing-task", "extra-task"],
)
def test_plugin_registers_fails_on_a_wrong_expectation(monkeypatch: pytest.MonkeyPatch, task_ids: list[str]):
    monkeypatch.setenv(ALLOW_LIST_ENV, "truthfulness")
    with pytest.raises(AssertionError):
        assert_plugin_registers("truthfulness", task_ids)
    assert os.environ[ALLOW_LIST_ENV] == "truthfulness"  # restored after a failure too


def test_plugin_registers_fails_on_another_plugins_tasks():
    pytest.importorskip("trust_safety")
    with pytest.raises(AssertionError):
        assert_plugin_registers("safety", TRUTHFULNESS_IDS)
