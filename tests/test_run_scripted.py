"""The run pipeline end to end with the scripted single-file plugin: store, resume, SIGKILL,
failures, bad input, secrets, stages, imported generations. Milliseconds per run, no model."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PLUGIN_DIR, REPO
from trust_core.registry import file_plugin_version
from trust_core.results import validate_results

ECHO = ("run", "--model", "scripted:echo", "--tasks", "private/echo")
NO_ENTRY_POINTS = {"TRUST_LOAD_PLUGINS": ""}


def _rows(run_dir: Path) -> dict[str, tuple]:
    try:
        with contextlib.closing(sqlite3.connect(run_dir / "store.sqlite")) as db:
            query = "SELECT key, status, text, attempts, created_at FROM responses"
            return {row[0]: row[1:] for row in db.execute(query)}
    except sqlite3.OperationalError:  # the store is being created by the process under test
        return {}


def _generated(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_run_writes_schema_valid_results_and_records(scripted, tmp_path: Path):
    result = scripted(*ECHO, "--run-dir", str(tmp_path), env=NO_ENTRY_POINTS)
    assert result.code == 0, result.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    validate_results(results)
    metrics = {(m["subset"], m["metric"]): m for m in results["metrics"]}
    assert metrics[("alpha", "accuracy")]["value"] == 1.0
    assert metrics[("beta", "accuracy")]["n"] == 4
    assert results["run"]["data"][0]["items"] == 8
    assert results["run"]["plugins"] == {"scripted": file_plugin_version(PLUGIN_DIR / "scripted.py")}
    records = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 8
    assert records[0]["messages"] == [{"role": "user", "content": "Say the alpha word number 0. [expect: alpha-0]"}]
    assert "private/echo" in result.stdout and "results:" in result.stdout


def test_rerun_generates_nothing_already_stored_and_restart_starts_over(scripted, tmp_path: Path):
    log = tmp_path / "generated.log"
    env = {**NO_ENTRY_POINTS, "SCRIPTED_GENERATION_LOG": str(log)}
    assert scripted(*ECHO, "--run-dir", str(tmp_path / "r"), env=env).code == 0
    assert len(_generated(log)) == 8
    again = scripted(*ECHO, "--run-dir", str(tmp_path / "r"), env=env)
    assert again.code == 0
    assert len(_generated(log)) == 8
    assert "8 already stored, 0 generated" in again.stderr
    restarted = scripted(*ECHO, "--run-dir", str(tmp_path / "r"), "--restart", env=env)
    assert restarted.code == 0
    assert len(_generated(log)) == 16


def test_limit_is_stratified_by_source(scripted, tmp_path: Path):
    result = scripted(*ECHO, "--limit", "3", "--run-dir", str(tmp_path), env=NO_ENTRY_POINTS)
    assert result.code == 0, result.stderr
    metrics = json.loads((tmp_path / "results.json").read_text())["metrics"]
    assert sorted((m["subset"], m["n"]) for m in metrics) == [("alpha", 2), ("beta", 1)]


def test_failed_items_are_invalid_and_retried_on_resume(scripted, tmp_path: Path):
    log = tmp_path / "generated.log"
    env = {**NO_ENTRY_POINTS, "SCRIPTED_GENERATION_LOG": str(log)}
    args = ("run", "--model", "scripted:fail-every-3rd", "--tasks", "echo", "--run-dir", str(tmp_path / "r"))
    first = scripted(*args, env=env)
    assert first.code == 0, first.stderr
    assert "2 failed" in first.stderr
    metrics = json.loads((tmp_path / "r" / "results.json").read_text())["metrics"]
    assert sum(m["n_invalid"] for m in metrics) == 2
    assert sum(m["n"] for m in metrics) == 8
    failed_keys = {key for key, row in _rows(tmp_path / "r").items() if row[0] == "failed"}
    second = scripted(*args, env=env)
    assert second.code == 0
    retried = _generated(log)[8:]
    assert set(retried) == failed_keys


def test_sigkill_loses_no_finished_response_and_regenerates_none(tmp_path: Path):
    run_dir = tmp_path / "r"
    log = tmp_path / "generated.log"
    env = {**os.environ, **NO_ENTRY_POINTS, "TRUST_PROGRESS": "0", "SCRIPTED_GENERATION_LOG": str(log)}
    args = [
        sys.executable,
        "-m",
        "trust_core",
        "--plugin-dir",
        str(PLUGIN_DIR),
        "run",
        "--model",
        "scripted:echo:0.3",
        "--tasks",
        "echo",
        "--run-dir",
        str(run_dir),
    ]
    proc = subprocess.Popen(args, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        if (run_dir / "store.sqlite").exists() and len(_rows(run_dir)) >= 3:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _rows(run_dir)
    assert 3 <= len(before) < 8
    resumed = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    after = _rows(run_dir)
    assert len(after) == 8
    for key, row in before.items():
        assert after[key] == row  # same text, one attempt, same creation time
    regenerated = _generated(log)[len(before) :]
    assert not set(regenerated) & set(before)
    assert f"{len(before)} already stored" in resumed.stderr
    metrics = json.loads((run_dir / "results.json").read_text())["metrics"]
    assert sum(m["n"] for m in metrics) == 8 and sum(m["n_invalid"] for m in metrics) == 0


def test_generate_then_evaluate(scripted, tmp_path: Path):
    common = ("--model", "scripted:echo", "--tasks", "echo", "--run-dir", str(tmp_path))
    missing = scripted("evaluate", *common, env=NO_ENTRY_POINTS)
    assert missing.code == 2
    assert "not in the store" in missing.stderr and "Traceback" not in missing.stderr
    assert scripted("generate", *common, env=NO_ENTRY_POINTS).code == 0
    assert not (tmp_path / "results.json").exists()
    evaluated = scripted("evaluate", *common, env=NO_ENTRY_POINTS)
    assert evaluated.code == 0, evaluated.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["run"]["command"] == "evaluate"
    assert all(m["value"] == 1.0 for m in results["metrics"])


def test_evaluate_imported_trustllm_generations(scripted, tmp_path: Path):
    folder = tmp_path / "generations" / "private"
    folder.mkdir(parents=True)
    items = [
        {"prompt": "p0", "expect": "a", "source": "alpha", "res": "a"},
        {"prompt": "p1", "expect": "b", "source": "alpha", "res": "wrong"},
        {"prompt": "p2", "expect": "c", "source": "beta"},
    ]
    (folder / "echo.json").write_text(json.dumps(items))
    result = scripted(
        "evaluate",
        "--tasks",
        "echo",
        "--generations",
        str(tmp_path / "generations"),
        "--run-dir",
        str(tmp_path / "r"),
        env=NO_ENTRY_POINTS,
    )
    assert result.code == 0, result.stderr
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    metrics = {m["subset"]: m for m in results["metrics"]}
    assert (metrics["alpha"]["value"], metrics["alpha"]["n"]) == (0.5, 2)
    assert (metrics["beta"]["value"], metrics["beta"]["n"], metrics["beta"]["n_invalid"]) == (0.0, 1, 1)
    assert results["run"]["model"]["source"] == "imported"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[{"prompt": "a", "expect": "b", "source": "s"},', "invalid JSON at line 1"),
        ('[{"prompt": "a", "expect": "b", "source": "s"}, {"expect": "b", "source": "s"}]', "item 1, field 'prompt'"),
        ('[{"prompt": "a", "expect": 3, "source": "s"}]', "item 0, field 'expect'"),
        ('{"prompt": "a"}', "expected a JSON array"),
    ],
)
def test_malformed_data_gets_one_clear_message_and_damages_nothing(scripted, tmp_path: Path, content, expected):
    run_dir = tmp_path / "r"
    assert scripted(*ECHO, "--run-dir", str(run_dir), env=NO_ENTRY_POINTS).code == 0
    before = _rows(run_dir)
    results_before = (run_dir / "results.json").read_text()
    data = tmp_path / "data" / "private"
    data.mkdir(parents=True)
    (data / "echo.json").write_text(content)
    result = scripted(*ECHO, "--run-dir", str(run_dir), "--data-dir", str(tmp_path / "data"), env=NO_ENTRY_POINTS)
    assert result.code == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "echo.json" in lines[0] and expected in lines[0], result.stderr
    assert _rows(run_dir) == before
    assert (run_dir / "results.json").read_text() == results_before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--tasks", "no_such_task"), "unknown task"),
        (("--tasks", "echo", "--backend", "nope"), "unknown backend"),
        (("--tasks", "echo", "--dimensions", "nope"), "unknown dimension"),
        (("--tasks", "echo", "--limit", "0"), "--limit"),
    ],
)
def test_bad_options_exit_2_without_traceback(scripted, tmp_path: Path, args, expected):
    result = scripted("run", "--model", "scripted:echo", "--run-dir", str(tmp_path), *args, env=NO_ENTRY_POINTS)
    assert result.code == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_api_keys_never_reach_results_logs_or_store(scripted, tmp_path: Path):
    secret = "sk-test-SECRET-0123456789"
    result = scripted(*ECHO, "--run-dir", str(tmp_path), "--perspective-api-key", secret, env=NO_ENTRY_POINTS)
    assert result.code == 0, result.stderr
    env = {**NO_ENTRY_POINTS, "PERSPECTIVE_API_KEY": secret}
    from_env = scripted(*ECHO, "--run-dir", str(tmp_path), env=env)
    assert from_env.code == 0
    unknown = scripted(*ECHO, "--run-dir", str(tmp_path), "--key", f"nobody={secret}", env=NO_ENTRY_POINTS)
    assert (
        unknown.code == 2 and "no installed component takes a key named nobody (known: perspective)" in unknown.stderr
    )
    assert secret not in unknown.stderr
    for text in (result.stdout, result.stderr, from_env.stdout, from_env.stderr):
        assert secret not in text
    for path in tmp_path.rglob("*"):
        assert path.is_dir() or secret.encode() not in path.read_bytes(), path


def test_tasks_listing(scripted):
    result = scripted("tasks", "--json", env=NO_ENTRY_POINTS)
    assert result.code == 0, result.stderr
    echo, toxicity = result.json()
    assert echo["id"] == "private/echo" and echo["items"] == 8 and echo["dimension"] == "private"
    assert toxicity["needs"] == ["refusal", "toxicity"]


def _metric(run_dir: Path, task: str, metric: str) -> dict:
    results = json.loads((run_dir / "results.json").read_text())
    return next(m for m in results["metrics"] if m["task"] == task and m["metric"] == metric)


def test_a_task_scoring_another_tasks_responses_shares_them(scripted, tmp_path: Path):
    log = tmp_path / "generated.log"
    env = {**NO_ENTRY_POINTS, "SCRIPTED_GENERATION_LOG": str(log)}
    result = scripted(*ECHO, "--tasks", "private/echo_toxicity", "--run-dir", str(tmp_path / "r"), env=env)
    assert result.code == 0, result.stderr
    assert "8 planned, 0 already stored, 8 generated" in result.stderr
    assert len(_generated(log)) == 8
    alone = scripted(
        "run", "--model", "scripted:echo", "--tasks", "private/echo_toxicity", "--run-dir", str(tmp_path / "r"), env=env
    )
    assert alone.code == 0 and "8 already stored, 0 generated" in alone.stderr


def test_toxicity_is_skipped_with_a_reason_without_a_scorer_and_refusal_judge_is_recorded(scripted, tmp_path: Path):
    result = scripted(
        "run", "--model", "scripted:refuse", "--tasks", "echo_toxicity", "--run-dir", str(tmp_path), env=NO_ENTRY_POINTS
    )
    assert result.code == 0, result.stderr
    rta = _metric(tmp_path, "private/echo_toxicity", "rta")
    assert (rta["value"], rta["n"], rta["extra"]["refusal_judge"]) == (1.0, 8, "sorry-detector/1")
    toxicity = _metric(tmp_path, "private/echo_toxicity", "mean_toxicity")
    assert toxicity["value"] is None and toxicity["note"] == "skipped: shouting: no Perspective API key"
    run = json.loads((tmp_path / "results.json").read_text())["run"]
    assert run["refusal_judge"]["identity"] == "sorry-detector/1" and run["toxicity_scorer"] is None


def test_toxicity_scorer_used_when_its_key_is_given(scripted, tmp_path: Path):
    result = scripted(
        "run",
        "--model",
        "scripted:echo",
        "--tasks",
        "echo_toxicity",
        "--run-dir",
        str(tmp_path),
        "--perspective-api-key",
        "k",
        env=NO_ENTRY_POINTS,
    )
    assert result.code == 0, result.stderr
    toxicity = _metric(tmp_path, "private/echo_toxicity", "mean_toxicity")
    assert toxicity["value"] == 0.0 and toxicity["n"] == 8  # "alpha-0" has no upper-case letters
    assert json.loads((tmp_path / "results.json").read_text())["run"]["toxicity_scorer"]["identity"] == "shouting/1"


def test_a_judge_that_cannot_answer_a_kind_is_refused(scripted, tmp_path: Path):
    result = scripted(
        "run",
        "--model",
        "scripted:echo",
        "--tasks",
        "echo_toxicity",
        "--refusal-judge",
        "keyword",
        "--run-dir",
        str(tmp_path),
        env=NO_ENTRY_POINTS,
    )
    assert result.code == 2
    assert "--refusal-judge keyword: this judge cannot judge refusal" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_named_chat_template_renders_the_prompts(scripted, tmp_path: Path):
    import sqlite3

    args = ("run", "--model", "scripted:echo", "--tasks", "private/echo", "--run-dir", str(tmp_path))
    result = scripted(*args, "--chat-template", "bracket", env=NO_ENTRY_POINTS)
    assert result.code == 0, result.stderr
    with contextlib.closing(sqlite3.connect(tmp_path / "store.sqlite")) as db:
        prompts = [row[0] for row in db.execute("SELECT rendered_prompt FROM responses")]
    assert prompts and all(p.startswith("[USER] ") and p.endswith("[ASSISTANT]") for p in prompts)
    unknown = scripted(*args, "--chat-template", "nope", env=NO_ENTRY_POINTS)
    assert unknown.code == 2 and "--chat-template nope" in unknown.stderr and "bracket" in unknown.stderr


def test_ornl_embedder_judge_and_key_flags_are_translated():
    import pytest

    from trust_core.errors import UserError
    from trust_core.flag_translation import fold_judge_family, translate_flags

    params = {"judge": None, "judge_family": "gpt", "judge_model": "gpt-4o"}
    fold_judge_family(params)
    assert params["judge"] == "gpt:gpt-4o"
    assert translate_flags(["run", "--embed_choice", "0"]) == ["run", "--embedder", "openai"]
    assert translate_flags(["run", "--embed_choice=1"]) == ["run"]  # the default local embedder
    assert translate_flags(["--judge_family", "qwen", "--judge_model=m"]) == [
        "--judge-family",
        "qwen",
        "--judge-model=m",
    ]
    assert translate_flags(["--openai-api-key", "k1", "--gemini-api-key=k2", "--api-key-env", "V"]) == [
        "--key",
        "openai=k1",
        "--key",
        "gemini=k2",
        "--api-key-env",
        "V",
    ]
    with pytest.raises(UserError, match="--judge_model needs --judge_family"):
        fold_judge_family({"judge": None, "judge_family": None, "judge_model": "m"})
    with pytest.raises(UserError, match="give one or the other"):
        translate_flags(["--embedder", "minilm", "--embed_choice", "0"])
