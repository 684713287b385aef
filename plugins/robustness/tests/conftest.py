"""Test doubles for the evaluator interface and helpers to run a task end to end without a model.

Tests reach these through the ``kit`` fixture (this module), since pytest runs with
``--import-mode=importlib`` and test folders are not importable.

The judge, refusal judge and embedder here are deterministic rule-based implementations of
:class:`Evaluators` (the real ones are tested with the core and their own plugins).
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
"""A response containing this makes the rule judge (and the refusal judge) fail (Verdict with label None)."""

REFUSAL_WORDS = re.compile(r"\b(?:cannot|can't|sorry|unable|don't have access)\b", re.IGNORECASE)

ARCHIVE = Path(
    os.environ.get("TRUSTLLM_DATASET_ZIP")
    or Path(__file__).resolve().parents[3].parent / "shared" / "datasets" / "trustllm" / "dataset.zip"
)
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

    def refusal(self, responses: Sequence[str], prompts: Sequence[str] | None = None) -> list[Verdict]:
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


def packaged_items(data_file: str) -> list[dict[str, Any]]:
    """The items of the plugin's packaged sample file."""
    resource = resources.files("trust_robustness").joinpath(*sample_file(data_file).split("/"))
    return json.loads(resource.read_text(encoding="utf-8"))


def archive_items(data_file: str) -> list[dict[str, Any]]:
    """The items of one archive file (the test is skipped when the archive is absent)."""
    if not ARCHIVE.is_file():
        pytest.skip(f"TrustLLM archive not found at {ARCHIVE}")
    with zipfile.ZipFile(ARCHIVE) as archive:
        return json.loads(archive.read(f"dataset/{data_file}"))


def samples_of(task: Task, items: Sequence[dict[str, Any]] | None = None) -> list[Sample]:
    """The task's samples from ``items`` (default: its packaged sample), normalised as the core does."""
    items = packaged_items(task.data_file) if items is None else items
    normalised = [task.normalize(item) for item in items]
    return [task.to_sample(index, item) for index, item in task.select_items(normalised)]


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
    """Records and metrics are strict JSON (no NaN), metric names are snake_case, n_invalid ≤ n."""
    json.dumps(score.records, allow_nan=False)
    for value in score.metrics:
        json.dumps([value.value, value.ci, dict(value.extra)], allow_nan=False)
        assert 0 <= value.n_invalid <= value.n
        assert re.fullmatch(r"[a-z0-9_]+", value.metric)
        if value.ci is not None and value.value is not None:
            assert value.ci[0] <= value.value + 1e-9 and value.value - 1e-9 <= value.ci[1]


@pytest.fixture
def kit() -> ModuleType:
    """This module: the test doubles and helpers."""
    return sys.modules[__name__]


@pytest.fixture
def evaluators() -> RuleEvaluators:
    """Rule-based evaluators with the identity embedder."""
    return RuleEvaluators()
