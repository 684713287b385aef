"""Retrying calls to remote APIs: which failures to retry, how long to wait, and keeping keys out of messages.

Shared by every plugin that talks to an HTTP API (OpenAI-compatible servers, Gemini, Perspective):

* :func:`retryable_status` — 408, 409, 425, 429 and every 5xx are retried; other 4xx are not (a bad key, a
  bad request or an unknown model does not get better by asking again).
* :func:`retry_after_seconds` — the server's ``Retry-After`` (seconds or an HTTP date) or ``retry-after-ms``.
* :class:`RetryPolicy` — exponential backoff ``base · 2^attempt`` plus uniform jitter in ``[0, base)``, capped,
  and never shorter than what the server asked for.
* :func:`call_with_retries` — runs a call, classifies its failure, sleeps, tries again; returns the value or
  the last failure's reason with the number of attempts made.
* :func:`redact` — replaces every secret in a text by ``***`` (error messages from client libraries may echo a
  request URL or header that carries a key).
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Generic, TypeVar

T = TypeVar("T")

RETRYABLE_4XX = frozenset({408, 409, 425, 429})


def retryable_status(status: int) -> bool:
    """True for HTTP statuses worth retrying: 408, 409, 425, 429 and 5xx."""
    return status in RETRYABLE_4XX or status >= 500


def retry_after_seconds(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds the server asks to wait, from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date).

    Header names are matched case-insensitively; None when absent or unreadable.
    """
    if not headers:
        return None
    lowered = {str(name).lower(): str(value) for name, value in headers.items()}
    if (millis := lowered.get("retry-after-ms")) is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = (lowered.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    current = datetime.now(timezone.utc).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` further attempts after the first; waits ``base · 2^attempt`` + jitter, at most ``cap``
    seconds unless the server asked for longer (up to ``max_server_wait``)."""

    max_retries: int = 5
    base: float = 1.0
    cap: float = 30.0
    max_server_wait: float = 120.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt + 1`` (``attempt`` counts from 0)."""
        backoff = min(self.cap, self.base * (2**attempt)) + self.rng.uniform(0.0, self.base)
        if retry_after is not None:
            return float(min(self.max_server_wait, max(backoff, retry_after)))
        return float(backoff)


@dataclass(frozen=True)
class Failure:
    """Why one attempt failed: a reason to record, whether to try again, and how long the server asked to wait."""

    reason: str
    retry: bool
    retry_after: float | None = None


@dataclass(frozen=True)
class Attempted(Generic[T]):
    """The outcome of :func:`call_with_retries`: ``value`` on success, else ``error``; ``attempts`` made."""

    value: T | None
    error: str | None
    attempts: int
    waited: float


def call_with_retries(
    call: Callable[[], T],
    classify: Callable[[BaseException], Failure],
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
) -> Attempted[T]:
    """Run ``call`` until it succeeds, fails with a non-retryable :class:`Failure`, or retries run out.

    ``classify`` turns an exception into a :class:`Failure`; an exception it does not understand should be
    classified as not retryable. The returned error names the attempts made, e.g. ``"HTTP 429: rate limited
    (after 6 attempts)"``.
    """
    waited = 0.0
    for attempt in range(policy.max_retries + 1):
        try:
            return Attempted(call(), None, attempt + 1, waited)
        except Exception as exc:  # classified below; nothing escapes a failed request
            failure = classify(exc)
        if not failure.retry or attempt == policy.max_retries:
            suffix = f" (after {attempt + 1} attempts)" if attempt else ""
            return Attempted(None, failure.reason + suffix, attempt + 1, waited)
        pause = policy.delay(attempt, failure.retry_after)
        waited += pause
        sleep(pause)
    raise AssertionError("unreachable")  # pragma: no cover - the loop always returns


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every non-empty secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
