"""Studies on a Ray cluster (issue #12, item 4): ``trust study run --executor ray`` on a real local Ray instance
runs every variant as a Ray task and gives the serial run's results; an address that does not answer stops the
study before anything is written."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from conftest import PLUGIN_DIR, SCRIPTED_STUDY, trust_subprocess

pytestmark = pytest.mark.slow
NO_ENTRY_POINTS = {"TRUST_LOAD_PLUGINS": ""}


def _study(folder: Path, *extra: str, study: str = SCRIPTED_STUDY, env: dict[str, str] | None = None) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "study.toml").write_text(study)
    run_dir = folder / "s"
    args = ("study", "run", str(folder / "study.toml"), "--run-dir", str(run_dir), *extra)
    done = trust_subprocess("--plugin-dir", str(PLUGIN_DIR), *args, env={**NO_ENTRY_POINTS, **(env or {})})
    assert done.code == 0, done.stderr
    return run_dir


def _metrics(run_dir: Path) -> dict[str, list[tuple[object, ...]]]:
    index = json.loads((run_dir / "study.json").read_text())
    found = {}
    for entry in index["variants"]:
        assert entry["status"] == "done", entry
        results = json.loads((run_dir / entry["run_dir"] / "results.json").read_text())
        found[entry["name"]] = [(m["task"], m["subset"], m["metric"], m["value"], m["n"]) for m in results["metrics"]]
    return found


def test_a_study_on_a_local_ray_instance_equals_the_serial_run(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    (tmp_path / "serial").mkdir()
    (tmp_path / "ray").mkdir()
    serial = _study(tmp_path / "serial")
    on_ray = _study(tmp_path / "ray", "--executor", "ray", "--cpus-per-variant", "0.5")
    assert _metrics(on_ray) == _metrics(serial)
    index = json.loads((on_ray / "study.json").read_text())
    assert all(entry["efficiency"]["wall_seconds"] > 0 for entry in index["variants"])
    assert all((on_ray / entry["run_dir"] / "study-output.log").is_file() for entry in index["variants"])


def test_a_ray_address_that_does_not_answer_is_one_message_and_nothing_is_written(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "study.toml").write_text(SCRIPTED_STUDY)
    run_dir = tmp_path / "s"
    args = ("study", "run", str(tmp_path / "study.toml"), "--run-dir", str(run_dir), "--executor", "ray")
    done = trust_subprocess("--plugin-dir", str(PLUGIN_DIR), *args, "--address", f"127.0.0.1:{port}",
                            env=NO_ENTRY_POINTS)  # fmt: skip
    assert done.code == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"--address 127.0.0.1:{port}: the Ray cluster does not answer" in done.stderr
    assert not run_dir.exists()


DYING_STUDY = """
[study]
name = "dying-study"
model = "scripted:die-once"
tasks = ["private/echo"]
[[variants]]
name = "dying"
[[variants]]
name = "echo"
model = "scripted:echo"
"""
"""Variant "dying" (the study's model) dies once, its worker killed after two answers; "echo" does not."""


def test_a_worker_that_dies_is_retried_and_resumes_from_its_store(tmp_path: Path) -> None:
    """The scripted backend kills its Ray worker after two answers, once: Ray retries the task, the retry's
    ``trust run`` resumes from the variant's store (the two stored answers are not generated again), and the
    results equal those of a run that never died."""
    pytest.importorskip("ray")
    marker, log = tmp_path / "died", tmp_path / "generated.log"
    env = {"SCRIPTED_DIE_MARKER": str(marker), "SCRIPTED_GENERATION_LOG": str(log)}
    died = _study(tmp_path / "ray", "--executor", "ray", "--cpus-per-variant", "0.5", study=DYING_STUDY, env=env)
    assert marker.is_file()  # a worker did die
    generated = log.read_text().split()
    assert len(generated) == len(set(generated)) > 2  # nothing generated twice: the retry resumed from the store
    never_died = _study(tmp_path / "serial", study=DYING_STUDY.replace("die-once", "echo"))
    assert _metrics(died) == _metrics(never_died)
