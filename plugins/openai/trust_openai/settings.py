"""Where to send requests and how: endpoint, key, timeout, retries, concurrency (from the user's options).

The key comes from ``--openai-api-key`` or ``OPENAI_API_KEY`` (the core puts it in
``BackendOptions.secrets["openai"]``); the base URL from ``--base-url`` (``--judge-base-url`` for the gpt judge)
or ``OPENAI_BASE_URL``. The official endpoint needs a key, and its absence is reported before any work; a
custom server (vLLM, TGI, llama.cpp, Ollama, FastChat) may run without one.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trust_core.contracts import BackendOptions
from trust_core.errors import UserError
from trust_core.retry import RetryPolicy

OFFICIAL_BASE_URL = "https://api.openai.com/v1"
SECRET = "openai"
KEYLESS = "no-key"
"""Sent as the key to a custom server when the user gave none (the client library insists on one)."""

DEFAULT_CONCURRENCY = 4
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES = 5


@dataclass(frozen=True)
class ApiSettings:
    """One endpoint and how to talk to it. ``api_key`` never appears in ``repr`` or :meth:`describe`."""

    base_url: str
    api_key: str | None = field(repr=False)
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_RETRIES
    max_concurrency: int = DEFAULT_CONCURRENCY
    retry_backoff: float = 1.0

    @property
    def official(self) -> bool:
        """True for OpenAI's own endpoint."""
        return self.base_url.rstrip("/") == OFFICIAL_BASE_URL

    @property
    def endpoint(self) -> str:
        """The base URL without user info, query or fragment (safe to record)."""
        parts = urllib.parse.urlsplit(self.base_url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))

    def policy(self) -> RetryPolicy:
        """The retry policy for these settings."""
        return RetryPolicy(max_retries=self.max_retries, base=self.retry_backoff, cap=30.0 * self.retry_backoff)

    def describe(self) -> dict[str, Any]:
        """What results record about the endpoint (no key)."""
        return {
            "endpoint": self.endpoint,
            "api_key": "given" if self.api_key else "none",
            "request_timeout_s": self.timeout,
            "max_retries": self.max_retries,
            "max_concurrency": self.max_concurrency,
        }


def api_settings(
    options: BackendOptions, who: str, base_url_option: str = "base_url", environ: Mapping[str, str] | None = None
) -> ApiSettings:
    """Settings from ``options`` (``extra[base_url_option]``, then ``extra["base_url"]``, then
    ``OPENAI_BASE_URL``, then the official endpoint). UserError, naming ``who``, when the official endpoint
    is used without a key or the URL is not http(s)."""
    environ = os.environ if environ is None else environ
    extra = options.extra
    base_url = (
        extra.get(base_url_option) or extra.get("base_url") or environ.get("OPENAI_BASE_URL") or OFFICIAL_BASE_URL
    )
    parts = urllib.parse.urlsplit(str(base_url))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"{who}: base URL '{base_url}' is not an http(s) URL (e.g. http://127.0.0.1:8000/v1)")
    key = options.secrets.get(SECRET)
    settings = ApiSettings(
        base_url=str(base_url),
        api_key=key,
        timeout=float(extra.get("request_timeout") or DEFAULT_TIMEOUT),
        max_retries=int(extra.get("max_retries", DEFAULT_RETRIES)),
        max_concurrency=int(extra.get("max_concurrency") or DEFAULT_CONCURRENCY),
        retry_backoff=float(extra.get("retry_backoff") or 1.0),
    )
    if settings.official and not key:
        raise UserError(
            f"{who} needs an OpenAI API key: pass --openai-api-key or set OPENAI_API_KEY "
            "(or point --base-url at an OpenAI-compatible server)"
        )
    return settings


def make_client(settings: ApiSettings) -> Any:
    """The official ``openai`` client for ``settings``, with its own retries off (ours apply)."""
    import openai

    return openai.OpenAI(
        api_key=settings.api_key or KEYLESS, base_url=settings.base_url, timeout=settings.timeout, max_retries=0
    )
