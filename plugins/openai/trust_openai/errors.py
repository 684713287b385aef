"""Turning what the ``openai`` client raises into a retry decision and a reason safe to record."""

from __future__ import annotations

from typing import Any

from trust_api import Failure, redact, retry_after_seconds, retryable_status

MAX_REASON = 300


def classify(exc: BaseException, secrets: tuple[str | None, ...] = ()) -> Failure:
    """The :class:`~trust_api.retry.Failure` for an exception from the ``openai`` client.

    HTTP errors are retried per :func:`~trust_api.retry.retryable_status` (honouring ``Retry-After``);
    timeouts, connection errors and malformed responses are retried; anything else is not. Every secret
    in ``secrets`` is removed from the reason.
    """
    import openai

    if isinstance(exc, openai.APIStatusError):
        headers = _headers(exc.response)
        reason = f"HTTP {exc.status_code}: {_message(exc)}"
        return Failure(_clean(reason, secrets), retryable_status(exc.status_code), retry_after_seconds(headers))
    if isinstance(exc, openai.APITimeoutError):
        return Failure("timeout: no response within the request timeout", retry=True)
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc
        return Failure(_clean(f"connection error: {type(cause).__name__}: {cause}", secrets), retry=True)
    if isinstance(exc, (openai.APIResponseValidationError, ValueError, MalformedReplyError)):
        return Failure(_clean(f"malformed response: {exc}", secrets), retry=True)
    return Failure(_clean(f"{type(exc).__name__}: {exc}", secrets), retry=False)


class MalformedReplyError(Exception):
    """A reply that parsed as JSON but lacks what the API promises (no choices, no embedding...)."""


def _headers(response: Any) -> dict[str, str]:
    try:
        return dict(response.headers)
    except Exception:  # a response object without headers
        return {}


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return str(getattr(exc, "message", None) or exc)


def _clean(reason: str, secrets: tuple[str | None, ...]) -> str:
    reason = redact(" ".join(reason.split()), secrets)
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"
