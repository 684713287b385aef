"""Where a Gemini key is sent, through the CLI, proved by what a real local server records (``x-goog-api-key``):
``GEMINI_API_KEY`` from the environment goes to Google's endpoint only; ``--gemini-api-key`` or
``--api-key-env NAME`` sends a key to ``--base-url``; ``--judge gemini:MODEL`` never follows ``--base-url``; a key
over plain HTTP to another machine is refused before any work."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trust_api.testing_http import Recorded, Reply, ScriptedServer
from trust_core.plugin import CliResult, run_cli

ENV_KEY = "AIza-env-0123456789-ENVIRONMENT-SECRET"
FLAG_KEY = "AIza-flag-456789abc-COMMANDLINE-SECRET"
GENERATE = ("generate", "--backend", "gemini", "--model", "gemini-test", "--tasks", "truthfulness/hallucination",
            "--limit", "2", "--max-retries", "0")  # fmt: skip


def generate_content(request: Recorded) -> Reply:
    """A valid generateContent reply."""
    candidate = {"content": {"role": "model", "parts": [{"text": "The answer is (A)."}]}, "finishReason": "STOP"}
    usage = {"promptTokenCount": 4, "candidatesTokenCount": 3, "totalTokenCount": 7}
    return Reply(200, {"candidates": [{**candidate, "index": 0}], "usageMetadata": usage})


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(default=generate_content) as running:
        yield running


def trust(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """``trust ARGS`` (in-process) with no Gemini or Google variables unless ``env`` sets them."""
    clean = {name: "" for name in ("GEMINI_API_KEY", "GEMINI_BASE_URL", "GOOGLE_API_KEY")}
    return run_cli(*args, env={**clean, **(env or {})})


def sent_keys(server: ScriptedServer) -> set[str | None]:
    return {request.headers.get("x-goog-api-key") for request in server.requests}


@pytest.mark.parametrize(
    ("args", "sent", "origin"),
    [
        ((), "no-key", "no key: GEMINI_API_KEY is sent only to https://generativelanguage.googleapis.com; "
         "--api-key-env GEMINI_API_KEY sends it to this endpoint"),
        (("--gemini-api-key", FLAG_KEY), FLAG_KEY, "key from --gemini-api-key"),
        (("--api-key-env", "GEMINI_API_KEY"), ENV_KEY, "key from GEMINI_API_KEY (--api-key-env)"),
    ],
)  # fmt: skip
def test_the_environment_key_goes_to_a_custom_server_only_when_named(
    server: ScriptedServer, tmp_path: Path, args: tuple[str, ...], sent: str, origin: str
) -> None:
    result = trust(
        *GENERATE, "--base-url", server.url, *args, "--run-dir", str(tmp_path), env={"GEMINI_API_KEY": ENV_KEY}
    )
    assert result.returncode == 0, result.stderr
    assert len(server.requests) == 2 and sent_keys(server) == {sent}
    assert f"backend gemini -> {server.url} ({origin})" in result.stderr.splitlines()
    said = result.stdout + result.stderr + "".join(p.read_text("latin-1") for p in tmp_path.rglob("*") if p.is_file())
    assert ENV_KEY not in said and FLAG_KEY not in said


def test_the_gemini_judge_does_not_follow_the_base_url(server: ScriptedServer, tmp_path: Path) -> None:
    result = trust("run", "--backend", "gemini", "--model", "gemini-test", "--base-url", server.url, "--judge",
                   "gemini:judge-m", "--tasks", "truthfulness/adversarial_factuality", "--limit", "1",
                   "--run-dir", str(tmp_path / "run"))  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--judge gemini:judge-m needs an API key" in result.stderr  # Google's endpoint, not the keyless server
    assert server.requests == [] and not (tmp_path / "run").exists()


def test_a_key_over_plain_http_to_another_host_is_refused(tmp_path: Path) -> None:
    result = trust(*GENERATE, "--base-url", "http://192.0.2.1:8000", "--gemini-api-key", FLAG_KEY, "--run-dir",
                   str(tmp_path / "run"))  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    refusal = "--backend gemini: refusing to send an API key (key from --gemini-api-key) over plain HTTP to 192.0.2.1"
    assert refusal in result.stderr
    assert not (tmp_path / "run").exists() and FLAG_KEY not in result.stderr
