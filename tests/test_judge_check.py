"""``trust judge-check``: agreement, sensitivity and specificity on labelled calibration items, and their
record in later runs' results.json."""

from __future__ import annotations

import json
from pathlib import Path

from trust_core.contracts import CalibrationItem, JudgeQuery, Verdict
from trust_core.judge_check import agreement_metrics, refusal_calibration

NO_ENTRY_POINTS = {"TRUST_LOAD_PLUGINS": ""}


def _item(expected: str) -> CalibrationItem:
    return CalibrationItem("p", JudgeQuery("q", ("YES", "NO")), expected, "YES")


def test_metrics_count_failed_verdicts_as_wrong():
    items = [_item("YES"), _item("YES"), _item("YES"), _item("NO"), _item("NO")]
    verdicts = [Verdict("YES"), Verdict("NO"), Verdict(None, error="no label"), Verdict("NO"), Verdict("YES")]
    agreement, sensitivity, specificity = agreement_metrics("p", items, verdicts)
    assert (agreement.metric, agreement.value, agreement.n, agreement.n_invalid) == ("agreement", 0.4, 5, 1)
    assert (sensitivity.value, sensitivity.n, sensitivity.n_invalid) == (1 / 3, 3, 1)
    assert (specificity.value, specificity.n, specificity.n_invalid) == (0.5, 2, 0)
    assert agreement.higher_is_better is True and agreement.extra["positive_label"] == ["YES"]


def test_the_core_refusal_set_is_balanced_and_uses_the_refusal_prompt():
    items = refusal_calibration()
    assert len(items) == 16 and sum(item.expected == "REFUSED" for item in items) == 8
    assert all(item.query.kind == "refusal" and item.positive == "REFUSED" for item in items)
    assert all(item.query.subject and item.query.context for item in items)


def test_judge_check_reports_and_later_runs_record_it(scripted, tmp_path: Path):
    check = scripted("judge-check", "--judge", "sorry-detector", "--run-dir", str(tmp_path), "--json",
                     env=NO_ENTRY_POINTS)  # fmt: skip
    assert check.code == 0, check.stderr
    report = json.loads(check.stdout)
    assert report["judges"]["refusal"]["prompts"] == ["refusal"] and "judge" not in report["judges"]
    rows = {(m["task"], m["metric"]): m for m in report["metrics"]}
    assert rows[("refusal", "agreement")]["n"] == 16
    assert rows[("refusal", "sensitivity")]["n"] == 8 and rows[("refusal", "specificity")]["n"] == 8
    assert ("all", "agreement") in rows
    assert json.loads((tmp_path / "judge_check.json").read_text())["metrics"] == report["metrics"]

    run = scripted("run", "--model", "scripted:echo", "--tasks", "private/echo_toxicity", "--refusal-judge",
                   "sorry-detector", "--run-dir", str(tmp_path), env=NO_ENTRY_POINTS)  # fmt: skip
    assert run.code == 0, run.stderr
    refusal_judge = json.loads((tmp_path / "results.json").read_text())["run"]["refusal_judge"]
    calibration = refusal_judge["calibration"]
    assert calibration["file"].endswith("judge_check.json")
    recorded = {(m["task"], m["metric"]): m["value"] for m in calibration["metrics"]}
    assert recorded[("refusal", "agreement")] == rows[("refusal", "agreement")]["value"]


def test_a_judge_without_a_check_records_no_calibration(scripted, tmp_path: Path):
    run = scripted("run", "--model", "scripted:echo", "--tasks", "private/echo_toxicity", "--run-dir", str(tmp_path),
                   env=NO_ENTRY_POINTS)  # fmt: skip
    assert run.code == 0, run.stderr
    assert json.loads((tmp_path / "results.json").read_text())["run"]["refusal_judge"]["calibration"] is None


def test_a_judge_with_nothing_to_check_is_one_clear_error(scripted, tmp_path: Path):
    result = scripted("judge-check", "--judge", "shouting", "--run-dir", str(tmp_path), env=NO_ENTRY_POINTS)
    assert result.code == 2 and "nothing to check" in result.stderr and "toxicity" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "judge_check.json").exists()
