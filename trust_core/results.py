"""results.json (validated against ``schemas/results.schema.json`` before it is written),
per-sample JSONL, and the summary table the CLI prints."""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import secrets
import stat
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from trust_core.contracts import CALIBRATIONS, EvaluatorBehind, MetricValue
from trust_core.errors import UserError
from trust_core.metrics import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE
from trust_core.schemas import load_schema, validator


def metric_record(metric: MetricValue) -> dict[str, Any]:
    """The results.json form of one metric; ``invalid_reasons`` (by reason name) sums to ``n_invalid``;
    ``evaluators`` lists what the value rests on and ``evaluator_calibration`` the worst judge calibration."""
    if metric.n_invalid > metric.n:
        raise ValueError(f"{metric.task} {metric.metric}: n_invalid {metric.n_invalid} > n {metric.n}")
    reasons = {str(reason): int(count) for reason, count in sorted(metric.invalid_reasons.items()) if count}
    if sum(reasons.values()) != metric.n_invalid:
        raise ValueError(
            f"{metric.task} {metric.metric}: invalid reasons {reasons} do not sum to n_invalid {metric.n_invalid}"
        )
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
        "invalid_reasons": reasons,
        "ci": list(metric.ci) if metric.ci is not None else None,
        "note": metric.note,
        "extra": dict(metric.extra),
        "evaluators": [asdict(evaluator) for evaluator in metric.evaluators],
        "evaluator_calibration": worst_calibration(metric.evaluators),
        "aggregate": dict(metric.aggregate) if metric.aggregate is not None else None,
    }


def worst_calibration(evaluators: Sequence[EvaluatorBehind]) -> str | None:
    """The worst calibration (``poor`` < ``unknown`` < ``ok``) among the judges behind a metric; None when it
    rests on no judge that ``trust judge-check`` measures."""
    rated = [evaluator.calibration for evaluator in evaluators if evaluator.calibration in CALIBRATIONS]
    return min(rated, key=CALIBRATIONS.index) if rated else None


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


@dataclass(frozen=True)
class OutputFile:
    """A file to write: where, its text, and how the user named it (``--output``; "" for a default path)."""

    path: Path
    text: str
    option: str = ""


def write_outputs(files: Sequence[OutputFile]) -> None:
    """Write every file so that either all of them are replaced or none is (UserError naming the file).

    Each regular file is written to a temporary file beside it and fsynced; only when every one is written
    are they renamed over their targets (the folder is fsynced after). A rename that fails puts back the
    files already replaced. A target that exists and is not a regular file (``/dev/null``, a pipe) is
    written in place, after the temporary files and before the renames. Temporary files never outlive a
    failure.
    """
    resolved = [file.path.resolve() for file in files]
    if len(set(resolved)) < len(resolved):
        raise UserError("the output files are not distinct: " + ", ".join(str(file.path) for file in files))
    staged: list[tuple[OutputFile, Path]] = []
    try:
        for file in files:
            if _is_special(file.path):
                continue
            staged.append((file, _stage(file)))
        for file in files:
            if _is_special(file.path):
                _write_in_place(file)
        _commit(staged)
    finally:
        for _, temporary in staged:
            _remove(temporary)


def _is_special(path: Path) -> bool:
    """An existing target that is not a regular file or a folder (a device, a pipe): written in place."""
    return path.exists() and not path.is_file() and not path.is_dir()


def _cannot_write(file: OutputFile, reason: str) -> UserError:
    where = f"{file.option} {file.path}" if file.option else str(file.path)
    return UserError(f"{where}: cannot write ({reason}); no output file was changed")


def _reason(file: OutputFile, exc: OSError) -> str:
    """Why writing ``file`` failed, in words: the ancestor that is not a folder, else the system's reason."""
    for ancestor in file.path.parents:
        if ancestor.exists():
            return f"{ancestor} is not a folder" if not ancestor.is_dir() else (exc.strerror or str(exc))
    return exc.strerror or str(exc)


