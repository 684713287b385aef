"""Where an OpenAI key is sent, proved by what a real local server records (the Authorization header).

* ``OPENAI_API_KEY`` from the environment goes to OpenAI's own endpoint only, never to ``--base-url`` /
  ``OPENAI_BASE_URL``; a key given on the command line or named for the endpoint (``--api-key-env NAME``,
  ``--judge-api-key-env NAME``) is sent.
* ``--judge gpt:MODEL`` without ``--judge-base-url`` talks to OpenAI's endpoint, never to ``--base-url``.
* A key over plain HTTP to another machine is refused (exit 2, before any work) unless ``--allow-insecure``.
  The "other machine" is 192.0.2.1 (TEST-NET-1, never reached): with ``--allow-insecure`` the local server is
  its HTTP proxy, so it records what would have been sent there.
* The start of a run says, on stderr, where each component sends requests and with which key (never the key).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from trust_api.testing_http import Recorded, Reply, ScriptedServer
from trust_core.plugin import CliResult, run_cli

ENV_KEY = "sk-env-0123456789-ENVIRONMENT-SECRET"
FLAG_KEY = "sk-flag-456789abc-COMMANDLINE-SECRET"
NAMED_KEY = "sk-named-89abcdef-NAMED-VARIABLE-SECRET"
OTHER_HOST = "http://192.0.2.1:8000/v1"
NOT_HERE = "http://127.0.0.1:1"
"""A closed local port: an https request sent through it as a proxy fails at once, without any network."""
GENERATE = ("generate", "--backend", "openai", "--model", "served", "--tasks", "truthfulness/hallucination",
            "--limit", "2", "--max-retries", "0")  # fmt: skip
JUDGED = ("run", "--backend", "openai", "--model", "served", "--tasks", "truthfulness/adversarial_factuality",
          "--limit", "2", "--max-retries", "0")  # fmt: skip


def completion(request: Recorded) -> Reply:
    """A valid chat completion for any request (the judge's reply names no label: a failed verdict, fine here)."""
    body = request.json() or {}
    choice = {"index": 0, "message": {"role": "assistant", "content": "The answer is (A)."}, "finish_reason": "stop"}
    return Reply(
        200,
        {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "m"),
            "choices": [choice],
            "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
        },
    )


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer(default=completion) as running:
        yield running


def trust(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """``trust ARGS`` (in-process) with no OpenAI variables and no proxies unless ``env`` sets them."""
    clean = {name: "" for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "http_proxy", "https_proxy", "all_proxy")}
    clean |= {name.upper(): value for name, value in clean.items()}
    full = {**clean, "NO_PROXY": "127.0.0.1,localhost", **(env or {})}
    full["no_proxy"] = full["NO_PROXY"]
    return run_cli(*args, env=full)


def authorizations(server: ScriptedServer) -> set[str | None]:
    return {request.headers.get("authorization") for request in server.requests}


