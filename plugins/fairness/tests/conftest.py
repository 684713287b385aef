"""Test doubles for the evaluator interface and helpers to run a task end to end without a model.

Tests reach these through the ``kit`` fixture (this module), since pytest runs with
``--import-mode=importlib`` and test folders are not importable.

The judge and the refusal judge here are deterministic rule-based implementations of
:class:`Evaluators` (the real judges are tested with the core and the refusal plugin).
"""

from __future__ import annotations

import json
import re
import sys
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
    Prompt,
    Sample,
    Task,
    Verdict,
)
from trust_core.data import sample_file
from trust_core.testing import archive_path
from trust_core.testing import assert_exportable as assert_exportable
from trust_core.testing import generate as generate
from trust_core.testing import metric as metric
from trust_core.testing import scripted as scripted

JUDGE_FAIL = "JUDGE_FAIL"
"""A response containing this makes the rule judge and the rule refusal judge fail (label None)."""

REFUSAL_PATTERN = re.compile(r"\b(?:sorry|cannot|can't|won't|prefer not|no preference)\b|\bN/A\b", re.IGNORECASE)
"""What the rule refusal judge calls a refusal."""

ARCHIVE = archive_path()
"""The TrustLLM data archive (tests that need it are skipped when it is absent)."""


def judged_answer(query: JudgeQuery) -> str:
    """The answer being judged: the last "Answer:" line of the instruction (and what follows)."""
    assert "\nAnswer: " in query.instruction, query.instruction
    return query.instruction.rsplit("\nAnswer: ", 1)[1]


def rule_verdict(query: JudgeQuery) -> Verdict:
    """Agreement: AGREE iff the answer says "I agree", DISAGREE iff it says "disagree"/"don't agree",
    else NEITHER. Recognition: ANTI_STEREOTYPE iff "anti", else UNRELATED iff "unrelated"/"nonsense",
    else STEREOTYPE iff "stereotyp", else UNCLEAR."""
    answer = judged_answer(query).lower()
    if JUDGE_FAIL.lower() in answer:
        return Verdict(label=None, raw="", error="judge timed out")
    if query.labels == ("AGREE", "DISAGREE", "NEITHER"):
        if "disagree" in answer or "don't agree" in answer or "do not agree" in answer:
            return Verdict(label="DISAGREE", raw="ok")
        return Verdict(label="AGREE" if "i agree" in answer else "NEITHER", raw="ok")
    if query.labels == ("STEREOTYPE", "ANTI_STEREOTYPE", "UNRELATED", "UNCLEAR"):
        for word, label in (("anti", "ANTI_STEREOTYPE"), ("unrelated", "UNRELATED"), ("nonsense", "UNRELATED")):
            if word in answer:
                return Verdict(label=label, raw="ok")
        return Verdict(label="STEREOTYPE" if "stereotyp" in answer else "UNCLEAR", raw="ok")
    raise AssertionError(f"unexpected labels {query.labels}")


def rule_refusal(response: str) -> Verdict:
    """REFUSED iff the response matches :data:`REFUSAL_PATTERN`; failed iff it contains JUDGE_FAIL."""
    if JUDGE_FAIL in response:
        return Verdict(label=None, raw="", error="refusal judge timed out")
    return Verdict(label=REFUSED if REFUSAL_PATTERN.search(response) else COMPLIED, raw="ok")


class RuleEvaluators(Evaluators):
    """Deterministic evaluators; records every call so tests can check what was asked.

    ``judge`` / ``refusal`` False make that evaluator unavailable (as in a run without one).
    """

    def __init__(self, judge: bool = True, refusal: bool = True) -> None:
        self.queries: list[JudgeQuery] = []
        self.refusal_calls: list[tuple[list[str], list[str] | None]] = []
        self.has_judge = judge
        self.has_refusal = refusal

    def judge(self, queries: Sequence[JudgeQuery]) -> list[Verdict]:
        if not self.has_judge:
            raise EvaluatorUnavailable("judge", "no judge in this test")
        self.queries.extend(queries)
        return [rule_verdict(query) for query in queries]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise AssertionError("no fairness task embeds")

    def refusal(
        self, responses: Sequence[str], prompts: Sequence[str] | None = None, criterion: str = "request"
    ) -> list[Verdict]:
        if not self.has_refusal:
            raise EvaluatorUnavailable("refusal", "no refusal judge in this test")
        self.refusal_calls.append((list(responses), list(prompts) if prompts is not None else None))
        return [rule_refusal(response) for response in responses]

    def identity(self, kind: str) -> str | None:
        available = {"judge": self.has_judge, "refusal": self.has_refusal}
        return f"rule-{kind}/1" if available.get(kind) else None

    @property
    def refused_responses(self) -> list[str]:
        """Every response sent to the refusal judge, in order."""
        return [response for responses, _ in self.refusal_calls for response in responses]


def packaged_items(data_file: str) -> list[dict[str, Any]]:
    """The items of the plugin's packaged sample file."""
    resource = resources.files("trust_fairness").joinpath(*sample_file(data_file).split("/"))
    return json.loads(resource.read_text(encoding="utf-8"))


def samples_of(task: Task, items: Sequence[dict[str, Any]] | None = None) -> list[Sample]:
    """The task's samples from ``items`` (default: its packaged sample), as the core builds them."""
    items = packaged_items(task.data_file) if items is None else items
    return [task.to_sample(index, task.normalize(item)) for index, item in task.select_items(items)]


def constant(response: str | None) -> Callable[[Sample, Prompt], str | None]:
    """A model that gives the same response to everything."""
    return lambda sample, prompt: response


def run(task: Task, respond: Callable[[Sample, Prompt], str | None], evaluators: Evaluators, items: Any = None) -> Any:
    """Score ``task`` on its packaged sample (or ``items``) answered by ``respond``."""
    return task.score(generate(task, samples_of(task, items), respond), evaluators, 0)


def triple(value: Any) -> tuple[Any, int, int]:
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
