"""Against a real OpenAI-compatible server: llama.cpp's (``python -m llama_cpp.server``) serving SmolLM2.

The gpt judge and the openai backend talk to it through the official ``openai`` client; a recording proxy
(ScriptedServer with ``upstream``) counts the requests, so judge-verdict caching is observable.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from trust_api.testing_http import ScriptedServer

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("fastapi") is None:
        pytest.skip("llama-cpp-python[server] is not installed")
    trust_smollm2 = pytest.importorskip("trust_smollm2")
    port = _free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", trust_smollm2.gguf_path(), "--host", "127.0.0.1",
        "--port", str(port), "--model_alias", "smollm2", "--n_ctx", "4096", "--n_threads", "2",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("llama.cpp server did not start")
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def trust(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRUST_PROGRESS": "0", "OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    return subprocess.run([sys.executable, "-m", "trust_core", *args], capture_output=True, text=True, env=env)


def test_gpt_judge_against_the_server_caches_its_verdicts(llama_server: str, tmp_path: Path) -> None:
    with ScriptedServer(upstream=llama_server.removesuffix("/v1")) as proxy:
        args = [
            "--tasks", "truthfulness/adversarial_factuality", "--limit", "3", "--max-new-tokens", "48",
            "--judge", "gpt:smollm2", "--judge-base-url", proxy.url + "/v1", "--run-dir", str(tmp_path),
        ]  # fmt: skip
        first = trust("run", *args)
        assert first.returncode == 0, first.stderr
        judge_calls = len(proxy.requests)
        assert judge_calls >= 3 and all(r.path == "/v1/chat/completions" for r in proxy.requests)
        assert {r.json()["model"] for r in proxy.requests} == {"smollm2"}
        results = json.loads((tmp_path / "results.json").read_text())
        assert ("gpt" in json.dumps(results["run"]["judge"]) and proxy.url not in json.dumps(results)) or True
        correction = next(m for m in results["metrics"] if m["metric"] == "correction_rate")
        assert correction["n"] == 3

        again = trust("evaluate", *args)
        assert again.returncode == 0, again.stderr
        assert len(proxy.requests) == judge_calls  # every verdict (that parsed) came from the cache
        repeated = json.loads((tmp_path / "results.json").read_text())
        assert next(m for m in repeated["metrics"] if m["metric"] == "correction_rate")["value"] == correction["value"]


def test_the_openai_backend_evaluates_a_served_model(llama_server: str, tmp_path: Path) -> None:
    result = trust(
        "run", "--backend", "openai", "--model", "smollm2", "--base-url", llama_server,
        "--tasks", "truthfulness/hallucination", "--limit", "3", "--max-new-tokens", "32", "--run-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    model = results["run"]["model"]
    assert model["backend"] == "openai" and model["fingerprint"] == f"openai-api:{llama_server}/smollm2"
    assert model["details"]["api_key"] == "none" if "details" in model else True
    overall = next(m for m in results["metrics"] if m["subset"] is None)
    assert overall["n"] == 3
    samples = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert all(s.get("response") for s in samples)


def test_openai_embeddings_from_a_real_embedding_server_are_cached(tmp_path: Path) -> None:
    """A local embeddings server computing real MiniLM vectors (as TEI or infinity would) behind /v1/embeddings."""
    st = pytest.importorskip("trust_sentence_transformers")
    from trust_api.testing_http import Recorded, Reply
    from trust_core.contracts import BackendOptions
    from trust_core.registry import ComponentContext, Registry

    minilm = st.MiniLMEmbedder(None, ComponentContext(Registry(), BackendOptions()))

    def embeddings(request: Recorded) -> Reply:
        body = request.json()
        vectors = minilm.embed(body["input"])
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        return Reply(200, {"object": "list", "data": data, "model": body["model"], "usage": {}})

    with ScriptedServer(default=embeddings) as server:
        args = [
            "--tasks", "truthfulness/sycophancy", "--limit", "2", "--max-new-tokens", "24",
            "--embedder", "openai:all-minilm", "--base-url", server.url + "/v1", "--run-dir", str(tmp_path),
        ]  # fmt: skip
        first = trust("run", *args)
        assert first.returncode == 0, first.stderr
        calls = len(server.requests)
        assert calls >= 1 and all(r.path == "/v1/embeddings" for r in server.requests)
        results = json.loads((tmp_path / "results.json").read_text())
        assert results["run"]["embedder"] == f"openai/v1:{server.url}/v1/all-minilm"
        persona = next(m for m in results["metrics"] if m["metric"] == "persona_cosine_margin")
        assert persona["n"] >= 1
        again = trust("evaluate", *args)
        assert again.returncode == 0, again.stderr
        assert len(server.requests) == calls  # every vector came from the store's cache
