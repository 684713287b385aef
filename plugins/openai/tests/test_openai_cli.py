"""``trust run --backend openai`` and ``--judge gpt:...`` end to end through the CLI, against a real local
HTTP server: failures recorded and retried on resume, keys missing or leaked, the judge's base URL."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from trust_api.testing_http import Reply, ScriptedServer
from trust_core.plugin import CliResult, run_cli

KEY = "sk-cli-9f8e7d6c5b4a-SECRET-KEY"
CANNED = "The answer is (A)."


def completion(request) -> Reply:
    body = request.json() or {}
    return Reply(
        200,
        {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "m"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": CANNED}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
        },
    )


DOWN = Reply(503, {"error": {"message": "overloaded"}}, {"Retry-After": "0"})


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(default=completion) as running:
        yield running


def trust(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> CliResult:
    """``trust ARGS`` (in-process) with no OpenAI variables unless ``env`` sets them."""
    return run_cli(*args, env={"OPENAI_API_KEY": "", "OPENAI_BASE_URL": "", **(env or {})}, cwd=cwd)


def run_args(server: ScriptedServer, run_dir: Path) -> list[str]:
    return [
        "run", "--backend", "openai", "--model", "served", "--base-url", server.url + "/v1",
        "--tasks", "truthfulness/hallucination", "--limit", "3", "--max-retries", "1",
        "--openai-api-key", KEY, "--run-dir", str(run_dir),
    ]  # fmt: skip


def test_failed_requests_are_recorded_then_succeed_on_resume(server: ScriptedServer, tmp_path: Path) -> None:
    server.default = DOWN
    first = trust(*run_args(server, tmp_path))
    assert first.returncode == 3, first.stderr  # not one response succeeded: nothing to score
    assert "3 x HTTP 503: overloaded (after 2 attempts)" in first.stderr
    assert not (tmp_path / "results.json").exists()

    server.default = completion
    server.push(DOWN, DOWN)  # one prompt fails (both attempts), the others succeed
    partial = trust(*run_args(server, tmp_path), "--max-concurrency", "1")
    assert partial.returncode == 0, partial.stderr
    assert "1 failed" in partial.stderr
    with contextlib.closing(sqlite3.connect(tmp_path / "store.sqlite")) as db:
        rows = db.execute("SELECT status, error, attempts FROM responses").fetchall()
    assert sorted(status for status, _, _ in rows) == ["failed", "ok", "ok"]
    assert [error for status, error, _ in rows if status == "failed"] == ["HTTP 503: overloaded (after 2 attempts)"]
    import json

    metrics = json.loads((tmp_path / "results.json").read_text())["metrics"]
    overall = next(m for m in metrics if m["subset"] is None)
    assert overall["invalid_reasons"]["generation_failed"] == 1 and overall["n"] == 3  # failures stay in n

    server.clear()
    second = trust(*run_args(server, tmp_path))
    assert second.returncode == 0, second.stderr
    with contextlib.closing(sqlite3.connect(tmp_path / "store.sqlite")) as db:
        rows = db.execute("SELECT status, text, attempts FROM responses").fetchall()
    assert all(status == "ok" and text == CANNED for status, text, _ in rows)
    assert sorted(attempts for _, _, attempts in rows) == [1, 1, 2]
    assert len(server.requests) == 1  # only the failed one was asked again

    third = trust(*run_args(server, tmp_path))
    assert third.returncode == 0 and f"{len(rows)} already stored, 0 generated" in third.stderr
    assert len(server.requests) == 1


def test_no_artefact_contains_the_api_key(server: ScriptedServer, tmp_path: Path) -> None:
    server.push(Reply(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}}))  # a server echoing it
    result = trust(*run_args(server, tmp_path), "--judge", "gpt:judge", "--judge-base-url", server.url + "/v1")
    assert result.returncode == 0, result.stderr
    assert any(r.headers.get("authorization") == f"Bearer {KEY}" for r in server.requests)  # it was sent...
    artefacts = {"stdout": result.stdout.encode(), "stderr": result.stderr.encode()}
    for path in tmp_path.rglob("*"):
        if path.is_file():
            artefacts[str(path)] = path.read_bytes()
    assert len(artefacts) >= 5
    leaks = [name for name, content in artefacts.items() if KEY.encode() in content]
    assert leaks == []  # ...and recorded nowhere
    assert b"***" in (tmp_path / "store.sqlite").read_bytes() or b"***" in artefacts[str(tmp_path / "samples.jsonl")]


def test_a_missing_key_stops_the_run_before_any_work(tmp_path: Path) -> None:
    backend = trust("run", "--backend", "openai", "--model", "gpt-4o-mini", "--tasks", "truthfulness/hallucination",
                    "--limit", "1", "--run-dir", str(tmp_path / "a"))  # fmt: skip
    assert backend.returncode == 2 and "Traceback" not in backend.stderr
    assert "--backend openai needs an API key: pass --openai-api-key or set OPENAI_API_KEY" in backend.stderr
    judge = trust("run", "--tasks", "truthfulness/adversarial_factuality", "--limit", "1", "--judge", "gpt:gpt-4o",
                  "--run-dir", str(tmp_path / "b"))  # fmt: skip
    assert judge.returncode == 2 and "--judge gpt:gpt-4o needs an API key" in judge.stderr
    assert "generating" not in judge.stderr and not (tmp_path / "b" / "results.json").exists()
    embedder = trust("run", "--tasks", "truthfulness/sycophancy", "--limit", "1", "--embedder", "openai",
                     "--run-dir", str(tmp_path / "c"))  # fmt: skip
    assert embedder.returncode == 2 and "--embedder openai:text-embedding-3-small needs an API key" in embedder.stderr


def test_the_ornl_workflows_judge_flags_select_the_gpt_judge(server: ScriptedServer, tmp_path: Path) -> None:
    args = run_args(server, tmp_path)
    args[args.index("truthfulness/hallucination")] = "truthfulness/adversarial_factuality"
    result = trust(*args, "--judge_family", "gpt", "--judge_model", "judge-m", "--judge-base-url", server.url + "/v1")
    assert result.returncode == 0, result.stderr
    import json

    run = json.loads((tmp_path / "results.json").read_text())["run"]
    assert run["judge"]["spec"] == "gpt:judge-m" or "judge-m" in json.dumps(run["judge"])
    assert {r.json()["model"] for r in server.requests} == {"served", "judge-m"}
