"""The openai backend, judge and embedder against a real local HTTP server with injected faults.

The server (trust_api.testing_http.ScriptedServer) answers with valid OpenAI-format JSON by default and
with scripted failures when told; the official ``openai`` client sends every request over real HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from trust_openai import GptJudge, OpenAIBackend, OpenAIEmbedder

from trust_api.testing_http import Recorded, Reply, ScriptedServer
from trust_core.contracts import BackendOptions, ChatRequest, GenerationSettings, JudgeQuery
from trust_core.errors import UserError
from trust_core.registry import ComponentContext, Registry

KEY = "sk-test-0123456789abcdef-SECRET"


def completion(request: Recorded) -> Reply:
    """A valid chat completion (or embeddings) reply whose text echoes the last user message."""
    body = request.json() or {}
    if request.path.endswith("/embeddings"):
        texts = body["input"]
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(t)), 1.0, 0.5]} for i, t in enumerate(texts)
        ]
        return Reply(200, {"object": "list", "data": data, "model": body["model"], "usage": {}})
    content = "echo: " + body["messages"][-1]["content"]
    return Reply(
        200,
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        },
    )


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(default=completion) as running:
        yield running


def options(server: ScriptedServer, **extra: object) -> BackendOptions:
    settings = {"base_url": server.url + "/v1", "request_timeout": 2.0, "max_retries": 3, "retry_backoff": 0.05}
    settings.update(extra)
    return BackendOptions(secrets={"openai": KEY}, extra=settings)


def request(key: str = "k", text: str = "hello") -> ChatRequest:
    return ChatRequest(key, ({"role": "user", "content": text},), GenerationSettings(0.0, 8, 1))


def test_a_chat_completion_round_trip(server: ScriptedServer) -> None:
    backend = OpenAIBackend("served-model", options(server))
    (result,) = list(backend.generate([request(text="hi")]))
    assert (result.text, result.error, result.completion_tokens) == ("echo: hi", None, 2)
    sent = server.requests[0]
    assert sent.path == "/v1/chat/completions" and sent.headers["authorization"] == f"Bearer {KEY}"
    body = sent.json()
    assert (body["model"], body["temperature"], body["max_tokens"], body["seed"]) == ("served-model", 0.0, 8, 1)
    assert backend.fingerprint() == f"openai-api:{server.url}/v1/served-model"
    assert KEY not in repr(backend.describe()) and backend.describe()["api_key"] == "given"


def test_429_with_retry_after_is_honoured_then_succeeds(server: ScriptedServer) -> None:
    server.push(Reply(429, {"error": {"message": "rate limited"}}, {"Retry-After": "0.6"}))
    backend = OpenAIBackend("m", options(server))
    started = time.perf_counter()
    (result,) = list(backend.generate([request()]))
    assert result.error is None and result.text == "echo: hello"
    assert time.perf_counter() - started >= 0.6  # the server's wait, not the 0.05 s backoff
    assert len(server.requests) == 2


def test_5xx_timeouts_and_malformed_replies_are_retried(server: ScriptedServer) -> None:
    server.push(
        Reply(500, {"error": {"message": "boom"}}),
        Reply(503, "service unavailable", {"Content-Type": "text/plain"}),
        Reply(200, b'{"id": "x", "choices": [', delay=0.0),  # malformed JSON
        Reply(
            200,
            completion(
                Recorded(
                    "POST", "/v1/chat/completions", {}, b'{"model":"m","messages":[{"role":"user","content":"late"}]}'
                )
            ).body,
            delay=3.0,
        ),  # past the 2 s timeout
    )
    backend = OpenAIBackend("m", options(server, max_retries=5))
    (result,) = list(backend.generate([request()]))
    assert result.error is None and result.text == "echo: hello"
    assert len(server.requests) == 5


def test_a_request_that_keeps_failing_is_a_failed_result_with_its_reason(server: ScriptedServer) -> None:
    server.push(*[Reply(502, {"error": {"message": "bad gateway"}})] * 4)
    backend = OpenAIBackend("m", options(server, max_retries=3))
    (result,) = list(backend.generate([request()]))
    assert result.text is None and result.error == "HTTP 502: bad gateway (after 4 attempts)"
    assert len(server.requests) == 4


def test_client_errors_are_not_retried_and_keys_are_redacted(server: ScriptedServer) -> None:
    echo = Reply(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}})  # a server that echoes the key
    server.push(echo)
    backend = OpenAIBackend("m", options(server))
    (result,) = list(backend.generate([request()]))
    assert result.error == "HTTP 401: Incorrect API key provided: ***"
    assert len(server.requests) == 1


def test_concurrency_is_bounded(server: ScriptedServer) -> None:
    slow = lambda r: Reply(**{**completion(r).__dict__, "delay": 0.3})  # noqa: E731
    server.default = slow
    backend = OpenAIBackend("m", options(server, max_concurrency=3))
    started = time.perf_counter()
    results = list(backend.generate([request(f"k{i}", f"t{i}") for i in range(9)]))
    elapsed = time.perf_counter() - started
    assert sorted(r.key for r in results) == sorted(f"k{i}" for i in range(9))
    assert all(r.error is None for r in results)
    assert server.max_in_flight == 3
    assert elapsed < 9 * 0.3 * 0.6  # about three rounds, far from nine sequential requests


def test_the_official_endpoint_without_a_key_fails_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(UserError, match="--backend openai needs an API key: pass --openai-api-key"):
        OpenAIBackend("gpt-4o-mini", BackendOptions())
    with pytest.raises(UserError, match="is not an http"):
        OpenAIBackend("m", BackendOptions(extra={"base_url": "ftp://x"}))
    keyless = OpenAIBackend("m", BackendOptions(extra={"base_url": "http://127.0.0.1:9/v1"}))
    assert keyless.describe()["api_key"] == "none"


def test_the_gpt_judge_uses_the_judge_base_url_and_parses_verdicts(server: ScriptedServer) -> None:
    server.default = lambda r: (
        completion(r)
        if "embeddings" in r.path
        else Reply(
            200,
            {
                **completion(r).body,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Answer: CORRECT"}}],
            },
        )
    )
    context = ComponentContext(Registry(), BackendOptions(extra={"judge_base_url": server.url + "/v1"}))
    judge = GptJudge("judge-model", context)
    queries = [JudgeQuery("Is 2+2=4? Reply CORRECT or WRONG.", ("CORRECT", "WRONG"))]
    (verdict,) = judge.judge(queries)
    assert verdict.label == "CORRECT" and verdict.error is None
    assert server.requests[0].json()["model"] == "judge-model"
    assert judge.describe()["model"] == "judge-model" and "judge-model" in judge.identity()
    assert GptJudge.unavailable_reason({"openai": KEY})  # never a silent default


def test_a_failing_judge_gives_a_failed_verdict_not_a_negative(server: ScriptedServer) -> None:
    server.default = Reply(500, {"error": {"message": "down"}})
    context = ComponentContext(
        Registry(), BackendOptions(extra={"judge_base_url": server.url + "/v1", "max_retries": 0})
    )
    (verdict,) = GptJudge("j", context).judge([JudgeQuery("q", ("YES", "NO"))])
    assert verdict.label is None and verdict.error == "HTTP 500: down"


def test_the_embedder_batches_and_keeps_order(server: ScriptedServer) -> None:
    context = ComponentContext(Registry(), options(server))
    embedder = OpenAIEmbedder("emb-model", context)
    texts = [f"text number {i}" * (i % 3 + 1) for i in range(70)]
    vectors = embedder.embed(texts)
    assert [v[0] for v in vectors] == [float(len(t)) for t in texts]
    assert len(server.requests) == 2  # batches of 64
    assert embedder.identity() == f"openai/v1:{server.url}/v1/emb-model"
