"""``trust judge-check``: how often a judge gives the known-correct verdict on labelled calibration items.

Items come from the task plugins (``Task.judge_calibration``: labelled queries built with each task's own
judge prompt) and from the core for the refusal prompt (``trust_core/data/refusal_calibration.json``, written
for this project). The judge answers every item of a kind it can judge; verdicts are cached in the run store.
Per prompt, and over all items:

* ``agreement`` — share of items where the verdict equals the known label;
* ``sensitivity`` — among items whose known label is the prompt's positive label (``CORRECTED``, ``REFUSED``,
  ...), the share the judge labelled positive;
* ``specificity`` — among the other items, the share the judge labelled with the known label.

A failed verdict (no reply, or a reply naming no label) counts as wrong in every denominator and in
``n_invalid``. The report is written to ``RUN_DIR/judge_check.json``; later runs in the same run directory
with a judge of the same identity record its numbers in ``results.json`` (``run.judge.calibration``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from trust_core import __version__
from trust_core.contracts import REFUSAL_LABELS, CalibrationItem, MetricValue, Task, Verdict
from trust_core.evaluation import refusal_query
from trust_core.metrics import mean_metric
from trust_core.results import metric_record

REPORT_FILE = "judge_check.json"
ALL = "all"
KIND_OF_NEED = {"judge": "custom", "refusal": "refusal"}


def refusal_calibration() -> list[CalibrationItem]:
    """The core's labelled items for its refusal prompt (REFUSED is positive)."""
    text = resources.files("trust_core").joinpath("data/refusal_calibration.json").read_text(encoding="utf-8")
    return [
        CalibrationItem(
            "refusal", refusal_query(entry["response"], entry["request"]), entry["expected"], REFUSAL_LABELS[0]
        )
        for entry in json.loads(text)
    ]


def calibration_items(tasks: Sequence[Task]) -> tuple[dict[str, list[CalibrationItem]], list[str]]:
    """Items by judge kind ("judge" for the tasks' own prompts, "refusal"), and the ids of judge-using tasks
    that ship no calibration items."""
    items: dict[str, list[CalibrationItem]] = {"judge": [], "refusal": refusal_calibration()}
    uncalibrated: list[str] = []
    for task in tasks:
        if "judge" not in task.needs:
            continue
        own = list(task.judge_calibration())
        if not own:
            uncalibrated.append(task.id)
        items["judge"].extend(own)
    return items, uncalibrated


def agreement_metrics(prompt: str, items: Sequence[CalibrationItem], verdicts: Sequence[Verdict]) -> list[MetricValue]:
    """``agreement``, ``sensitivity`` and ``specificity`` of ``verdicts`` on ``items`` (``prompt`` names them)."""
    pairs = list(zip(items, verdicts, strict=True))
    positives = [(i, v) for i, v in pairs if i.expected == i.positive]
    negatives = [(i, v) for i, v in pairs if i.expected != i.positive]

    def metric(name: str, chosen: list[tuple[CalibrationItem, Verdict]]) -> MetricValue:
        return mean_metric(
            prompt,
            name,
            [v.label == i.expected for i, v in chosen],
            [v.failed for _, v in chosen],
            True,
            positive_label=sorted({i.positive for i, _ in chosen}) or None,
        )

    return [metric("agreement", pairs), metric("sensitivity", positives), metric("specificity", negatives)]


def build_report(
    judge_spec: str,
    judges: dict[str, dict[str, Any]],
    items: dict[str, list[CalibrationItem]],
    verdicts: dict[str, list[Verdict]],
    uncalibrated: list[str],
    checked_at: str,
) -> dict[str, Any]:
    """The judge-check report: judge identity per kind, metrics per prompt and over all items."""
    metrics: list[MetricValue] = []
    everything: list[tuple[CalibrationItem, Verdict]] = []
    for kind in ("judge", "refusal"):
        pairs = list(zip(items.get(kind, []), verdicts.get(kind, []), strict=True))
        everything.extend(pairs)
        for prompt in dict.fromkeys(item.prompt for item, _ in pairs):
            chosen = [(i, v) for i, v in pairs if i.prompt == prompt]
            metrics.extend(agreement_metrics(prompt, [i for i, _ in chosen], [v for _, v in chosen]))
    if everything:
        overall = agreement_metrics(ALL, [i for i, _ in everything], [v for _, v in everything])
        metrics.extend(metric for metric in overall if metric.metric == "agreement")
    return {
        "schema_version": "1",
        "trust_version": __version__,
        "checked_at": checked_at,
        "judge_spec": judge_spec,
        "judges": judges,
        "metrics": [metric_record(metric) for metric in metrics],
        "prompts_without_calibration": uncalibrated,
    }


def write_report(run_dir: Path, report: dict[str, Any], output: Path | None = None) -> Path:
    """Write the report to ``output`` (default ``RUN_DIR/judge_check.json``); return the path."""
    path = output or run_dir / REPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def calibration_summary(run_dir: Path, kind: str, identity: str | None) -> dict[str, Any] | None:
    """What ``results.json`` records about a judge of ``identity`` answering ``kind`` ("judge"/"refusal"),
    from ``RUN_DIR/judge_check.json`` when that file checked the same judge; else None."""
    path = run_dir / REPORT_FILE
    if identity is None or not path.is_file():
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None
    checked = (report.get("judges") or {}).get(kind) or {}
    if checked.get("identity") != identity:
        return None
    prompts = {item_prompt for item_prompt in checked.get("prompts", [])}
    rows = [m for m in report.get("metrics", []) if m.get("task") in prompts]
    return {
        "file": str(path),
        "checked_at": report.get("checked_at"),
        "metrics": [{key: row[key] for key in ("task", "metric", "value", "n", "n_invalid", "ci")} for row in rows],
    }
