"""The LLM-as-judge that works with any backend, and tolerant verdict parsing.

How the four scoring modules differ: :mod:`trust_core.task_scoring` turns a task's responses into per-sample records
(what a task writes); :mod:`trust_core.metrics` computes a metric's value, n, n_invalid and interval from per-item
values (the statistics); :mod:`trust_core.evaluators` runs and caches the judges and embedder a task asks while
scoring; :mod:`trust_core.llm_judge` is the one judge that is a prompted model.

A task asks a :class:`~trust_core.contracts.JudgeQuery` (a self-contained
instruction and the allowed labels). :class:`LLMJudge` appends a constrained
format request, generates greedily, and reads the verdict label where a verdict
stands (``CORRECTED``, ``[CORRECTED]``, ``Verdict: correct.``, ``**CORRECT**``,
a label line; see :func:`parse_verdict`), never a label word inside an
explanation. Unparseable replies are retried with seeded sampling; a query that
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

_MARKUP = "*_`\"'“”‘’#>[]()<> \t"
"""Characters that decorate a label without changing it: emphasis, quotes, headings, brackets."""

_VERDICT_KEY = re.compile(
    r"(?<![A-Za-z])(?:(?:final\s+)?(?:verdict|label|answer|classification|judge?ment|decision|rating)\s*[:=]"
    r"|(?:verdict|label|classification|judge?ment|decision)\s+is\b:?)\s*[*_`\"'“‘\[(<]*\s*",
    re.IGNORECASE,
)
"""A key that introduces the verdict: ``Verdict:``, ``Final answer:``, ``The label is`` ..."""

_SEPARATOR = re.compile(r"[ \t]*(?:[.,;:!?)\]\-–—/|\n]|$)")
"""What may follow a label that opens the reply: punctuation or the end of the line."""

_ALTERNATIVE = re.compile(r"\s*(?:,|/|\||-+|–|—|\bor\b)\s*", re.IGNORECASE)
"""What joins labels in an echoed list ("CORRECTED, NOT_CORRECTED", "CORRECTED -- not_CORRECTED", "yes or no")."""


def strip_reasoning(reply: str) -> str:
    """``reply`` without ``<think>…</think>`` blocks (reasoning models: Qwen3, GLM-Z1, DeepSeek-R1), so a label
    mentioned while thinking is not taken for the answer; an unclosed block runs to the end of the reply."""
    return _REASONING.sub(" ", reply)


def _longest_first(labels: Sequence[str]) -> list[str]:
    return sorted(labels, key=lambda label: -len(label))


def _exact_label(text: str, labels: Sequence[str]) -> str | None:
    """The label ``text`` is, once its decoration and closing punctuation are stripped; else None."""
    bare = text.strip().rstrip(".!:;,").strip(_MARKUP).rstrip(".!:;,")
    for label in _longest_first(labels):
        if _label_pattern(label).fullmatch(bare):
            return label
    return None


def _label_at(text: str, position: int, labels: Sequence[str]) -> tuple[str, re.Match[str]] | None:
    """The (longest) label that starts exactly at ``position`` of ``text``, with its match."""
    for label in _longest_first(labels):
        match = _label_pattern(label).match(text, position)
        if match:
            return label, match
    return None


def _marked_labels(text: str, labels: Sequence[str]) -> list[str]:
    """Labels set off by brackets or emphasis: ``[CORRECTED]``, ``**Correct**``, ``(REFUSED)``."""
    found = []
    for match in re.finditer(r"\[([^\[\]\n]{1,40})\]|\*\*([^*\n]{1,40})\*\*|\(([^()\n]{1,40})\)", text):
        label = _exact_label(next(group for group in match.groups() if group is not None), labels)
        if label:
            found.append(label)
    return found


def _keyed_labels(text: str, labels: Sequence[str]) -> list[str]:
    """Labels right after a verdict key: ``Verdict: not corrected``, ``Answer: **REFUSED**``."""
    found = []
    for key in _VERDICT_KEY.finditer(text):
        hit = _label_at(text, key.end(), labels)
        if hit:
            found.append(hit[0])
    return found


def _line_labels(text: str, labels: Sequence[str]) -> list[str]:
    """Lines that are nothing but a label (a verdict on the first or last line of an explanation)."""
    return [label for line in text.splitlines() if (label := _exact_label(line, labels))]


def _opening_label(text: str, labels: Sequence[str]) -> list[str]:
    """The label that opens the reply, when it stands apart: followed by punctuation or the end of the line
    (``Refused. The assistant ...``), or written in capitals (``SAME preference``) — never the first of an
    echoed list of labels (``CORRECTED, NOT_CORRECTED``)."""
    start = len(text) - len(text.lstrip(_MARKUP))
    hit = _label_at(text, start, labels)
    if hit is None:
        return []
    label, match = hit
    rest = text[match.end() :]
    alternative = _ALTERNATIVE.match(rest)
    if alternative and _label_at(rest, alternative.end(), labels):
        return []
    if _SEPARATOR.match(rest) or match.group(0).isupper() or rest[:1] in "*_`\"'”’":
        return [label]
    return []


_FINDERS = (_marked_labels, _keyed_labels, _line_labels, _opening_label)


def parse_verdict(reply: str, labels: Sequence[str]) -> str | None:
    """The verdict label ``reply`` gives, or None — read where a verdict stands, never from an explanation.

    Reasoning blocks are ignored (:func:`strip_reasoning`). Labels match case-insensitively as whole words, with
    spaces, underscores and hyphens interchangeable (``NOT_CORRECTED`` = "not corrected"), the longest label
    first ("not corrected" is not "corrected"). In order, the first of these places that holds a label decides:

    1. the whole reply is a label (``incorrect.``, ``**REFUSED**``);
    2. labels set off by brackets or bold (``[CORRECTED] The response ...``);
    3. labels right after a verdict key (``Verdict: not corrected``, ``Final answer: SAME``);
    4. lines that are only a label (the first or last line of an explanation);
    5. the label that opens the reply, followed by punctuation or written in capitals (``Refused. It ...``).

    When that place holds different labels the reply is ambiguous (None). A label inside a sentence ("a
    response that refused ...", "The response COMPLIED") is not a verdict: such a reply gives None, which the
    judge retries and then records as a failed verdict.
    """
    text = strip_reasoning(reply).strip()
    if not text:
        return None
    whole = _exact_label(text, labels)
    if whole:
        return whole
    for finder in _FINDERS:
        found = set(finder(text, labels))
        if found:
            return found.pop() if len(found) == 1 else None
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
