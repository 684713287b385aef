"""The ``openai`` backend: chat completions from the OpenAI API or any OpenAI-compatible server.

Requests run concurrently (``--max-concurrency``), each with its own timeout (``--request-timeout``) and
retries (``--max-retries``: 429, 5xx, timeouts, connection errors and malformed replies, with exponential
backoff and jitter, honouring ``Retry-After``); see :class:`trust_api.ApiBackend`. A request that still
fails is returned as a failed result with its reason; the core stores it as failed and asks again next run.
The endpoint comes from ``--base-url`` / ``OPENAI_BASE_URL`` (default: OpenAI's). The key sent to it: the value
of ``--api-key-env NAME``, else ``--openai-api-key``; ``OPENAI_API_KEY`` from the environment is sent to OpenAI's
own endpoint only (:func:`trust_api.endpoint_key`). OpenAI's endpoint needs a key, a custom server may run
without one (it then gets the placeholder ``no-key``); a key never goes over plain HTTP to another machine
without ``--allow-insecure``.
"""

from __future__ import annotations

from typing import Any

from trust_api import ApiBackend, Failure, Provider
from trust_core.plugin import ChatRequest
from trust_openai.errors import MalformedReplyError, classify

OPENAI = Provider(
    secret="openai",
    key_option="--openai-api-key",
    key_env="OPENAI_API_KEY",
    base_url_env="OPENAI_BASE_URL",
    official_base_url="https://api.openai.com/v1",
)
KEYLESS = "no-key"
"""Sent as the key to a custom server when no key is to be sent there (the client library insists on one, and
would otherwise read ``OPENAI_API_KEY`` itself)."""


def make_openai_client(settings: Any) -> Any:
    """The official ``openai`` client for ``settings``, with its own retries off (ours apply)."""
    import openai

    return openai.OpenAI(
        api_key=settings.api_key or KEYLESS, base_url=settings.base_url, timeout=settings.timeout, max_retries=0
    )


class OpenAIBackend(ApiBackend):
    """Chat completions over HTTP. ``--model`` is the served model's id (e.g. ``gpt-4o-mini``, or the name
    a vLLM / llama.cpp server gives its model). Chosen only with ``--backend openai``."""

    name = "openai"
    version = "1"
    description = "OpenAI chat completions; any OpenAI-compatible server via --base-url (vLLM, TGI, llama.cpp, Ollama)"
    provider = OPENAI

    def make_client(self) -> Any:
        """The ``openai`` client."""
        return make_openai_client(self.settings)

    def call(self, client: Any, messages: list[dict[str, str]], request: ChatRequest) -> tuple[str, int | None]:
        """One chat completion: the first choice's text and the completion token count."""
        completion = client.chat.completions.create(
            model=self.model,
            messages=messages,
            temperature=request.settings.temperature,
            max_tokens=request.settings.max_new_tokens,
            seed=request.settings.seed,
            timeout=self.settings.timeout,
        )
        return _reply(completion)

    def classify(self, exc: BaseException) -> Failure:
        """Retry decision and key-free reason for an ``openai`` client error."""
        return classify(exc, (self.settings.api_key,))


def _reply(completion: Any) -> tuple[str, int | None]:
    """The first choice's text and the completion token count; MalformedReplyError when there is no text."""
    choices = getattr(completion, "choices", None)
    if not choices:
        raise MalformedReplyError("the reply has no choices")
    content = getattr(getattr(choices[0], "message", None), "content", None)
    if not isinstance(content, str):
        raise MalformedReplyError("the first choice has no message content")
    usage = getattr(completion, "usage", None)
    tokens = getattr(usage, "completion_tokens", None)
    return content.strip(), tokens if isinstance(tokens, int) else None
