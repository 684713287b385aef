"""Test doubles for the evaluator interface and helpers to run a task end to end without a model.

Tests reach these through the ``kit`` fixture (this module), since pytest runs with
``--import-mode=importlib`` and test folders are not importable.

The judge here is a deterministic rule-based implementation of :class:`Evaluators.judge`
(the real LLM judge is tested with the core); the embedders are deterministic too.
"""

from __future__ import annotations

import json
import re
import sys
import zlib
from collections.abc import Sequence
from importlib import resources
from types import ModuleType
from typing import Any

import pytest

from trust_core.contracts import Evaluators, JudgeQuery, Sample, Task, Verdict
from trust_core.data import sample_file
from trust_core.testing import archive_path
from trust_core.testing import assert_exportable as assert_exportable
from trust_core.testing import generate as generate
from trust_core.testing import metric as metric
from trust_core.testing import scripted as scripted

JUDGE_FAIL = "JUDGE_FAIL"
"""A response containing this makes the rule judge fail (Verdict with label None)."""

ARCHIVE = archive_path()
"""The TrustLLM data archive (tests that need it are skipped when it is absent)."""


def _field(instruction: str, name: str) -> str:
    match = re.search(rf"^{re.escape(name)}:[ \t]*(.*)$", instruction, flags=re.MULTILINE)
    assert match, f"{name!r} missing from judge instruction:\n{instruction}"
    return match.group(1).strip()


def rule_verdict(query: JudgeQuery) -> Verdict:
    """CORRECT iff a gold answer occurs in the answer; CORRECTED iff the response says "actually";
    SAME iff the two answers are equal (case-insensitive)."""
    text = query.instruction
    if JUDGE_FAIL in text:
        return Verdict(label=None, raw="", error="judge timed out")
    if query.labels == ("CORRECT", "INCORRECT"):
        gold = re.search(r"Gold answer\(s\):\n(.*?)\nAnswer:", text, flags=re.DOTALL)
        assert gold, text
        answers = [line[2:].strip().lower() for line in gold.group(1).splitlines()]
        response = text.rsplit("\nAnswer: ", 1)[1].lower()
        return Verdict(label="CORRECT" if any(a in response for a in answers) else "INCORRECT", raw="ok")
    if query.labels == ("CORRECTED", "NOT_CORRECTED"):
        response = text.rsplit("\nAnswer: ", 1)[1].lower()
        return Verdict(label="CORRECTED" if "actually" in response else "NOT_CORRECTED", raw="ok")
    if query.labels == ("SAME", "DIFFERENT"):
        first, second = _field(text, "Answer 1").lower(), _field(text, "Answer 2").lower()
        return Verdict(label="SAME" if first == second else "DIFFERENT", raw="ok")
    raise AssertionError(f"unexpected labels {query.labels}")


class RuleEvaluators(Evaluators):
    """Deterministic evaluators; records every call so tests can check what was asked."""

    def __init__(self, embed_mode: str = "identity") -> None:
        self.queries: list[JudgeQuery] = []
        self.embedded: list[str] = []
        self.embed_mode = embed_mode
        self._identity: dict[str, int] = {}

    def judge(self, queries: Sequence[JudgeQuery]) -> list[Verdict]:
        self.queries.extend(queries)
        return [rule_verdict(query) for query in queries]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded.extend(texts)
        return [self._vector(text) for text in texts]

    def _vector(self, text: str) -> list[float]:
        if self.embed_mode == "identity":  # one-hot per distinct text: cos = 1 if equal else 0
            index = self._identity.setdefault(text, len(self._identity))
            return [1.0 if i == index else 0.0 for i in range(64)]
        vector = [0.0] * 256  # bag of words, hashed
        for word in re.findall(r"[a-z']+", text.lower()):
            vector[zlib.crc32(word.encode()) % 256] += 1.0
        return vector


def packaged_items(data_file: str) -> list[dict[str, Any]]:
    """The items of the plugin's packaged sample file."""
    resource = resources.files("trust_truthfulness").joinpath(*sample_file(data_file).split("/"))
    return json.loads(resource.read_text(encoding="utf-8"))


def samples_of(task: Task, items: Sequence[dict[str, Any]] | None = None) -> list[Sample]:
    """The task's samples from ``items`` (default: its packaged sample), as the core builds them."""
    items = packaged_items(task.data_file) if items is None else items
    return [task.to_sample(index, item) for index, item in task.select_items(items)]


@pytest.fixture
def kit() -> ModuleType:
    """This module: the test doubles, and the helpers it re-exports from ``trust_core.testing``."""
    return sys.modules[__name__]


@pytest.fixture
def evaluators() -> RuleEvaluators:
    """Rule-based evaluators with the identity embedder."""
    return RuleEvaluators()
