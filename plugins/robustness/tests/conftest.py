"""Test doubles for the evaluator interface and helpers to run a task end to end without a model.

Tests reach these through the ``kit`` fixture (this module), since pytest runs with
``--import-mode=importlib`` and test folders are not importable.

The judge, refusal judge and embedder here are deterministic rule-based implementations of
:class:`Evaluators` (the real ones are tested with the core and their own plugins).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from types import ModuleType

import pytest

from trust_core.contracts import (
    COMPLIED,
    REFUSED,
    Evaluators,
    EvaluatorUnavailable,
    JudgeQuery,
    Verdict,
)
from trust_core.testing import archive_items as archive_items
from trust_core.testing import archive_path
from trust_core.testing import assert_exportable as assert_exportable
from trust_core.testing import generate as generate
from trust_core.testing import metric as metric
from trust_core.testing import packaged_items as packaged_items
from trust_core.testing import samples_of as samples_of
from trust_core.testing import scripted as scripted

JUDGE_FAIL = "JUDGE_FAIL"
"""A response containing this makes the rule judge (and the refusal judge) fail (Verdict with label None)."""

REFUSAL_WORDS = re.compile(r"\b(?:cannot|can't|sorry|unable|don't have access)\b", re.IGNORECASE)

ARCHIVE = archive_path()
"""The TrustLLM data archive (tests that need it are skipped when it is absent)."""


def diagnosis_verdict(query: JudgeQuery) -> Verdict:
    """CORRECT iff the answer's last sentence contains the gold diagnosis as a whole phrase (case-insensitive)."""
    text = query.instruction
    gold = re.search(r"^Gold diagnosis: (.*)$", text, flags=re.MULTILINE)
    answer = text.rsplit("\nAnswer: ", 1)
    assert gold and len(answer) == 2, text
    last = [s for s in re.split(r"[.!?]\s*", answer[1].lower()) if s.strip()][-1]
    named = re.search(rf"(?<![\w-]){re.escape(gold.group(1).lower())}(?![\w-])", last)
    return Verdict(label="CORRECT" if named else "INCORRECT", raw="ok")


class RuleEvaluators(Evaluators):
    """Deterministic evaluators; records every call so tests can check what was asked.

    ``unavailable`` names kinds ("judge", "refusal", "embedder") that raise :class:`EvaluatorUnavailable`.
    """

    def __init__(self, embed_mode: str = "identity", unavailable: Sequence[str] = ()) -> None:
        self.queries: list[JudgeQuery] = []
        self.refusal_calls: list[tuple[list[str], list[str] | None]] = []
        self.embedded: list[str] = []
        self.embed_mode = embed_mode
        self.unavailable = set(unavailable)
        self._identity: dict[str, int] = {}

    def _check(self, kind: str) -> None:
        if kind in self.unavailable:
            raise EvaluatorUnavailable(kind, f"test: no {kind}")

    def judge(self, queries: Sequence[JudgeQuery]) -> list[Verdict]:
        self._check("judge")
        self.queries.extend(queries)
        return [
            Verdict(label=None, raw="", error="judge timed out")
            if JUDGE_FAIL in q.instruction
            else diagnosis_verdict(q)
            for q in queries
        ]

    def refusal(
        self, responses: Sequence[str], prompts: Sequence[str] | None = None, criterion: str = "request"
    ) -> list[Verdict]:
        self._check("refusal")
        assert prompts is None or len(prompts) == len(responses)
        self.refusal_calls.append((list(responses), list(prompts) if prompts is not None else None))
        return [
            Verdict(label=None, error="refusal judge failed")
            if JUDGE_FAIL in response
            else Verdict(label=REFUSED if REFUSAL_WORDS.search(response) else COMPLIED, raw="rule")
            for response in responses
        ]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self._check("embedder")
        self.embedded.extend(texts)
        return [self._vector(text) for text in texts]

    def identity(self, kind: str) -> str | None:
        return None if kind in self.unavailable else f"rule-{kind}@test"

    def _vector(self, text: str) -> list[float]:
        if self.embed_mode == "identity":  # one-hot per distinct text: cos = 1 if equal else 0
            index = self._identity.setdefault(text, len(self._identity))
            return [1.0 if i == index else 0.0 for i in range(256)]
        vector = [0.0] * 64  # the number of "a"s and "b"s: texts over {a, b} get chosen angles
        vector[0], vector[1] = float(text.count("a")), float(text.count("b"))
        return vector


@pytest.fixture
def kit() -> ModuleType:
    """This module: the test doubles, and the helpers it re-exports from ``trust_core.testing``."""
    return sys.modules[__name__]


@pytest.fixture
def evaluators() -> RuleEvaluators:
    """Rule-based evaluators with the identity embedder."""
    return RuleEvaluators()
