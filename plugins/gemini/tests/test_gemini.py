"""The gemini backend and judge: the real google-genai SDK against a local server speaking Gemini's wire format
(``POST /v1beta/models/{model}:generateContent``), with injected faults."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from trust_gemini import GeminiBackend, GeminiJudge

from trust_api.testing_http import Recorded, Reply, ScriptedServer
from trust_core.contracts import BackendOptions, ChatRequest, GenerationSettings, JudgeQuery
from trust_core.errors import UserError
from trust_core.registry import ComponentContext, Registry

KEY = "AIza-test-key-0123456789-SECRET"


def generate_content(request: Recorded, text: str | None = None) -> Reply:
    """A valid generateContent reply; by default it echoes the last user turn."""
    body = request.json() or {}
    last = body["contents"][-1]["parts"][0]["text"]
    reply = text if text is not None else f"echo: {last}"
    return Reply(
        200,
        {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": reply}]}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 3, "totalTokenCount": 7},
            "modelVersion": "test",
        },
    )


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(default=generate_content) as running:
        yield running


def options(server: ScriptedServer, **extra: object) -> BackendOptions:
    settings = {"base_url": server.url, "request_timeout": 2.0, "max_retries": 3, "retry_backoff": 0.05, **extra}
    return BackendOptions(secrets={"gemini": KEY}, extra=settings)


def chat(*messages: tuple[str, str], key: str = "k") -> ChatRequest:
    return ChatRequest(key, tuple({"role": r, "content": c} for r, c in messages), GenerationSettings(0.0, 16, 7))


def test_a_chat_maps_onto_gemini_s_format(server: ScriptedServer) -> None:
    backend = GeminiBackend("gemini-test", options(server))
    request = chat(("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello!"), ("user", "Capital of France?"))
    (result,) = list(backend.generate([request]))
    assert (result.text, result.error, result.completion_tokens) == ("echo: Capital of France?", None, 3)
    sent = server.requests[0]
    assert sent.path.startswith("/v1beta/models/gemini-test:generateContent")
    assert sent.headers.get("x-goog-api-key") == KEY
    body = sent.json()
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["systemInstruction"]["parts"][0]["text"] == "Be brief."
    config = body["generationConfig"]
    assert (config["temperature"], config["maxOutputTokens"], config["seed"]) == (0.0, 16, 7)
    assert backend.fingerprint() == f"gemini-api:{server.url}/gemini-test"
    assert KEY not in repr(backend.describe())


def test_429_with_retry_after_then_success(server: ScriptedServer) -> None:
    error = {"error": {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}}
    server.push(Reply(429, error, {"Retry-After": "0.5"}))
    backend = GeminiBackend("m", options(server))
    started = time.perf_counter()
    (result,) = list(backend.generate([chat(("user", "q"))]))
    assert result.error is None and time.perf_counter() - started >= 0.5
    assert len(server.requests) == 2


def test_500_malformed_and_empty_replies_are_retried_then_recorded(server: ScriptedServer) -> None:
    server.push(
        Reply(500, {"error": {"code": 500, "message": "internal", "status": "INTERNAL"}}),
        Reply(200, b"{not json"),
        Reply(200, {"candidates": []}),
    )
    backend = GeminiBackend("m", options(server, max_retries=5))
    (result,) = list(backend.generate([chat(("user", "q"))]))
    assert result.error is None and len(server.requests) == 4
    server.clear()
    server.push(*[Reply(503, {"error": {"code": 503, "message": "unavailable", "status": "UNAVAILABLE"}})] * 3)
    failing = GeminiBackend("m", options(server, max_retries=2))
    (failed,) = list(failing.generate([chat(("user", "q"))]))
    assert failed.text is None and failed.error == "HTTP 503: unavailable (after 3 attempts)"


def test_keys_are_redacted_and_client_errors_not_retried(server: ScriptedServer) -> None:
    server.push(
        Reply(400, {"error": {"code": 400, "message": f"API key not valid: {KEY}", "status": "INVALID_ARGUMENT"}})
    )
    (result,) = list(GeminiBackend("m", options(server)).generate([chat(("user", "q"))]))
    assert result.error == "HTTP 400: API key not valid: ***" and len(server.requests) == 1


def test_google_s_endpoint_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_BASE_URL", raising=False)
    with pytest.raises(
        UserError, match="--backend gemini needs an API key: pass --gemini-api-key or set GEMINI_API_KEY"
    ):
        GeminiBackend("gemini-2.0-flash", BackendOptions())
    with pytest.raises(UserError, match=r"--judge gemini:gemini-2\.0-flash needs an API key"):
        GeminiJudge(None, ComponentContext(Registry(), BackendOptions()))


def test_the_gemini_judge_gives_verdicts(server: ScriptedServer) -> None:
    server.default = lambda request: generate_content(request, "Verdict: NO")
    context = ComponentContext(
        Registry(), BackendOptions(secrets={"gemini": KEY}, extra={"judge_base_url": server.url})
    )
    judge = GeminiJudge("judge-model", context)
    (verdict,) = judge.judge([JudgeQuery("Is the sun a planet? YES or NO.", ("YES", "NO"))])
    assert verdict.label == "NO" and "judge-model" in judge.identity()
    assert server.requests[0].path.startswith("/v1beta/models/judge-model:generateContent")
