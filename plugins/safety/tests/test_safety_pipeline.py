"""The safety tasks through the real `trust` CLI and runner, with a scripted single-file plugin (no model):
shared jailbreak/toxicity generations, schema-valid results, skipped toxicity, imported generations."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from trust_safety.jailbreak import STYLES

from trust_core.results import validate_results
from trust_core.testing import CliResult, run_cli

PLUGIN_DIR = Path(__file__).resolve().parent / "plugin_dir"
ENV = {"TRUST_LOAD_PLUGINS": "safety", "TRUST_PROGRESS": "0"}
SCORED = ("--refusal-judge", "prefix-refusal", "--toxicity-scorer", "marker-toxicity")
REFUSAL = "I cannot help with that."


def trust(*args: str, env: dict[str, str] | None = None) -> CliResult:
    """Run the CLI (in-process) with the scripted plugin folder loaded."""
    return run_cli(
        "--plugin-dir",
        str(PLUGIN_DIR),
        *args,
        env={**ENV, **(env or {})},
    )


def results(path: Path) -> dict[str, Any]:
    """The schema-validated results.json at ``path``."""
    data = json.loads(path.read_text())
    validate_results(data)
    return data


def metrics_of(data: dict[str, Any]) -> dict[tuple[str, str | None, str], dict[str, Any]]:
    """Metrics keyed by (task, subset, metric)."""
    return {(m["task"], m["subset"], m["metric"]): m for m in data["metrics"]}


def test_run_shares_jailbreak_generations_with_toxicity(tmp_path: Path) -> None:
    log = tmp_path / "generated.log"
    args = ("run", "--model", "safety-scripted:mixed", "--tasks", "safety", *SCORED, "--run-dir", str(tmp_path / "r"))
    first = trust(*args, env={"SAFETY_SCRIPTED_LOG": str(log)})
    assert first.returncode == 0, first.stderr
    data = results(tmp_path / "r" / "results.json")
    assert len(log.read_text().split()) == 60  # 28 jailbreak (shared with toxicity) + 12 misuse + 20 xstest
    assert data["run"]["counts"]["responses_generated"] == 60
    metrics = metrics_of(data)
    jailbreak = metrics[("safety/jailbreak", None, "rta")]
    share = metrics[("safety/toxicity", None, "refusal_share")]
    assert share["value"] == jailbreak["value"] and share["n"] == jailbreak["n"] == 28
    refused = round(jailbreak["value"] * 28)
    assert 0 < refused < 28
    mean = metrics[("safety/toxicity", None, "mean_toxicity")]
    assert (mean["value"], mean["n"], mean["n_invalid"], mean["higher_is_better"]) == (0.3, 28 - refused, 0, False)
    assert metrics[("safety/toxicity", None, "max_toxicity")]["value"] == 0.3
    assert jailbreak["extra"]["refusal_judge"] == "prefix-refusal/1"
    assert {task for task, _, _ in metrics} == {
        "safety/jailbreak",
        "safety/toxicity",
        "safety/misuse",
        "safety/exaggerated_safety",
    }
    assert len([key for key in metrics if key[0] == "safety/jailbreak"]) == 15
    records = [json.loads(line) for line in (tmp_path / "r" / "samples.jsonl").read_text().splitlines()]
    assert len(records) == 28 + 28 + 12 + 20
    again = trust(*args, env={"SAFETY_SCRIPTED_LOG": str(log)})
    assert again.returncode == 0, again.stderr
    assert len(log.read_text().split()) == 60 and "60 already stored, 0 generated" in again.stderr


def test_toxicity_alone_generates_under_the_jailbreak_keys(tmp_path: Path) -> None:
    log = tmp_path / "generated.log"
    run_dir = str(tmp_path / "r")
    common = ("--model", "safety-scripted:comply", *SCORED, "--run-dir", run_dir)
    assert trust("run", "--tasks", "toxicity", *common, env={"SAFETY_SCRIPTED_LOG": str(log)}).returncode == 0
    assert len(log.read_text().split()) == 28
    jailbreak = trust("run", "--tasks", "jailbreak", *common, env={"SAFETY_SCRIPTED_LOG": str(log)})
    assert jailbreak.returncode == 0, jailbreak.stderr
    assert len(log.read_text().split()) == 28  # nothing new: the toxicity run generated the jailbreak responses
    assert metrics_of(results(tmp_path / "r" / "results.json"))[("safety/jailbreak", None, "rta")]["value"] == 0.0


def test_without_a_toxicity_scorer_toxicity_is_skipped_never_zero(tmp_path: Path) -> None:
    args = ("run", "--model", "safety-scripted:comply", "--tasks", "toxicity", "--refusal-judge", "prefix-refusal")
    result = trust(*args, "--run-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    metrics = metrics_of(results(tmp_path / "results.json"))
    for name in ("mean_toxicity", "max_toxicity"):
        value = metrics[("safety/toxicity", None, name)]
        assert value["value"] is None and value["note"].startswith("skipped: ") and value["n"] == 28
    assert metrics[("safety/toxicity", None, "refusal_share")]["value"] == 0.0


def test_all_refusing_model(tmp_path: Path) -> None:
    result = trust("run", "--model", "safety-scripted:refuse", "--tasks", "safety", *SCORED, "--run-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    metrics = metrics_of(results(tmp_path / "results.json"))
    assert metrics[("safety/jailbreak", None, "rta")]["value"] == 1.0
    assert metrics[("safety/misuse", None, "rta")]["value"] == 1.0
    assert metrics[("safety/exaggerated_safety", None, "refusal_rate")]["value"] == 1.0
    mean = metrics[("safety/toxicity", None, "mean_toxicity")]
    assert (mean["value"], mean["n"]) == (None, 0) and mean["note"].startswith("no answers to score")


def test_evaluate_imported_trustllm_generations(kit: ModuleType, tmp_path: Path) -> None:
    folder = tmp_path / "generations" / "safety"
    folder.mkdir(parents=True)
    for stem in ("jailbreak", "misuse", "exaggerated_safety"):
        items = kit.packaged_items(f"safety/{stem}.json")
        answered = [{**item, "res": REFUSAL if i % 2 == 0 else "Sure, here it is."} for i, item in enumerate(items)]
        (folder / f"{stem}.json").write_text(json.dumps(answered))
    args = ("evaluate", "--generations", str(tmp_path / "generations"), "--tasks", "safety", *SCORED)
    result = trust(*args, "--run-dir", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    data = results(tmp_path / "r" / "results.json")
    assert data["run"]["model"]["source"] == "imported"
    metrics = metrics_of(data)
    for task, name, n in (
        ("safety/jailbreak", "rta", 28),
        ("safety/misuse", "rta", 12),
        ("safety/exaggerated_safety", "refusal_rate", 20),
        ("safety/toxicity", "refusal_share", 28),
    ):
        assert (metrics[(task, None, name)]["value"], metrics[(task, None, name)]["n"]) == (0.5, n)
    # even items refused: style k holds items k and k + 14, so the even-numbered styles are all refused
    per_style = [metrics[("safety/jailbreak", style, "rta")]["value"] for style in STYLES]
    assert per_style == [1.0 if k % 2 == 0 else 0.0 for k in range(14)]
    mean = metrics[("safety/toxicity", None, "mean_toxicity")]
    assert (mean["value"], mean["n"]) == (0.0, 14)


@pytest.mark.parametrize("bad", [{"label": ["roleplay"]}, {"label": 3}])
def test_a_bad_item_stops_the_run_with_a_clear_message(tmp_path: Path, bad: dict[str, Any]) -> None:
    folder = tmp_path / "data" / "safety"
    folder.mkdir(parents=True)
    items = [{"prompt": "p", "label": ["cot"], "source": "ITC"}, {"prompt": "q", "source": "QBB", **bad}]
    (folder / "jailbreak.json").write_text(json.dumps(items))
    args = ("run", "--model", "safety-scripted:comply", "--tasks", "jailbreak", *SCORED)
    result = trust(*args, "--data-dir", str(tmp_path / "data"), "--run-dir", str(tmp_path / "r"))
    assert result.returncode == 2
    assert "jailbreak.json, item 1, field 'label" in result.stderr
