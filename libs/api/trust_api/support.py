"""Support for backends and judges that call a remote API (OpenAI-compatible servers, Gemini, ...).

* :class:`Provider` — what differs between APIs: the secret's name, its CLI option and environment variable,
  the environment variable for a base URL, the official endpoint.
* :func:`api_settings` / :class:`ApiSettings` — endpoint, key, timeout, retries and concurrency from the user's
  options (``--base-url`` / ``--judge-base-url``, ``--request-timeout``, ``--max-retries``,
  ``--max-concurrency``). The official endpoint needs a key and its absence is a UserError before any work; a
  custom server may run without one. The key never appears in ``repr`` or :meth:`ApiSettings.describe`.
* Where keys go (:func:`endpoint_key`): a key given on the command line (``--openai-api-key``) or named for one
  endpoint (``--api-key-env NAME`` for ``--base-url``, ``--judge-api-key-env NAME`` for ``--judge-base-url``) is
  sent to that endpoint; a key the CLI read from the provider's environment variable (``OPENAI_API_KEY``...) is
  sent only to the provider's own endpoint. No key is sent over plain HTTP to a host other than this machine
  unless ``--allow-insecure`` (:func:`refuse_insecure`). At the start of a run the core prints, for each
  component with an ``endpoint_summary`` (:meth:`ApiBackend.endpoint_summary`, :meth:`ApiJudge.endpoint_summary`),
  where it sends its requests and with which key (never the key itself).
* :class:`ApiBackend` — a :class:`~trust_core.plugin.Backend` whose requests run concurrently, each retried
  per :mod:`trust_api.retry`; a subclass implements one call and the classification of its errors.
* :class:`ApiJudge` — the core's LLM judge over an API backend, for ``--judge <provider>:MODEL``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import threading
import urllib.parse
from abc import abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, ClassVar

from trust_api.retry import Failure, RetryPolicy, call_with_retries
from trust_core.plugin import (
    Backend,
    BackendOptions,
    ChatRequest,
    DelegatingJudge,
    GenerationResult,
    LLMJudge,
    Message,
    UserError,
    checked_messages,
    error_result,
    settings_problem,
)

DEFAULT_CONCURRENCY = 4
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES = 5

KEYS_FROM_ENVIRONMENT = "keys_from_environment"
"""``BackendOptions.extra`` entry the CLI sets: provider secret name -> the environment variable its key was read
from (``{"openai": "OPENAI_API_KEY"}``). A key absent from it was given explicitly (command line, or code)."""
ALLOW_INSECURE = "allow_insecure"
"""``BackendOptions.extra`` entry (``--allow-insecure``): allow sending a key over plain HTTP to another host."""
KEY_ENV_OPTIONS = {"base_url": "api_key_env", "judge_base_url": "judge_api_key_env"}
"""The ``extra`` entry naming the environment variable that holds the key for each endpoint option."""
OPTION_FLAGS = {
    "base_url": "--base-url",
    "judge_base_url": "--judge-base-url",
    "api_key_env": "--api-key-env",
    "judge_api_key_env": "--judge-api-key-env",
}


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
class EndpointKey:
    """The key to send to one endpoint (None: send none) and where it came from, for messages (never the key):
    ``"no key"``, ``"key from --openai-api-key"``, ``"key from OPENAI_API_KEY"``..."""

    value: str | None = field(repr=False)
    origin: str


def public_url(url: str) -> str:
    """``url`` without user info, query or fragment, and without a trailing slash (safe to print and record)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def is_loopback(host: str | None) -> bool:
    """True for this machine: ``localhost`` (and ``*.localhost``) or a loopback address (127.0.0.0/8, ::1)."""
    host = (host or "").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_official(url: str, official_url: str) -> bool:
    """True when ``url`` is the provider's own endpoint: https on the official host and port."""
    parts, official = urllib.parse.urlsplit(url), urllib.parse.urlsplit(official_url)
    return (
        parts.scheme == "https"
        and (parts.hostname or "") == official.hostname
        and (parts.port or 443) == (official.port or 443)
        and not parts.username
    )


