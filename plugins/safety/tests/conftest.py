"""Test doubles for the evaluator interface and helpers to run a safety task end to end without a model.

Tests reach these through the ``kit`` fixture (this module), since pytest runs with
``--import-mode=importlib`` and test folders are not importable.

The refusal judge and the toxicity scorer here are deterministic rule-based implementations of
:meth:`Evaluators.refusal` and :meth:`Evaluators.toxicity` (the real ones are plugins of their own).
"""

from __future__ import annotations

import json
import re
import sys
import zipfile
from collections.abc import Callable, Sequence
from importlib import resources
from types import ModuleType
from typing import Any

import pytest

from trust_core.contracts import (
    COMPLIED,
    REFUSED,
    Evaluators,
    EvaluatorUnavailable,
    JudgeQuery,
    Sample,
    Task,
    Verdict,
)
from trust_core.data import normalize_items, sample_file
from trust_core.testing import archive_path
from trust_core.testing import assert_exportable as assert_exportable
from trust_core.testing import generate as generate
from trust_core.testing import metric as metric

JUDGE_FAIL = "JUDGE_FAIL"
"""A response containing this makes the rule refusal judge fail (Verdict with label None)."""
OFF_LIST = "OFF_LIST"
"""A response containing this gets a label outside REFUSED / COMPLIED."""
SCORER_FAIL = "SCORER_FAIL"
"""A text containing this makes the rule toxicity scorer fail."""
REFUSAL_JUDGE_ID = "rule-refusal/1"
TOXICITY_SCORER_ID = "rule-toxicity/1"

ARCHIVE = archive_path()
"""The TrustLLM data archive (tests that need it are skipped when it is absent)."""

REFUSAL_OPENERS = ("i cannot", "i can't", "i won't", "sorry")


def refusal_verdict(response: str) -> Verdict:
    """REFUSED when the response starts with a refusal phrase, else COMPLIED; failures on markers."""
    if JUDGE_FAIL in response:
        return Verdict(label=None, raw="", error="refusal judge timed out")
    if OFF_LIST in response:
        return Verdict(label="MAYBE", raw="MAYBE")
    refused = response.strip().lower().startswith(REFUSAL_OPENERS)
    return Verdict(label=REFUSED if refused else COMPLIED, raw="ok")


def toxicity_verdict(text: str) -> Verdict:
    """Score = the number in a ``[tox=x]`` marker of the text (0.0 without one); failure on a marker."""
    if SCORER_FAIL in text:
        return Verdict(label=None, error="scorer returned HTTP 500")
    match = re.search(r"\[tox=(-?[0-9.]+)\]", text)
    return Verdict(label="TOXICITY", raw="ok", score=float(match.group(1)) if match else 0.0)


class RuleEvaluators(Evaluators):
    """Deterministic evaluators; records every call so tests can check what was asked.

    ``refusal_judge`` / ``toxicity_scorer`` False make that kind unavailable (EvaluatorUnavailable).
    """

    def __init__(self, refusal_judge: bool = True, toxicity_scorer: bool = True) -> None:
        self.has_refusal = refusal_judge
        self.has_toxicity = toxicity_scorer
        self.refusal_calls: list[tuple[list[str], list[str] | None]] = []
        self.toxicity_calls: list[list[str]] = []

    def judge(self, queries: Sequence[JudgeQuery]) -> list[Verdict]:
        raise AssertionError("safety tasks ask no custom judge questions")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise AssertionError("safety tasks need no embedder")

    def refusal(
        self, responses: Sequence[str], prompts: Sequence[str] | None = None, criterion: str = "request"
    ) -> list[Verdict]:
        if not self.has_refusal:
            raise EvaluatorUnavailable("refusal", "no refusal judge in this test")
        self.refusal_calls.append((list(responses), None if prompts is None else list(prompts)))
        return [refusal_verdict(response) for response in responses]

    def toxicity(self, texts: Sequence[str]) -> list[Verdict]:
        if not self.has_toxicity:
            raise EvaluatorUnavailable("toxicity", "no Perspective API key")
        self.toxicity_calls.append(list(texts))
        return [toxicity_verdict(text) for text in texts]

    def identity(self, kind: str) -> str | None:
        if kind == "refusal" and self.has_refusal:
            return REFUSAL_JUDGE_ID
        if kind == "toxicity" and self.has_toxicity:
            return TOXICITY_SCORER_ID
        return None


def packaged_items(data_file: str) -> list[dict[str, Any]]:
    """The raw items of the plugin's packaged sample file (archive format, before normalisation)."""
    resource = resources.files("trust_safety").joinpath(*sample_file(data_file).split("/"))
    return json.loads(resource.read_text(encoding="utf-8"))


def archive_items(data_file: str) -> list[Any]:
    """The raw items of ``data_file`` in the TrustLLM archive; skips the test when the archive is absent."""
    if not ARCHIVE.is_file():
        pytest.skip(f"TrustLLM archive not found at {ARCHIVE}")
    with zipfile.ZipFile(ARCHIVE) as archive:
        return json.loads(archive.read(f"dataset/{data_file}").decode("utf-8"), strict=False)


def samples_of(task: Task, items: Sequence[dict[str, Any]] | None = None) -> list[Sample]:
    """The task's samples from raw ``items`` (default: its packaged sample), normalised as the core does."""
    items = packaged_items(task.data_file) if items is None else items
    return [task.to_sample(index, item) for index, item in task.select_items(normalize_items(task, items))]


def scripted(responses: dict[str, str | None], default: str | None = "Sure, here it is.") -> Callable[..., str | None]:
    """A model that answers listed sample ids with fixed responses and every other one with ``default``."""
    return lambda sample, prompt: responses.get(sample.id, default)


@pytest.fixture
def kit() -> ModuleType:
    """This module: the test doubles, and the helpers it re-exports from ``trust_core.testing``."""
    return sys.modules[__name__]


@pytest.fixture
def evaluators() -> RuleEvaluators:
    """Rule-based refusal judge and toxicity scorer."""
    return RuleEvaluators()
