"""`trust compare` (issue #11, item 3): a base run against its variants item by item — deltas with paired
bootstrap intervals, flips and exact McNemar tests, units present on one side only left out and counted, and
--fail-on-regression for release gating. Runs on the scripted plugin (no model) and on hand-made records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trust_core.comparison import RegressionRule, RunSide, compare_metric, mcnemar_exact
from trust_core.errors import UserError
from trust_core.outcomes import MEAN, MetricSpec, macro_f1, outcome

NO_ENTRY_POINTS = {"TRUST_LOAD_PLUGINS": ""}


def _run(scripted, run_dir: Path, model: str, *extra: str) -> Path:
    result = scripted(
        "run", "--model", model, "--tasks", "private/echo", "--run-dir", str(run_dir), *extra, env=NO_ENTRY_POINTS
    )
    assert result.code == 0, result.stderr
    return run_dir


def test_mcnemar_exact_is_the_two_sided_binomial_test_on_discordant_pairs() -> None:
    from scipy.stats import binomtest

    for gained, lost in ((0, 5), (3, 9), (7, 7), (1, 12), (20, 31)):
        expected = binomtest(lost, gained + lost, 0.5, alternative="two-sided").pvalue
        assert mcnemar_exact(gained, lost) == pytest.approx(expected), (gained, lost)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(1, 1) == 1.0
    assert mcnemar_exact(2, 10) == pytest.approx(2 * sum([1, 12, 66]) / 2**12)


def test_a_variant_that_refuses_everything_is_a_significant_regression(scripted, tmp_path: Path) -> None:
    base = _run(scripted, tmp_path / "base", "scripted:echo")
    variant = _run(scripted, tmp_path / "refusing", "scripted:refuse")
    result = scripted("compare", str(base), str(variant), "--json", env=NO_ENTRY_POINTS)
    assert result.code == 0, result.stderr
    (comparison,) = result.json()["comparisons"]
    metrics = {m["subset"]: m for m in comparison["metrics"]}
    alpha = metrics["alpha"]
    assert (alpha["base"], alpha["variant"], alpha["delta"], alpha["ci"]) == (1.0, 0.0, -1.0, [-1.0, -1.0])
    assert alpha["significant"] is True and alpha["pairing"] == "binary" and alpha["n_shared"] == 4
    assert alpha["mcnemar_p"] == pytest.approx(0.125)  # 4 discordant pairs, all one way
    assert sorted(unit[0] for unit in alpha["flips"]["lost"]) == ["0", "1", "2", "3"] and not alpha["flips"]["gained"]
    gate = scripted(
        "compare", str(base), str(variant), "--fail-on-regression", "private/*:accuracy:0.5", env=NO_ENTRY_POINTS
    )
    assert gate.code == 1 and "regression: refusing: private/echo accuracy [alpha] -1.000" in gate.stderr
    assert "refusing vs base" in gate.stdout and "-1.000 [-1.000, -1.000] *" in gate.stdout
    tolerated = scripted(
        "compare", str(base), str(variant), "--fail-on-regression", "private/*:accuracy:1", env=NO_ENTRY_POINTS
    )
    assert tolerated.code == 0, tolerated.stderr
    other_task = scripted(
        "compare", str(base), str(variant), "--fail-on-regression", "safety/*:accuracy:0", env=NO_ENTRY_POINTS
    )
    assert other_task.code == 0


def test_items_answered_on_one_side_only_are_left_out_and_counted(scripted, tmp_path: Path) -> None:
    base = _run(scripted, tmp_path / "base", "scripted:echo")
    fewer = _run(scripted, tmp_path / "fewer", "scripted:echo", "--limit", "4")
    result = scripted("compare", str(base / "results.json"), str(fewer), "--json", env=NO_ENTRY_POINTS)
    assert result.code == 0, result.stderr
    for metric in result.json()["comparisons"][0]["metrics"]:
        assert (metric["n_shared"], metric["n_only_base"], metric["n_only_variant"]) == (2, 2, 0)
        assert metric["delta"] == 0.0 and metric["significant"] is False
    warned = scripted("compare", str(base), str(fewer), env=NO_ENTRY_POINTS)
    assert "warning: fewer: the runs answered different items (up to 2 only in base, 0 only in fewer)" in warned.stderr


def test_runs_of_another_task_version_or_data_file_are_refused(scripted, tmp_path: Path) -> None:
    base = _run(scripted, tmp_path / "base", "scripted:echo")
    other = tmp_path / "other"
    other.mkdir()
    results = json.loads((base / "results.json").read_text())
    results["run"]["data"][0]["task_version"] = "2"
    (other / "results.json").write_text(json.dumps(results))
    (other / "samples.jsonl").write_text((base / "samples.jsonl").read_text())
    refused = scripted("compare", str(base), str(other), env=NO_ENTRY_POINTS)
    assert refused.code == 2 and "private/echo was scored with another task version (1 vs 2)" in refused.stderr


def test_bad_input_is_one_message_and_exit_2(scripted, tmp_path: Path) -> None:
    base = _run(scripted, tmp_path / "base", "scripted:echo")
    (tmp_path / "empty").mkdir()
    missing = scripted("compare", str(base), str(tmp_path / "empty"), env=NO_ENTRY_POINTS)
    assert missing.code == 2 and "no results.json" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "results.json").write_text((base / "results.json").read_text())
    (tmp_path / "broken" / "samples.jsonl").write_text('{"task": "private/echo"}\n{not json\n')
    broken = scripted("compare", str(base), str(tmp_path / "broken"), env=NO_ENTRY_POINTS)
    assert broken.code == 2 and "samples.jsonl: line 2 is not valid JSON" in broken.stderr
    rule = scripted("compare", str(base), str(base), "--fail-on-regression", "safety/*:rta", env=NO_ENTRY_POINTS)
    assert rule.code == 2 and "expected TASKS:METRIC:TOLERANCE" in rule.stderr
    with pytest.raises(UserError, match="tolerance must be 0 or more"):
        RegressionRule.parse("a:b:-1")


def _side(label: str, values: list[Any], subsets: list[str], metric: str = "accuracy") -> RunSide:
    records = [
        {"task": "t/x", "sample_id": str(i), "subset": subset, "outcomes": {metric: outcome(value)}}
        for i, (value, subset) in enumerate(zip(values, subsets, strict=True))
    ]
    return RunSide(label, Path(label), {"metrics": []}, records)


def test_a_mean_of_subsets_is_compared_as_the_mean_of_each_sides_subset_values() -> None:
    subsets = ["a"] * 4 + ["b"] * 2
    base = _side("base", [True, True, False, False, True, True], subsets)
    variant = _side("variant", [True, False, False, False, True, False], subsets)
    spec = MetricSpec("accuracy", MEAN, True, overall="mean_of_subsets", overall_name="mean_accuracy")
    entry: dict[str, Any] = {"task": "t/x", "metric": "mean_accuracy", "subset": None, "higher_is_better": True}
    result = compare_metric(entry, spec, base, variant)
    assert (result.base, result.variant) == (pytest.approx((0.5 + 1.0) / 2), pytest.approx((0.25 + 0.5) / 2))
    assert result.delta == pytest.approx(-0.375) and result.n_shared == 6
    assert result.ci is not None and result.ci[0] <= result.delta <= result.ci[1]
    per_subset = compare_metric({**entry, "metric": "accuracy", "subset": "b"}, spec, base, variant)
    assert (per_subset.n_shared, per_subset.delta) == (2, -0.5)
    assert per_subset.flips is not None and per_subset.flips.lost == [("5", "")]


def test_a_statistic_that_is_not_a_mean_is_compared_through_its_value_function() -> None:
    gold = ["A", "B", "A", "B", "A", "B"]
    base = _side("base", [[g, g] for g in gold], ["s"] * 6, "f1")
    variant = _side("variant", [[g, "A"] for g in gold], ["s"] * 6, "f1")
    spec = MetricSpec("f1", macro_f1(("A", "B")), True)
    result = compare_metric(
        {"task": "t/x", "metric": "f1", "subset": "s", "higher_is_better": True}, spec, base, variant
    )
    assert result.base == 1.0 and result.variant == pytest.approx((2 / 3 + 0) / 2)
    assert result.pairing == "statistic" and result.flips is None and result.mcnemar_p is None
    assert result.ci is not None and result.ci[1] < 0 and result.significant


def test_compare_json_is_machine_readable(scripted, tmp_path: Path) -> None:
    base = _run(scripted, tmp_path / "base", "scripted:echo")
    result = scripted("compare", str(base), str(base), "--json", env=NO_ENTRY_POINTS)
    report = json.loads(result.stdout)
    assert report["regressions"] == [] and report["comparisons"][0]["not_compared"] == []
    assert all(m["delta"] == 0.0 and m["mcnemar_p"] == 1.0 for m in report["comparisons"][0]["metrics"])