def leaked(result: CliResult, run_dir: Path, *keys: str) -> list[str]:
    """Where any of ``keys`` appears: stdout, stderr, or a file of the run directory."""
    artefacts = {"stdout": result.stdout.encode(), "stderr": result.stderr.encode()}
    artefacts |= {str(path): path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    return [name for name, content in artefacts.items() for key in keys if key.encode() in content]


def test_the_environment_key_is_not_sent_to_a_custom_base_url(server: ScriptedServer, tmp_path: Path) -> None:
    endpoint = server.url + "/v1"
    line = (
        f"backend openai -> {endpoint} (no key: OPENAI_API_KEY is sent only to https://api.openai.com/v1; "
        "--api-key-env OPENAI_API_KEY sends it to this endpoint)"
    )
    for name, args, env in [
        ("flag", ("--base-url", endpoint), {"OPENAI_API_KEY": ENV_KEY}),
        ("variable", (), {"OPENAI_API_KEY": ENV_KEY, "OPENAI_BASE_URL": endpoint}),  # OPENAI_BASE_URL = --base-url
    ]:
        server.clear()
        run_dir = tmp_path / name
        result = trust(*GENERATE, *args, "--run-dir", str(run_dir), env=env)
        assert result.returncode == 0, result.stderr
        assert len(server.requests) == 2 and authorizations(server) == {"Bearer no-key"}  # a placeholder, not the key
        assert line in result.stderr.splitlines()
        assert leaked(result, run_dir, ENV_KEY) == []


@pytest.mark.parametrize(
    ("args", "sent", "origin"),
    [
        (("--openai-api-key", FLAG_KEY), FLAG_KEY, "key from --openai-api-key"),
        (("--api-key-env", "MY_SERVER_KEY"), NAMED_KEY, "key from MY_SERVER_KEY (--api-key-env)"),
        (("--api-key-env", "OPENAI_API_KEY"), ENV_KEY, "key from OPENAI_API_KEY (--api-key-env)"),
    ],
)
def test_a_key_given_for_the_endpoint_is_sent(
    server: ScriptedServer, tmp_path: Path, args: tuple[str, str], sent: str, origin: str
) -> None:
    env = {"OPENAI_API_KEY": ENV_KEY, "MY_SERVER_KEY": NAMED_KEY}
    result = trust(*GENERATE, "--base-url", server.url + "/v1", *args, "--run-dir", str(tmp_path), env=env)
    assert result.returncode == 0, result.stderr
    assert len(server.requests) == 2 and authorizations(server) == {f"Bearer {sent}"}
    assert f"backend openai -> {server.url}/v1 ({origin})" in result.stderr.splitlines()
    assert leaked(result, tmp_path, ENV_KEY, FLAG_KEY, NAMED_KEY) == []


def test_an_unset_key_variable_stops_the_run_before_any_work(server: ScriptedServer, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = trust(*GENERATE, "--base-url", server.url + "/v1", "--api-key-env", "NO_SUCH_KEY_VARIABLE",
                   "--run-dir", str(run_dir))  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    expected = "--backend openai: --api-key-env NO_SUCH_KEY_VARIABLE: the environment variable NO_SUCH_KEY_VARIABLE"
    assert expected in result.stderr
    assert server.requests == [] and not run_dir.exists()


def test_the_judge_does_not_follow_the_base_url(server: ScriptedServer, tmp_path: Path) -> None:
    keyless = trust(*JUDGED, "--base-url", server.url + "/v1", "--judge", "gpt:judge-m", "--run-dir",
                    str(tmp_path / "a"))  # fmt: skip
    assert keyless.returncode == 2 and "Traceback" not in keyless.stderr
    assert "--judge gpt:judge-m needs an API key" in keyless.stderr  # OpenAI's endpoint, not the keyless server
    assert server.requests == [] and not (tmp_path / "a").exists()

    env = {"OPENAI_API_KEY": ENV_KEY, "HTTPS_PROXY": NOT_HERE, "https_proxy": NOT_HERE}  # OpenAI is not reached
    result = trust(*JUDGED, "--base-url", server.url + "/v1", "--judge", "gpt:judge-m", "--run-dir",
                   str(tmp_path / "b"), env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "judge gpt:judge-m -> https://api.openai.com/v1 (key from OPENAI_API_KEY)" in result.stderr.splitlines()
    assert {request.json()["model"] for request in server.requests} == {"served"}  # no judge request came here
    assert authorizations(server) == {"Bearer no-key"}
    assert "2 judge verdicts failed" in result.stderr
    assert leaked(result, tmp_path / "b", ENV_KEY) == []


def test_the_judge_base_url_gets_the_key_named_for_it(tmp_path: Path) -> None:
    env = {"OPENAI_API_KEY": ENV_KEY, "JUDGE_SERVER_KEY": NAMED_KEY}
    with ScriptedServer(default=completion) as backend, ScriptedServer(default=completion) as judge:
        result = trust(*JUDGED, "--base-url", backend.url + "/v1", "--judge", "gpt:judge-m", "--judge-base-url",
                       judge.url + "/v1", "--judge-api-key-env", "JUDGE_SERVER_KEY", "--run-dir", str(tmp_path),
                       env=env)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert {r.json()["model"] for r in backend.requests} == {"served"} and authorizations(backend) == {
            "Bearer no-key"
        }
        assert {r.json()["model"] for r in judge.requests} == {"judge-m"}
        assert authorizations(judge) == {f"Bearer {NAMED_KEY}"}
    lines = result.stderr.splitlines()
    assert f"judge gpt:judge-m -> {judge.url}/v1 (key from JUDGE_SERVER_KEY (--judge-api-key-env))" in lines
    assert leaked(result, tmp_path, ENV_KEY, NAMED_KEY) == []


@pytest.mark.parametrize(
    ("args", "who"),
    [
        (("generate", "--backend", "openai", "--model", "m", "--base-url", OTHER_HOST), "--backend openai"),
        (("run", "--judge", "gpt:j", "--judge-base-url", "http://judge.example:8080/v1"), "--judge gpt:j"),
        (("run", "--embedder", "openai", "--base-url", OTHER_HOST), "--embedder openai:text-embedding-3-small"),
    ],
)
def test_a_key_over_plain_http_to_another_host_is_refused(tmp_path: Path, args: tuple[str, ...], who: str) -> None:
    run_dir = tmp_path / "run"
    result = trust(*args, "--tasks", "truthfulness/adversarial_factuality", "--limit", "1", "--openai-api-key",
                   FLAG_KEY, "--run-dir", str(run_dir))  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    host = "judge.example" if "judge" in who else "192.0.2.1"
    assert (
        f"{who}: refusing to send an API key (key from --openai-api-key) over plain HTTP to {host}, which is not "
        "this machine: use an https:// URL, or pass --allow-insecure to send it anyway"
    ) in result.stderr
    assert not run_dir.exists() and FLAG_KEY not in result.stderr + result.stdout


def test_allow_insecure_sends_the_key_over_plain_http(server: ScriptedServer, tmp_path: Path) -> None:
    proxy = {"HTTP_PROXY": server.url, "http_proxy": server.url}  # the server stands in for 192.0.2.1
    result = trust(*GENERATE, "--base-url", OTHER_HOST, "--openai-api-key", FLAG_KEY, "--allow-insecure",
                   "--run-dir", str(tmp_path / "a"), env=proxy)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert {request.path for request in server.requests} == {OTHER_HOST + "/chat/completions"}
    assert authorizations(server) == {f"Bearer {FLAG_KEY}"}
    assert f"backend openai -> {OTHER_HOST} (key from --openai-api-key)" in result.stderr.splitlines()

    server.clear()  # without a key there is nothing to protect: no --allow-insecure needed
    keyless = trust(*GENERATE, "--base-url", OTHER_HOST, "--run-dir", str(tmp_path / "b"), env=proxy)
    assert keyless.returncode == 0, keyless.stderr
    assert len(server.requests) == 2 and authorizations(server) == {"Bearer no-key"}


def test_which_hosts_are_this_machine_and_which_endpoint_is_openai_s() -> None:
    from trust_api import is_loopback, is_official

    assert all(is_loopback(host) for host in ("localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "a.localhost"))
    assert not any(is_loopback(host) for host in ("192.0.2.1", "10.0.0.1", "example.com", "localhost.example", None))
    official = "https://api.openai.com/v1"
    assert is_official("https://api.openai.com/v1/", official) and is_official("https://API.openai.com/v1", official)
    assert not is_official("http://api.openai.com/v1", official)  # plain HTTP is not OpenAI's endpoint
    assert not is_official("https://api.openai.com.evil.example/v1", official)
    assert not is_official("https://api.openai.com:8443/v1", official)
