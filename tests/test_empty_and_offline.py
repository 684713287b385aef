"""Issue #14, items 4, 7 and 5 (last sentence): runs that produced nothing, models that are not there, and
evaluations that overwrite each other.

* A run in which not one response succeeded (the API server is down) exits with status 3, scores nothing and
  writes no results; ``--limit 1`` is rounded up, with a note, for tasks scored in pairs or groups.
* A hub model that is neither in the local Hugging Face cache nor reachable (the generation model, ``--judge
  qwen``, ``--judge ORG/NAME``) is one message and exit 2 before any work, without the library's retries.
* Every ``run``/``evaluate`` keeps its own copy of results.json and samples.jsonl under RUN_DIR/evaluations/.

Everything runs on the scripted single-file plugin, the openai backend against a closed local port, and a
local HTTP server standing in for the hub: seconds, no model.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import PLUGIN_DIR, REPO, Completed, trust_in_process, trust_subprocess
from trust_core.contracts import Sample
from trust_core.data import LoadedData
from trust_core.runner import TaskData, limit_notes

ECHO = ("--model", "scripted:echo", "--tasks", "private/echo")
CACHED_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _cli(*args: str, plugins: str = "", env: dict[str, str] | None = None) -> Completed:
    """The CLI with the scripted plugin and only the entry-point plugins named in ``plugins``: in this process, or
    in one of its own when ``env`` sets HF_ variables (huggingface_hub reads them once, when it is imported)."""
    env = {"TRUST_LOAD_PLUGINS": plugins, **(env or {})}
    runner = trust_subprocess if any(name.startswith("HF_") for name in env) else trust_in_process
    return runner("--plugin-dir", str(PLUGIN_DIR), *args, env=env)


def _closed_port() -> int:
    """A local port nothing listens on (connections to it are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _snapshot(run_dir: Path) -> dict[str, str] | None:
    """Every path under ``run_dir`` with its content's sha256 ("dir" for folders); None when it is absent."""
    if not run_dir.exists():
        return None
    return {
        str(path.relative_to(run_dir)): "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(run_dir.rglob("*"))
    }


def _one_error(result: Completed, *expected: str) -> str:
    """The single ``Error:`` line of a refused command (no traceback), which must contain ``expected``."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


# --------------------------------------------------------------------------- item 4: no response succeeded


def _served(port: int, *args: str) -> tuple[str, ...]:
    """The echo task on the openai backend pointed at ``port`` (no retries)."""
    base = f"http://127.0.0.1:{port}/v1"
    return ("--backend", "openai", "--model", "served", "--base-url", base, "--max-retries", "0", *args)


@pytest.mark.parametrize("command", ["run", "generate"])
def test_a_run_whose_server_is_down_exits_3_and_writes_no_results(tmp_path: Path, command: str):
    run_dir = tmp_path / "run"
    result = _cli(
        command, *_served(_closed_port(), "--tasks", "private/echo", "--run-dir", str(run_dir)), plugins="openai"
    )
    assert result.code == 3, result.stderr
    _one_error(result, "no response succeeded: all 8 responses failed", "Connection refused", "no results")
    assert "private/echo" not in result.stdout  # no table of 0.000 rows
    assert not (run_dir / "results.json").exists() and not (run_dir / "evaluations").exists()


def test_evaluate_of_stored_responses_that_all_failed_exits_3(tmp_path: Path):
    run_dir = tmp_path / "run"
    assert _cli("run", *ECHO, "--run-dir", str(run_dir)).code == 0  # a store exists: failures are kept in it
    before = json.loads((run_dir / "results.json").read_text())
    served = _served(_closed_port(), "--tasks", "private/echo", "--run-dir", str(run_dir))
    assert _cli("generate", *served, plugins="openai").code == 3
    evaluated = _cli("evaluate", *served, plugins="openai")
    assert evaluated.code == 3, evaluated.stderr
    _one_error(evaluated, "no response succeeded: all 8 responses failed", "Connection refused")
    assert json.loads((run_dir / "results.json").read_text()) == before  # the earlier results stay


def test_a_run_with_some_failed_responses_still_succeeds(tmp_path: Path):
    result = _cli("run", "--model", "scripted:fail-every-3rd", "--tasks", "echo", "--run-dir", str(tmp_path))
    assert result.code == 0, result.stderr
    assert "2 failed" in result.stderr and (tmp_path / "results.json").exists()


def test_exit_status_3_is_documented_in_help_and_user_guide():
    help_text = _cli("--help").stdout
    assert "3 no response succeeded" in help_text
    assert "Exit status 3 when no response succeeded" in _cli("run", "--help").stdout
    exit_section = (REPO / "docs" / "user-guide.md").read_text().split("## Exit status", 1)[1]
    assert "3 no response succeeded" in exit_section


# --------------------------------------------------------------------------- item 4: --limit below a task's unit


def test_limit_1_is_rounded_up_for_pair_and_group_tasks_with_a_note(tmp_path: Path):
    tasks = "robustness/adversarial_glue,robustness/adversarial_instruction"
    args = ("run", "--model", "scripted:echo", "--tasks", tasks, "--embedder", "hashing", "--limit", "1")
    result = _cli(*args, "--run-dir", str(tmp_path), plugins="robustness")
    assert result.code == 0, result.stderr
    for task in ("robustness/adversarial_glue", "robustness/adversarial_instruction"):
        assert f"note: {task}: --limit 1 is rounded up to 2 items" in result.stderr, result.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert {d["task"]: d["selected"] for d in results["run"]["data"]} == {
        "robustness/adversarial_glue": 2,
        "robustness/adversarial_instruction": 2,
    }
    metrics = {(m["task"], m["subset"], m["metric"]): m for m in results["metrics"]}
    assert metrics[("robustness/adversarial_glue", None, "mean_acc_ben")]["n"] == 1  # the pair is scored
    cosine = metrics[("robustness/adversarial_instruction", None, "mean_cosine")]
    assert cosine["n"] == 1 and cosine["value"] is not None  # not "null (no items)"


def test_a_limit_that_fits_needs_no_note(tmp_path: Path):
    args = ("run", "--model", "scripted:echo", "--tasks", "robustness/adversarial_glue", "--limit", "2")
    result = _cli(*args, "--run-dir", str(tmp_path), plugins="robustness")
    assert result.code == 0, result.stderr
    assert "note:" not in result.stderr and "warning:" not in result.stderr


def test_a_task_a_limit_leaves_without_items_is_named_in_a_warning():
    from trust_robustness.advglue import AdversarialGlue

    empty = TaskData(AdversarialGlue(), LoadedData("AdvGLUE.json", "0" * 64, 24, []))
    assert limit_notes(empty, 1) == [
        "warning: robustness/adversarial_glue: --limit 1 selects none of its 24 items: it has nothing to score"
    ]
    sample = Sample("0", {}, None)
    assert limit_notes(TaskData(AdversarialGlue(), LoadedData("f", "0" * 64, 24, [sample])), 1) == []
    assert limit_notes(empty, None) == []


# --------------------------------------------------------------------------- item 7: hub models offline


def _offline_hub(tmp_path: Path) -> dict[str, str]:
    """An empty Hugging Face cache and a hub endpoint nothing answers at."""
    return {"HF_HUB_CACHE": str(tmp_path / "hf-cache"), "HF_ENDPOINT": f"http://127.0.0.1:{_closed_port()}"}


def test_an_uncached_hub_model_offline_is_one_message_before_any_work(tmp_path: Path):
    run_dir = tmp_path / "run"
    started = time.monotonic()
    args = ("run", "--model", "example-org/never-downloaded", "--tasks", "private/echo", "--run-dir", str(run_dir))
    result = _cli(*args, plugins="hf", env=_offline_hub(tmp_path))
    assert result.code == 2, result.stderr
    _one_error(
        result, "the model example-org/never-downloaded is not in the local Hugging Face cache", "no network reaches"
    )
    assert time.monotonic() - started < 60  # one request, no retries (the library alone retried for a minute)
    assert not run_dir.exists()


def test_hf_hub_offline_refuses_an_uncached_model_without_asking(tmp_path: Path):
    env = {**_offline_hub(tmp_path), "HF_HUB_OFFLINE": "1"}
    args = (
        "run",
        "--model",
        "example-org/never-downloaded",
        "--tasks",
        "private/echo",
        "--run-dir",
        str(tmp_path / "r"),
    )
    result = _cli(*args, plugins="hf", env=env)
    assert result.code == 2, result.stderr
    _one_error(result, "example-org/never-downloaded is not in the local Hugging Face cache", "HF_HUB_OFFLINE is set")


class _Hub(BaseHTTPRequestHandler):
    """The hub's answer to a file's metadata request: this repository does not exist (or, for ``gated/``
    repositories, is gated)."""

    def do_HEAD(self) -> None:
        gated = self.path.startswith("/gated/")
        self.send_response(401 if gated else 404)
        self.send_header("X-Error-Code", "GatedRepo" if gated else "RepoNotFound")
        self.send_header("X-Error-Message", "gated" if gated else "Repository not found")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def hub() -> Iterator[str]:
    """A local HTTP server answering as the hub does for models it does not have; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("model", "said"),
    [("example-org/no-such-model", "it does not exist on the hub"), ("gated/model", "it is gated on the hub")],
)
def test_a_model_the_hub_does_not_have_is_one_message(hub: str, tmp_path: Path, model: str, said: str):
    env = {"HF_HUB_CACHE": str(tmp_path / "hf-cache"), "HF_ENDPOINT": hub}
    result = _cli(
        "run", "--model", model, "--tasks", "private/echo", "--run-dir", str(tmp_path / "r"), plugins="hf", env=env
    )
    assert result.code == 2, result.stderr
    _one_error(result, f"the model {model} is not in the local Hugging Face cache", said)


