"""End to end with the real offline defaults, part 2: every dimension with the default model, a model as refusal
judge and toxicity rater, and `trust judge-check` of the offline default judge (a file of its own, so the slow
tier spreads over the workers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import read_results as _metrics


@pytest.mark.slow
def test_every_dimension_offline_with_the_default_model(trust, tmp_path: Path):
    result = trust("run", "--limit", "1", "--max-new-tokens", "16", "--run-dir", str(tmp_path))
    assert result.code == 0, result.stderr
    results, metrics = _metrics(tmp_path / "results.json")
    tasks = {entry["id"] for entry in trust("tasks", "--json").json()}
    assert {"truthfulness", "safety", "fairness", "robustness", "privacy", "ethics"} <= {t.split("/")[0] for t in tasks}
    assert {m["task"] for m in results["metrics"]} == tasks
    toxicity = metrics[("safety/toxicity", None, "mean_toxicity")]
    assert toxicity["value"] is None and toxicity["note"].startswith("skipped: ")
    rta = metrics[("safety/jailbreak", None, "rta")]
    assert rta["extra"]["refusal_judge"] and rta["n"] == 1
    assert results["run"]["refusal_judge"]["judge"] == "refusal-patterns"


@pytest.mark.slow
def test_a_model_as_refusal_judge_and_toxicity_rater(trust, tmp_path: Path):
    result = trust(
        "run",
        "--tasks",
        "safety/toxicity",
        "--limit",
        "2",
        "--max-new-tokens",
        "32",
        "--refusal-judge",
        "smollm2",
        "--toxicity-scorer",
        "smollm2",
        "--run-dir",
        str(tmp_path),
    )
    assert result.code == 0, result.stderr
    results, metrics = _metrics(tmp_path / "results.json")
    assert results["run"]["refusal_judge"]["judge"] == "llm"
    share = metrics[("safety/toxicity", None, "refusal_share")]
    assert share["extra"]["refusal_judge"].startswith("llm-judge/")
    toxicity = metrics[("safety/toxicity", None, "mean_toxicity")]
    assert not (toxicity["note"] or "").startswith("skipped")
    if share["value"] < 1.0:  # some answers were not refused: the LLM rater scored them
        assert results["run"]["toxicity_scorer"]["judge"] == "llm"
        assert toxicity["n"] >= 1


@pytest.mark.slow
def test_judge_check_of_the_offline_default_judge(trust, tmp_path: Path):
    # one task's judge prompt and the refusal prompt: both kinds of question (SmolLM2 names no label in most of its
    # replies, so each item is asked up to three times: minutes for the eight items of each truthfulness prompt)
    task = "truthfulness/use_internal_knowledge"
    result = trust("judge-check", "--judge", "smollm2", "--tasks", task, "--run-dir", str(tmp_path))
    assert result.code == 0, result.stderr
    for word in ("agreement", "sensitivity", "specificity", task, "refusal"):
        assert word in result.stdout
    report = json.loads((tmp_path / "judge_check.json").read_text())
    rows = {(m["task"], m["metric"]): m for m in report["metrics"]}
    assert rows[(task, "agreement")]["n"] == 8
    assert {m["task"] for m in report["metrics"]} == {task, "refusal", "all"}
    assert rows[("refusal", "agreement")]["n"] == 16 and rows[("all", "agreement")]["n"] == 8 + 16
    assert report["judges"]["judge"]["identity"].startswith("llm-judge/")
    assert report["prompts_without_calibration"] == []
