"""The ``openai`` backend: chat completions from the OpenAI API or any OpenAI-compatible server.

Requests run concurrently (``--max-concurrency``), each with its own timeout (``--request-timeout``) and
retries (``--max-retries``: 429, 5xx, timeouts, connection errors and malformed replies, with exponential
backoff and jitter, honouring ``Retry-After``). A request that still fails is returned as a failed result
with its reason; the core stores it as failed and asks again on the next run.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from trust_core.backend_support import checked_messages, error_result, settings_problem
from trust_core.contracts import Backend, BackendOptions, ChatRequest, GenerationResult, Message
from trust_core.retry import call_with_retries
from trust_openai.errors import MalformedReplyError, classify
from trust_openai.settings import ApiSettings, api_settings, make_client


class OpenAIBackend(Backend):
    """Chat completions over HTTP. ``--model`` is the served model's id (e.g. ``gpt-4o-mini``, or the name
    a vLLM / llama.cpp server gives its model). Chosen only with ``--backend openai``."""

    name = "openai"
    version = "1"
    description = "OpenAI chat completions; any OpenAI-compatible server via --base-url (vLLM, TGI, llama.cpp, Ollama)"
    resolves_aliases = False  # --model is the served model's id, not a local alias

    def __init__(
        self, model: str, options: BackendOptions, base_url_option: str = "base_url", who: str = "--backend openai"
    ) -> None:
        super().__init__(model, options)
        self.settings: ApiSettings = api_settings(options, who, base_url_option)
        self._client: Any = None
        self._lock = threading.Lock()

    def fingerprint(self) -> str:
        """``openai-api:<endpoint>/<model>``: an API model has no weights to hash; the id is what is known."""
        return f"openai-api:{self.settings.endpoint}/{self.model}"

    def render(self, messages: Sequence[Message]) -> str:
        """The messages as sent (canonical JSON): the server applies the chat template."""
        return json.dumps(checked_messages(messages), ensure_ascii=False, sort_keys=True)

    def generate(self, requests: Sequence[ChatRequest]) -> Iterator[GenerationResult]:
        """Complete ``requests`` with at most ``max_concurrency`` in flight; yield each result as it arrives."""
        if not requests:
            return
        with ThreadPoolExecutor(max_workers=self.settings.max_concurrency, thread_name_prefix="openai") as pool:
            futures = [pool.submit(self._complete, request) for request in requests]
            for future in as_completed(futures):
                yield future.result()

    def describe(self) -> dict[str, Any]:
        """Backend, model, endpoint and request settings (never the key)."""
        return {**super().describe(), **self.settings.describe(), "chat_template": "server-side"}

    def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _ensure_client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = make_client(self.settings)
            return self._client

    def _complete(self, request: ChatRequest) -> GenerationResult:
        if problem := settings_problem(request.settings):
            return error_result(request, problem)
        try:
            messages = checked_messages(request.messages)
        except ValueError as exc:
            return error_result(request, f"malformed chat: {exc}")
        client = self._ensure_client()
        arguments: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": request.settings.temperature,
            "max_tokens": request.settings.max_new_tokens,
            "seed": request.settings.seed,
            "timeout": self.settings.timeout,
        }

        def call() -> tuple[str, int | None]:
            return _reply(client.chat.completions.create(**arguments))

        secrets = (self.settings.api_key,)
        outcome = call_with_retries(call, lambda exc: classify(exc, secrets), self.settings.policy())
        if outcome.value is None:
            return error_result(request, outcome.error or "no reply")
        text, tokens = outcome.value
        return GenerationResult(key=request.key, text=text, completion_tokens=tokens)


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
