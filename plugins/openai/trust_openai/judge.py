"""The ``gpt`` judge: the core's LLM judge over the ``openai`` backend (``--judge gpt:MODEL``).

``--judge-base-url`` points it at any OpenAI-compatible server (vLLM, TGI, llama.cpp, Ollama, FastChat);
without it the judge uses ``--base-url``, then ``OPENAI_BASE_URL``, then OpenAI's endpoint (which needs a key:
its absence stops the run before any work). Prompts come from the task plugins; the judge only runs them:
constrained labels, tolerant parsing, a reply that names no label is a judge failure, never a negative.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from trust_core.contracts import JUDGE_KINDS, Judge, JudgeQuery, Verdict
from trust_core.judging import LLMJudge
from trust_core.registry import ComponentContext
from trust_openai.backend import OpenAIBackend

DEFAULT_MODEL = "gpt-4o-mini"


class GptJudge(Judge):
    """LLM-as-judge through chat completions: ``gpt`` (default model gpt-4o-mini) or ``gpt:MODEL``."""

    name = "gpt"
    version = "1"
    kinds: ClassVar[frozenset[str]] = frozenset(JUDGE_KINDS)
    description = "LLM judge via the OpenAI API or any OpenAI-compatible server (--judge gpt:MODEL --judge-base-url)"

    @classmethod
    def unavailable_reason(cls, secrets: Mapping[str, str]) -> str | None:
        """Never a default judge: API judges are chosen explicitly."""
        return "API judges are used only when named (--judge gpt:MODEL)"

    def __init__(self, argument: str | None, context: ComponentContext) -> None:
        self.model = argument or DEFAULT_MODEL
        backend = OpenAIBackend(self.model, context.backend_options, "judge_base_url", f"--judge gpt:{self.model}")
        self._llm = LLMJudge(backend, label=f"gpt:{self.model}")

    def identity(self) -> str:
        """The LLM judge's identity (prompt version, endpoint, model, decoding budget)."""
        return self._llm.identity()

    def describe(self) -> dict[str, Any]:
        """Judge, model, endpoint and decoding settings (never the key)."""
        return {**self._llm.describe(), "judge": self.name, "model": self.model}

    def judge(self, queries: Sequence[JudgeQuery]) -> list[Verdict]:
        """One verdict per query; API failures after retries are verdicts with an error."""
        return self._llm.judge(queries)

    def close(self) -> None:
        """Close the HTTP client."""
        self._llm.close()