def key_from_environment(options: BackendOptions, secret: str) -> str | None:
    """The environment variable the key ``secrets[secret]`` was read from, or None when it was given explicitly."""
    sources = options.extra.get(KEYS_FROM_ENVIRONMENT) or {}
    return sources.get(secret) if isinstance(sources, Mapping) else None


def endpoint_key(
    options: BackendOptions,
    secret: str,
    key_option: str,
    official: bool,
    official_url: str,
    who: str,
    key_env: tuple[str, str | None],
    environ: Mapping[str, str] | None = None,
) -> EndpointKey:
    """The key for one endpoint, by the rule every API component follows:

    1. ``key_env = (flag, NAME)`` with a NAME: the value of the environment variable NAME (UserError naming
       ``who`` when it is unset or empty) — the user named it for this endpoint;
    2. else ``options.secrets[secret]`` when it was given explicitly (``key_option`` on the command line);
    3. else the key the CLI read from the provider's environment variable, only when ``official`` (the
       provider's own endpoint): another endpoint gets no key, and the origin says how to send it there.
    """
    environ = os.environ if environ is None else environ
    flag, name = key_env
    if name:
        value = environ.get(name)
        if not value:
            raise UserError(f"{who}: {_with_value(flag, name)}: the environment variable {name} is not set or is empty")
        return EndpointKey(value, f"key from {name} ({flag.rstrip('=')})")
    key = options.secrets.get(secret)
    if not key:
        return EndpointKey(None, "no key")
    variable = key_from_environment(options, secret)
    if variable is None:
        return EndpointKey(key, f"key from {key_option}")
    if official:
        return EndpointKey(key, f"key from {variable}")
    hint = _with_value(flag, variable)
    return EndpointKey(None, f"no key: {variable} is sent only to {official_url}; {hint} sends it to this endpoint")


def _with_value(flag: str, value: str) -> str:
    """``--flag VALUE``, or ``name=VALUE`` for an option written ``name=``."""
    return f"{flag}{value}" if flag.endswith("=") else f"{flag} {value}"


def refuse_insecure(url: str, key: EndpointKey, who: str, options: BackendOptions) -> None:
    """UserError when ``key`` would travel over plain HTTP to a host other than this machine, unless the user
    passed ``--allow-insecure`` (``extra["allow_insecure"]``)."""
    parts = urllib.parse.urlsplit(url)
    if not key.value or parts.scheme != "http" or is_loopback(parts.hostname) or options.extra.get(ALLOW_INSECURE):
        return
    raise UserError(
        f"{who}: refusing to send an API key ({key.origin}) over plain HTTP to {parts.hostname}, which is not this "
        "machine: use an https:// URL, or pass --allow-insecure to send it anyway"
    )


