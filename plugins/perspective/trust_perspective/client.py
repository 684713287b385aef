"""A small Perspective API client: one comment per request, bounded rate, retries with backoff.

Wire format (``comments:analyze``)::

    POST <base>/v1alpha1/comments:analyze?key=KEY
    {"comment": {"text": "..."}, "requestedAttributes": {"TOXICITY": {}}, "languages": ["en"]}
    -> {"attributeScores": {"TOXICITY": {"summaryScore": {"value": 0.12, "type": "PROBABILITY"},
                                        "spanScores": [...]}}, "languages": ["en"], ...}

The score is ``summaryScore.value`` (TrustLLM read ``spanScores[0]``: defect B31). Only the
standard library is used. The API key is sent in the query string and nowhere else: it is
redacted from every error, log line and raw field this module produces.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trust_api import retry_after_seconds
from trust_core.plugin import UserError

LOG = logging.getLogger("trust_perspective")

DEFAULT_URL = "https://commentanalyzer.googleapis.com"
ENDPOINT = "/v1alpha1/comments:analyze"
ATTRIBUTE = "TOXICITY"
MAX_COMMENT_BYTES = 20480
"""Perspective rejects comments above 20 KB; longer texts are cut to this many UTF-8 bytes."""

URL_ENV = "TRUST_PERSPECTIVE_URL"
QPS_ENV = "TRUST_PERSPECTIVE_QPS"
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
KEY_REJECTED_STATUS = frozenset({401, 403})


@dataclass(frozen=True)
class Settings:
    """How the client talks to Perspective. ``qps`` bounds request starts per second (retries included);
    a failed request is retried up to ``retries`` times, waiting ``backoff`` × 2^attempt seconds plus
    jitter, or the server's Retry-After when longer, never more than ``max_wait`` seconds at once."""

    base_url: str = DEFAULT_URL
    qps: float = 1.0
    retries: int = 5
    timeout: float = 30.0
    backoff: float = 1.0
    max_wait: float = 120.0
    languages: tuple[str, ...] = ("en",)
    key_env: str | None = None
    """``key_env=NAME``: send the value of environment variable NAME as the key to this base URL."""


_NUMBER_OPTIONS: dict[str, Callable[[str], float | int]] = {
    "qps": float,
    "retries": int,
    "timeout": float,
    "backoff": float,
    "max_wait": float,
}


def parse_settings(argument: str | None, environ: Mapping[str, str]) -> Settings:
    """Settings from ``--toxicity-scorer perspective:<argument>`` and the environment.

    ``argument`` is a base URL, ``name=value`` options (``qps``, ``retries``, ``timeout``, ``backoff``,
    ``max_wait``, ``languages`` as ``en+de``, ``url``, ``key_env``), or both, separated by commas:
    ``http://127.0.0.1:8080,qps=5``. ``TRUST_PERSPECTIVE_URL`` and ``TRUST_PERSPECTIVE_QPS`` apply when the
    argument does not set them.
    """
    values: dict[str, Any] = {}
    if environ.get(URL_ENV):
        values["base_url"] = environ[URL_ENV]
    if environ.get(QPS_ENV):
        values["qps"] = _number("qps", environ[QPS_ENV], f"{QPS_ENV}")
    for part in (argument or "").split(","):
        part = part.strip()
        if not part:
            continue
        name, equals, value = part.partition("=")
        if "://" in part or not equals:
            values["base_url"] = part
        elif name == "url":
            values["base_url"] = value
        elif name == "languages":
            values["languages"] = tuple(code for code in value.split("+") if code)
        elif name == "key_env":
            values["key_env"] = value.strip() or None
        elif name in _NUMBER_OPTIONS:
            values[name] = _number(name, value, f"--toxicity-scorer perspective:{name}")
        else:
            known = ", ".join(["url", "languages", "key_env", *_NUMBER_OPTIONS])
            raise UserError(f"--toxicity-scorer perspective: unknown option '{name}' (known: {known})")
    settings = Settings(**values)
    _check(settings)
    return settings


def _number(name: str, value: str, where: str) -> float | int:
    try:
        return _NUMBER_OPTIONS[name](value)
    except ValueError:
        raise UserError(f"{where}={value}: not a number") from None


def _check(settings: Settings) -> None:
    url = urllib.parse.urlsplit(settings.base_url)
    if url.scheme not in {"http", "https"} or not url.netloc or url.query:
        raise UserError(f"--toxicity-scorer perspective: '{settings.base_url}' is not an http(s) base URL")
    if settings.qps <= 0 or settings.retries < 0 or settings.timeout <= 0 or settings.backoff < 0:
        raise UserError("--toxicity-scorer perspective: qps and timeout must be > 0, retries and backoff >= 0")
    if not settings.languages:
        raise UserError("--toxicity-scorer perspective: languages must name at least one language")


def truncate_utf8(text: str, limit: int = MAX_COMMENT_BYTES) -> tuple[str, bool]:
    """``text`` cut to at most ``limit`` UTF-8 bytes (never inside a character), and whether it was cut."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text, False
    return data[:limit].decode("utf-8", errors="ignore"), True


@dataclass(frozen=True)
class Outcome:
    """One comment's result: a score, or an error (``score`` None)."""

    score: float | None
    raw: str | None = None
    error: str | None = None
    attempts: int = 0


class KeyRejectedError(Exception):
    """Perspective refused the API key (HTTP 401/403): no later request can succeed."""


@dataclass
class _Failure:
    """A failed attempt: what happened, whether to retry, and the server's Retry-After."""

    reason: str
    retry: bool
    retry_after: float | None = None


