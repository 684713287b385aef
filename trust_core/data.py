"""Reading a task's items: from the task plugin's packaged sample, a folder in the
TrustLLM layout (``<dimension>/<file>.json``), or the TrustLLM ``dataset.zip``.

Every item is validated against the task's JSON Schema; the first bad item
stops the run with one message naming the file, the item index and the field.
Input that could exhaust the process is refused the same way: JSON nested deeper
than :data:`MAX_NESTING`, a non-finite number (``Infinity``; ``NaN`` is the
archive's "missing" and must be repaired to null by the task's ``normalize``), and
an archive member that decompresses to more than the configured limits
(:data:`ZIP_MEMBER_LIMIT_ENV`, :data:`ZIP_TOTAL_LIMIT_ENV`).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
import re
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from trust_core.contracts import Sample, Task
from trust_core.errors import DataError, UserError
from trust_core.schemas import validator

MAX_NESTING = 100
"""The deepest nesting of arrays and objects a data or generation file may have (the archive's deepest is 9)."""

TOO_DEEP = f"JSON nested too deeply (more than {MAX_NESTING} levels of arrays and objects)"

ZIP_MEMBER_LIMIT_ENV = "TRUST_ZIP_MAX_MEMBER_BYTES"
"""Environment variable: the most bytes one archive member may decompress to (e.g. ``512M``, ``2G``)."""

ZIP_TOTAL_LIMIT_ENV = "TRUST_ZIP_MAX_TOTAL_BYTES"
"""Environment variable: the most bytes all members read from one archive may decompress to together."""

DEFAULT_ZIP_MEMBER_LIMIT = 256 * 2**20
"""256 MiB: about 100 times the TrustLLM archive's largest member (ethics/awareness.json, 2.7 MB)."""

DEFAULT_ZIP_TOTAL_LIMIT = 2 * 2**30
"""2 GiB: about 160 times everything in the TrustLLM archive (12.9 MB decompressed)."""

_CHUNK = 2**20
_SIZE = re.compile(r"\s*(\d+)\s*([kmgt]?)(?:i?b)?\s*", re.IGNORECASE)


def byte_limit(variable: str, default: int) -> int:
    """The size in environment ``variable`` (bytes, or with a K/M/G/T suffix in powers of 1024); ``default``
    when unset or empty. UserError for anything else."""
    value = os.environ.get(variable, "").strip()
    if not value:
        return default
    match = _SIZE.fullmatch(value)
    if match is None or int(match[1]) <= 0:
        raise UserError(f"{variable}={value!r}: expected a positive size in bytes, e.g. 268435456, 256M or 2G")
    return int(match[1]) * int(1024 ** " KMGT".index(match[2].upper() or " "))


def _mib(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB"


@dataclass
class _ZipBudget:
    """Bytes decompressed so far from one archive (all members together)."""

    used: int = 0


@dataclass(frozen=True)
class DataSource:
    """Where task data comes from: ``None`` path = each task's packaged sample.

    Members of a zip archive are decompressed up to ``$TRUST_ZIP_MAX_MEMBER_BYTES`` each and
    ``$TRUST_ZIP_MAX_TOTAL_BYTES`` together (defaults :data:`DEFAULT_ZIP_MEMBER_LIMIT`,
    :data:`DEFAULT_ZIP_TOTAL_LIMIT`); a larger one is refused before it is read.
    """

    path: Path | None = None
    _budget: _ZipBudget = field(default_factory=_ZipBudget, compare=False, repr=False)

    @property
    def label(self) -> str:
        """How results name this source."""
        return str(self.path) if self.path else "packaged-sample"

    def read(self, task: type[Task] | Task) -> tuple[str, bytes]:
        """The (display name, raw bytes) of ``task``'s data file."""
        if self.path is None:
            return read_packaged_sample(task)
        if self.path.is_dir():
            return _read_folder(self.path, task.data_file)
        if zipfile.is_zipfile(self.path):
            return _read_zip(self.path, task.data_file, self._budget)
        raise UserError(f"--data-dir {self.path}: not a folder or a zip archive")


def read_packaged_sample(task: type[Task] | Task) -> tuple[str, bytes]:
    """The task's own sample ``data/<dimension>/<file>.sample.json`` from its ``sample_package``; without one,
    from the module that defines the task (a single-file plugin keeps ``data/`` beside its file)."""
    task_class = task if isinstance(task, type) else type(task)
    package = getattr(task, "sample_package", None) or task_class.__module__
    if not isinstance(package, str):
        raise UserError(f"task {task.id}: sample_package must be a module name (a str), not {package!r}")
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise UserError(f"task {task.id}: its sample_package {package!r} cannot be imported ({exc})") from None
    # a package ships data/ inside it; a single-file plugin (--plugin-dir) keeps data/ beside the file
    root = resources.files(package) if hasattr(module, "__path__") else Path(str(module.__file__)).parent
    relative = sample_file(task.data_file)
    location = root.joinpath(*relative.split("/"))
    try:
        return f"{package}:{relative}", location.read_bytes()
    except FileNotFoundError:
        raise UserError(
            f"task {task.id}: no packaged sample at {location} (ship one there, or pass --data-dir with a folder "
            f"holding {task.data_file})"
        ) from None


def sample_file(data_file: str) -> str:
    """Where a task package keeps its own sample of ``data_file``: ``data/<dimension>/<stem>.sample.json``.

    The distinct name keeps the project's samples apart from the TrustLLM files they stand in for.
    """
    stem = data_file[: -len(".json")] if data_file.endswith(".json") else data_file
    return f"data/{stem}.sample.json"


def _read_folder(folder: Path, data_file: str) -> tuple[str, bytes]:
    for candidate in (folder / data_file, folder / "dataset" / data_file):
        if candidate.is_file():
            return str(candidate), candidate.read_bytes()
    raise UserError(
        f"--data-dir {folder}: {data_file} not found (expected the TrustLLM layout <dimension>/<file>.json)"
    )


def _read_zip(archive: Path, data_file: str, budget: _ZipBudget) -> tuple[str, bytes]:
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [
                info for info in zf.infolist() if info.filename == data_file or info.filename.endswith("/" + data_file)
            ]
            if not members:
                raise UserError(f"--data-dir {archive}: the archive has no {data_file}")
            member = min(members, key=lambda info: len(info.filename))
            return f"{archive}!{member.filename}", _read_member(zf, member, archive, budget)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError) as exc:
        # a corrupt archive or member, a CRC mismatch (a header that lies), encryption, an unknown compression
        raise UserError(f"--data-dir {archive}: cannot read {data_file} from the archive ({exc})") from None


def _read_member(zf: zipfile.ZipFile, member: zipfile.ZipInfo, archive: Path, budget: _ZipBudget) -> bytes:
    """The member's bytes, refused when its declared or its actual size passes a limit."""
    member_limit = byte_limit(ZIP_MEMBER_LIMIT_ENV, DEFAULT_ZIP_MEMBER_LIMIT)
    total_limit = byte_limit(ZIP_TOTAL_LIMIT_ENV, DEFAULT_ZIP_TOTAL_LIMIT)
    where = f"--data-dir {archive}: {member.filename}"

    def check(size: int) -> None:
        if size > member_limit:
            raise UserError(
                f"{where} decompresses to more than {_mib(member_limit)}, the limit per archive member "
                f"(set {ZIP_MEMBER_LIMIT_ENV} to allow more)"
            )
        if budget.used + size > total_limit:
            raise UserError(
                f"{where}: the archive's members read so far decompress to more than {_mib(total_limit)}, the "
                f"limit per archive (set {ZIP_TOTAL_LIMIT_ENV} to allow more)"
            )

    check(member.file_size)  # what the header declares; the stream is checked too, since a header can lie
    chunks: list[bytes] = []
    size = 0
    with zf.open(member) as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            size += len(chunk)
            check(size)
            chunks.append(chunk)
    budget.used += size
    return b"".join(chunks)


@dataclass(frozen=True)
class LoadedData:
    """A task's samples with the provenance recorded in results."""

    file: str
    sha256: str
    total_items: int
    samples: list[Sample]


def parse_items(name: str, raw: bytes) -> list[Any]:
    """Parse a JSON array of items, with errors that name the file and position.

    Nesting deeper than :data:`MAX_NESTING` and the literals ``Infinity`` / ``-Infinity`` are refused
    (naming the item); ``NaN`` is kept, since the archive writes missing values so: a task's ``normalize``
    repairs it to null, and :func:`validate_items` refuses any NaN left.
    """
    try:
        # strict=False: the archive has raw control characters (backspaces) inside strings
        data = json.loads(raw.decode("utf-8"), strict=False)
    except UnicodeDecodeError as exc:
        raise DataError(name, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise DataError(name, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise DataError(name, TOO_DEEP) from None
    if not isinstance(data, list):
        raise DataError(name, f"expected a JSON array of items, found a JSON {type(data).__name__}")
    for index, item in enumerate(data):
        if _depth(item) >= MAX_NESTING:
            raise DataError(name, TOO_DEEP, index=index)
        found = _first_number(item, math.isinf)
        if found is not None:
            raise DataError(
                name, f"{_literal(found[1])} is not a number (JSON has no infinity)", index=index, field=found[0]
            )
    return data


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in ``value`` (0 for a scalar), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, dict):
            current = current.values()
        elif not isinstance(current, list):
            continue
        depth += 1
        deepest = max(deepest, depth)
        if depth > MAX_NESTING:
            return depth
        stack.extend((inner, depth) for inner in current)
    return deepest


def _first_number(value: Any, test: Callable[[float], bool]) -> tuple[str, float] | None:
    """The dotted path and value of the first float in ``value`` (in document order) passing ``test``, or None."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        current, path = stack.pop()
        if isinstance(current, float) and test(current):
            return path or "(item)", current
        if isinstance(current, dict):
            stack.extend((inner, f"{path}.{key}" if path else str(key)) for key, inner in reversed(current.items()))
        elif isinstance(current, list):
            stack.extend((inner, f"{path}.{i}" if path else str(i)) for i, inner in reversed(list(enumerate(current))))
    return None


def _not_finite(number: float) -> bool:
    return not math.isfinite(number)


def _literal(number: float) -> str:
    """How JSON text writes a non-finite ``number``: NaN, Infinity or -Infinity."""
    return json.dumps(number)


def _field_of(error: jsonschema.ValidationError) -> str:
    path = [str(part) for part in error.absolute_path]
    if error.validator == "required" and isinstance(error.instance, dict):
        required: list[str] = list(error.validator_value)  # type: ignore[arg-type]  # "required" holds a list
        missing = [key for key in required if key not in error.instance]
        path.append(missing[0] if missing else "?")
    return ".".join(path) or "(item)"


def _problem(error: jsonschema.ValidationError) -> str:
    if error.validator == "required":
        return "missing required field"
    return error.message


def validate_items(name: str, items: Sequence[Any], schema: dict[str, Any]) -> None:
    """Raise :class:`DataError` for the first item that breaks ``schema`` or holds a NaN or infinite number
    (and say how many others are invalid)."""
    check = validator(schema)
    bad: list[tuple[int, str, str]] = []
    for index, item in enumerate(items):
        if (found := _first_number(item, _not_finite)) is not None:  # JSON Schema's "number" admits NaN
            bad.append((index, found[0], f"{_literal(found[1])} is not a number (a missing value is null)"))
        elif (error := jsonschema.exceptions.best_match(check.iter_errors(item))) is not None:
            bad.append((index, _field_of(error), _problem(error)))
    if bad:
        index, where, problem = bad[0]
        more = f" ({len(bad) - 1} more invalid items)" if len(bad) > 1 else ""
        raise DataError(name, problem + more, index=index, field=where)


def normalize_items(task: Task, items: Sequence[Any]) -> list[Any]:
    """Apply the task's quirk repairs to every item that is an object (others are left for validation)."""
    return [task.normalize(item) if isinstance(item, dict) else item for item in items]


def task_samples(task: Task, name: str, items: Sequence[Any]) -> list[Sample]:
    """The samples ``task`` takes from the validated ``items`` of file ``name``; DataError when there are none."""
    if not items:
        raise DataError(name, "the file has no items (an empty JSON array)")
    samples = [task.to_sample(index, item) for index, item in task.select_items(items)]
    if not samples:
        raise DataError(name, f"none of its {len(items)} items is one task {task.id} scores")
    return samples


def load_task_data(task: Task, source: DataSource, limit: int | None) -> LoadedData:
    """Read, validate and select ``task``'s samples from ``source``."""
    name, raw = source.read(task)
    items = normalize_items(task, parse_items(name, raw))
    validate_items(name, items, dict(task.item_schema))
    samples = task_samples(task, name, items)
    return LoadedData(
        file=name,
        sha256=hashlib.sha256(raw).hexdigest(),
        total_items=len(samples),
        samples=task.limit(samples, limit),
    )


def packaged_calibration(package: str, task_id: str) -> list[dict[str, Any]]:
    """The hand-written judge-calibration entries a task plugin ships for ``task_id``
    (``<package>/calibration/judge_calibration.json``: the judged material, a response and the verdict it
    deserves), for :meth:`~trust_core.contracts.Task.judge_calibration`; none when the file has none."""
    path = resources.files(package).joinpath("calibration/judge_calibration.json")
    if not path.is_file():
        return []
    return [dict(entry) for entry in json.loads(path.read_text(encoding="utf-8")).get(task_id, [])]
