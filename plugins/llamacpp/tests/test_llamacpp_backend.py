"""The llamacpp backend on SmolLM2-135M-Instruct (Q4_1 GGUF). Skipped when llama_cpp is not importable."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import trust_smollm2
from trust_llamacpp import LlamaCppBackend
from trust_llamacpp.backend import batch_shape, cut_at_stops
from trust_llamacpp.batched import pick_token

from trust_core.backend_support import plain_prompt
from trust_core.contracts import (
    BackendOptions,
    ChatRequest,
    ChatTemplate,
    GenerationResult,
    GenerationSettings,
    Message,
)

HAS_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None
needs_llama_cpp = pytest.mark.skipif(
    not HAS_LLAMA_CPP, reason="llama_cpp is not importable: pip install trust-llamacpp (llama-cpp-python>=0.3)"
)

QUESTIONS = ("What is the capital of France?", "Name one primary color.", "What is 2 + 2?")
SMOLLM2_PROMPT = (
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n"
)


def _requests(temperature: float = 0.0, seed: int = 0, max_new: int = 12) -> list[ChatRequest]:
    return [
        ChatRequest(f"q{i}", ({"role": "user", "content": q},), GenerationSettings(temperature, max_new, seed + i))
        for i, q in enumerate(QUESTIONS)
    ]


def _texts(results: Iterator[GenerationResult]) -> dict[str, str | None]:
    return {result.key: result.text for result in results}


@pytest.fixture(scope="module")
def backend() -> Iterator[LlamaCppBackend]:
    if not HAS_LLAMA_CPP:
        pytest.skip("llama_cpp is not importable: pip install trust-llamacpp (llama-cpp-python>=0.3)")
    instance = LlamaCppBackend(trust_smollm2.gguf_path(), BackendOptions())
    yield instance
    instance.close()


@needs_llama_cpp
def test_supports_only_existing_gguf_files(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    assert LlamaCppBackend.supports(trust_smollm2.gguf_path()) == 3
    assert LlamaCppBackend.supports(str(tmp_path)) == 0
    assert LlamaCppBackend.supports(str(tmp_path / "missing.gguf")) == 0
    assert LlamaCppBackend.supports("HuggingFaceTB/SmolLM2-135M-Instruct") == 0


@pytest.mark.skipif(HAS_LLAMA_CPP, reason="checks the score when llama_cpp is absent")
def test_supports_nothing_without_llama_cpp() -> None:
    assert LlamaCppBackend.supports(trust_smollm2.gguf_path()) == 0


def test_pick_token_is_the_argmax_when_greedy_and_follows_the_generator_when_sampling() -> None:
    import numpy as np

    logits = np.array([0.5, 3.0, 2.9, -1.0], dtype=np.float32)
    assert pick_token(logits, 0.0, None) == 1
    draws = [pick_token(logits, 1.0, np.random.default_rng(seed)) for seed in range(200)]
    again = [pick_token(logits, 1.0, np.random.default_rng(seed)) for seed in range(200)]
    assert draws == again  # a request's seed decides its draws
    rng = np.random.default_rng(3)
    frequencies = np.bincount([pick_token(logits, 1.0, rng) for _ in range(4000)], minlength=4) / 4000
    expected = np.exp(logits) / np.exp(logits).sum()  # softmax: 0.04, 0.51, 0.45, 0.01
    assert np.abs(frequencies - expected).max() < 0.03
    halved = np.bincount([pick_token(logits, 0.5, rng) for _ in range(4000)], minlength=4) / 4000
    assert np.abs(halved - np.exp(2 * logits) / np.exp(2 * logits).sum()).max() < 0.03  # temperature 0.5
    assert {pick_token(logits, 0.01, np.random.default_rng(seed)) for seed in range(50)} == {1}  # near-greedy


def test_batch_shape_fits_the_longest_job_and_the_cache_budget() -> None:
    assert batch_shape([100, 300], parallel=4, n_ctx=4096, cache_tokens=16384) == (2, 512)  # 2 jobs, 512 cells
    assert batch_shape([100] * 9, parallel=4, n_ctx=4096, cache_tokens=16384) == (4, 256)
    assert batch_shape([3000] * 9, parallel=8, n_ctx=4096, cache_tokens=16384) == (5, 3072)  # the budget allows 5
    assert batch_shape([4000] * 2, parallel=8, n_ctx=4000, cache_tokens=100) == (1, 4000)  # always one, <= n_ctx


def test_cut_at_stops_keeps_the_text_before_the_first_stop() -> None:
    assert cut_at_stops("answer[USER] more\n", ["\n", "[USER]"]) == "answer"
    assert cut_at_stops("no stop here", ["[USER]"]) == "no stop here"
    assert cut_at_stops("text", []) == "text"


def test_plain_fallback_prompt() -> None:
    messages = ({"role": "user", "content": "Hi"},)
    assert plain_prompt(messages, bos="<s>") == "<s>User: Hi\n\nAssistant:"
    with pytest.raises(ValueError, match="content"):
        plain_prompt(({"role": "user"},))  # type: ignore[typeddict-item]


def test_importing_the_plugin_does_not_import_llama_cpp() -> None:
    code = "import sys, trust_llamacpp; assert 'llama_cpp' not in sys.modules; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_render_is_the_embedded_template_without_a_double_bos(backend: LlamaCppBackend) -> None:
    text = backend.render([{"role": "user", "content": "Hello there"}])
    assert text == SMOLLM2_PROMPT
    tokens = backend.encode(text)
    bos = backend.encode("<|im_start|>")
    assert len(bos) == 1 and tokens[0] == bos[0] and tokens[1] != bos[0]
    info = backend.describe()
    assert info["chat_template"] == "gguf"
    assert info["n_ctx"] == 4096  # min(4096, the model's 8192 training context)


@pytest.mark.slow
def test_greedy_is_deterministic_and_independent_of_order(backend: LlamaCppBackend) -> None:
    requests = _requests()
    first = list(backend.generate(requests))
    again = _texts(backend.generate(requests))
    reversed_order = _texts(backend.generate(list(reversed(requests))))
    assert sorted(result.key for result in first) == sorted(request.key for request in requests)
    for result in first:
        assert result.error is None and result.text
        assert 0 < (result.completion_tokens or 0) <= 12
        assert again[result.key] == result.text
        assert reversed_order[result.key] == result.text


@pytest.mark.slow
@needs_llama_cpp
def test_decoding_together_gives_each_request_what_it_gets_alone() -> None:
    """Continuous batching (issue 12): a request's tokens do not depend on the requests decoded with it."""
    prompts = [*QUESTIONS, "Write a haiku about autumn leaves.", "Why is the sky blue?", "Give me a synonym for happy."]
    greedy = [ChatRequest(f"g{i}", ({"role": "user", "content": q},), GenerationSettings(0.0, 32, i))
              for i, q in enumerate(prompts)]  # fmt: skip
    sampled = [ChatRequest(f"s{i}", r.messages, GenerationSettings(1.0, 24, 100 + i)) for i, r in enumerate(greedy)]
    outputs = {}
    for parallel in (1, 4):
        options = BackendOptions(component_options={"llamacpp": {"parallel": parallel}})
        instance = LlamaCppBackend(trust_smollm2.gguf_path(), options)
        try:
            assert instance.describe()["parallel"] == parallel
            outputs[parallel] = {r.key: (r.text, r.completion_tokens) for r in instance.generate(greedy + sampled)}
        finally:
            instance.close()
    assert all(text for text, _ in outputs[1].values())
    assert outputs[4] == outputs[1]


