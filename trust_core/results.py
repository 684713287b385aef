"""results.json (validated against ``schemas/results.schema.json`` before it is written),
per-sample JSONL, and the summary table the CLI prints."""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trust_core.contracts import MetricValue
from trust_core.errors import UserError
from trust_core.metrics import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE
from trust_core.schemas import load_schema, validator


def metric_record(metric: MetricValue) -> dict[str, Any]:
    """The results.json form of one metric."""
    if metric.n_invalid > metric.n:
        raise ValueError(f"{metric.task} {metric.metric}: n_invalid {metric.n_invalid} > n {metric.n}")
    value = metric.value
    if value is not None and not math.isfinite(value):
        value = None
    return {
        "dimension": metric.dimension,
        "task": metric.task,
        "subset": metric.subset,
        "metric": metric.metric,
        "value": value,
        "higher_is_better": metric.higher_is_better,
        "n": metric.n,
        "n_invalid": metric.n_invalid,
        "ci": list(metric.ci) if metric.ci is not None else None,
        "note": metric.note,
        "extra": dict(metric.extra),
    }


def hardware() -> dict[str, Any]:
    """The machine the run executed on."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        memory = None
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "memory_gib": round(memory, 1) if memory else None,
    }


def bootstrap_settings() -> dict[str, Any]:
    """How confidence intervals were computed."""
    return {"seed": BOOTSTRAP_SEED, "resamples": BOOTSTRAP_RESAMPLES, "confidence": CONFIDENCE}


def validate_results(results: dict[str, Any]) -> None:
    """Raise ValueError naming the first place ``results`` breaks the results schema."""
    errors = sorted(validator(load_schema("results.schema.json")).iter_errors(results), key=lambda e: list(e.path))
    if errors:
        error = errors[0]
        where = "/".join(str(part) for part in error.absolute_path) or "(root)"
        raise ValueError(f"results do not match results.schema.json at {where}: {error.message}")


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_results(path: Path, results: dict[str, Any]) -> None:
    """Validate, then write results.json atomically (a failed validation writes nothing)."""
    validate_results(results)
    try:
        _atomic_write(path, json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise UserError(f"--output {path}: cannot write ({exc.strerror})") from None


def write_records(path: Path, records: Sequence[dict[str, Any]]) -> None:
    """Write per-sample records as JSON Lines, atomically."""
    lines = [json.dumps(record, ensure_ascii=False, default=str) for record in records]
    _atomic_write(path, "\n".join(lines) + ("\n" if lines else ""))


def _format_value(record: dict[str, Any]) -> str:
    value = record["value"]
    if value is None:
        return f"null ({record.get('note') or 'undefined'})"
    text = f"{value:.3f}"
    if record["ci"]:
        low, high = record["ci"]
        text += f" [{low:.3f}, {high:.3f}]"
    return text


def summary_table(results: dict[str, Any]) -> str:
    """A plain-text table of every metric: task, subset, metric (direction), value [95 % CI], n, invalid."""
    header = ("task", "subset", "metric", "value [95% CI]", "n", "invalid")
    rows = [
        (
            record["task"],
            record["subset"] or "-",
            record["metric"] + {True: " ↑", False: " ↓", None: " (info)"}[record["higher_is_better"]],
            _format_value(record),
            str(record["n"]),
            str(record["n_invalid"]),
        )
        for record in results["metrics"]
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
