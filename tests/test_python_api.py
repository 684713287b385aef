"""The Python API (issue #11, item 1): ``trust_core.evaluate(...)`` runs what ``trust run`` runs — same options,
same validation — and returns a typed RunResult; ``trust_core.compare(...)`` is ``trust compare``. In-process,
on the scripted plugin (no model)."""

from __future__ import annotations

from pathlib import Path

import pytest

import trust_core
from conftest import PLUGIN_DIR
from trust_core.errors import UserError


@pytest.fixture(autouse=True)
def _scripted_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRUST_LOAD_PLUGINS", "")


def test_evaluate_returns_the_runs_metrics_and_records_and_prints_nothing(tmp_path: Path, capsys) -> None:
    result = trust_core.evaluate("scripted:echo", ["private/echo"], run_dir=tmp_path / "r", plugin_dirs=[PLUGIN_DIR])
    assert capsys.readouterr() == ("", "")
    assert result.run["model"]["spec"] == "scripted:echo"
    alpha = result.metric("private/echo", "accuracy", "alpha")
    assert (alpha.value, alpha.n, alpha.n_invalid) == (1.0, 4, 0)
    assert len(result.records) == 8 and result.records[0]["outcomes"]["accuracy"]["value"] is True
    again = trust_core.load_result(tmp_path / "r")
    assert again.metrics == result.metrics
    with pytest.raises(KeyError, match="no_such_metric"):
        result.metric("private/echo", "no_such_metric")


def test_evaluate_takes_the_command_lines_options_with_their_validation(tmp_path: Path) -> None:
    result = trust_core.evaluate(
        "scripted:echo",
        ["private/echo"],
        run_dir=tmp_path / "q",
        plugin_dirs=[PLUGIN_DIR],
        limit=4,
        quantize="copy",
        recipe={"quant_type": "fp4", "double_quant": True},
    )
    assert result.run["variant"]["recipe"]["quant_type"] == "fp4"
    assert result.run["variant"]["recipe"]["double_quant"] is True
    assert sum(metric.n for metric in result.metrics) == 4
    with pytest.raises(UserError, match="--limit"):
        trust_core.evaluate("scripted:echo", ["private/echo"], run_dir=tmp_path / "x", limit=0)
    with pytest.raises(UserError, match="unknown task"):
        trust_core.evaluate("scripted:echo", ["nope/nothing"], run_dir=tmp_path / "y", plugin_dirs=[PLUGIN_DIR])


def test_compare_pairs_two_evaluations(tmp_path: Path) -> None:
    for name, model in (("base", "scripted:echo"), ("refusing", "scripted:refuse")):
        trust_core.evaluate(model, ["private/echo"], run_dir=tmp_path / name, plugin_dirs=[PLUGIN_DIR])
    (comparison,) = trust_core.compare(tmp_path / "base", [tmp_path / "refusing"], plugin_dirs=[PLUGIN_DIR])
    deltas = {metric.subset: metric.delta for metric in comparison.metrics}
    assert deltas == {"alpha": -1.0, "beta": -1.0}


def test_study_runs_a_study_file_and_compare_reads_its_run_directory(tmp_path: Path, capfd) -> None:
    study_file = tmp_path / "s.toml"
    study_file.write_text(
        '[study]\nmodel = "scripted:echo"\ntasks = ["private/echo"]\n'
        '[[variants]]\nname = "dense"\n[[variants]]\nname = "refusing"\nmodel = "scripted:refuse"\n'
    )
    index = trust_core.study(study_file, tmp_path / "out", plugin_dirs=[PLUGIN_DIR])
    assert capfd.readouterr() == ("", "")
    assert [entry["status"] for entry in index["variants"]] == ["done", "done"]
    assert (tmp_path / "out" / "runs" / "refusing" / "study-output.log").is_file()
    (comparison,) = trust_core.compare(tmp_path / "out", plugin_dirs=[PLUGIN_DIR])
    assert comparison.variant == "refusing" and {m.delta for m in comparison.metrics} == {-1.0}