@dataclass(frozen=True)
class ApiSettings:
    """One endpoint and how to talk to it."""

    base_url: str
    api_key: str | None = field(repr=False)
    official: bool = False
    key_origin: str = "no key"
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_RETRIES
    max_concurrency: int = DEFAULT_CONCURRENCY
    retry_backoff: float = 1.0

    @property
    def endpoint(self) -> str:
        """The base URL without user info, query or fragment (safe to record)."""
        return public_url(self.base_url)

    def policy(self) -> RetryPolicy:
        """The retry policy: ``max_retries``, backoff ``retry_backoff · 2^attempt`` (capped) plus jitter."""
        return RetryPolicy(max_retries=self.max_retries, base=self.retry_backoff, cap=30.0 * self.retry_backoff)

    def summary(self) -> str:
        """``<endpoint> (<where the key came from>)``, e.g. ``https://api.openai.com/v1 (key from OPENAI_API_KEY)``."""
        return f"{self.endpoint} ({self.key_origin})"

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
    """Settings from ``options`` for the endpoint option ``base_url_option``:

    * ``"base_url"`` (backends, embedders): ``extra["base_url"]`` (``--base-url``), then the provider's
      environment variable (``OPENAI_BASE_URL``: the same as ``--base-url``), then the provider's own endpoint;
    * ``"judge_base_url"`` (judges): ``extra["judge_base_url"]`` (``--judge-base-url``), else the provider's own
      endpoint — never ``--base-url``.

    The key follows :func:`endpoint_key` (``extra["api_key_env"]`` / ``extra["judge_api_key_env"]`` name the
    variable holding it). UserError naming ``who`` when the URL is not http(s), the provider's endpoint has no
    key, or a key would go over plain HTTP to another machine without ``--allow-insecure``.
    """
    environ = os.environ if environ is None else environ
    extra = options.extra
    if base_url_option == "base_url":
        chosen = extra.get("base_url") or environ.get(provider.base_url_env)
    else:
        chosen = extra.get(base_url_option)
    base_url = str(chosen or "") or provider.official_base_url
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"{who}: base URL '{base_url}' is not an http(s) URL (e.g. http://127.0.0.1:8000/v1)")
    official = is_official(base_url, provider.official_base_url)
    key_env_option = KEY_ENV_OPTIONS.get(base_url_option, f"{base_url_option}_api_key_env")
    key_env = (OPTION_FLAGS.get(key_env_option, key_env_option), extra.get(key_env_option))
    key = endpoint_key(
        options, provider.secret, provider.key_option, official, provider.official_base_url, who, key_env, environ
    )
    if official and not key.value:
        raise UserError(
            f"{who} needs an API key: pass {provider.key_option} or set {provider.key_env} "
            "(or point --base-url / --judge-base-url at a compatible server)"
        )
    refuse_insecure(base_url, key, who, options)
    return ApiSettings(
        base_url=base_url,
        api_key=key.value,
        official=official,
        key_origin=key.origin,
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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A provider's backend needs its key (:attr:`Backend.needs_key`, :attr:`Backend.key_env_var`)."""
        super().__init_subclass__(**kwargs)
        provider = cls.__dict__.get("provider")
        if isinstance(provider, Provider):
            cls.needs_key, cls.key_env_var = provider.secret, provider.key_env

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

    @classmethod
    def endpoint_summary(cls, argument: str | None, options: BackendOptions) -> str:
        """Where requests go and with which key (see :meth:`ApiSettings.summary`); the same UserError as the
        constructor for settings it would refuse."""
        return api_settings(cls.provider, options, f"--backend {cls.name}").summary()

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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """The judge needs its backend's key."""
        super().__init_subclass__(**kwargs)
        backend = cls.__dict__.get("backend_class")
        if backend is not None:
            cls.needs_key, cls.key_env_var = backend.needs_key, backend.key_env_var

    @classmethod
    def unavailable_reason(cls, secrets: Mapping[str, str]) -> str | None:
        """API judges are used only when named."""
        return f"API judges are used only when named (--judge {cls.name}:MODEL)"

    @classmethod
    def endpoint_summary(cls, argument: str | None, options: BackendOptions) -> str:
        """Where the judge's requests go (``--judge-base-url`` or the provider's own endpoint) and with which key."""
        who = f"--judge {cls.name}:{argument or cls.default_model}"
        return api_settings(cls.backend_class.provider, options, who, "judge_base_url").summary()

    def __init__(self, argument: str | None, context: Any) -> None:
        self.model = argument or self.default_model
        who = f"--judge {self.name}:{self.model}"
        backend = self.backend_class(self.model, context.backend_options, "judge_base_url", who)
        super().__init__(LLMJudge(backend, label=f"{self.name}:{self.model}"))

    def describe(self) -> dict[str, Any]:
        """The LLM judge's description, with this judge's name and model."""
        return {**super().describe(), "judge": self.name, "model": self.model}
