"""Shared support for trust plugins that call a remote API (a library: it registers nothing).

* :mod:`~trust_api.support` — :class:`Provider`, endpoint and key settings (:func:`api_settings`,
  :class:`ApiSettings`, :func:`endpoint_key`, :func:`refuse_insecure`), :class:`ApiBackend` (concurrent requests,
  each retried) and :class:`ApiJudge` (the core's LLM judge over an API backend).
* :mod:`~trust_api.retry` — which failures are retried (:func:`retryable_status`), how long to wait
  (:class:`RetryPolicy`, :func:`retry_after_seconds`), :func:`call_with_retries`, and :func:`redact`.
* :mod:`~trust_api.testing_http` — :class:`~trust_api.testing_http.ScriptedServer`, a real local HTTP server
  with scripted replies for tests (not imported here: import it from its module).

It imports the core only through :mod:`trust_core.plugin`, and the core never imports it.
"""

from trust_api.retry import (
    Attempted,
    Failure,
    RetryPolicy,
    call_with_retries,
    redact,
    retry_after_seconds,
    retryable_status,
)
from trust_api.support import (
    ALLOW_INSECURE,
    DEFAULT_CONCURRENCY,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    KEYS_FROM_ENVIRONMENT,
    ApiBackend,
    ApiJudge,
    ApiSettings,
    EndpointKey,
    Provider,
    api_settings,
    endpoint_key,
    is_loopback,
    is_official,
    key_from_environment,
    public_url,
    refuse_insecure,
)

__version__ = "0.1.0"

__all__ = [
    "ALLOW_INSECURE",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "KEYS_FROM_ENVIRONMENT",
    "ApiBackend",
    "ApiJudge",
    "ApiSettings",
    "Attempted",
    "EndpointKey",
    "Failure",
    "Provider",
    "RetryPolicy",
    "api_settings",
    "call_with_retries",
    "endpoint_key",
    "is_loopback",
    "is_official",
    "key_from_environment",
    "public_url",
    "redact",
    "refuse_insecure",
    "retry_after_seconds",
    "retryable_status",
]
