"""trust plugin: the ``openai`` backend, the ``gpt`` judge and the ``openai`` embedder.

They talk to OpenAI's API or any OpenAI-compatible server (vLLM, TGI, llama.cpp, Ollama, FastChat).
Importing this module is cheap: the ``openai`` client library is imported when a request is first made.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import Backend, Embedder, Judge, hookimpl
from trust_openai.backend import OpenAIBackend
from trust_openai.embedder import OpenAIEmbedder
from trust_openai.judge import GptJudge

__all__ = ["GptJudge", "OpenAIBackend", "OpenAIEmbedder", "register_backends", "register_embedders", "register_judges"]


@hookimpl
def register_backends(register: Callable[[type[Backend]], None]) -> None:
    """Register the ``openai`` backend."""
    register(OpenAIBackend)


@hookimpl
def register_judges(register: Callable[[type[Judge]], None]) -> None:
    """Register the ``gpt`` judge."""
    register(GptJudge)


@hookimpl
def register_embedders(register: Callable[[type[Embedder]], None]) -> None:
    """Register the ``openai`` embedder."""
    register(OpenAIEmbedder)
