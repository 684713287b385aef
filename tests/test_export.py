"""`trust export` (issue #11, item 5): a study's metrics as one long table in CSV, Parquet and JSON lines that
pandas loads with the right dtypes and row counts. On a study of the scripted plugin (no model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_scripted_study
from trust_core.export import COLUMNS

NO_ENTRY_POINTS = {"TRUST_LOAD_PLUGINS": ""}


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_scripted_study(tmp_path_factory.mktemp("export"))


def _export(scripted, study_dir: Path, form: str) -> Path:
    out = study_dir.parent / f"metrics.{form}"
    result = scripted("export", str(study_dir), "--format", form, "--out", str(out), env=NO_ENTRY_POINTS)
    assert result.code == 0, result.stderr
    assert "8 rows (4 runs)" in result.stdout
    return out


def test_parquet_loads_in_pandas_with_the_declared_dtypes(scripted, study_dir: Path) -> None:
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pandas.read_parquet(_export(scripted, study_dir, "parquet"), dtype_backend="numpy_nullable")
    assert list(frame.columns) == [name for name, _ in COLUMNS] and len(frame) == 8
    expected = {"string": "string", "int64": "Int64", "float64": "Float64", "bool": "boolean"}
    assert {name: str(frame[name].dtype) for name, _ in COLUMNS} == {name: expected[kind] for name, kind in COLUMNS}
    refusing = frame[(frame["variant"] == "refusing") & (frame["subset"] == "alpha")].iloc[0]
    assert (refusing["value"], refusing["delta"], bool(refusing["delta_significant"])) == (0.0, -1.0, True)
    bits8 = frame[frame["variant"] == "copy-bits8"].iloc[0]
    assert (bits8["method"], bits8["bits"], bits8["delta"]) == ("copy", 8, 0.0)
    dense = frame[frame["variant"] == "dense"]
    assert dense["delta"].isna().all() and dense["bits"].isna().all()


def test_csv_and_jsonl_hold_the_same_rows(scripted, study_dir: Path) -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.read_csv(_export(scripted, study_dir, "csv"))
    assert list(frame.columns) == [name for name, _ in COLUMNS] and len(frame) == 8
    assert frame["n"].dtype == "int64" and frame["value"].dtype == "float64"
    lines = _export(scripted, study_dir, "jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 8 and {row["variant"] for row in rows} == {"dense", "refusing", "copy-bits4", "copy-bits8"}
    assert pandas.read_json(study_dir.parent / "metrics.jsonl", lines=True).shape == (8, len(COLUMNS))
