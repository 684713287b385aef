"""The LLM-as-judge that works with any backend, and tolerant verdict parsing.

A task asks a :class:`~trust_core.contracts.JudgeQuery` (a self-contained
instruction and the allowed labels). :class:`LLMJudge` appends a constrained
format request, generates greedily, and parses the first allowed label the
reply commits to (``[CORRECTED]``, ``Verdict: correct.`` and ``**CORRECT**``
all count). Unparseable replies are retried with seeded sampling; a query that
still has no label is a failed verdict (``label=None``), never a silent negative.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

from trust_core.contracts import (
    JUDGE_KINDS,
    Backend,
    ChatRequest,
    GenerationSettings,
    Judge,
    JudgeQuery,
    Verdict,
    content_hash,
)

JUDGE_PROMPT_VERSION = "1"
RETRY_TEMPERATURE = 0.7
"""Sampling temperature of the retries after a reply that named no label (the first attempt is greedy)."""

_FORMAT_REQUEST = "\n\nReply with exactly one of these labels and nothing else: {labels}."


def _label_pattern(label: str) -> re.Pattern[str]:
    words = [re.escape(part) for part in re.split(r"[\s_\-]+", label) if part]
    return re.compile(r"(?<![A-Za-z0-9])" + r"[\s_\-]+".join(words) + r"(?![A-Za-z0-9])", re.IGNORECASE)


_REASONING = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)


def strip_reasoning(reply: str) -> str:
    """``reply`` without ``<think>…</think>`` blocks (reasoning models: Qwen3, GLM-Z1, DeepSeek-R1), so a label
    mentioned while thinking is not taken for the answer; an unclosed block runs to the end of the reply."""
    return _REASONING.sub(" ", reply)


def parse_verdict(reply: str, labels: Sequence[str]) -> str | None:
    """The allowed label ``reply`` commits to, or None.

    Reasoning blocks are ignored (:func:`strip_reasoning`). Labels match case-insensitively as whole words,
    with spaces, underscores and hyphens interchangeable (``NOT_CORRECTED`` = "not corrected"). A longer label
    wins over a label it contains at the same place ("not corrected" is not "corrected"); otherwise the
    earliest label in the reply wins.
    """
    reply = strip_reasoning(reply)
    matches: list[tuple[int, int, str]] = []
    for label in labels:
        for match in _label_pattern(label).finditer(reply):
            matches.append((match.start(), -(match.end() - match.start()), label))
    if not matches:
        return None
    matches.sort()
    taken: list[tuple[int, int]] = []
    for start, negative_length, label in matches:
        end = start - negative_length
        if any(start < other_end and end > other_start for other_start, other_end in taken):
            continue
        return label
    return None


class LLMJudge(Judge):
    """An LLM judge over any :class:`~trust_core.contracts.Backend` (``--judge <model>``)."""

    name = "llm"
    version = "1"
    kinds = frozenset(JUDGE_KINDS)
    description = "LLM-as-judge over any backend: constrained labels, tolerant parsing, retries"

    def __init__(
        self,
        backend: Backend,
        label: str,
        retries: int = 2,
        max_new_tokens: int = 24,
        seed: int = 0,
        owns_backend: bool = True,
    ) -> None:
        self.backend = backend
        self.owns_backend = owns_backend
        self.label = label
        self.retries = retries
        self.max_new_tokens = max_new_tokens
        self.seed = seed
        self._identity: str | None = None

    def identity(self) -> str:
        """Judge kind, prompt version, backend and model fingerprint."""
        if self._identity is None:
            self._identity = (
                f"llm-judge/{self.version}/prompt-{JUDGE_PROMPT_VERSION}/"
                f"{self.backend.name}/{self.backend.fingerprint()}/{self.max_new_tokens}"
            )
        return self._identity

    def describe(self) -> dict[str, object]:
        """Metadata recorded in results: spec, prompt version, decoding settings, the backend's description."""
        return {
            "judge": self.name,
            "judge_version": self.version,
            "spec": self.label,
            "prompt_version": JUDGE_PROMPT_VERSION,
            "decoding": {
                "max_new_tokens": self.max_new_tokens,
                "temperatures": [0.0] + [RETRY_TEMPERATURE] * self.retries,
                "seeds": [self.seed + attempt for attempt in range(self.retries + 1)],
                "labels": "one label from the query's set, parsed tolerantly; none = judge failure",
            },
            "details": self.backend.describe(),
        }

    def _request(self, query: JudgeQuery, attempt: int) -> ChatRequest:
        content = query.instruction + _FORMAT_REQUEST.format(labels=", ".join(query.labels))
        settings = GenerationSettings(
            temperature=0.0 if attempt == 0 else RETRY_TEMPERATURE,
            max_new_tokens=self.max_new_tokens,
            seed=self.seed + attempt,
        )
        key = content_hash([content, attempt])
        return ChatRequest(key=key, messages=({"role": "user", "content": content},), settings=settings)

    def judge(self, queries: Sequence[JudgeQuery]) -> list[Verdict]:
        """Verdicts in query order; unparseable replies are retried ``retries`` times with sampling."""
        verdicts: list[Verdict | None] = [None] * len(queries)
        last: dict[int, Verdict] = {}
        pending = list(range(len(queries)))
        for attempt in range(self.retries + 1):
            if not pending:
                break
            indices_of: dict[str, list[int]] = {}
            batch: dict[str, ChatRequest] = {}
            for index in pending:
                request = self._request(queries[index], attempt)
                batch[request.key] = request
                indices_of.setdefault(request.key, []).append(index)
            for result in self.backend.generate(list(batch.values())):
                for index in indices_of[result.key]:
                    self._record(index, queries[index], result.text, result.error, verdicts, last)
            pending = [i for i in pending if verdicts[i] is None]
        return [verdict if verdict is not None else last[i] for i, verdict in enumerate(verdicts)]

    @staticmethod
    def _record(
        index: int,
        query: JudgeQuery,
        text: str | None,
        error: str | None,
        verdicts: list[Verdict | None],
        last: dict[int, Verdict],
    ) -> None:
        if text is None:
            last[index] = Verdict(label=None, raw=None, error=error or "no reply")
            return
        label = parse_verdict(text, query.labels)
        if label is None:
            last[index] = Verdict(label=None, raw=text, error="reply names no allowed label")
        else:
            verdicts[index] = Verdict(label=label, raw=text)

    def close(self) -> None:
        """Release the judge's model (unless it is shared with the generation stage)."""
        if self.owns_backend:
            self.backend.close()


class DelegatingJudge(Judge):
    """A judge that is an :class:`LLMJudge` under another name (family and API judges subclass it)."""

    kinds: ClassVar[frozenset[str]] = frozenset(JUDGE_KINDS)

    def __init__(self, llm: LLMJudge) -> None:
        self._llm = llm

    def identity(self) -> str:
        """The LLM judge's identity: prompt version, backend, model fingerprint, decoding budget."""
        return self._llm.identity()

    def describe(self) -> dict[str, object]:
        """The LLM judge's description (spec, backend details)."""
        return self._llm.describe()

    def judge(self, queries: Sequence[JudgeQuery]) -> list[Verdict]:
        """One verdict per query (constrained labels, tolerant parsing; unparseable replies are failures)."""
        return self._llm.judge(queries)

    def close(self) -> None:
        """Release the judge's backend."""
        self._llm.close()