@pytest.mark.parametrize(
    ("judge", "expected"),
    [
        ("qwen", ("--judge qwen: the model Qwen/Qwen2.5-7B-Instruct is not in the local Hugging Face cache",)),
        ("example-org/judge-model", ("the model example-org/judge-model is not in the local Hugging Face cache",)),
    ],
)
def test_an_unavailable_judge_model_stops_the_run_before_generation(tmp_path: Path, judge: str, expected: tuple):
    run_dir = tmp_path / "run"
    log = tmp_path / "generated.log"
    assert _cli("run", *ECHO, "--run-dir", str(run_dir)).code == 0
    before = _snapshot(run_dir)
    env = {**_offline_hub(tmp_path), "SCRIPTED_GENERATION_LOG": str(log)}
    args = ("run", "--model", "scripted:echo:0", "--tasks", "private/echo", "--judge", judge)  # a model to generate
    result = _cli(*args, "--run-dir", str(run_dir), plugins="hf,judges", env=env)
    assert result.code == 2, result.stderr
    _one_error(result, *expected, "no network reaches")
    assert not log.exists()  # nothing was generated
    assert _snapshot(run_dir) == before  # the run directory is as it was


def test_a_judge_that_is_neither_registered_nor_a_model_is_named_before_any_work(tmp_path: Path):
    result = _cli("run", *ECHO, "--judge", "no-such-judge", "--run-dir", str(tmp_path / "r"))
    assert result.code == 2, result.stderr
    _one_error(result, "--judge no-such-judge: neither a registered judge", "nor a model an installed backend can load")
    assert not (tmp_path / "r").exists()


