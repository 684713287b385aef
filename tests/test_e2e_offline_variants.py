"""End to end with the real offline defaults, part 3: a pruned and an hqq variant of the default model (a file of
its own, so the slow tier spreads over the workers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import read_results as _metrics


@pytest.mark.slow
def test_run_a_pruned_variant_of_the_default_model(trust, tmp_path: Path):
    pytest.importorskip("trust_wanda")
    args = (
        "run",
        "--prune",
        "magnitude",
        "--pattern",
        "4:8",
        "--tasks",
        "hallucination",
        "--limit",
        "2",
        "--max-new-tokens",
        "16",
        "--run-dir",
        str(tmp_path),
    )
    result = trust(*args)
    assert result.code == 0, result.stderr
    results, _ = _metrics(tmp_path / "results.json")
    variant = results["run"]["variant"]
    assert (variant["method"], variant["recipe"]["pattern"]) == ("magnitude", "4:8")
    assert variant["details"]["pattern_ok"] is True
    assert results["run"]["model"]["backend"] == "hf"
    again = trust(*args)
    assert again.code == 0 and "2 already stored, 0 generated" in again.stderr


@pytest.mark.slow
def test_run_an_hqq_variant_with_the_ornl_workflows_flags(trust, tmp_path: Path):
    pytest.importorskip("trust_hqq")
    args = (
        "run",
        "--model",
        "smollm2",
        "--load_hqq_model",
        "--hqq_bits",
        "4",
        "--hqq_groupsize",
        "64",
        "--tasks",
        "truthfulness/hallucination",
        "--limit",
        "3",
        "--max-new-tokens",
        "16",
        "--run-dir",
        str(tmp_path),
    )
    result = trust(*args)
    assert result.code == 0, result.stderr
    results, _ = _metrics(tmp_path / "results.json")
    variant = results["run"]["variant"]
    assert (variant["kind"], variant["method"]) == ("quantize", "hqq")
    assert (variant["recipe"]["bits"], variant["recipe"]["group_size"]) == (4, 64)
    assert variant["details"]["quantized_layers"] == {"HQQLinear": 210}
    assert results["run"]["model"]["backend"] == "hqq"  # the variant folder holds hqq's own format
    assert any(m["n"] > 0 for m in results["metrics"])
