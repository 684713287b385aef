"""Support for backends and judges that call a remote API (OpenAI-compatible servers, Gemini, ...).

* :class:`Provider` — what differs between APIs: the secret's name, its CLI option and environment variable,
  the environment variable for a base URL, the official endpoint.
* :func:`api_settings` / :class:`ApiSettings` — endpoint, key, timeout, retries and concurrency from the user's
  options (``--base-url`` / ``--judge-base-url``, ``--request-timeout``, ``--max-retries``,
  ``--max-concurrency``). The official endpoint needs a key and its absence is a UserError before any work; a
  custom server may run without one. The key never appears in ``repr`` or :meth:`ApiSettings.describe`.
* :class:`ApiBackend` — a :class:`~trust_core.contracts.Backend` whose requests run concurrently, each retried
  per :mod:`trust_core.retry`; a subclass implements one call and the classification of its errors.
* :class:`ApiJudge` — the core's LLM judge over an API backend, for ``--judge <provider>:MODEL``.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.parse
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, ClassVar

from trust_core.backend_support import checked_messages, error_result, settings_problem
from trust_core.contracts import Backend, BackendOptions, ChatRequest, GenerationResult, Message
from trust_core.errors import UserError
from trust_core.judging import DelegatingJudge, LLMJudge
from trust_core.retry import Failure, RetryPolicy, call_with_retries

DEFAULT_CONCURRENCY = 4
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES = 5


@dataclass(frozen=True)
class Provider:
    """An API's names: ``secret`` (key in ``BackendOptions.secrets``), ``key_option`` / ``key_env`` (how the
    user gives the key), ``base_url_env`` (environment variable for another endpoint), ``official_base_url``."""

    secret: str
    key_option: str
    key_env: str
    base_url_env: str
    official_base_url: str


@dataclass(frozen=True)
class ApiSettings:
    """One endpoint and how to talk to it."""

    base_url: str
    api_key: str | None = field(repr=False)
    official: bool = False
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_RETRIES
    max_concurrency: int = DEFAULT_CONCURRENCY
    retry_backoff: float = 1.0

    @property
    def endpoint(self) -> str:
        """The base URL without user info, query or fragment (safe to record)."""
        parts = urllib.parse.urlsplit(self.base_url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))

    def policy(self) -> RetryPolicy:
        """The retry policy: ``max_retries``, backoff ``retry_backoff · 2^attempt`` (capped) plus jitter."""
        return RetryPolicy(max_retries=self.max_retries, base=self.retry_backoff, cap=30.0 * self.retry_backoff)

    def describe(self) -> dict[str, Any]:
        """What results record about the endpoint (whether a key was given, never the key)."""
        return {
            "endpoint": self.endpoint,
            "api_key": "given" if self.api_key else "none",
            "request_timeout_s": self.timeout,
            "max_retries": self.max_retries,
            "max_concurrency": self.max_concurrency,
        }


def api_settings(
    provider: Provider,
    options: BackendOptions,
    who: str,
    base_url_option: str = "base_url",
    environ: Mapping[str, str] | None = None,
) -> ApiSettings:
    """Settings from ``options``: base URL from ``extra[base_url_option]``, then ``extra["base_url"]``, then the
    provider's environment variable, then its official endpoint. UserError naming ``who`` when the official
    endpoint is used without a key, or the URL is not http(s)."""
    environ = os.environ if environ is None else environ
    extra = options.extra
    base_url = (
        str(extra.get(base_url_option) or extra.get("base_url") or environ.get(provider.base_url_env) or "")
        or provider.official_base_url
    )
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"{who}: base URL '{base_url}' is not an http(s) URL (e.g. http://127.0.0.1:8000/v1)")
    key = options.secrets.get(provider.secret)
    official = base_url.rstrip("/") == provider.official_base_url.rstrip("/")
    if official and not key:
        raise UserError(
            f"{who} needs an API key: pass {provider.key_option} or set {provider.key_env} "
            "(or point --base-url / --judge-base-url at a compatible server)"
        )
    return ApiSettings(
        base_url=base_url,
        api_key=key,
        official=official,
        timeout=float(extra.get("request_timeout") or DEFAULT_TIMEOUT),
        max_retries=int(extra.get("max_retries", DEFAULT_RETRIES)),
        max_concurrency=int(extra.get("max_concurrency") or DEFAULT_CONCURRENCY),
        retry_backoff=float(extra.get("retry_backoff") or 1.0),
    )


class ApiBackend(Backend):
    """A backend that calls a remote API: ``--model`` is the id the server knows (no alias resolution), the
    chat template is the server's, requests run ``max_concurrency`` at a time, each retried on 429, 5xx,
    timeouts, connection errors and malformed replies. Subclasses set ``provider`` and implement
    :meth:`call` and :meth:`classify`."""

    provider: ClassVar[Provider]
    resolves_aliases = False

    def __init__(
        self, model: str, options: BackendOptions, base_url_option: str = "base_url", who: str | None = None
    ) -> None:
        super().__init__(model, options)
        self.settings = api_settings(self.provider, options, who or f"--backend {self.name}", base_url_option)
        self._client: Any = None
        self._lock = threading.Lock()

    @abstractmethod
    def make_client(self) -> Any:
        """The provider's client for ``self.settings`` (its own retries off)."""

    @abstractmethod
    def call(self, client: Any, messages: list[dict[str, str]], request: ChatRequest) -> tuple[str, int | None]:
        """One request: the reply's text and completion token count. Raise on any failure."""

    @abstractmethod
    def classify(self, exc: BaseException) -> Failure:
        """Whether a failure is worth retrying, and its reason (without secrets)."""

    def fingerprint(self) -> str:
        """``<name>-api:<endpoint>/<model>``: an API model has no weights to hash."""
        return f"{self.name}-api:{self.settings.endpoint}/{self.model}"

    def render(self, messages: Sequence[Message]) -> str:
        """The messages as sent (canonical JSON): the server applies the chat template."""
        return json.dumps(checked_messages(messages), ensure_ascii=False, sort_keys=True)

    def generate(self, requests: Sequence[ChatRequest]) -> Iterator[GenerationResult]:
        """Complete ``requests`` with at most ``max_concurrency`` in flight; yield each result as it arrives."""
        if not requests:
            return
        with ThreadPoolExecutor(max_workers=self.settings.max_concurrency, thread_name_prefix=self.name) as pool:
            futures = [pool.submit(self._complete, request) for request in requests]
            for future in as_completed(futures):
                yield future.result()

    def describe(self) -> dict[str, Any]:
        """Backend, model, endpoint and request settings (never the key)."""
        return {**super().describe(), **self.settings.describe(), "chat_template": "server-side"}

    def close(self) -> None:
        """Close the client."""
        with self._lock:
            close = getattr(self._client, "close", None)
            if callable(close):
                close()
            self._client = None

    def _ensure_client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self.make_client()
            return self._client

    def _complete(self, request: ChatRequest) -> GenerationResult:
        if problem := settings_problem(request.settings):
            return error_result(request, problem)
        try:
            messages = checked_messages(request.messages)
        except ValueError as exc:
            return error_result(request, f"malformed chat: {exc}")
        client = self._ensure_client()
        outcome = call_with_retries(lambda: self.call(client, messages, request), self.classify, self.settings.policy())
        if outcome.value is None:
            return error_result(request, outcome.error or "no reply")
        text, tokens = outcome.value
        return GenerationResult(key=request.key, text=text, completion_tokens=tokens)


class ApiJudge(DelegatingJudge):
    """The core's LLM judge over an API backend (``--judge <name>[:MODEL]``, ``--judge-base-url``); never a
    silent default. Subclasses set ``name``, ``backend_class`` and ``default_model``."""

    backend_class: ClassVar[type[ApiBackend]]
    default_model: ClassVar[str]

    @classmethod
    def unavailable_reason(cls, secrets: Mapping[str, str]) -> str | None:
        """API judges are used only when named."""
        return f"API judges are used only when named (--judge {cls.name}:MODEL)"

    def __init__(self, argument: str | None, context: Any) -> None:
        self.model = argument or self.default_model
        who = f"--judge {self.name}:{self.model}"
        backend = self.backend_class(self.model, context.backend_options, "judge_base_url", who)
        super().__init__(LLMJudge(backend, label=f"{self.name}:{self.model}"))

    def describe(self) -> dict[str, Any]:
        """The LLM judge's description, with this judge's name and model."""
        return {**super().describe(), "judge": self.name, "model": self.model}