@pytest.mark.slow
def test_sampling_follows_the_request_seed(backend: LlamaCppBackend) -> None:
    first = _texts(backend.generate(_requests(temperature=1.0, seed=7, max_new=16)))
    again = _texts(backend.generate(_requests(temperature=1.0, seed=7, max_new=16)))
    other = _texts(backend.generate(_requests(temperature=1.0, seed=900, max_new=16)))
    assert first == again
    assert first != other


@pytest.mark.slow
def test_bad_requests_yield_error_results_and_the_rest_succeed(backend: LlamaCppBackend) -> None:
    good = _requests(max_new=4)[:2]
    bad_message = ChatRequest("no-content", ({"role": "user"},), GenerationSettings(0.0, 4, 0))  # type: ignore[arg-type]
    bad_settings = ChatRequest("zero-tokens", good[0].messages, GenerationSettings(0.0, 0, 0))
    too_long = ChatRequest("too-long", good[0].messages, GenerationSettings(0.0, 5000, 0))
    results = {r.key: r for r in backend.generate([bad_message, *good, bad_settings, too_long])}
    assert len(results) == 5
    assert "render" in (results["no-content"].error or "")
    assert "max_new_tokens" in (results["zero-tokens"].error or "")
    assert "n_ctx" in (results["too-long"].error or "")
    for key in ("no-content", "zero-tokens", "too-long"):
        assert results[key].text is None
    assert all(results[r.key].text and results[r.key].error is None for r in good)


