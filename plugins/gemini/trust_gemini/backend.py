"""The ``gemini`` backend: ``generateContent`` through the Google GenAI SDK (``google-genai``).

Chats map onto Gemini's format: ``system`` messages become the system instruction, ``assistant`` turns are
``model`` turns. Requests run concurrently and are retried like every API backend's
(:class:`trust_api.ApiBackend`); the SDK's own retries are off. ``--base-url`` (or ``GEMINI_BASE_URL``)
points at another server speaking the same API. The key comes from ``--api-key-env NAME`` or ``--gemini-api-key``;
``GEMINI_API_KEY`` from the environment is sent to Google's endpoint only (:func:`trust_api.endpoint_key`).
"""

from __future__ import annotations

from typing import Any

from trust_api import ApiBackend, Failure, Provider, redact, retry_after_seconds, retryable_status
from trust_core.plugin import ChatRequest

GEMINI = Provider(
    secret="gemini",
    key_option="--gemini-api-key",
    key_env="GEMINI_API_KEY",
    base_url_env="GEMINI_BASE_URL",
    official_base_url="https://generativelanguage.googleapis.com",
)
KEYLESS = "no-key"
"""Sent as the key when none is to be sent (the SDK would otherwise read ``GEMINI_API_KEY`` itself)."""
MAX_REASON = 300


class MalformedReplyError(Exception):
    """A reply without the text the API promises."""


class GeminiBackend(ApiBackend):
    """Gemini models (``--backend gemini --model gemini-2.0-flash``) or any server with Gemini's API."""

    name = "gemini"
    version = "1"
    description = "Google Gemini via google-genai (generateContent); --base-url for a compatible server"
    provider = GEMINI

    def make_client(self) -> Any:
        """A ``google.genai.Client`` with its own retries off and the request timeout set."""
        from google import genai
        from google.genai import types

        options = types.HttpOptions(
            base_url=self.settings.base_url,
            api_version="v1beta",
            timeout=int(self.settings.timeout * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),
        )
        return genai.Client(api_key=self.settings.api_key or KEYLESS, http_options=options)

    def call(self, client: Any, messages: list[dict[str, str]], request: ChatRequest) -> tuple[str, int | None]:
        """One ``generateContent`` call: the reply's text and its candidate token count."""
        from google.genai import types

        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system") or None
        contents = [
            types.Content(role="model" if m["role"] == "assistant" else "user", parts=[types.Part(text=m["content"])])
            for m in messages
            if m["role"] != "system"
        ]
        config = types.GenerateContentConfig(
            temperature=request.settings.temperature,
            max_output_tokens=request.settings.max_new_tokens,
            seed=request.settings.seed,
            system_instruction=system,
        )
        response = client.models.generate_content(model=self.model, contents=contents, config=config)
        text = getattr(response, "text", None)
        if not isinstance(text, str):
            raise MalformedReplyError("the reply has no text (no candidates, or the content was blocked)")
        usage = getattr(response, "usage_metadata", None)
        tokens = getattr(usage, "candidates_token_count", None)
        return text.strip(), tokens if isinstance(tokens, int) else None

    def classify(self, exc: BaseException) -> Failure:
        """Retry decision and key-free reason for what the SDK raised."""
        from google.genai import errors

        httpx = _http_library()
        secrets = (self.settings.api_key,)
        if isinstance(exc, errors.APIError):
            headers = dict(getattr(getattr(exc, "response", None), "headers", None) or {})
            code = int(exc.code or 0)
            reason = _clean(f"HTTP {code}: {exc.message or exc.status or 'error'}", secrets)
            return Failure(reason, retryable_status(code), retry_after_seconds(headers))
        if isinstance(exc, httpx.TimeoutException):
            return Failure("timeout: no response within the request timeout", retry=True)
        if isinstance(exc, httpx.TransportError):
            return Failure(_clean(f"connection error: {type(exc).__name__}: {exc}", secrets), retry=True)
        if isinstance(exc, (ValueError, MalformedReplyError)):
            return Failure(_clean(f"malformed response: {exc}", secrets), retry=True)
        return Failure(_clean(f"{type(exc).__name__}: {exc}", secrets), retry=False)


def _http_library() -> Any:
    """The HTTP library google-genai runs on: ``httpx2`` where installed (newer releases), else ``httpx``."""
    try:
        import httpx2

        return httpx2
    except ImportError:
        import httpx

        return httpx


def _clean(reason: str, secrets: tuple[str | None, ...]) -> str:
    reason = redact(" ".join(reason.split()), secrets)
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"
