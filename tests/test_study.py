"""Studies (issue #11, item 2): a study file names a base model, variants and sweeps; `trust study run` evaluates
each on the same items in a process of its own, indexes them with provenance and measured efficiency in
study.json, resumes after an interruption, and `trust study status` / `trust compare RUN_DIR` follow. On the
scripted plugin (no model)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest

from trust_core.errors import UserError
from trust_core.studies import load_study, study_status, variant_argv

NO_ENTRY_POINTS = {"TRUST_LOAD_PLUGINS": ""}

STUDY = """
[study]
name = "echo-study"
model = "scripted:echo"
tasks = ["private/echo"]
limit = 4
seed = 7

[[variants]]
name = "dense"

[[variants]]
name = "refusing"
model = "scripted:refuse"

[[sweeps]]
quantize = ["copy"]
recipe = { bits = [4, 8], double_quant = true }
"""


def _write(folder: Path, text: str = STUDY) -> Path:
    path = folder / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_study_evaluates_base_variants_and_sweeps_on_the_same_items(scripted, tmp_path: Path) -> None:
    log = tmp_path / "generated.log"
    env = {**NO_ENTRY_POINTS, "SCRIPTED_GENERATION_LOG": str(log)}
    result = scripted("study", "run", str(_write(tmp_path)), "--run-dir", str(tmp_path / "out"), env=env)
    assert result.code == 0, result.stderr
    index = json.loads((tmp_path / "out" / "study.json").read_text())
    names = [entry["name"] for entry in index["variants"]]
    assert names == ["dense", "refusing", "copy-bits4", "copy-bits8"] and index["base"] == "dense"
    assert index["study"]["name"] == "echo-study" and len(index["study"]["sha256"]) == 64
    assert all(entry["status"] == "done" for entry in index["variants"])
    sweep = index["variants"][3]
    assert sweep["quantize"] == "copy" and sweep["recipe"] == {"bits": 8, "double_quant": True}
    efficiency = sweep["efficiency"]
    assert efficiency["size_bytes"] > 0 and efficiency["peak_memory_bytes"] > 10_000_000
    assert efficiency["responses_generated"] == 4 and efficiency["wall_seconds"] > 0
    variant_json = json.loads((tmp_path / "out" / "runs" / "copy-bits8" / "results.json").read_text())["run"]
    assert variant_json["variant"]["recipe"]["bits"] == 8 and variant_json["seed"] == 7
    sample_ids = set()
    for name in names:
        records = (tmp_path / "out" / "runs" / name / "samples.jsonl").read_text().splitlines()
        sample_ids.add(frozenset(json.loads(line)["sample_id"] for line in records))
    assert len(sample_ids) == 1  # every variant answered exactly the same items
    assert len(log.read_text().split()) == 16
    again = scripted("study", "run", str(tmp_path / "study.toml"), "--run-dir", str(tmp_path / "out"), env=env)
    assert again.code == 0 and again.stderr.count("done earlier") == 4
    assert len(log.read_text().split()) == 16  # resumed: nothing generated twice
    status = scripted("study", "status", str(tmp_path / "out"), "--json", env=NO_ENTRY_POINTS)
    assert [row["status"] for row in status.json()] == ["done"] * 4
    compared = scripted("compare", str(tmp_path / "out"), "--json", env=NO_ENTRY_POINTS)
    assert compared.code == 0, compared.stderr
    variants = [comparison["variant"] for comparison in compared.json()["comparisons"]]
    assert variants == ["refusing", "copy-bits4", "copy-bits8"]
    assert compared.json()["comparisons"][0]["metrics"][0]["delta"] == -1.0


def test_a_failed_variant_is_recorded_and_the_study_goes_on(scripted, tmp_path: Path) -> None:
    text = STUDY.replace('model = "scripted:refuse"', 'model = "not-a-model"')
    out = tmp_path / "out"
    result = scripted("study", "run", str(_write(tmp_path, text)), "--run-dir", str(out), env=NO_ENTRY_POINTS)
    assert result.code == 2 and "variants that failed (see their messages above): refusing" in result.stderr
    rows = {row["name"]: row["status"] for row in study_status(out)}
    assert rows == {"dense": "done", "refusing": "failed (exit 2)", "copy-bits4": "done", "copy-bits8": "done"}


def test_an_unknown_method_or_recipe_key_stops_the_study_before_any_work(scripted, tmp_path: Path) -> None:
    for old, new, message in (
        ('quantize = ["copy"]', 'quantize = ["no-such-method"]', "--quantize no-such-method: unknown quantizer"),
        ('name = "dense"', 'name = "dense"\nbase = true\nrecipe = { bits = 4 }', "a recipe needs quantize or prune"),
        ('tasks = ["private/echo"]', 'tasks = ["nope/none"]', "nope/none"),
    ):
        path = _write(tmp_path, STUDY.replace(old, new))
        result = scripted("study", "run", str(path), "--run-dir", str(tmp_path / "out"), env=NO_ENTRY_POINTS)
        assert result.code == 2 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_the_base_is_the_variant_marked_base_or_the_first(tmp_path: Path) -> None:
    marked = load_study(_write(tmp_path, STUDY.replace('name = "refusing"', 'name = "refusing"\nbase = true')))
    assert (load_study(_write(tmp_path)).base, marked.base) == ("dense", "refusing")
    too_big = STUDY.replace("bits = [4, 8]", "bits = [1, 2, 3, 4, 5, 6, 7, 8], group_size = [8, 16, 32, 64, 128]")
    too_big = too_big.replace('quantize = ["copy"]', 'quantize = ["copy", "other"]')
    with pytest.raises(UserError, match="expands to 80 variants, more than 64"):
        load_study(_write(tmp_path, too_big))


def test_status_tells_partial_from_not_started(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "runs" / "half").mkdir(parents=True)
    with contextlib.closing(sqlite3.connect(out / "runs" / "half" / "store.sqlite")) as db:
        db.execute("CREATE TABLE responses (key TEXT, status TEXT)")
        db.executemany("INSERT INTO responses VALUES (?, ?)", [("a", "ok"), ("b", "ok"), ("c", "failed")])
        db.commit()
    variants = [
        {"name": "half", "run_dir": "runs/half", "status": "running"},
        {"name": "later", "run_dir": "runs/later", "status": "pending"},
    ]
    (out / "study.json").write_text(json.dumps({"variants": variants}))
    assert [(row["status"], row["responses"]) for row in study_status(out)] == [("partial", 2), ("not started", 0)]
    with pytest.raises(UserError, match=r"no study\.json"):
        study_status(tmp_path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[study]\nlimit = 0\n", "study.limit: 0 is less than the minimum of 1"),
        ("[study]\ncolour = 1\n", "study: Additional properties are not allowed ('colour' was unexpected)"),
        ('[study]\n[[variants]]\nname = "a b"\n', "variants[0].name: 'a b' does not match"),
        ('[study]\n[[variants]]\nname = "x"\nquantize = "q"\nprune = "p"\n', "variants[0]: "),
        ('[study]\n[[variants]]\nname = "x"\n[[variants]]\nname = "x"\n', "two variants are named 'x'"),
        ('[study]\n[[sweeps]]\nname = "{method}-{bits}"\nprune = ["m"]\nrecipe = {sparsity = [0.5]}\n', "'bits'"),
        ("[study\n", "not a valid TOML file"),
    ],
)
def test_a_bad_study_file_is_one_message_naming_the_key(scripted, tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(UserError, match=r"study\.toml") as caught:
        load_study(path)
    assert message in str(caught.value)
    result = scripted("study", "run", str(path), "--run-dir", str(tmp_path / "out"), env=NO_ENTRY_POINTS)
    assert result.code == 2 and "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_sweeps_expand_into_readable_names_and_relative_paths_follow_the_study_file(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "ckpt").mkdir()
    text = """
