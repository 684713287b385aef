"""``trust export``: a study's (or runs') metrics as one long table — CSV, Parquet or JSON lines — that loads in
pandas and polars with the right dtypes: one row per variant and metric, with the variant's method and recipe
and the paired delta to the base (:mod:`trust_core.comparison`)."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trust_core.comparison import Comparison, RunSide
from trust_core.errors import UserError

COLUMNS: tuple[tuple[str, str], ...] = (
    ("variant", "string"),
    ("method", "string"),
    ("bits", "int64"),
    ("sparsity", "float64"),
    ("pattern", "string"),
    ("dimension", "string"),
    ("task", "string"),
    ("subset", "string"),
    ("metric", "string"),
    ("value", "float64"),
    ("ci_low", "float64"),
    ("ci_high", "float64"),
    ("n", "int64"),
    ("n_invalid", "int64"),
    ("higher_is_better", "bool"),
    ("delta", "float64"),
    ("delta_ci_low", "float64"),
    ("delta_ci_high", "float64"),
    ("delta_significant", "bool"),
)
"""The table's columns and their types (every column may hold nulls: a base has no delta, a dense model no bits)."""

FORMATS = ("csv", "parquet", "jsonl")


def _recipe_of(side: RunSide) -> tuple[str | None, Mapping[str, Any]]:
    variant = side.results.get("run", {}).get("variant") or {}
    return variant.get("method"), variant.get("recipe") or {}


def _number(value: Any, kind: type) -> Any:
    if value is None or isinstance(value, bool):
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        return None


def rows(sides: Sequence[RunSide], comparisons: Mapping[str, Comparison]) -> list[dict[str, Any]]:
    """One row per metric of each side; ``comparisons`` (by variant label) give the deltas."""
    table = []
    for side in sides:
        method, recipe = _recipe_of(side)
        deltas = {}
        if side.label in comparisons:
            deltas = {(m.task, m.metric, m.subset): m for m in comparisons[side.label].metrics}
        for metric in side.results["metrics"]:
            compared = deltas.get((metric["task"], metric["metric"], metric["subset"]))
            ci = metric.get("ci") or [None, None]
            delta_ci = list(compared.ci) if compared is not None and compared.ci else [None, None]
            table.append({
                "variant": side.label,
                "method": method,
                "bits": _number(recipe.get("bits"), int),
                "sparsity": _number(recipe.get("sparsity"), float),
                "pattern": recipe.get("pattern"),
                "dimension": metric.get("dimension") or str(metric["task"]).split("/", 1)[0],
                "task": metric["task"],
                "subset": metric["subset"],
                "metric": metric["metric"],
                "value": _number(metric["value"], float),
                "ci_low": _number(ci[0], float),
                "ci_high": _number(ci[1], float),
                "n": int(metric["n"]),
                "n_invalid": int(metric["n_invalid"]),
                "higher_is_better": metric.get("higher_is_better"),
                "delta": None if compared is None else compared.delta,
                "delta_ci_low": delta_ci[0],
                "delta_ci_high": delta_ci[1],
                "delta_significant": None if compared is None else compared.significant,
            })  # fmt: skip
    return table


def write_table(table: Sequence[Mapping[str, Any]], path: Path, form: str) -> None:
    """Write ``table`` as ``form`` (csv, parquet, jsonl) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [name for name, _ in COLUMNS]
    if form == "csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=names)
            writer.writeheader()
            writer.writerows({k: ("" if row[k] is None else row[k]) for k in names} for row in table)
    elif form == "jsonl":
        path.write_text("".join(json.dumps({k: row[k] for k in names}) + "\n" for row in table), encoding="utf-8")
    elif form == "parquet":
        _write_parquet(table, path)
    else:
        raise UserError(f"--format {form}: one of {', '.join(FORMATS)}")


def _write_parquet(table: Sequence[Mapping[str, Any]], path: Path) -> None:
    try:
        import pyarrow as pa  # type: ignore[import-untyped,import-not-found,unused-ignore]  # pyarrow ships no type information
        import pyarrow.parquet as pq  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise UserError("--format parquet needs pyarrow (pip install pyarrow), or use --format csv / jsonl") from None
    types = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_()}
    schema = pa.schema([(name, types[kind]) for name, kind in COLUMNS])
    columns = {name: [row[name] for row in table] for name, _ in COLUMNS}
    pq.write_table(pa.table(columns, schema=schema), path)
