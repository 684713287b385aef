"""The ``gpt`` judge: the core's LLM judge over the ``openai`` backend (``--judge gpt:MODEL``).

``--judge-base-url`` points it at any OpenAI-compatible server (vLLM, TGI, llama.cpp, Ollama, FastChat);
without it the judge uses OpenAI's endpoint — never ``--base-url`` or ``OPENAI_BASE_URL`` — which needs a key
(its absence stops the run before any work). The key for ``--judge-base-url`` comes from
``--judge-api-key-env NAME`` or ``--openai-api-key``. Prompts come from the task plugins; the judge only runs them:
constrained labels, tolerant parsing, a reply that names no label is a judge failure, never a negative.
"""

from __future__ import annotations

from trust_api import ApiJudge
from trust_openai.backend import OpenAIBackend


class GptJudge(ApiJudge):
    """LLM-as-judge through chat completions: ``gpt`` (default model gpt-4o-mini) or ``gpt:MODEL``."""

    name = "gpt"
    version = "1"
    description = "LLM judge via the OpenAI API or any OpenAI-compatible server (--judge gpt:MODEL --judge-base-url)"
    backend_class = OpenAIBackend
    default_model = "gpt-4o-mini"