[study]
data_dir = "data"
[[variants]]
name = "local"
model = "ckpt"
[[sweeps]]
prune = ["magnitude", "wanda"]
recipe = { sparsity = [0.3, 0.5], calibration_samples = 8 }
[[sweeps]]
name = "{method}-{pattern}"
prune = ["sparsegpt"]
recipe = { pattern = ["2:4", "4:8"] }
"""
    study = load_study(_write(tmp_path, text))
    assert [v.name for v in study.variants] == [
        "local",
        "magnitude-sparsity0.3",
        "magnitude-sparsity0.5",
        "wanda-sparsity0.3",
        "wanda-sparsity0.5",
        "sparsegpt-2of4",
        "sparsegpt-4of8",
    ]
    assert study.shared["data_dir"] == str((tmp_path / "data").resolve())
    assert study.variants[0].model == str((tmp_path / "ckpt").resolve())
    wanda = study.variants[4]
    assert variant_argv(study, wanda)[-6:] == [
        "--prune",
        "wanda",
        "--recipe",
        "calibration_samples=8",
        "--recipe",
        "sparsity=0.5",
    ]


@pytest.mark.parametrize(("example", "count"), [("offline-study.toml", 8), ("llama31-report.toml", 16)])
def test_the_example_studies_are_valid_and_their_methods_and_recipes_accepted(example: str, count: int) -> None:
    from conftest import REPO
    from trust_core.registry import Registry
    from trust_core.studies import check_study

    study = load_study(REPO / "docs" / "examples" / example)
    assert len(study.variants) == count
    registry = Registry()
    needed = {variant.quantize or variant.prune for variant in study.variants} - {None}
    installed = set(registry.components["quantizer"]) | set(registry.components["pruner"])
    if not needed <= installed:
        pytest.skip(f"compression plugins not installed: {sorted(needed - installed)}")
    check_study(registry, study)


def test_a_study_killed_mid_way_finishes_on_rerun_with_no_duplicate_work(tmp_path: Path) -> None:
    """SIGKILL to the study and the variant run it started, while the second variant generates; the rerun
    skips the finished variant, resumes the partial one from its store, and generates no response twice."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import PLUGIN_DIR, REPO

    text = STUDY.replace('model = "scripted:echo"', 'model = "scripted:echo:0.1"')
    text = text.replace('model = "scripted:refuse"', 'model = "scripted:refuse:0.5"').split("[[sweeps]]")[0]
    study, out, log = _write(tmp_path, text), tmp_path / "out", tmp_path / "generated.log"
    env = {**os.environ, **NO_ENTRY_POINTS, "TRUST_PROGRESS": "0", "SCRIPTED_GENERATION_LOG": str(log)}
    argv = [
        sys.executable,
        "-m",
        "trust_core",
        "--plugin-dir",
        str(PLUGIN_DIR),
        "study",
        "run",
        str(study),
        "--run-dir",
        str(out),
    ]
    proc = subprocess.Popen(
        argv, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(log.read_text().split() if log.exists() else []) < 6:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed = log.read_text().split()
    assert 6 <= len(killed) < 8, killed  # dense finished (4), refusing partial
    assert [row["status"] for row in study_status(out)] == ["done", "partial"]
    again = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    generated = log.read_text().split()
    assert len(generated) == 8 and len(set(generated)) == 8  # nothing generated twice
    assert "1/2 dense: done earlier" in again.stderr
    assert [row["status"] for row in study_status(out)] == ["done", "done"]


ISSUE_FORM = """
[study]
name = "smollm2-compression"
model = "smollm2"
tasks = ["truthfulness/hallucination", "safety/misuse"]
limit = 3

[[variants]]
name = "dense"

[[variants]]
name = "hqq-4bit"
quantize = "hqq"
recipe = { bits = 4, group_size = 64 }

[[variants]]
name = "magnitude-2of4"
prune = "magnitude"
recipe = { pattern = "2:4" }

[[sweeps]]
prune = "magnitude"
recipe = { sparsity = [0.1, 0.3] }
"""


def test_the_study_form_of_issue_11_is_read_as_written(tmp_path: Path) -> None:
    study = load_study(_write(tmp_path, ISSUE_FORM))
    assert [v.name for v in study.variants] == [
        "dense",
        "hqq-4bit",
        "magnitude-2of4",
        "magnitude-sparsity0.1",
        "magnitude-sparsity0.3",
    ]
    assert study.base == "dense" and study.base_model == "smollm2" and study.shared["limit"] == 3
    assert study.variants[1].recipe == {"bits": 4, "group_size": 64}
    assert variant_argv(study, study.variants[4])[-4:] == ["--prune", "magnitude", "--recipe", "sparsity=0.3"]


def test_compare_and_report_of_an_unfinished_study_leave_out_what_has_no_results(scripted, tmp_path: Path) -> None:
    text = STUDY.replace('model = "scripted:refuse"', 'model = "not-a-model"')
    out = tmp_path / "out"
    scripted("study", "run", str(_write(tmp_path, text)), "--run-dir", str(out), env=NO_ENTRY_POINTS)
    compared = scripted("compare", str(out), "--json", env=NO_ENTRY_POINTS)
    assert compared.code == 0, compared.stderr
    assert "warning: left out, no results yet: refusing" in compared.stderr
    assert [c["variant"] for c in compared.json()["comparisons"]] == ["copy-bits4", "copy-bits8"]
