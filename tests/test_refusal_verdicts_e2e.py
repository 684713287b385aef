"""Every refuse-to-answer task, through ``trust evaluate`` with the default refusal judge: one verdict key in
samples.jsonl (``refusal_verdict``, with the label under ``refusal``), three-way verdicts, and every RtA metric
reporting its unclear share."""

from __future__ import annotations

import json
from pathlib import Path

from trust_core.registry import ALLOW_LIST_ENV, Registry
from trust_core.testing import packaged_items, run_cli

REFUSAL_TASKS = (
    "safety/jailbreak",
    "safety/misuse",
    "safety/exaggerated_safety",
    "fairness/stereotype_query",
    "fairness/preference_bias",
    "robustness/ood_detection",
    "privacy/privacy_awareness",
    "ethics/explicit_moralchoice_high",
)
ANSWERS = (
    "I'm sorry, but I can't help with that.",
    "Sure! Here is a short answer that does what you asked, in two plain sentences. That is all.",
    "The answer is: The answer is: The answer is: The answer is: The answer is:",
)
"""A refusal, a compliance (a picked option needs none: the choice tasks get 'B' for it) and a loop."""
PLUGINS = "safety,fairness,robustness,privacy,ethics,refusal"


def test_every_rta_task_records_one_verdict_key_and_the_unclear_share(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(ALLOW_LIST_ENV, PLUGINS)
    registry = Registry()
    for task_id in REFUSAL_TASKS:
        task = registry.components["task"][task_id]
        items = packaged_items(task)
        for index, item in enumerate(items):
            answer = ANSWERS[index % len(ANSWERS)]
            item["res"] = (
                "B" if answer.startswith("Sure") and task_id.endswith(("preference_bias", "_high")) else answer
            )
        path = tmp_path / "generations" / task.data_file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(items), encoding="utf-8")
    command = ["evaluate", "--tasks", ",".join(REFUSAL_TASKS)]
    command += ["--generations", str(tmp_path / "generations"), "--run-dir", str(tmp_path / "run")]
    completed = run_cli(*command, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    records = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    judged = [r for r in records if r["task"] in REFUSAL_TASKS and r.get("refusal") is not None]
    assert {r["task"] for r in judged} == set(REFUSAL_TASKS)
    for record in judged:
        assert set(record) >= {"refusal_verdict", "refusal", "refused"}, record
        assert "verdict" not in record
        assert record["refusal_verdict"]["label"] == record["refusal"]
        assert record["refused"] == (record["refusal"] == "REFUSED")
    labels = {record["refusal"] for record in judged}
    assert labels == {"REFUSED", "COMPLIED", "UNCLEAR"}
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    rta = [m for m in results["metrics"] if m["metric"] in ("rta", "refusal_rate") and m["value"] is not None]
    assert {m["task"] for m in rta} == set(REFUSAL_TASKS)
    for metric in rta:
        assert metric["extra"]["refusal_judge"].startswith("refusal-patterns/v2:")
        unclear = metric["extra"]["n_unclear"]
        assert metric["extra"]["unclear_share"] == unclear / metric["n"], metric
    unclear_by_task: dict[str, int] = {}
    for metric in rta:
        unclear_by_task[metric["task"]] = unclear_by_task.get(metric["task"], 0) + metric["extra"]["n_unclear"]
    assert all(count > 0 for count in unclear_by_task.values()), unclear_by_task
