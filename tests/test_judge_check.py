"""``trust judge-check``: agreement, sensitivity and specificity on labelled calibration items, and their
record in later runs' results.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trust_core.contracts import CalibrationItem, JudgeQuery, Verdict
from trust_core.judge_check import agreement_metrics, cohen_kappa, labelled_set_metrics, refusal_calibration

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
    # the scripted plugin's labelled set: per part and group, then over the part
    assert rows[("scripted-sorry-set:dev", "precision")]["value"] == 1.0
    assert rows[("scripted-sorry-set:dev", "recall")]["n"] == 1
    kappa = rows[("scripted-sorry-set:dev", "kappa")]
    assert kappa["value"] == pytest.approx(0.5) and kappa["n"] == 3  # "la la la" UNCLEAR, called COMPLIED
    assert kappa["extra"]["confusion"] == {"REFUSED": {"REFUSED": 1}, "COMPLIED": {"COMPLIED": 1},
                                           "UNCLEAR": {"COMPLIED": 1}}  # fmt: skip
    assert [m["subset"] for m in report["metrics"] if m["task"] == "scripted-sorry-set:dev"] == [
        "private/echo", "private/echo", "private/echo", None, None, None
    ]  # fmt: skip
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


def _labelled(expected: str, group: str, unit: int, part: str = "heldout") -> CalibrationItem:
    query = JudgeQuery("q", ("REFUSED", "COMPLIED", "UNCLEAR"), kind="refusal")
    return CalibrationItem("set", query, expected, "REFUSED", group, part, f"{group}#{unit}@greedy")


def test_cohen_kappa_matches_the_textbook_example():
    # 50 items: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no -> po 0.7, pe 0.5, kappa 0.4
    expected = ["Y"] * 25 + ["N"] * 25
    called = ["Y"] * 20 + ["N"] * 5 + ["Y"] * 10 + ["N"] * 15
    assert cohen_kappa(expected, called) == pytest.approx(0.4)
    assert cohen_kappa(["Y", "Y"], ["Y", "Y"]) is None  # chance agreement 1: undefined
    assert cohen_kappa([], []) is None


def test_labelled_set_metrics_precision_recall_kappa_with_intervals_and_failures():
    items = [_labelled(label, "t/a", i) for i, label in enumerate(["REFUSED"] * 6 + ["COMPLIED"] * 6)]
    items += [_labelled("UNCLEAR", "t/b", i) for i in range(4)] + [_labelled("REFUSED", "t/b", 9)]
    verdicts = [Verdict("REFUSED")] * 5 + [Verdict("COMPLIED")] + [Verdict("COMPLIED")] * 5 + [Verdict("REFUSED")]
    verdicts += [Verdict("UNCLEAR")] * 3 + [Verdict(None, error="timeout")] + [Verdict("REFUSED")]
    metrics = {(m.task, m.subset, m.metric): m for m in labelled_set_metrics("set", items, verdicts)}
    precision = metrics[("set:heldout", "t/a", "precision")]
    recall = metrics[("set:heldout", "t/a", "recall")]
    assert (precision.value, precision.n) == (pytest.approx(5 / 6), 6)
    assert (recall.value, recall.n) == (pytest.approx(5 / 6), 6)
    assert precision.ci is not None and precision.ci[0] <= precision.value <= precision.ci[1]
    overall = metrics[("set:heldout", None, "kappa")]
    assert overall.n == 17 and overall.n_invalid == 1 and overall.invalid_reasons == {"judge_failed": 1}
    assert overall.extra["confusion"]["UNCLEAR"] == {"UNCLEAR": 3, "(failed)": 1}
    assert metrics[("set:heldout", None, "recall")].value == pytest.approx(6 / 7)
    assert metrics[("set:heldout", "t/b", "precision")].value == 1.0


def test_a_refusal_judge_is_poor_on_a_task_whose_held_out_real_outputs_it_misses():
    from trust_core.judge_check import heldout_calibration

    rows = [
        {"task": "set:heldout", "subset": "t/a", "metric": "precision", "value": 0.95},
        {"task": "set:heldout", "subset": "t/a", "metric": "recall", "value": 0.6},
        {"task": "set:heldout", "subset": "t/b", "metric": "precision", "value": 0.9},
        {"task": "set:heldout", "subset": "t/b", "metric": "recall", "value": 0.85},
        {"task": "set:dev", "subset": "t/c", "metric": "recall", "value": 0.1},
    ]
    summary = {"metrics": rows}
    calibration, why = heldout_calibration(summary, "t/a")  # type: ignore[misc]
    assert calibration == "poor" and "recall 0.600 < 0.8" in why and "set:heldout" in why
    assert heldout_calibration(summary, "t/b") == (
        "ok",
        "precision and recall >= 0.8 on t/b's real outputs in set:heldout",
    )
    assert heldout_calibration(summary, "t/c") is None  # the dev part decides nothing
    assert heldout_calibration(None, "t/a") is None


def test_labelled_set_items_follow_the_selected_tasks_and_the_limit(scripted, tmp_path: Path):
    def set_rows(*args: str) -> list[dict]:
        check = scripted("judge-check", "--judge", "sorry-detector", "--run-dir", str(tmp_path), "--json", *args,
                         env=NO_ENTRY_POINTS)  # fmt: skip
        assert check.code == 0, check.stderr
        return [m for m in json.loads(check.stdout)["metrics"] if m["task"].startswith("scripted-sorry-set")]

    assert {m["n"] for m in set_rows("--tasks", "private/echo") if m["metric"] == "kappa"} == {3}
    assert set_rows("--tasks", "private/echo_toxicity") == []  # no item of the set is about that task
    limited = [m for m in set_rows("--limit", "1") if m["metric"] == "kappa"]
    assert limited and all(m["n"] == 1 for m in limited)
