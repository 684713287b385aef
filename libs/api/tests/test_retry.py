"""trust_api.retry: which failures are retried, how long to wait, and keys kept out of reasons."""

from __future__ import annotations

import random

from trust_api.retry import Failure, RetryPolicy, call_with_retries, redact, retry_after_seconds, retryable_status


def test_retryable_statuses():
    assert [s for s in (400, 401, 403, 404, 408, 409, 422, 425, 429, 500, 502, 503, 504) if retryable_status(s)] == [
        408, 409, 425, 429, 500, 502, 503, 504,
    ]  # fmt: skip


def test_retry_after_in_seconds_dates_and_milliseconds():
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"retry-after": "0.5"}) == 0.5
    assert retry_after_seconds({"retry-after-ms": "250", "Retry-After": "9"}) == 0.25
    assert retry_after_seconds(None) is None and retry_after_seconds({"Retry-After": "soon"}) is None
    date = {"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}
    assert retry_after_seconds(date, now=1445412480.0) == 10.0
    assert retry_after_seconds(date, now=1445412500.0) == 0.0


def test_backoff_doubles_with_jitter_and_respects_the_cap_and_the_server():
    policy = RetryPolicy(max_retries=5, base=1.0, cap=4.0, rng=random.Random(0))
    delays = [policy.delay(attempt) for attempt in range(5)]
    for attempt, delay in enumerate(delays):
        floor = min(4.0, 2**attempt)
        assert floor <= delay < floor + 1.0
    assert policy.delay(0, retry_after=7.5) == 7.5  # never sooner than the server asked
    assert RetryPolicy(max_server_wait=20.0).delay(0, retry_after=500.0) == 20.0


def test_call_with_retries_counts_sleeps_and_stops_on_a_permanent_failure():
    slept: list[float] = []
    outcomes = iter([TimeoutError("slow"), ConnectionError("reset"), "ok"])

    def call() -> str:
        value = next(outcomes)
        if isinstance(value, Exception):
            raise value
        return value

    policy = RetryPolicy(max_retries=5, base=0.01, rng=random.Random(1))
    done = call_with_retries(call, lambda exc: Failure(str(exc), retry=True), policy, sleep=slept.append)
    assert (done.value, done.error, done.attempts, len(slept)) == ("ok", None, 3, 2)

    def refused() -> str:
        raise PermissionError("HTTP 401: bad key")

    failed = call_with_retries(refused, lambda exc: Failure(str(exc), retry=False), policy, sleep=slept.append)
    assert (failed.value, failed.error, failed.attempts) == (None, "HTTP 401: bad key", 1)

    def always() -> str:
        raise TimeoutError("HTTP 503")

    retry = RetryPolicy(max_retries=2, base=0.0)
    exhausted = call_with_retries(always, lambda exc: Failure(str(exc), retry=True), retry, sleep=lambda _: None)
    assert (exhausted.error, exhausted.attempts) == ("HTTP 503 (after 3 attempts)", 3)


def test_redact_removes_every_secret():
    assert redact("key sk-1 and sk-2, again sk-1", ["sk-1", None, "", "sk-2"]) == "key *** and ***, again ***"