def _stage(file: OutputFile) -> Path:
    """Write ``file``'s text to a new temporary file in its folder, fsynced; return the temporary path."""
    if file.path.is_dir():
        raise _cannot_write(file, "it is a folder")
    temporary = file.path.with_name(f".{file.path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        file.path.parent.mkdir(parents=True, exist_ok=True)
        # 0o666 less the umask, as for any new file; a replaced file keeps its permissions
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise _cannot_write(file, _reason(file, exc)) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            if file.path.is_file():
                os.chmod(stream.fileno(), stat.S_IMODE(file.path.stat().st_mode))
            stream.write(file.text)
            stream.flush()
            os.fsync(stream.fileno())
    except OSError as exc:
        _remove(temporary)
        raise _cannot_write(file, _reason(file, exc)) from None
    return temporary


def _write_in_place(file: OutputFile) -> None:
    try:
        with file.path.open("w", encoding="utf-8") as stream:
            stream.write(file.text)
    except OSError as exc:
        raise _cannot_write(file, _reason(file, exc)) from None


def _commit(staged: Sequence[tuple[OutputFile, Path]]) -> None:
    """Rename each temporary file over its target; on a failure, put back the targets already replaced."""
    done: list[tuple[Path, Path | None]] = []  # (target, backup of its previous content or None)
    try:
        for file, temporary in staged:
            backup = _backup(file.path)
            try:
                os.replace(temporary, file.path)
            except OSError as exc:
                if backup is not None:
                    _remove(backup)
                raise _cannot_write(file, _reason(file, exc)) from None
            done.append((file.path, backup))
    except UserError:
        for target, backup in reversed(done):
            _restore(target, backup)
        raise
    for _, backup in done:
        if backup is not None:
            _remove(backup)
    for folder in {target.parent for target, _ in done}:
        _fsync_folder(folder)


def _backup(path: Path) -> Path | None:
    """A hard link to ``path``'s current content, to put back if a later rename fails; None when ``path``
    does not exist (or the file system cannot link)."""
    if not path.is_file():
        return None
    backup = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.previous")
    try:
        os.link(path, backup)
    except OSError:
        return None
    return backup


def _restore(target: Path, backup: Path | None) -> None:
    """Put ``target``'s previous content back (remove it if it had none); the error being raised says what failed."""
    with contextlib.suppress(OSError):
        if backup is not None:
            os.replace(backup, target)
        else:
            target.unlink(missing_ok=True)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    """Make the renames in ``folder`` durable (best effort: not every file system can open a folder)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(handle)
    finally:
        os.close(handle)


def results_text(results: dict[str, Any]) -> str:
    """results.json's text, after validating ``results`` against the results schema (ValueError if it fails)."""
    validate_results(results)
    return json.dumps(results, indent=2, ensure_ascii=False) + "\n"


def records_text(records: Sequence[dict[str, Any]]) -> str:
    """Per-sample records as JSON Lines."""
    lines = [json.dumps(record, ensure_ascii=False, default=str) for record in records]
    return "\n".join(lines) + ("\n" if lines else "")


def write_results(path: Path, results: dict[str, Any], option: str = "--output") -> None:
    """Validate, then write results.json atomically (a failed validation or write changes nothing)."""
    write_outputs([OutputFile(path, results_text(results), option)])


def write_records(path: Path, records: Sequence[dict[str, Any]], option: str = "--samples-output") -> None:
    """Write per-sample records as JSON Lines, atomically."""
    write_outputs([OutputFile(path, records_text(records), option)])


def _format_value(record: dict[str, Any]) -> str:
    value = record["value"]
    if value is None:
        return f"null ({record.get('note') or 'undefined'})"
    text = f"{value:.3f}"
    if record["ci"]:
        low, high = record["ci"]
        text += f" [{low:.3f}, {high:.3f}]"
    return text


def _format_invalid(record: dict[str, Any]) -> str:
    """``n_invalid``, with its reasons when there are any: ``3 (empty_response 2, label_echo 1)``."""
    reasons = record.get("invalid_reasons") or {}
    if not reasons:
        return str(record["n_invalid"])
    return f"{record['n_invalid']} (" + ", ".join(f"{reason} {count}" for reason, count in reasons.items()) + ")"


EVALUATOR_WORDS = {"judge": ("judge", "--judge"), "refusal_judge": ("refusal judge", "--refusal-judge")}
"""How the table names a judge kind, and the option that chooses it."""

TABLE_LEGEND = (
    "legend: ↑ higher is better, ↓ lower is better, (info) an informational number with no better direction",
    "  [95% CI]: bootstrap interval over items; none when n < 2 (one item has no spread), for a maximum, and for",
    "    a mean over subsets",
    "  null (why): no value, and why: no items, no valid items, or skipped because an evaluator is missing",
    "  invalid: items that could not be scored, by reason (docs/user-guide.md, 'Why an item is invalid')",
    "  [k]: note k, under the table: a note on the value, or a warning that it rests on a judge whose",
    "    calibration is poor or unknown (`trust judge-check` measures it)",
)
"""What the summary table's signs mean (printed under it)."""


def calibration_warning(evaluator: dict[str, Any]) -> str | None:
    """One line warning that a value rests on a judge of poor or unknown calibration (None for any other),
    naming the ``trust judge-check`` command that measures it."""
    calibration = evaluator.get("calibration")
    if calibration not in ("poor", "unknown") or evaluator.get("kind") not in EVALUATOR_WORDS:
        return None
    word, option = EVALUATOR_WORDS[evaluator["kind"]]
    head = f"warning: rests on the {word} {evaluator.get('name')}, whose calibration is {calibration}"
    check = evaluator.get("check") or f"trust judge-check --judge {evaluator.get('name')}"
    if calibration == "poor":
        return f"{head} ({evaluator.get('why')}): its verdicts here are unreliable; try another {option}: {check}"
    return f"{head} ({evaluator.get('why')}): measure it with {check}"


def _notes_of(record: dict[str, Any]) -> list[str]:
    """The notes a row of the table refers to: the value's own note (a null value shows it in place) and a
    warning per judge of poor or unknown calibration behind a value."""
    if record["value"] is None:
        return []
    notes = [record["note"]] if record.get("note") else []
    warnings = (calibration_warning(evaluator) for evaluator in record.get("evaluators") or [])
    return notes + [warning for warning in warnings if warning]


def summary_table(results: dict[str, Any]) -> str:
    """A plain-text table of every metric: task, subset, metric (direction), value [95 % CI], n, invalid
    (``n_invalid`` with its count per reason) and, when any row has one, notes: ``[k]`` refers to note k listed
    under the table (a value's note, or a warning that it rests on a judge of poor or unknown calibration).
    A legend of the signs ends it."""
    numbers: dict[str, int] = {}
    rows: list[tuple[str, ...]] = []
    for record in results["metrics"]:
        marks = [f"[{numbers.setdefault(note, len(numbers) + 1)}]" for note in _notes_of(record)]
        rows.append(
            (
                record["task"],
                record["subset"] or "-",
                record["metric"] + {True: " ↑", False: " ↓", None: " (info)"}[record["higher_is_better"]],
                _format_value(record),
                str(record["n"]),
                _format_invalid(record),
                " ".join(dict.fromkeys(marks)),
            )
        )
    header: tuple[str, ...] = ("task", "subset", "metric", "value [95% CI]", "n", "invalid", "notes")
    if not numbers:
        header, rows = header[:-1], [row[:-1] for row in rows]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    if numbers:
        lines += ["", "notes:", *(f"[{number}] {note}" for note, number in numbers.items())]
    return "\n".join([*lines, "", *TABLE_LEGEND])
