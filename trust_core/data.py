"""Reading a task's items: from the task plugin's packaged sample, a folder in the
TrustLLM layout (``<dimension>/<file>.json``), or the TrustLLM ``dataset.zip``.

Every item is validated against the task's JSON Schema; the first bad item
stops the run with one message naming the file, the item index and the field.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from trust_core.contracts import Sample, Task
from trust_core.errors import DataError, UserError
from trust_core.schemas import validator


@dataclass(frozen=True)
class DataSource:
    """Where task data comes from: ``None`` path = each task's packaged sample."""

    path: Path | None = None

    @property
    def label(self) -> str:
        """How results name this source."""
        return str(self.path) if self.path else "packaged-sample"

    def read(self, task: type[Task] | Task) -> tuple[str, bytes]:
        """The (display name, raw bytes) of ``task``'s data file."""
        if self.path is None:
            return _read_packaged(task)
        if self.path.is_dir():
            return _read_folder(self.path, task.data_file)
        if zipfile.is_zipfile(self.path):
            return _read_zip(self.path, task.data_file)
        raise UserError(f"--data-dir {self.path}: not a folder or a zip archive")


def _read_packaged(task: type[Task] | Task) -> tuple[str, bytes]:
    module = importlib.import_module(task.sample_package)
    # a package ships data/ inside it; a single-file plugin (--plugin-dir) keeps data/ beside the file
    root = resources.files(task.sample_package) if hasattr(module, "__path__") else Path(str(module.__file__)).parent
    relative = sample_file(task.data_file)
    try:
        return f"{task.sample_package}:{relative}", root.joinpath(*relative.split("/")).read_bytes()
    except FileNotFoundError:
        raise UserError(f"task {task.id}: its packaged sample {relative} is missing") from None


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


def _read_zip(archive: Path, data_file: str) -> tuple[str, bytes]:
    with zipfile.ZipFile(archive) as zf:
        members = [name for name in zf.namelist() if name == data_file or name.endswith("/" + data_file)]
        if not members:
            raise UserError(f"--data-dir {archive}: the archive has no {data_file}")
        member = min(members, key=len)
        return f"{archive}!{member}", zf.read(member)


@dataclass(frozen=True)
class LoadedData:
    """A task's samples with the provenance recorded in results."""

    file: str
    sha256: str
    total_items: int
    samples: list[Sample]


def parse_items(name: str, raw: bytes) -> list[Any]:
    """Parse a JSON array of items, with errors that name the file and position."""
    try:
        # strict=False: the archive has raw control characters (backspaces) inside strings
        data = json.loads(raw.decode("utf-8"), strict=False)
    except UnicodeDecodeError as exc:
        raise DataError(name, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise DataError(name, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if not isinstance(data, list):
        raise DataError(name, f"expected a JSON array of items, found a JSON {type(data).__name__}")
    return data


def _field_of(error: jsonschema.ValidationError) -> str:
    path = [str(part) for part in error.absolute_path]
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [key for key in error.validator_value if key not in error.instance]
        path.append(missing[0] if missing else "?")
    return ".".join(path) or "(item)"


def _problem(error: jsonschema.ValidationError) -> str:
    if error.validator == "required":
        return "missing required field"
    return error.message


def validate_items(name: str, items: Sequence[Any], schema: dict[str, Any]) -> None:
    """Raise :class:`DataError` for the first item that breaks ``schema`` (and say how many others do)."""
    check = validator(schema)
    bad: list[tuple[int, jsonschema.ValidationError]] = []
    for index, item in enumerate(items):
        error = jsonschema.exceptions.best_match(check.iter_errors(item))
        if error is not None:
            bad.append((index, error))
    if bad:
        index, error = bad[0]
        more = f" ({len(bad) - 1} more invalid items)" if len(bad) > 1 else ""
        raise DataError(name, _problem(error) + more, index=index, field=_field_of(error))


def normalize_items(task: Task, items: Sequence[Any]) -> list[Any]:
    """Apply the task's quirk repairs to every item that is an object (others are left for validation)."""
    return [task.normalize(item) if isinstance(item, dict) else item for item in items]


def load_task_data(task: Task, source: DataSource, limit: int | None) -> LoadedData:
    """Read, validate and select ``task``'s samples from ``source``."""
    name, raw = source.read(task)
    items = normalize_items(task, parse_items(name, raw))
    validate_items(name, items, dict(task.item_schema))
    samples = [task.to_sample(index, item) for index, item in task.select_items(items)]
    return LoadedData(
        file=name,
        sha256=hashlib.sha256(raw).hexdigest(),
        total_items=len(samples),
        samples=task.limit(samples, limit),
    )
