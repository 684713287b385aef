"""Test doubles for the evaluator interface and helpers to run a task end to end without a model.

Tests reach these through the ``kit`` fixture (this module), since pytest runs with
``--import-mode=importlib`` and test folders are not importable.

The refusal judge here is a deterministic rule-based implementation of
:meth:`Evaluators.refusal` (the real refusal judges are tested with their plugins).
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
"""A response containing this makes the rule refusal judge fail (Verdict with label None)."""

RULE_JUDGE = "rule-refusal@test"
"""The identity the rule refusal judge reports."""

ARCHIVE = archive_path()
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

    def refusal(
        self, responses: Sequence[str], prompts: Sequence[str] | None = None, criterion: str = "request"
    ) -> list[Verdict]:
        self.refusal_calls.append((list(responses), None if prompts is None else list(prompts)))
        return [rule_refusal(response) for response in responses]

    def toxicity(self, texts: Sequence[str]) -> list[Verdict]:
        raise EvaluatorUnavailable("toxicity", "no toxicity scorer in these tests")

    def identity(self, kind: str) -> str | None:
        return RULE_JUDGE if kind == "refusal" else None


class NoRefusalEvaluators(RuleEvaluators):
    """Evaluators of a run that has no refusal judge."""

    def refusal(
        self, responses: Sequence[str], prompts: Sequence[str] | None = None, criterion: str = "request"
    ) -> list[Verdict]:
        raise EvaluatorUnavailable("refusal", "no default refusal judge is installed")

    def identity(self, kind: str) -> str | None:
        return None


@pytest.fixture
def kit() -> ModuleType:
    """This module: the test doubles, and the helpers it re-exports from ``trust_core.testing``."""
    return sys.modules[__name__]


@pytest.fixture
def evaluators() -> RuleEvaluators:
    """Rule-based evaluators with a refusal judge."""
    return RuleEvaluators()
