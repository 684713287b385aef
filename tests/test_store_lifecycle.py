"""The run store's lifecycle (issue #9): nothing is removed before a run is valid, a restart sets the old store
aside until the new run has begun, store failures are one message (exit 2), a store written by trust 0.1.0
still opens, and one command at a time works in a run directory.

Refused runs are checked by comparing a listing with hashes of the run directory before and after.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import PLUGIN_DIR, REPO, Completed, trust_in_process
from trust_core.contracts import GenerationResult
from trust_core.rundir import DISCARDED, LOCK_FILE, MOVING_BACK, PREVIOUS_STORE, recover_interrupted_restart
from trust_core.store import SCHEMA_VERSION, STORE_FILE, ResponseKey, Store, StoreError

V1_STORE_DUMP = Path(__file__).parent / "fixtures" / "store_v1.sql"
ECHO = ("--model", "scripted:echo", "--tasks", "private/echo")
NO_ENTRY_POINTS = {"TRUST_LOAD_PLUGINS": ""}
SMALL_REAL_RUN = ("--tasks", "truthfulness/hallucination", "--limit", "1", "--max-new-tokens", "8")


# --------------------------------------------------------------------------- helpers


def _snapshot(run_dir: Path) -> dict[str, str] | None:
    """Every path under ``run_dir`` with the sha256 of its content ("dir" for folders); None if it is absent."""
    if not run_dir.exists():
        return None
    listing = {}
    for path in sorted(run_dir.rglob("*")):
        relative = str(path.relative_to(run_dir))
        listing[relative] = "dir" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return listing


def _cli(*args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = (), **popen: object) -> Completed:
    """`trust --plugin-dir tests/plugin_dir ...` without entry-point plugins (milliseconds): in this process, or in
    a process of its own when it needs one (``prefix`` runs it under another command, ``popen`` sets the process
    up, e.g. a file size limit)."""
    if not prefix and not popen:
        return trust_in_process("--plugin-dir", str(PLUGIN_DIR), *args, env={**NO_ENTRY_POINTS, **(env or {})})
    full_env = {**os.environ, "TRUST_PROGRESS": "0", **NO_ENTRY_POINTS, **(env or {})}
    command = [*prefix, sys.executable, "-m", "trust_core", "--plugin-dir", str(PLUGIN_DIR), *args]
    proc = subprocess.run(command, capture_output=True, text=True, env=full_env, cwd=REPO, timeout=300, **popen)
    return Completed(proc.returncode, proc.stdout, proc.stderr)


def _start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full_env = {**os.environ, "TRUST_PROGRESS": "0", **NO_ENTRY_POINTS, **(env or {})}
    command = [sys.executable, "-m", "trust_core", "--plugin-dir", str(PLUGIN_DIR), *args]
    return subprocess.Popen(command, env=full_env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while not condition():
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _rows(run_dir: Path, table: str = "responses") -> int:
    with contextlib.closing(sqlite3.connect(run_dir / STORE_FILE)) as db:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def _committed_rows(run_dir: Path) -> int:
    try:
        return _rows(run_dir)
    except sqlite3.Error:  # not created yet, or being created by the process under test
        return 0


def _echo_run(run_dir: Path, *extra: str, env: dict[str, str] | None = None) -> Completed:
    result = _cli("run", *ECHO, "--run-dir", str(run_dir), *extra, env=env)
    assert result.code == 0, result.stderr
    return result


def _refused(result: Completed, *fragments: str) -> None:
    assert result.code == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def _write_v1_store(run_dir: Path) -> None:
    """The store trust 0.1.0 wrote (schema 1, WAL), rebuilt from its dump: the v1 DDL verbatim and its rows."""
    run_dir.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(run_dir / STORE_FILE, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(V1_STORE_DUMP.read_text(encoding="utf-8"))
    db.close()


def _write_database(path: Path, script: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(script)
    db.close()


@pytest.fixture
def echo_store(tmp_path: Path) -> Path:
    """A run directory after a successful scripted run: store (8 responses), results, samples."""
    run_dir = tmp_path / "run"
    _echo_run(run_dir)
    return run_dir


# --------------------------------------------------------------------------- item 1: validate before removing


def test_restart_with_a_missing_model_changes_nothing(trust, echo_store: Path):
    before = _snapshot(echo_store)
    result = trust("run", "--restart", "--model", "/no/such/model", *SMALL_REAL_RUN, "--run-dir", str(echo_store))
    _refused(result, "/no/such/model")
    assert _snapshot(echo_store) == before


def test_restart_with_a_garbage_gguf_changes_nothing(trust, echo_store: Path, tmp_path: Path):
    garbage = tmp_path / "model.gguf"
    garbage.write_bytes(b"not a GGUF file " * 256)
    before = _snapshot(echo_store)
    result = trust("run", "--restart", "--model", str(garbage), *SMALL_REAL_RUN, "--run-dir", str(echo_store))
    assert result.code != 0
    assert _snapshot(echo_store) == before


def _generations(folder: Path, with_echo: bool) -> Path:
    (folder / "private").mkdir(parents=True)
    if with_echo:
        items = [{"prompt": f"p{i}", "expect": "a", "source": "alpha", "res": f"answer {i}"} for i in range(5)]
        (folder / "private" / "echo.json").write_text(json.dumps(items))
    else:
        (folder / "private" / "other.json").write_text("[]")
    return folder


def test_evaluate_restart_with_a_generation_folder_lacking_the_task_file_keeps_the_verdicts(tmp_path: Path):
    run_dir = tmp_path / "run"
    scored = ("evaluate", "--tasks", "private/echo_toxicity", "--run-dir", str(run_dir))
    first = _cli(*scored, "--generations", str(_generations(tmp_path / "full", with_echo=True)))
    assert first.code == 0, first.stderr
    assert _rows(run_dir, "verdicts") == 5
    before = _snapshot(run_dir)
    lacking = _generations(tmp_path / "lacking", with_echo=False)
    _refused(_cli(*scored, "--restart", "--generations", str(lacking)), str(lacking))
    assert _snapshot(run_dir) == before


def test_evaluate_restart_without_a_generation_folder_is_refused_before_work(echo_store: Path):
    before = _snapshot(echo_store)
    _refused(_cli("evaluate", "--restart", *ECHO, "--run-dir", str(echo_store)), "--restart")
    assert _snapshot(echo_store) == before


def test_restart_replaces_the_store_and_leaves_no_previous_store(tmp_path: Path):
    log = tmp_path / "generated.log"
    env = {"SCRIPTED_GENERATION_LOG": str(log)}
    run_dir = tmp_path / "run"
    _echo_run(run_dir, env=env)
    restarted = _echo_run(run_dir, "--restart", env=env)
    assert "0 already stored, 8 generated" in restarted.stderr
    assert len(log.read_text().split()) == 16
    kept = ["evaluations", "results.json", "samples.jsonl", STORE_FILE]
    assert sorted(path.name for path in run_dir.iterdir()) == kept


def test_a_restart_interrupted_before_its_first_response_puts_the_old_store_back(echo_store: Path):
    before = _snapshot(echo_store)
    proc = _start("run", "--restart", "--model", "scripted:echo:30", "--tasks", "echo", "--run-dir", str(echo_store))
    _wait_for(lambda: (echo_store / PREVIOUS_STORE).is_dir() and (echo_store / STORE_FILE).exists(), "the restart")
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert _snapshot(echo_store) == before


def test_a_restart_killed_before_its_first_response_is_undone_by_the_next_command(echo_store: Path):
    proc = _start("run", "--restart", "--model", "scripted:echo:30", "--tasks", "echo", "--run-dir", str(echo_store))
    _wait_for(lambda: (echo_store / PREVIOUS_STORE).is_dir() and (echo_store / STORE_FILE).exists(), "the restart")
    proc.kill()
    proc.communicate(timeout=60)
    assert (echo_store / PREVIOUS_STORE).is_dir()  # what the killed restart left behind
    resumed = _echo_run(echo_store)
    assert "8 already stored, 0 generated" in resumed.stderr
    assert not (echo_store / PREVIOUS_STORE).exists()


def test_a_restart_deletes_the_old_store_once_its_first_response_is_committed(echo_store: Path):
    slow_echo = ("--model", "scripted:echo:0.5", "--tasks", "echo", "--run-dir", str(echo_store))
    proc = _start("run", "--restart", *slow_echo)
    _wait_for(lambda: (echo_store / PREVIOUS_STORE).is_dir(), "the old store to be set aside")
    _wait_for(lambda: not (echo_store / PREVIOUS_STORE).exists(), "the old store to go")
    proc.kill()
    proc.communicate(timeout=60)
    kept = _committed_rows(echo_store)
    assert 1 <= kept < 8
    resumed = _cli("run", *slow_echo)
    assert resumed.code == 0, resumed.stderr
    assert f"{kept} already stored, {8 - kept} generated" in resumed.stderr


@pytest.mark.slow
def test_restart_of_a_real_model_run(trust, tmp_path: Path):
    run_dir = tmp_path / "run"
    first = trust("run", *SMALL_REAL_RUN, "--run-dir", str(run_dir))
    assert first.code == 0, first.stderr
    planned = json.loads((run_dir / "results.json").read_text())["run"]["counts"]["responses_planned"]
    restarted = trust("run", "--restart", *SMALL_REAL_RUN, "--run-dir", str(run_dir))
    assert restarted.code == 0, restarted.stderr
    counts = json.loads((run_dir / "results.json").read_text())["run"]["counts"]
    assert (counts["responses_already_stored"], counts["responses_generated"]) == (0, planned)
    assert not (run_dir / PREVIOUS_STORE).exists() and not (run_dir / LOCK_FILE).exists()


# --------------------------------------------------------------------------- item 2: store failures


def _damaged_by_truncation(run_dir: Path) -> None:
    store = run_dir / STORE_FILE
    store.write_bytes(store.read_bytes()[: store.stat().st_size // 2])


def _garbage(run_dir: Path) -> None:
    (run_dir / STORE_FILE).write_bytes(b"\x13\x37 this is not an SQLite database " * 512)


def _a_directory(run_dir: Path) -> None:
    (run_dir / STORE_FILE).unlink()
    (run_dir / STORE_FILE).mkdir()
    (run_dir / STORE_FILE / "keep.txt").write_text("mine")


def _another_layout(run_dir: Path) -> None:
    (run_dir / STORE_FILE).unlink()
    _write_database(
        run_dir / STORE_FILE,
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema_version', '1');"
        "CREATE TABLE responses (key TEXT PRIMARY KEY, text TEXT); INSERT INTO responses VALUES ('k', 'kept');",
    )


def _another_program(run_dir: Path) -> None:
    (run_dir / STORE_FILE).unlink()
    _write_database(run_dir / STORE_FILE, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL);")


def _newer_version(run_dir: Path) -> None:
    _write_database(run_dir / STORE_FILE, f"UPDATE meta SET value = '{SCHEMA_VERSION + 7}'")


def _unknown_version(run_dir: Path) -> None:
    _write_database(run_dir / STORE_FILE, "UPDATE meta SET value = 'banana'")


STORE_DAMAGE = {
    "truncated": (_damaged_by_truncation, "damaged"),
    "garbage": (_garbage, "damaged"),
    "directory": (_a_directory, "is a directory"),
    "another layout": (_another_layout, "table responses has other columns"),
    "another program": (_another_program, "not a trust run store (an SQLite database with tables invoices)"),
    "newer version": (_newer_version, f"newer trust (store schema {SCHEMA_VERSION + 7}"),
    "unknown version": (_unknown_version, "unknown store schema version 'banana'"),
}


@pytest.mark.parametrize("case", sorted(STORE_DAMAGE))
def test_an_unusable_store_is_one_message_and_nothing_changes(echo_store: Path, case: str):
    damage, message = STORE_DAMAGE[case]
    damage(echo_store)
    before = _snapshot(echo_store)
    for command in ("run", "evaluate"):
        result = _cli(command, *ECHO, "--run-dir", str(echo_store))
        _refused(result, f"run store {echo_store / STORE_FILE}", message)
        assert _snapshot(echo_store) == before, command


def test_restart_replaces_a_damaged_store(echo_store: Path):
    _garbage(echo_store)
    restarted = _echo_run(echo_store, "--restart")
    assert "0 already stored, 8 generated" in restarted.stderr
    assert _rows(echo_store) == 8 and not (echo_store / PREVIOUS_STORE).exists()


def test_restart_does_not_delete_a_directory_in_place_of_the_store(echo_store: Path):
    _a_directory(echo_store)
    before = _snapshot(echo_store)
    _refused(_cli("run", "--restart", *ECHO, "--run-dir", str(echo_store)), "is a directory")
    assert _snapshot(echo_store) == before


def _without_root_powers() -> tuple[str, ...]:
    """A command prefix under which file permissions apply: none needed unless the tests run as root; as root, a
    new user namespace (``unshare --user``) in which the process keeps its files but loses its override."""
    if os.geteuid() != 0:
        return ()
    unshare = shutil.which("unshare")
    probe = [unshare or "unshare", "--user", "true"]
    if unshare is None or subprocess.run(probe, capture_output=True).returncode != 0:
        pytest.skip("running as root without `unshare --user`: permissions cannot be tested")
    return ("unshare", "--user")


def test_a_read_only_run_directory_is_one_message_and_nothing_changes(tmp_path: Path):
    run_dir = tmp_path / "run"
    _echo_run(run_dir)
    run_dir.chmod(0o555)
    try:
        before = _snapshot(run_dir)
        result = _cli("run", *ECHO, "--run-dir", str(run_dir), prefix=_without_root_powers())
        _refused(result, f"run store {run_dir / STORE_FILE}", "make the directory writable")
        assert _snapshot(run_dir) == before
    finally:
        run_dir.chmod(0o755)


def test_a_read_only_store_is_one_message_and_nothing_changes(tmp_path: Path):
    run_dir = tmp_path / "run"
    _echo_run(run_dir, "--limit", "2")
    (run_dir / STORE_FILE).chmod(0o444)
    before = _snapshot(run_dir)
    result = _cli("run", *ECHO, "--run-dir", str(run_dir), prefix=_without_root_powers())
    _refused(result, f"run store {run_dir / STORE_FILE}", "cannot be written")
    assert _snapshot(run_dir) == before


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_during_generation_is_one_message_and_the_store_keeps_its_responses(tmp_path: Path):
    """A file-size limit (RLIMIT_FSIZE) makes the kernel refuse the store's writes as a full disk would."""
    run_dir = tmp_path / "run"
    _echo_run(run_dir, "--limit", "1")
    limit = max(64 * 1024, (run_dir / STORE_FILE).stat().st_size + 4096)
    full = _cli("run", *ECHO, "--run-dir", str(run_dir), preexec_fn=_file_size_limit(limit))
    _refused(full, f"run store {run_dir / STORE_FILE}", "free space", "run the same command again")
    kept = _rows(run_dir)
    assert 1 <= kept < 8
    with contextlib.closing(sqlite3.connect(run_dir / STORE_FILE)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    resumed = _echo_run(run_dir)
    assert f"{kept} already stored, {8 - kept} generated" in resumed.stderr


def test_a_full_database_is_reported_as_a_full_disk(tmp_path: Path):
    """SQLite's own "database or disk is full" (the page limit reached) becomes a StoreError; nothing is lost."""
    store = Store.in_run_dir(tmp_path)
    store.db.execute(f"PRAGMA max_page_count = {store.db.execute('PRAGMA page_count').fetchone()[0] + 2}")
    stored = 0
    with pytest.raises(StoreError, match=r"the disk is full .*free space, then run the same command again"):
        for index in range(1000):
            key = ResponseKey("fp", "b/1", "t/x", "1", str(index), "", "ph", {"seed": index})
            store.put_response(key, "prompt " * 200, GenerationResult(key.key, "response " * 200))
            stored += 1
    store.close()
    assert stored > 0
    assert Store.in_run_dir(tmp_path).count_responses() == {"ok": stored}


# --------------------------------------------------------------------------- schema versions


def test_a_store_written_by_trust_0_1_0_opens_and_keeps_its_responses_and_verdicts(tmp_path: Path):
    run_dir = tmp_path / "run"
    _write_v1_store(run_dir)
    result = _echo_run(run_dir, "--tasks", "private/echo,private/echo_toxicity")
    assert "8 already stored, 0 generated" in result.stderr
    counts = json.loads((run_dir / "results.json").read_text())["run"]["counts"]
    # its 8 verdicts answered the two-label refusal question of 0.1.0; the question now has three labels and the
    # task's criterion, so they are asked again under the new key — and the old rows are kept, not overwritten
    assert (counts["verdicts_cached"], counts["verdicts_computed"]) == (0, 8)
    with contextlib.closing(sqlite3.connect(run_dir / STORE_FILE)) as db:
        assert db.execute("SELECT COUNT(*) FROM verdicts WHERE judge = 'sorry-detector/1'").fetchone() == (16,)
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_migration_keeps_every_row(tmp_path: Path):
    _write_v1_store(tmp_path)
    with contextlib.closing(sqlite3.connect(tmp_path / STORE_FILE)) as db:
        before = {
            table: db.execute(f"SELECT * FROM {table} ORDER BY key").fetchall() for table in ("responses", "verdicts")
        }
    Store.in_run_dir(tmp_path).close()
    with contextlib.closing(sqlite3.connect(tmp_path / STORE_FILE)) as db:
        after = {
            table: db.execute(f"SELECT * FROM {table} ORDER BY key").fetchall() for table in ("responses", "verdicts")
        }
    assert after == before and len(after["responses"]) == 8


# --------------------------------------------------------------------------- item 6: no store for an invalid run


@pytest.mark.parametrize(
    "args",
    [
        ("run", "--model", "/no/such/model", "--tasks", "private/echo"),
        ("run", "--model", "scripted:echo", "--tasks", "no-such-task"),
        ("evaluate", *ECHO),
        ("judge-check", "--judge", "shouting", "--tasks", "private/echo"),
    ],
    ids=["missing model", "unknown task", "evaluate without responses", "judge with nothing to check"],
)
def test_an_invalid_run_leaves_no_run_directory(tmp_path: Path, args: tuple[str, ...]):
    run_dir = tmp_path / "run"
    _refused(_cli(*args, "--run-dir", str(run_dir)))
    assert not run_dir.exists()


def test_an_invalid_run_in_an_existing_directory_leaves_it_as_it_was(tmp_path: Path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "notes.txt").write_text("mine")
    before = _snapshot(run_dir)
    _refused(_cli("evaluate", *ECHO, "--run-dir", str(run_dir)), "not in the store")
    assert _snapshot(run_dir) == before


# --------------------------------------------------------------------------- item 7: one command per run directory


def test_a_second_command_on_a_busy_run_directory_exits_and_nothing_is_generated_twice(tmp_path: Path):
    log = tmp_path / "generated.log"
    env = {"SCRIPTED_GENERATION_LOG": str(log)}
    run_dir = tmp_path / "run"
    first = _start("run", "--model", "scripted:echo:0.75", "--tasks", "echo", "--run-dir", str(run_dir), env=env)
    _wait_for(lambda: log.exists() and log.read_text().strip() != "", "the first run to generate")
    for command in ("run", "generate", "evaluate"):
        second = _cli(command, "--model", "scripted:echo:0.75", "--tasks", "echo", "--run-dir", str(run_dir), env=env)
        _refused(second, f"run directory {run_dir} is in use by another trust command", LOCK_FILE)
        assert first.poll() is None  # the first run was still going
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    generated = log.read_text().split()
    assert len(generated) == len(set(generated)) == 8
    assert not (run_dir / LOCK_FILE).exists()


def test_a_killed_run_does_not_keep_the_run_directory_locked(tmp_path: Path):
    run_dir = tmp_path / "run"
    first = _start("run", "--model", "scripted:echo:0.5", "--tasks", "echo", "--run-dir", str(run_dir))
    _wait_for(lambda: _committed_rows(run_dir) >= 1, "the first response")
    first.kill()
    first.communicate(timeout=60)
    assert (run_dir / LOCK_FILE).exists()  # left behind by the killed process, but no longer locked
    resumed = _cli("run", "--model", "scripted:echo:0.5", "--tasks", "echo", "--run-dir", str(run_dir))
    assert resumed.code == 0, resumed.stderr
    assert "already stored" in resumed.stderr


# --------------------------------------------------------------------------- recovery of a cut-short restart


def _store_with_rows(run_dir: Path, rows: int, failed: int = 0) -> None:
    store = Store.in_run_dir(run_dir)
    for index in range(rows + failed):
        key = ResponseKey("fp", "b/1", "t/x", "1", str(index), "", "ph", {})
        text, error = ("r", None) if index < rows else (None, "HTTP 503")
        store.put_response(key, "p", GenerationResult(key.key, text, error))
    store.close()


def test_recovery_moves_back_a_set_aside_cut_short(tmp_path: Path):
    _store_with_rows(tmp_path, 3)
    (tmp_path / MOVING_BACK).mkdir()
    (tmp_path / STORE_FILE).rename(tmp_path / MOVING_BACK / STORE_FILE)
    recover_interrupted_restart(tmp_path)
    assert not (tmp_path / MOVING_BACK).exists() and _rows(tmp_path) == 3


def test_recovery_puts_the_old_store_back_when_the_new_one_holds_nothing(tmp_path: Path):
    _store_with_rows(tmp_path / PREVIOUS_STORE, 3)
    _store_with_rows(tmp_path, 0, failed=2)  # failed responses are asked again anyway: not work to keep
    recover_interrupted_restart(tmp_path)
    assert not (tmp_path / PREVIOUS_STORE).exists() and _rows(tmp_path) == 3


def test_recovery_deletes_the_old_store_when_the_new_run_had_begun(tmp_path: Path):
    _store_with_rows(tmp_path / PREVIOUS_STORE, 3)
    _store_with_rows(tmp_path, 1)
    (tmp_path / DISCARDED).mkdir()
    recover_interrupted_restart(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == [STORE_FILE]
    assert _rows(tmp_path) == 1
