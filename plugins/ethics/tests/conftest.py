"""Test doubles for the evaluator interface and helpers to run a task end to end without a model.

Tests reach these through the ``kit`` fixture (this module), since pytest runs with
``--import-mode=importlib`` and test folders are not importable.

The judge and the refusal judge here are deterministic rule-based implementations of
:class:`Evaluators` (the real LLM judge and refusal judges are tested with the core and their plugins).
"""

from __future__ import annotations

import json
import re
import sys
import zipfile
from collections.abc import Sequence
from importlib import resources
from types import ModuleType
from typing import Any

import pytest

from trust_core.contracts import Evaluators, EvaluatorUnavailable, JudgeQuery, Sample, Task, Verdict
from trust_core.data import normalize_items, parse_items, sample_file
from trust_core.testing import archive_path
from trust_core.testing import assert_exportable as assert_exportable
from trust_core.testing import generate as generate
from trust_core.testing import metric as metric
from trust_core.testing import scripted as scripted

JUDGE_FAIL = "JUDGE_FAIL"
"""A response containing this makes the rule judges fail (Verdict with label None)."""

ARCHIVE = archive_path()
"""The TrustLLM data archive (tests that need it are skipped when it is absent)."""

REFUSAL_WORDS = re.compile(r"\b(?:sorry|cannot|can't|won't|decline)\b", re.IGNORECASE)


def ethics_verdict(query: JudgeQuery) -> Verdict:
    """The ETHICS judge: REFUSED for apologies, WRONG for "immoral"/"unacceptable", NOT_WRONG for
    "acceptable"/"fine", NOT_SURE otherwise."""
    assert query.labels == ("WRONG", "NOT_WRONG", "NOT_SURE", "REFUSED"), query.labels
    assert query.instruction.count("\nAction: ") == 1, query.instruction
    response = query.instruction.rsplit("\nAnswer: ", 1)[1].lower()
    if JUDGE_FAIL.lower() in response:
        return Verdict(label=None, raw="", error="judge timed out")
    if REFUSAL_WORDS.search(response):
        return Verdict(label="REFUSED", raw="REFUSED")
    if re.search(r"\b(?:immoral|unacceptable)\b", response):
        return Verdict(label="WRONG", raw="WRONG")
    if re.search(r"\b(?:acceptable|fine)\b", response):
        return Verdict(label="NOT_WRONG", raw="NOT_WRONG")
    return Verdict(label="NOT_SURE", raw="NOT_SURE")


class RuleEvaluators(Evaluators):
    """Deterministic judge and refusal judge; records every call so tests can check what was asked."""

    def __init__(self, refusal: bool = True, judge: bool = True) -> None:
        self.queries: list[JudgeQuery] = []
        self.refusal_calls: list[tuple[str, str | None]] = []
        self.has_refusal = refusal
        self.has_judge = judge

    def judge(self, queries: Sequence[JudgeQuery]) -> list[Verdict]:
        if not self.has_judge:
            raise EvaluatorUnavailable("judge", "no judge in this test")
        self.queries.extend(queries)
        return [ethics_verdict(query) for query in queries]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise AssertionError("no ethics task embeds")

    def refusal(
        self, responses: Sequence[str], prompts: Sequence[str] | None = None, criterion: str = "request"
    ) -> list[Verdict]:
        if not self.has_refusal:
            raise EvaluatorUnavailable("refusal", "no refusal judge in this test")
        contexts = list(prompts) if prompts is not None else [None] * len(responses)
        self.refusal_calls.extend(zip(responses, contexts, strict=True))
        verdicts = []
        for response in responses:
            if JUDGE_FAIL in response:
                verdicts.append(Verdict(label=None, raw="", error="classifier crashed"))
            else:
                verdicts.append(Verdict(label="REFUSED" if REFUSAL_WORDS.search(response) else "COMPLIED"))
        return verdicts

    def identity(self, kind: str) -> str | None:
        available = {"judge": self.has_judge, "refusal": self.has_refusal}.get(kind, False)
        return f"rule-{kind}/1" if available else None


def packaged_items(data_file: str) -> list[dict[str, Any]]:
    """The items of the plugin's packaged sample file (raw, before normalisation)."""
    resource = resources.files("trust_ethics").joinpath(*sample_file(data_file).split("/"))
    return json.loads(resource.read_text(encoding="utf-8"))


def archive_items(data_file: str) -> list[Any]:
    """The raw items of one archive file (skips the test when the archive is absent)."""
    if not ARCHIVE.is_file():
        pytest.skip(f"TrustLLM archive not found at {ARCHIVE}")
    with zipfile.ZipFile(ARCHIVE) as archive:
        return parse_items(data_file, archive.read(f"dataset/{data_file}"))


def samples_of(task: Task, items: Sequence[dict[str, Any]] | None = None) -> list[Sample]:
    """The task's samples from ``items`` (default: its packaged sample), normalised as the core does."""
    items = packaged_items(task.data_file) if items is None else items
    normalized = normalize_items(task, items)
    return [task.to_sample(index, item) for index, item in task.select_items(normalized)]


def summary(value: Any) -> tuple[Any, int, int]:
    """(value, n, n_invalid) of a metric."""
    return value.value, value.n, value.n_invalid


@pytest.fixture
def kit() -> ModuleType:
    """This module: the test doubles, and the helpers it re-exports from ``trust_core.testing``."""
    return sys.modules[__name__]


@pytest.fixture
def evaluators() -> RuleEvaluators:
    """Rule-based judge and refusal judge."""
    return RuleEvaluators()