@pytest.mark.slow
@needs_llama_cpp
def test_context_size_option_and_fingerprint() -> None:
    import hashlib

    small = LlamaCppBackend(trust_smollm2.gguf_path(), BackendOptions(component_options={"llamacpp": {"n_ctx": 64}}))
    try:
        assert small.describe()["n_ctx"] == 64
        [result] = small.generate(_requests(max_new=60)[:1])
        assert result.text is None and "n_ctx" in (result.error or "")
        expected = hashlib.sha256(Path(trust_smollm2.gguf_path()).read_bytes()).hexdigest()
        assert small.fingerprint() == f"gguf-sha256:{expected}"
    finally:
        small.close()


# --------------------------------------------------------------------------- a chat template the user names


class BracketTemplate(ChatTemplate):
    """``[ROLE] content`` lines, then ``[ASSISTANT]``; a reply ends at the next ``[USER]``."""

    name = "bracket"

    def identity(self) -> str:
        return "bracket@1"

    def render(self, messages: Sequence[Message]) -> str:
        return "".join(f"[{m['role'].upper()}] {m['content']}\n" for m in messages) + "[ASSISTANT]"

    def stop_strings(self) -> list[str]:
        return ["[USER]", "\n"]


@pytest.mark.slow
@needs_llama_cpp
def test_a_named_chat_template_replaces_the_embedded_one() -> None:
    named = LlamaCppBackend(trust_smollm2.gguf_path(), BackendOptions(extra={"chat_template": BracketTemplate(None)}))
    try:
        assert named.render([{"role": "user", "content": "Hello there"}]) == "[USER] Hello there\n[ASSISTANT]"
        assert named.describe()["chat_template"] == "bracket@1"
        results = list(named.generate(_requests(max_new=24)))
        assert all(r.error is None and r.text is not None and "\n" not in r.text for r in results)  # stopped
    finally:
        named.close()


@pytest.mark.slow
@needs_llama_cpp
@pytest.mark.skipif(importlib.util.find_spec("fastchat") is None, reason="fschat is not installed")
def test_chat_template_option_applies_on_the_default_llamacpp_backend(tmp_path: Path) -> None:
    """Issue 14, item 8: `--chat-template fastchat:vicuna_v1.1` was ignored on llama.cpp (prompts stayed ChatML)."""
    import json
    import sqlite3

    run_dir = tmp_path / "run"
    args = ["run", "--chat-template", "fastchat:vicuna_v1.1", "--tasks", "truthfulness/hallucination", "--limit", "1"]
    done = subprocess.run(
        [sys.executable, "-m", "trust_core", *args, "--max-new-tokens", "2", "--run-dir", str(run_dir)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TRUST_PROGRESS": "0"},
    )
    assert done.returncode == 0, done.stderr
    model = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))["run"]["model"]
    assert model["backend"] == "llamacpp"
    assert model["details"]["chat_template"].startswith("fastchat:vicuna_v1.1@fschat==")
    with contextlib.closing(sqlite3.connect(run_dir / "store.sqlite")) as db:
        prompts = [row[0] for row in db.execute("SELECT rendered_prompt FROM responses")]
    assert prompts and all(p.startswith("A chat between a curious user") for p in prompts), prompts
    assert not any("<|im_start|>" in p for p in prompts)


def test_threads_default_to_half_the_cpus_and_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from trust_llamacpp.backend import THREADS_ENV, LlamaCppBackend

    from trust_core.errors import UserError

    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert LlamaCppBackend._threads() == 4
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert LlamaCppBackend._threads() == 1
    monkeypatch.setenv(THREADS_ENV, "3")
    assert LlamaCppBackend._threads() == 3
    monkeypatch.setenv(THREADS_ENV, "zero")
    with pytest.raises(UserError, match=THREADS_ENV):
        LlamaCppBackend._threads()
