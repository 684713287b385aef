"""Test doubles for the evaluator interface and helpers to run a task end to end without a model.

Tests reach these through the ``kit`` fixture (this module), since pytest runs with
``--import-mode=importlib`` and test folders are not importable.

The refusal judge here is a deterministic rule-based implementation of
:meth:`Evaluators.refusal` (the real refusal judges are tested with their plugins).
"""

from __future__ import annotations

import json
import os
import re
import sys
import zipfile
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from trust_core.contracts import (
    COMPLIED,
    REFUSED,
    Evaluators,
    EvaluatorUnavailable,
    Generation,
    JudgeQuery,
    Prompt,
    Sample,
    Task,
    Verdict,
)
from trust_core.data import sample_file

JUDGE_FAIL = "JUDGE_FAIL"
"""A response containing this makes the rule refusal judge fail (Verdict with label None)."""

RULE_JUDGE = "rule-refusal@test"
"""The identity the rule refusal judge reports."""

ARCHIVE = Path(
    os.environ.get("TRUSTLLM_DATASET_ZIP")
    or Path(__file__).resolve().parents[3].parent / "shared" / "datasets" / "trustllm" / "dataset.zip"
)
"""The TrustLLM data archive (tests that need it are skipped when it is absent)."""

_REFUSAL = re.compile(r"\b(?:sorry|cannot|can't|won't|unable)\b", re.IGNORECASE)


def rule_refusal(response: str) -> Verdict:
    """REFUSED iff the response says sorry / cannot / can't / won't / unable; a failure on JUDGE_FAIL."""
    if JUDGE_FAIL in response:
        return Verdict(label=None, raw="", error="judge timed out")
    return Verdict(label=REFUSED if _REFUSAL.search(response) else COMPLIED, raw="rule")


class RuleEvaluators(Evaluators):
    """Deterministic evaluators with a rule refusal judge; records every refusal call."""

    def __init__(self) -> None:
        self.refusal_calls: list[tuple[list[str], list[str] | None]] = []

    def judge(self, queries: Sequence[JudgeQuery]) -> list[Verdict]:
        raise AssertionError("the privacy tasks ask no judge questions")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise AssertionError("the privacy tasks embed nothing")

    def refusal(self, responses: Sequence[str], prompts: Sequence[str] | None = None) -> list[Verdict]:
        self.refusal_calls.append((list(responses), None if prompts is None else list(prompts)))
        return [rule_refusal(response) for response in responses]

    def toxicity(self, texts: Sequence[str]) -> list[Verdict]:
        raise EvaluatorUnavailable("toxicity", "no toxicity scorer in these tests")

    def identity(self, kind: str) -> str | None:
        return RULE_JUDGE if kind == "refusal" else None


class NoRefusalEvaluators(RuleEvaluators):
    """Evaluators of a run that has no refusal judge."""

    def refusal(self, responses: Sequence[str], prompts: Sequence[str] | None = None) -> list[Verdict]:
        raise EvaluatorUnavailable("refusal", "no default refusal judge is installed")

    def identity(self, kind: str) -> str | None:
        return None


def packaged_items(data_file: str) -> list[dict[str, Any]]:
    """The items of the plugin's packaged sample file."""
    resource = resources.files("trust_privacy").joinpath(*sample_file(data_file).split("/"))
    return json.loads(resource.read_text(encoding="utf-8"))


def archive_items(data_file: str) -> list[dict[str, Any]]:
    """The raw items of ``data_file`` in the TrustLLM archive (the test is skipped without the archive)."""
    if not ARCHIVE.is_file():
        pytest.skip(f"TrustLLM archive not found at {ARCHIVE}")
    with zipfile.ZipFile(ARCHIVE) as archive:
        return json.loads(archive.read(f"dataset/{data_file}"))


def samples_of(task: Task, items: Sequence[dict[str, Any]] | None = None) -> list[Sample]:
    """The task's samples from ``items`` (default: its packaged sample), normalised as the core does."""
    items = packaged_items(task.data_file) if items is None else items
    normalized = [task.normalize(item) for item in items]
    return [task.to_sample(index, item) for index, item in task.select_items(normalized)]


def generate(
    task: Task, samples: Sequence[Sample], respond: Callable[[Sample, Prompt], str | None], seed: int = 0
) -> list[Generation]:
    """Generations from a scripted model ``respond(sample, prompt)``."""
    by_id = {sample.id: sample for sample in samples}
    prompts = task.prompts(samples, seed)
    return [Generation(sample=by_id[p.sample_id], prompt=p, text=respond(by_id[p.sample_id], p)) for p in prompts]


def scripted(responses: dict[str, str | None]) -> Callable[[Sample, Prompt], str | None]:
    """A model that answers each sample id with a fixed response."""
    return lambda sample, prompt: responses[sample.id]


def metric(score: Any, name: str, subset: str | None = None) -> Any:
    """The one metric of ``score`` with this name and subset."""
    found = [m for m in score.metrics if m.metric == name and m.subset == subset]
    assert len(found) == 1, [(m.metric, m.subset) for m in score.metrics]
    return found[0]


def assert_exportable(score: Any) -> None:
    """Records and metrics are strict JSON (no NaN) and every count is consistent."""
    json.dumps(score.records, allow_nan=False)
    for value in score.metrics:
        json.dumps([value.value, value.ci, dict(value.extra)], allow_nan=False)
        assert 0 <= value.n_invalid <= value.n


@pytest.fixture
def kit() -> ModuleType:
    """This module: the test doubles and helpers."""
    return sys.modules[__name__]


@pytest.fixture
def evaluators() -> RuleEvaluators:
    """Rule-based evaluators with a refusal judge."""
    return RuleEvaluators()