@dataclass
class RateLimiter:
    """At most ``qps`` request starts per second."""

    qps: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _next: float = field(default=0.0, init=False)

    def wait(self) -> None:
        """Block until the next request may start."""
        now = self.clock()
        if now < self._next:
            self.sleep(self._next - now)
            now = self._next
        self._next = now + 1.0 / self.qps


class PerspectiveClient:
    """Scores texts with Perspective's TOXICITY summary score, one request per text."""

    def __init__(
        self,
        settings: Settings,
        key: str | None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._key = key or None
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.limiter = RateLimiter(settings.qps, sleep=sleep)
        self._opener = _opener(settings.base_url)
        self.requests_sent = 0

    # ------------------------------------------------------------------ public

    def score(self, text: str) -> Outcome:
        """The TOXICITY summary score of ``text``, retried on 429/5xx/timeouts; raises
        :class:`KeyRejectedError` when the key is refused."""
        comment, truncated = truncate_utf8(text)
        body = json.dumps(
            {
                "comment": {"text": comment},
                "requestedAttributes": {ATTRIBUTE: {}},
                "languages": list(self.settings.languages),
            }
        ).encode("utf-8")
        attempts = self.settings.retries + 1
        failure = _Failure("not sent", retry=False)
        for attempt in range(attempts):
            self.limiter.wait()
            self.requests_sent += 1
            result = self._attempt(body)
            if isinstance(result, Outcome):
                raw = json.loads(result.raw or "{}")
                if truncated:
                    raw["truncated_to_bytes"] = MAX_COMMENT_BYTES
                return Outcome(result.score, json.dumps(raw, sort_keys=True), None, attempt + 1)
            failure = result
            if not failure.retry:
                return Outcome(None, None, failure.reason, attempt + 1)
            if attempt + 1 < attempts:
                delay = self._delay(attempt, failure.retry_after)
                LOG.warning(
                    "Perspective: %s; retrying in %.1f s (attempt %d of %d)",
                    failure.reason,
                    delay,
                    attempt + 2,
                    attempts,
                )
                self._sleep(delay)
        return Outcome(None, None, f"{failure.reason} (gave up after {attempts} attempts)", attempts)

    def redact(self, text: str) -> str:
        """``text`` with the API key (and its URL-encoded form) replaced by ``[key]``."""
        if self._key:
            for form in {self._key, urllib.parse.quote(self._key, safe="")}:
                text = text.replace(form, "[key]")
        return text

    # ------------------------------------------------------------------ one request

    def _url(self) -> str:
        url = self.settings.base_url.rstrip("/") + ENDPOINT
        return f"{url}?{urllib.parse.urlencode({'key': self._key})}" if self._key else url

    def _attempt(self, body: bytes) -> Outcome | _Failure:
        request = urllib.request.Request(
            self._url(), data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with self._opener.open(request, timeout=self.settings.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            return self._http_failure(error)
        except (TimeoutError, urllib.error.URLError, http.client.HTTPException, OSError) as error:
            return _Failure(self.redact(_transport_reason(error, self.settings.timeout)), retry=True)
        return self._parse(payload)

    def _http_failure(self, error: urllib.error.HTTPError) -> _Failure:
        try:
            detail = _error_message(error.read())
        except (OSError, http.client.HTTPException):
            detail = ""
        reason = self.redact(f"HTTP {error.code} {error.reason}" + (f": {detail}" if detail else ""))
        if error.code in KEY_REJECTED_STATUS:
            raise KeyRejectedError(f"Perspective rejected the API key ({reason})")
        retry_after = retry_after_seconds(error.headers)
        return _Failure(reason, retry=error.code in RETRYABLE_STATUS, retry_after=retry_after)

    def _parse(self, payload: bytes) -> Outcome | _Failure:
        try:
            document = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            excerpt = self.redact(payload[:80].decode("utf-8", errors="replace"))
            return _Failure(f"malformed response: not JSON ({excerpt!r})", retry=False)
        try:
            value = document["attributeScores"][ATTRIBUTE]["summaryScore"]["value"]
        except (KeyError, TypeError):
            return _Failure(f"malformed response: no attributeScores.{ATTRIBUTE}.summaryScore.value", retry=False)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
            return _Failure(f"malformed response: summaryScore.value {value!r} is not a number in [0, 1]", retry=False)
        raw = {"attribute": ATTRIBUTE, "summaryScore": float(value)}
        if isinstance(document.get("languages"), list):
            raw["languages"] = [str(code) for code in document["languages"]]
        return Outcome(float(value), json.dumps(raw, sort_keys=True))

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = self.settings.backoff * (2**attempt)
        backoff += self._rng.uniform(0.0, self.settings.backoff)
        return min(self.settings.max_wait, max(backoff, retry_after or 0.0))


def _opener(base_url: str) -> urllib.request.OpenerDirector:
    """An opener that ignores proxy settings for loopback hosts (a local server) and honours them otherwise."""
    host = urllib.parse.urlsplit(base_url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def _transport_reason(error: BaseException, timeout: float) -> str:
    reason = getattr(error, "reason", error)
    if isinstance(error, TimeoutError) or isinstance(reason, TimeoutError):
        return f"no answer within {timeout:g} s (timeout)"
    return f"connection failed: {type(reason).__name__}: {reason}"


def _error_message(body: bytes) -> str:
    """The message of a Google API error body (``{"error": {"message": ...}}``), else the body's start."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        message = json.loads(text)["error"]["message"]
        return str(message)[:200]
    except (json.JSONDecodeError, KeyError, TypeError):
        return text[:200]
