"""The perspective toxicity scorer against a real HTTP server on 127.0.0.1 speaking Perspective's wire format.

The server scores a text by its insults (0.4 per "idiot", 0.3 per "stupid", capped at 1) and
reports a different ``spanScores`` value, so using ``summaryScore`` is checked. Markers in the
text script failures: ``[429-once]``, ``[500-once]``, ``[malformed]``, ``[no-score]``,
``[down]`` (always 503), ``[slow]`` (answers after 0.5 s), ``[bad-request]`` (400).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from trust_perspective import PerspectiveJudge, parse_settings
from trust_perspective.client import (
    DEFAULT_URL,
    MAX_COMMENT_BYTES,
    RateLimiter,
    Settings,
    truncate_utf8,
)

from trust_core.contracts import BackendOptions, EvaluatorUnavailable, JudgeQuery
from trust_core.errors import UserError
from trust_core.evaluators import CachedEvaluators, refusal_query, toxicity_query
from trust_core.registry import ComponentContext, Registry
from trust_core.store import Store

KEY = "sk-PERSPECTIVE-test-4f1c9e"
"""The API key the tests use; it must never appear in anything the scorer produces."""


@dataclass
class Received:
    path: str
    key: str | None
    body: dict[str, Any]
    at: float


@dataclass
class FakePerspective:
    """Scripted state shared with the request handler."""

    requests: list[Received] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def texts(self) -> list[str]:
        return [request.body["comment"]["text"] for request in self.requests]


def _score(text: str) -> float:
    return min(1.0, round(0.4 * text.count("idiot") + 0.3 * text.count("stupid"), 6))


def _handler(state: FakePerspective) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: str | bytes, headers: dict[str, str] | None = None) -> None:
            data = body.encode() if isinstance(body, str) else body
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            key = urllib.parse.parse_qs(url.query).get("key", [None])[0]
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            text = body["comment"]["text"]
            with state.lock:
                state.requests.append(Received(url.path, key, body, time.monotonic()))
                count = state.seen[text] = state.seen.get(text, 0) + 1
            if url.path != "/v1alpha1/comments:analyze":
                return self._send(404, '{"error": {"code": 404, "message": "no such method"}}')
            if key == "bad-key":  # a rejected key; the body echoes it, as a careless server might
                message = f"API key not valid: {key}. Please pass a valid API key."
                return self._send(403, json.dumps({"error": {"code": 403, "message": message}}))
            if "[429-once]" in text and count == 1:
                return self._send(429, '{"error": {"code": 429, "message": "Quota exceeded"}}', {"Retry-After": "1"})
            if "[500-once]" in text and count == 1:
                return self._send(500, "internal error")
            if "[down]" in text:
                return self._send(503, '{"error": {"code": 503, "message": "The service is unavailable."}}')
            if "[malformed]" in text:
                return self._send(200, "{not json")
            if "[no-score]" in text:
                return self._send(200, '{"attributeScores": {"TOXICITY": {"spanScores": []}}}')
            if "[bad-request]" in text:
                return self._send(
                    400,
                    '{"error": {"code": 400, "message": "Attribute TOXICITY does not support request languages: xx"}}',
                )
            if "[slow]" in text:
                time.sleep(0.5)
            value = _score(text)
            answer = {
                "attributeScores": {
                    "TOXICITY": {
                        "spanScores": [{"begin": 0, "end": len(text), "score": {"value": 0.999}}],
                        "summaryScore": {"value": value, "type": "PROBABILITY"},
                    }
                },
                "languages": body.get("languages", ["en"]),
                "detectedLanguages": ["en"],
            }
            return self._send(200, json.dumps(answer))

    return Handler


@pytest.fixture
def server() -> Iterator[FakePerspective]:
    state = FakePerspective()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def _context(key: str | None = KEY) -> ComponentContext:
    secrets = {"perspective": key} if key else {}
    return ComponentContext(registry=None, backend_options=BackendOptions(secrets=secrets))  # type: ignore[arg-type]


def _judge(server: FakePerspective, options: str = "", key: str | None = KEY) -> PerspectiveJudge:
    fast = "qps=1000,backoff=0.01,retries=2,timeout=5"
    return PerspectiveJudge(f"{server.url},{fast}{',' + options if options else ''}", _context(key))


def _everything_said(judge: PerspectiveJudge, verdicts: list[Any], caplog: pytest.LogCaptureFixture) -> str:
    parts = [judge.identity(), json.dumps(judge.describe()), repr(judge), caplog.text]
    parts += [f"{v.label} {v.raw} {v.error} {v.score}" for v in verdicts]
    return "\n".join(parts)


def test_scores_are_the_summary_score_in_the_documented_wire_format(server: FakePerspective) -> None:
    judge = _judge(server)
    texts = ["You idiot.", "Have a lovely day!", "stupid stupid idiot"]
    verdicts = judge.judge([toxicity_query(text) for text in texts])
    assert [(v.label, v.score, v.error) for v in verdicts] == [
        ("TOXICITY", 0.4, None),
        ("TOXICITY", 0.0, None),
        ("TOXICITY", 1.0, None),
    ]
    assert json.loads(verdicts[0].raw or "") == {"attribute": "TOXICITY", "languages": ["en"], "summaryScore": 0.4}
    assert len(server.requests) == 3
    first = server.requests[0]
    assert first.path == "/v1alpha1/comments:analyze" and first.key == KEY
    assert first.body == {
        "comment": {"text": "You idiot."},
        "requestedAttributes": {"TOXICITY": {}},
        "languages": ["en"],
    }


def test_429_waits_for_retry_after_then_succeeds(server: FakePerspective) -> None:
    judge = _judge(server)
    verdict = judge.judge([toxicity_query("idiot [429-once]")])[0]
    assert (verdict.label, verdict.score) == ("TOXICITY", 0.4)
    assert server.texts() == ["idiot [429-once]", "idiot [429-once]"]
    assert server.requests[1].at - server.requests[0].at >= 0.95  # Retry-After: 1 beats the 0.01 s backoff


def test_500_is_retried_after_a_backoff(server: FakePerspective) -> None:
    judge = _judge(server)
    verdict = judge.judge([toxicity_query("fine text [500-once]")])[0]
    assert (verdict.label, verdict.score, verdict.error) == ("TOXICITY", 0.0, None)
    assert len(server.requests) == 2
    assert judge.client.requests_sent == 2


def test_malformed_answers_fail_without_retries(server: FakePerspective) -> None:
    judge = _judge(server)
    not_json, no_score = judge.judge([toxicity_query("x [malformed]"), toxicity_query("x [no-score]")])
    assert not_json.failed and not_json.error == "Perspective: malformed response: not JSON ('{not json')"
    assert no_score.failed
    assert no_score.error == "Perspective: malformed response: no attributeScores.TOXICITY.summaryScore.value"
    assert len(server.requests) == 2


def test_a_bad_request_fails_with_the_server_message_and_no_retry(server: FakePerspective) -> None:
    verdict = _judge(server).judge([toxicity_query("x [bad-request]")])[0]
    assert verdict.failed
    assert verdict.error == (
        "Perspective: HTTP 400 Bad Request: Attribute TOXICITY does not support request languages: xx"
    )
    assert len(server.requests) == 1


def test_a_persistent_failure_is_retried_then_recorded(
    server: FakePerspective, caplog: pytest.LogCaptureFixture
) -> None:
    judge = _judge(server)
    with caplog.at_level(logging.WARNING, logger="trust_perspective"):
        down, fine = judge.judge([toxicity_query("idiot [down]"), toxicity_query("idiot")])
    assert down.failed and down.score is None
    assert down.error == (
        "Perspective: HTTP 503 Service Unavailable: The service is unavailable. (gave up after 3 attempts)"
    )
    assert (fine.label, fine.score) == ("TOXICITY", 0.4)  # one failure does not abort the others
    assert server.texts().count("idiot [down]") == 3
    assert caplog.text.count("retrying in") == 2 and "attempt 3 of 3" in caplog.text
    assert KEY not in _everything_said(judge, [down, fine], caplog)


def test_timeouts_are_retried_then_recorded(server: FakePerspective) -> None:
    judge = _judge(server, "timeout=0.2,retries=1")
    verdict = judge.judge([toxicity_query("idiot [slow]")])[0]
    assert verdict.failed
    assert verdict.error == "Perspective: no answer within 0.2 s (timeout) (gave up after 2 attempts)"
    assert server.texts() == ["idiot [slow]", "idiot [slow]"]


def test_connection_failures_are_retried_then_recorded() -> None:
    judge = PerspectiveJudge("http://127.0.0.1:9,qps=1000,backoff=0,retries=1,timeout=2", _context())
    verdict = judge.judge([toxicity_query("hello")])[0]
    assert verdict.failed and verdict.error is not None
    assert verdict.error.startswith("Perspective: connection failed: ")
    assert verdict.error.endswith("(gave up after 2 attempts)")
    assert judge.client.requests_sent == 2


def test_a_rejected_key_stops_all_requests_and_is_never_echoed(
    server: FakePerspective, caplog: pytest.LogCaptureFixture
) -> None:
    judge = _judge(server, key="bad-key")
    with caplog.at_level(logging.DEBUG):
        verdicts = judge.judge([toxicity_query(text) for text in ("a", "b", "c")])
        later = judge.judge([toxicity_query("d")])
    assert len(server.requests) == 1
    assert all(v.failed for v in verdicts + later)
    rejected = "Perspective rejected the API key (HTTP 403 Forbidden: API key not valid: [key]. Please pass a valid "
    assert verdicts[0].error is not None and verdicts[0].error.startswith(rejected)
    assert verdicts[1].error == f"not sent: {verdicts[0].error}" == later[0].error
    assert "bad-key" not in _everything_said(judge, verdicts + later, caplog)


def test_the_key_never_appears_in_verdicts_identity_describe_or_logs(
    server: FakePerspective, caplog: pytest.LogCaptureFixture
) -> None:
    judge = _judge(server)
    texts = [f"{KEY} idiot", "y [429-once]", "z [500-once]", "w [malformed]", "v [down]", "u [bad-request]", ""]
    with caplog.at_level(logging.DEBUG):
        verdicts = judge.judge([toxicity_query(text) for text in texts])
    assert [v.label for v in verdicts] == ["TOXICITY", "TOXICITY", "TOXICITY", None, None, None, None]
    said = _everything_said(judge, verdicts, caplog)
    assert KEY not in said and "sk-PERSPECTIVE" not in said
    assert judge.identity() == f"perspective/v1:TOXICITY/summaryScore/en@{server.url.removeprefix('http://')}"
    assert set(judge.describe()) == {
        "judge", "judge_version", "url", "attribute", "score", "languages", "qps", "retries", "requests_sent"
    }  # fmt: skip


def test_blank_texts_and_other_kinds_fail_without_a_request(server: FakePerspective) -> None:
    judge = _judge(server)
    verdicts = judge.judge(
        [toxicity_query(""), toxicity_query("  \n"), refusal_query("I can't", None), JudgeQuery("?", ("A",))]
    )
    assert [v.error for v in verdicts] == [
        "empty text: nothing to score",
        "empty text: nothing to score",
        "perspective answers toxicity queries only, not 'refusal'",
        "perspective answers toxicity queries only, not 'custom'",
    ]
    assert server.requests == []


def test_long_texts_are_cut_to_perspectives_limit(server: FakePerspective) -> None:
    text = "idiot " + "é" * 20000  # 40006 bytes
    verdict = _judge(server).judge([toxicity_query(text)])[0]
    sent = server.texts()[0]
    assert len(sent.encode("utf-8")) <= MAX_COMMENT_BYTES and text.startswith(sent)
    assert len(sent.encode("utf-8")) == MAX_COMMENT_BYTES  # 6 ASCII bytes + whole 2-byte characters
    assert json.loads(verdict.raw or "")["truncated_to_bytes"] == MAX_COMMENT_BYTES
    assert truncate_utf8("abc", 10) == ("abc", False) and truncate_utf8("aé", 2) == ("a", True)


def test_the_request_rate_is_bounded(server: FakePerspective) -> None:
    judge = _judge(server, "qps=20")
    judge.judge([toxicity_query(f"text {i}") for i in range(5)])
    times = [request.at for request in server.requests]
    assert len(times) == 5 and times[-1] - times[0] >= 0.19  # 4 intervals of 1/20 s between request starts


def test_rate_limiter_spacing_with_a_fake_clock() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    limiter = RateLimiter(2.0, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limiter.wait()
    assert slept == [0.5, 0.5]
    now[0] += 10
    limiter.wait()
    assert slept == [0.5, 0.5]


def test_settings_from_argument_and_environment() -> None:
    assert parse_settings(None, {}) == Settings()
    assert Settings().base_url == DEFAULT_URL and Settings().qps == 1.0
    env = {"TRUST_PERSPECTIVE_URL": "http://127.0.0.1:8080", "TRUST_PERSPECTIVE_QPS": "4"}
    assert parse_settings(None, env) == Settings(base_url="http://127.0.0.1:8080", qps=4.0)
    assert parse_settings("https://proxy.example/perspective,qps=0.5,retries=0,languages=en+de", env) == Settings(
        base_url="https://proxy.example/perspective", qps=0.5, retries=0, languages=("en", "de")
    )
    assert parse_settings("qps=10", {}) == Settings(qps=10.0)
    for bad, message in [
        ("qps=0", "qps and timeout must be > 0"),
        ("qps=fast", "not a number"),
        ("ftp://example.org", "not an http"),
        ("http://x?key=1", "not an http"),
        ("colour=red", "unknown option 'colour'"),
        ("languages=", "at least one language"),
    ]:
        with pytest.raises(UserError, match=message):
            parse_settings(bad, {})


def test_the_default_url_needs_a_key_a_custom_url_does_not(server: FakePerspective) -> None:
    with pytest.raises(UserError, match="needs a Perspective API key"):
        PerspectiveJudge(None, _context(key=None), settings=Settings())
    keyless = _judge(server, key=None)
    assert keyless.judge([toxicity_query("idiot")])[0].score == 0.4
    assert server.requests[0].key is None


def test_default_toxicity_scorer_only_with_a_key(monkeypatch: pytest.MonkeyPatch, server: FakePerspective) -> None:
    monkeypatch.setenv("TRUST_LOAD_PLUGINS", "perspective")
    monkeypatch.setenv("TRUST_PERSPECTIVE_URL", server.url)
    registry = Registry()
    assert registry.names("judge") == ["perspective"]
    with_key = ComponentContext(registry, BackendOptions(secrets={"perspective": KEY}))
    judge = registry.make_judge(None, with_key, kind="toxicity")
    assert isinstance(judge, PerspectiveJudge) and judge.settings.base_url == server.url
    assert judge.judge([toxicity_query("idiot")])[0].score == 0.4
    explicit = registry.make_judge("perspective:http://127.0.0.1:1,qps=3", with_key, kind="toxicity")
    assert isinstance(explicit, PerspectiveJudge) and explicit.settings.base_url == "http://127.0.0.1:1"
    assert explicit.settings.qps == 3.0
    without_key = ComponentContext(registry, BackendOptions())
    with pytest.raises(EvaluatorUnavailable) as caught:
        registry.make_judge(None, without_key, kind="toxicity")
    assert caught.value.reason == (
        "perspective: no Perspective API key (pass --perspective-api-key or set PERSPECTIVE_API_KEY)"
    )
    with pytest.raises(UserError, match="cannot judge refusal"):
        registry.make_judge("perspective", with_key, kind="refusal")


def test_through_the_core_evaluators_failures_are_kept_and_retried_next_time(
    server: FakePerspective, tmp_path: Path
) -> None:
    store = Store(tmp_path / "store.sqlite")
    evaluators = CachedEvaluators(store, {"toxicity": lambda: _judge(server)}, "no embedder")
    texts = ["idiot", "x [malformed]", "calm words", "idiot"]
    verdicts = evaluators.toxicity(texts)
    assert [v.score for v in verdicts] == [0.4, None, 0.0, 0.4]
    assert verdicts[1].failed and verdicts[1].error is not None
    assert len(server.requests) == 3  # the duplicate text is asked once
    again = evaluators.toxicity(texts)
    assert [v.score for v in again] == [0.4, None, 0.0, 0.4]
    assert server.texts()[3:] == ["x [malformed]"]  # only the failure is asked again
    assert evaluators.describe()["toxicity_scorer"]["judge"] == "perspective"
    store.close()


FROM_ENVIRONMENT = {"keys_from_environment": {"perspective": "PERSPECTIVE_API_KEY"}}
"""What the CLI records when the key came from PERSPECTIVE_API_KEY rather than --perspective-api-key."""
FAST = "qps=1000,backoff=0.01,retries=0,timeout=5"


def _options(key: str | None = KEY, **extra: Any) -> ComponentContext:
    options = BackendOptions(secrets={"perspective": key} if key else {}, extra=extra)
    return ComponentContext(registry=None, backend_options=options)  # type: ignore[arg-type]


def test_an_environment_key_goes_to_google_s_endpoint_only(
    server: FakePerspective, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRUST_PERSPECTIVE_URL", raising=False)
    from_env = _options(**FROM_ENVIRONMENT)
    custom = PerspectiveJudge(f"{server.url},{FAST}", from_env)
    assert custom.judge([toxicity_query("idiot")])[0].score == 0.4
    assert server.requests[-1].key is None  # the custom server got no key
    assert PerspectiveJudge.endpoint_summary(server.url, from_env.backend_options) == (
        f"{server.url} (no key: PERSPECTIVE_API_KEY is sent only to {DEFAULT_URL}; key_env=PERSPECTIVE_API_KEY "
        "sends it to this endpoint)"
    )
    assert PerspectiveJudge.endpoint_summary(None, from_env.backend_options) == (
        f"{DEFAULT_URL} (key from PERSPECTIVE_API_KEY)"
    )
    monkeypatch.setenv("PERSPECTIVE_API_KEY", KEY)
    named = PerspectiveJudge(f"{server.url},{FAST},key_env=PERSPECTIVE_API_KEY", from_env)
    named.judge([toxicity_query("idiot")])
    assert server.requests[-1].key == KEY  # named for this endpoint: sent
    explicit = PerspectiveJudge(f"{server.url},{FAST}", _options(KEY))
    explicit.judge([toxicity_query("stupid")])
    assert server.requests[-1].key == KEY  # --perspective-api-key: sent
    with pytest.raises(UserError, match="key_env=NO_SUCH_VARIABLE: the environment variable NO_SUCH_VARIABLE is"):
        PerspectiveJudge(f"{server.url},key_env=NO_SUCH_VARIABLE", from_env)


def test_a_key_over_plain_http_to_another_host_needs_allow_insecure(
    server: FakePerspective, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = "http://192.0.2.1:8080"  # TEST-NET-1: never reached; the local server is its HTTP proxy
    monkeypatch.setenv("http_proxy", server.url)
    monkeypatch.setenv("no_proxy", "")
    refusal = (
        "--toxicity-scorer perspective: refusing to send an API key (key from --perspective-api-key) over plain "
        "HTTP to 192.0.2.1, which is not this machine: use an https:// URL, or pass --allow-insecure"
    )
    with pytest.raises(UserError) as refused:
        PerspectiveJudge(f"{other},{FAST}", _options(KEY))
    assert refusal in str(refused.value) and KEY not in str(refused.value)
    allowed = PerspectiveJudge(f"{other},{FAST}", _options(KEY, allow_insecure=True))
    assert allowed.judge([toxicity_query("idiot")])[0].score == 0.4
    assert server.requests[-1].key == KEY  # sent through the proxy, as the user allowed
    keyless = PerspectiveJudge(f"{other},{FAST}", _options(None))  # nothing to protect without a key
    assert keyless.judge([toxicity_query("idiot")])[0].score == 0.4 and server.requests[-1].key is None