def _cached_hub_model(cache: Path, repo_id: str, commit: str) -> None:
    """A Hugging Face cache entry for ``repo_id`` at ``commit`` holding its config.json (the hub's layout)."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps({"model_type": "llama"}))


def test_a_cached_hub_model_is_loaded_from_the_cache_when_the_hub_is_unreachable(tmp_path: Path, monkeypatch):
    from huggingface_hub import constants

    from trust_transformers.source import hub_model_local_only

    _cached_hub_model(tmp_path / "hf-cache", "example-org/cached-model", CACHED_COMMIT)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    assert hub_model_local_only("example-org/cached-model", None) is True
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert hub_model_local_only("example-org/cached-model", None) is True


# --------------------------------------------------------------------------- item 5: one copy per evaluation


def test_a_second_opinion_keeps_the_first_evaluation(tmp_path: Path):
    tasks = ("--model", "scripted:echo", "--tasks", "private/echo_toxicity", "--run-dir", str(tmp_path))
    first = _cli("run", *tasks)
    assert first.code == 0, first.stderr
    first_results = (tmp_path / "results.json").read_text()
    second = _cli("evaluate", *tasks, "--toxicity-scorer", "shouting")
    assert second.code == 0, second.stderr
    kept = sorted((tmp_path / "evaluations").iterdir())
    assert len(kept) == 2, kept
    by_scorer = {
        json.loads((folder / "results.json").read_text())["run"]["toxicity_scorer"] is None: folder for folder in kept
    }
    assert (by_scorer[True] / "results.json").read_text() == first_results  # the first evaluation is still there
    latest = (tmp_path / "results.json").read_text()
    assert (by_scorer[False] / "results.json").read_text() == latest  # results.json is the latest
    assert (by_scorer[False] / "samples.jsonl").read_text() == (tmp_path / "samples.jsonl").read_text()
    assert f"this evaluation's copy of both: {by_scorer[False]}" in second.stdout
    again = _cli("evaluate", *tasks, "--toxicity-scorer", "shouting")  # the same evaluation replaces its own copy
    assert again.code == 0 and sorted((tmp_path / "evaluations").iterdir()) == kept


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_outputs_that_cannot_be_written_leave_no_evaluation_folder(tmp_path: Path):
    result = _cli("run", *ECHO, "--run-dir", str(tmp_path), "--samples-output", "/dev/full")
    assert result.code == 2, result.stderr
    _one_error(result, "--samples-output /dev/full: cannot write")
    assert not (tmp_path / "evaluations").exists() and not (tmp_path / "results.json").exists()
