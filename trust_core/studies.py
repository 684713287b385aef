"""Studies: a base model and its variants, evaluated on exactly the same items (``trust study run``).

A study file (TOML, schemas/study.schema.json) names the base model, the settings every variant shares, the
variants (a pre-quantized id or folder, a folder made by ``trust compress``, or a compression recipe) and
sweeps (grids of methods x recipe values expanded into variants). Each variant — the base first — is evaluated
by ``trust run`` in a process of its own (so one model's memory is gone before the next loads, and its peak
memory can be measured) into ``RUN_DIR/runs/NAME``; ``RUN_DIR/study.json`` indexes them with the study's
provenance and each variant's measured efficiency. A run directory's store makes an interrupted study resume
where it stopped; ``trust study status`` shows each variant done, partial or not started.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
import re
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from trust_core import __version__

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib
from trust_core.errors import UserError
from trust_core.registry import Registry
from trust_core.schemas import load_schema, validator

STUDY_INDEX = "study.json"
RUNS_FOLDER = "runs"
MAX_SWEEP_VARIANTS = 64
"""The most variants one sweep may expand to (a typo in a grid should not start a week of work)."""

SHARED_OPTIONS = (
    "backend",
    "tasks",
    "dimensions",
    "limit",
    "seed",
    "judge",
    "refusal_judge",
    "toxicity_scorer",
    "embedder",
    "data_dir",
    "max_new_tokens",
    "temperature",
    "batch_size",
    "num_gpus",
)
"""The ``[study]`` keys passed to every variant's ``trust run`` (as ``--key-name``)."""


@dataclass(frozen=True)
class StudyVariant:
    """One model of the study: ``model`` (None: the base model), or a ``quantize``/``prune`` method of the base
    with its ``recipe``."""

    name: str
    model: str | None = None
    quantize: str | None = None
    prune: str | None = None
    recipe: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """The variant as study.json records it."""
        described: dict[str, Any] = {"name": self.name}
        for key in ("model", "quantize", "prune"):
            if getattr(self, key) is not None:
                described[key] = getattr(self, key)
        if self.recipe:
            described["recipe"] = dict(self.recipe)
        return described


@dataclass(frozen=True)
class Study:
    """A parsed study file: the shared settings (base model included) and the variants, base first."""

    name: str
    source: Path
    sha256: str
    base_model: str | None
    shared: Mapping[str, Any]
    variants: list[StudyVariant]
    base: str
    """The name of the variant every comparison is against: the one marked ``base = true``, else the first."""


# --------------------------------------------------------------------------- reading a study file


def _where(path: Sequence[Any]) -> str:
    parts: list[str] = []
    for part in path:
        parts.append(f"[{part}]" if isinstance(part, int) else (f".{part}" if parts else str(part)))
    return "".join(parts) or "(top level)"


def load_study(path: Path) -> Study:
    """Read and validate ``path``; UserError naming the file and the key for anything wrong."""
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror})") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{path}: not a valid TOML file ({exc})") from None
    errors = sorted(validator(load_schema("study.schema.json")).iter_errors(data), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        raise UserError(f"{path}: {_where(list(first.absolute_path))}: {first.message}")
    settings = dict(data["study"])
    base_model = settings.pop("model", None)
    if "data_dir" in settings:
        settings["data_dir"] = str((path.parent / settings["data_dir"]).resolve())
    variants: list[StudyVariant] = []
    for index, entry in enumerate(data.get("variants", [])):
        if entry.get("recipe") and not (entry.get("quantize") or entry.get("prune")):
            raise UserError(f"{path}: variants[{index}].recipe: a recipe needs quantize or prune")
        model = entry.get("model")
        if model is not None and (path.parent / model).exists():
            model = str((path.parent / model).resolve())
        variants.append(
            StudyVariant(entry["name"], model, entry.get("quantize"), entry.get("prune"), dict(entry.get("recipe", {})))
        )
    for index, sweep in enumerate(data.get("sweeps", [])):
        variants += _expand_sweep(sweep, f"{path}: sweeps[{index}]")
    if not variants:
        raise UserError(f"{path}: variants: none (the first one, or the one marked base = true, is the base)")
    _check_names(variants, path)
    marked = [entry["name"] for entry in data.get("variants", []) if entry.get("base")]
    if len(marked) > 1:
        raise UserError(f"{path}: variants: {', '.join(marked)} are all marked base = true (one base)")
    name = str(data["study"].get("name") or path.stem)
    base = marked[0] if marked else variants[0].name
    return Study(name, path, hashlib.sha256(raw).hexdigest(), base_model, settings, variants, base)


def _expand_sweep(sweep: Mapping[str, Any], where: str) -> list[StudyVariant]:
    """Every method x every combination of the recipe's list values, with readable names."""
    kind = "quantize" if "quantize" in sweep else "prune"
    methods = [sweep[kind]] if isinstance(sweep[kind], str) else list(sweep[kind])
    recipe = dict(sweep.get("recipe", {}))
    swept = [key for key, value in recipe.items() if isinstance(value, list)]
    for key in swept:
        if not recipe[key]:
            raise UserError(f"{where}.recipe.{key}: an empty list sweeps nothing")
    fixed = {key: value for key, value in recipe.items() if key not in swept}
    size = len(methods) * math.prod(len(recipe[key]) for key in swept)
    if size > MAX_SWEEP_VARIANTS:
        raise UserError(f"{where}: expands to {size} variants, more than {MAX_SWEEP_VARIANTS}; split it")
    variants = []
    for method in methods:
        for values in itertools.product(*(recipe[key] for key in swept)):
            point = dict(zip(swept, values, strict=True))
            template = sweep.get("name")
            try:
                readable = {key: str(value).replace(":", "of") for key, value in point.items()}
                name = template.format(method=method, **readable) if template else _sweep_name(method, point)
            except (KeyError, IndexError, ValueError) as exc:
                raise UserError(f"{where}.name: {template!r} names {exc} that is not swept") from None
            variants.append(
                StudyVariant(
                    name,
                    None,
                    method if kind == "quantize" else None,
                    method if kind == "prune" else None,
                    {**fixed, **point},
                )
            )
    return variants


def _sweep_name(method: str, point: Mapping[str, Any]) -> str:
    parts = [method] + [f"{key.replace('_', '')}{str(value).replace(':', 'of')}" for key, value in point.items()]
    return "-".join(parts)


def _check_names(variants: Sequence[StudyVariant], path: Path) -> None:
    seen: set[str] = set()
    for variant in variants:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", variant.name):
            raise UserError(f"{path}: variant name {variant.name!r}: letters, digits, '.', '_' and '-' only")
        if variant.name in seen:
            raise UserError(f"{path}: two variants are named {variant.name!r} (names are run directories)")
        seen.add(variant.name)


def check_study(registry: Registry, study: Study) -> None:
    """Before any model is loaded: the tasks exist, and each variant's method exists and accepts its recipe
    (UserError naming the study file, the variant and the key)."""
    from trust_core.component_options import parse_component_options
    from trust_core.compression import check_request, compression_request
    from trust_core.runner import resolve_tasks

    resolve_tasks(registry, _as_list(study.shared.get("tasks")), _as_list(study.shared.get("dimensions")))
    try:
        parse_component_options(_as_list(study.shared.get("options")), registry, lambda: _base_backend(registry, study))
    except UserError as exc:
        raise UserError(f"{study.source}: study.options: {exc}") from None
    for variant in study.variants:
        if not (variant.quantize or variant.prune):
            continue
        seed = int(study.shared.get("seed", 42))
        request = compression_request(variant.prune, variant.quantize, seed=seed, extra=dict(variant.recipe))
        try:
            if request is not None:
                check_request(registry, request)
        except UserError as exc:
            raise UserError(f"{study.source}: variant {variant.name}: {exc}") from None


def _base_backend(registry: Registry, study: Study) -> str:
    """The backend the base model runs with (the component of a bare ``options`` key)."""
    if study.shared.get("backend"):
        return str(study.shared["backend"])
    model = registry.resolve_model(study.base_model or registry.default_model())
    return registry.backend_class(None, model).name


def _as_list(value: Any) -> list[str]:
    return [] if value is None else [str(item) for item in value]


# --------------------------------------------------------------------------- running


def _recipe_text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def variant_argv(study: Study, variant: StudyVariant) -> list[str]:
    """The ``trust run`` arguments that evaluate ``variant`` (``--run-dir`` is added when it runs)."""
    argv = ["run"]
    model = variant.model or study.base_model
    if model:
        argv += ["--model", model]
    for key in SHARED_OPTIONS:
        value = study.shared.get(key)
        if value is None:
            continue
        flag = "--" + key.replace("_", "-")
        argv += (
            [item for entry in value for item in (flag, str(entry))] if isinstance(value, list) else [flag, str(value)]
        )
    if variant.quantize:
        argv += ["--quantize", variant.quantize]
    if variant.prune:
        argv += ["--prune", variant.prune]
    for key, value in variant.recipe.items():
        argv += ["--recipe", f"{key}={_recipe_text(value)}"]
    for item in study.shared.get("options") or ():
        argv += ["-o", str(item)]
    return argv


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_index(run_dir: Path, index: Mapping[str, Any]) -> None:
    """study.json, replaced whole (a reader never sees half of it)."""
    target = run_dir / STUDY_INDEX
    partial = target.with_suffix(".json.partial")
    partial.write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, target)


def _efficiency(folder: Path, wall_seconds: float, peak_rss_bytes: int | None) -> dict[str, Any]:
    """What the variant's run measured: size on disk and compression time (variant.json), model load and
    generation time, tokens/s (results.json counts), the process's peak memory and wall time."""
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    counts, variant = results["run"].get("counts", {}), results["run"].get("variant") or {}
    tokens, generation_ms = counts.get("completion_tokens_generated"), counts.get("generation_milliseconds")
    size = variant.get("size_bytes")
    if size is None:  # a model given as is (the dense base, a checkpoint): what its files take on disk
        size = _size_on_disk(str(results["run"].get("model", {}).get("resolved") or ""))
    return {
        "size_bytes": size,
        "compression_seconds": variant.get("seconds"),
        "model_load_seconds": None
        if counts.get("model_load_milliseconds") is None
        else counts["model_load_milliseconds"] / 1000,
        "generation_seconds": None if generation_ms is None else generation_ms / 1000,
        "tokens_per_second": tokens / (generation_ms / 1000) if tokens and generation_ms else None,
        "responses_generated": counts.get("responses_generated"),
        "peak_memory_bytes": peak_rss_bytes,
        "wall_seconds": round(wall_seconds, 3),
        "note": "generation figures cover the responses generated by this command (a resumed run: the rest only)",
    }


def _size_on_disk(location: str) -> int | None:
    """Bytes of a local model file or folder; None for a hub id or an API model (nothing local to measure)."""
    path = Path(location) if location else None
    if path is None or not path.exists():
        return None
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def _run_variant(
    argv: Sequence[str], plugin_dirs: Sequence[Path], output: Path | None = None
) -> tuple[int, float, int | None]:
    """``trust run`` in a process of its own: exit status, wall seconds and peak resident memory (bytes). Its
    progress and messages go to this terminal, or to the file ``output``."""
    command = [
        sys.executable,
        "-m",
        "trust_core",
        *(arg for d in plugin_dirs for arg in ("--plugin-dir", str(d))),
        *argv,
    ]
    started = time.perf_counter()
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        with output.open("ab") as sink:
            process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT)
    else:
        process = subprocess.Popen(command)
    try:
        _, status, usage = os.wait4(process.pid, 0)
    except KeyboardInterrupt:
        process.wait()
        raise
    process.returncode = os.waitstatus_to_exitcode(status)
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return process.returncode, time.perf_counter() - started, peak


def run_study(
    study: Study,
    run_dir: Path,
    plugin_dirs: Sequence[Path] = (),
    echo: Any = print,
    quiet: bool = False,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Evaluate every variant of ``study`` into ``run_dir/runs/NAME`` and index them in study.json.

    A variant whose run directory already holds this study's finished results is not run again; a failed one
    is recorded with its exit status and the study goes on. ``quiet``: each variant's own output goes to
    ``runs/NAME/study-output.log`` instead of the terminal. ``executor``: a :class:`RayExecutor` runs the
    variants as tasks of a Ray cluster, several at once (their output always goes to the log files); None runs
    them one after the other here. Returns the index."""
    if executor is not None:
        executor.start()  # an address that does not answer stops the study before anything is written
    run_dir.mkdir(parents=True, exist_ok=True)
    previous = read_index(run_dir)
    if previous is not None and previous.get("study", {}).get("sha256") not in (None, study.sha256):
        echo(f"note: {study.source} changed since {run_dir / STUDY_INDEX} was written; finished variants are kept")
    entries = {entry["name"]: entry for entry in (previous or {}).get("variants", [])}
    index: dict[str, Any] = {
        "schema_version": "1",
        "trust_version": __version__,
        "study": {
            "name": study.name,
            "file": str(study.source),
            "sha256": study.sha256,
            "shared": dict(study.shared),
            "base_model": study.base_model,
        },
        "base": study.base,
        "variants": [],
    }
    plans = []
    for variant in study.variants:
        folder = run_dir / RUNS_FOLDER / variant.name
        argv = variant_argv(study, variant)
        entry = {**variant.describe(), "run_dir": str(Path(RUNS_FOLDER) / variant.name), "argv": argv}
        earlier = entries.get(variant.name, {})
        done = earlier.get("status") == "done" and earlier.get("argv") == argv and (folder / "results.json").is_file()
        index["variants"].append(earlier if done else {**entry, "status": "pending"})
        plans.append((variant, folder, argv, entry, done))
    _write_index(run_dir, index)
    if executor is not None:
        return _run_on(executor, study, run_dir, plans, index, plugin_dirs, echo)
    for number, _variant, folder, argv, entry, where in _pending(study, plans, echo):
        echo(f"{where}: trust {' '.join(argv)} --run-dir {folder}")
        index["variants"][number - 1] = {**entry, "status": "running", "started_at": _now()}
        _write_index(run_dir, index)
        output = folder / "study-output.log" if quiet else None
        code, seconds, peak = _run_variant([*argv, "--run-dir", str(folder)], plugin_dirs, output)
        _record(run_dir, index, number - 1, entry, folder, code, seconds, peak)
        if code == 130:
            raise KeyboardInterrupt
    return index


Plan = tuple[StudyVariant, Path, list[str], dict[str, Any], bool]
"""A variant, its run directory, its ``trust run`` arguments, its study.json entry, and whether it is done."""


def _pending(
    study: Study, plans: Sequence[Plan], echo: Any
) -> Iterator[tuple[int, StudyVariant, Path, list[str], dict[str, Any], str]]:
    """The variants still to run, numbered from 1, with the line that names each (the finished are announced)."""
    for number, (variant, folder, argv, entry, done) in enumerate(plans, start=1):
        where = f"study {study.name}: {number}/{len(plans)} {variant.name}"
        if done:
            echo(f"{where}: done earlier")
        else:
            yield number, variant, folder, argv, entry, where


def _record(
    run_dir: Path,
    index: dict[str, Any],
    position: int,
    entry: dict[str, Any],
    folder: Path,
    code: int,
    seconds: float,
    peak: int | None,
) -> None:
    """Record a finished variant (done, with its efficiency, or failed with its exit status) in study.json."""
    finished = {**entry, "status": "done" if code == 0 else "failed", "exit_status": code, "finished_at": _now()}
    if code == 0:
        finished["efficiency"] = _efficiency(folder, seconds, peak)
    index["variants"][position] = finished
    _write_index(run_dir, index)


def _run_on(
    executor: Executor,
    study: Study,
    run_dir: Path,
    plans: Sequence[Plan],
    index: dict[str, Any],
    plugin_dirs: Sequence[Path],
    echo: Any,
) -> dict[str, Any]:
    """Submit every unfinished variant to ``executor`` at once and record each as it finishes."""
    submitted: dict[Any, tuple[int, StudyVariant, Path, dict[str, Any]]] = {}
    for number, variant, folder, argv, entry, where in _pending(study, plans, echo):
        echo(f"{where}: submitted to {executor.name}: trust {' '.join(argv)} --run-dir {folder}")
        index["variants"][number - 1] = {**entry, "status": "running", "started_at": _now()}
        handle = executor.submit([*argv, "--run-dir", str(folder)], plugin_dirs, folder / "study-output.log")
        submitted[handle] = (number, variant, folder, entry)
    _write_index(run_dir, index)
    for handle, (code, seconds, peak) in executor.as_completed(list(submitted)):
        number, variant, folder, entry = submitted[handle]
        echo(f"study {study.name}: {number}/{len(plans)} {variant.name}: {'done' if code == 0 else 'failed'}")
        _record(run_dir, index, number - 1, entry, folder, code, seconds, peak)
    return index


class Executor(ABC):
    """Runs variants elsewhere than one after the other in this process (see :class:`RayExecutor`)."""

    name = "executor"

    @abstractmethod
    def start(self) -> None:
        """Connect (UserError when that fails: nothing is written)."""

    @abstractmethod
    def submit(self, argv: list[str], plugin_dirs: Sequence[Path], output: Path) -> Any:
        """Start ``trust ARGV`` somewhere; a handle."""

    @abstractmethod
    def as_completed(self, handles: list[Any]) -> Iterator[tuple[Any, tuple[int, float, int | None]]]:
        """Each handle with (exit status, wall seconds, peak memory), as it finishes."""


RAY_RETRIES = 2
"""How often Ray restarts a variant whose worker died (the variant resumes from its run store)."""


def _ray_variant(argv: list[str], plugin_dirs: list[str], output: str) -> tuple[int, float, int | None]:
    """A variant's ``trust run`` in a process of its own, on whichever Ray node runs this task."""
    return _run_variant(argv, [Path(folder) for folder in plugin_dirs], Path(output))


class RayExecutor(Executor):
    """Each variant as a Ray task with ``num_cpus`` / ``num_gpus`` of its own, on an existing cluster
    (``address``) or a local one started for the study; a task whose worker dies is retried
    (:data:`RAY_RETRIES`) and resumes from its run store. The run directory must be on storage every node
    sees, and every node must have trust installed as the driver has."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: float = 1, num_gpus: float = 0) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self._task: Any = None

    def start(self) -> None:
        """Import ray and connect to the cluster (or start a local one)."""
        try:
            import ray
        except ImportError:
            raise UserError("--executor ray needs Ray: pip install 'trust-core[ray]'") from None
        if self.address not in (None, "auto", "local"):
            _require_answer(self.address)
        if not ray.is_initialized():
            try:
                ray.init(
                    address=self.address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR
                )
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise UserError(f"--address {self.address}: cannot connect to a Ray cluster ({exc})") from None
        options = {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus, "max_retries": RAY_RETRIES}
        self._task = ray.remote(_ray_variant).options(**options)

    def submit(self, argv: list[str], plugin_dirs: Sequence[Path], output: Path) -> Any:
        """Submit one variant as a Ray task."""
        return self._task.remote(argv, [str(folder) for folder in plugin_dirs], str(output))

    def as_completed(self, handles: list[Any]) -> Iterator[tuple[Any, tuple[int, float, int | None]]]:
        """Each task's result as it finishes; a task that failed for good (its worker died more often than
        :data:`RAY_RETRIES`) is recorded as failed (exit status 1)."""
        import ray

        pending = list(handles)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for handle in ready:
                try:
                    yield handle, tuple(ray.get(handle))
                except ray.exceptions.RayError:
                    yield handle, (1, 0.0, None)


def _require_answer(address: str) -> None:
    """UserError at once when nothing listens at ``address`` (host:port), instead of Ray's long retries."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--address {address}: expected HOST:PORT of a Ray cluster's head (e.g. 10.0.0.1:6379)")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            return
    except OSError as exc:
        raise UserError(f"--address {address}: the Ray cluster does not answer ({exc.strerror or exc})") from None


def read_index(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / STUDY_INDEX
    if not path.is_file():
        return None
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON ({exc.msg})") from None
    return index if isinstance(index, dict) else None


def study_runs(run_dir: Path, warn: Any = None) -> tuple[Path, list[Path]]:
    """The base's run directory and the finished variants' (in the study's order) of a study directory.

    Variants without results yet (pending, running, failed) are left out, named through ``warn`` (a callable
    taking one line); a base without results is an error."""
    index = read_index(run_dir)
    if index is None:
        raise UserError(f"{run_dir}: no {STUDY_INDEX} (is it a study's --run-dir?)")
    base = index.get("base") or index["variants"][0]["name"]
    folders = {entry["name"]: run_dir / entry["run_dir"] for entry in index["variants"]}
    finished = {name for name, folder in folders.items() if (folder / "results.json").is_file()}
    if base not in finished:
        raise UserError(f"{run_dir}: the base {base} has no results yet (trust study status {run_dir})")
    unfinished = [name for name in folders if name not in finished]
    if unfinished and warn is not None:
        warn(f"warning: left out, no results yet: {', '.join(unfinished)} (trust study status {run_dir})")
    return folders[base], [folder for name, folder in folders.items() if name != base and name in finished]


def study_status(run_dir: Path) -> list[dict[str, Any]]:
    """Per variant of the study in ``run_dir``: done, partial (responses stored so far) or not started."""
    index = read_index(run_dir)
    if index is None:
        raise UserError(f"{run_dir}: no {STUDY_INDEX} (run `trust study run STUDY.toml --run-dir {run_dir}` first)")
    rows = []
    for entry in index["variants"]:
        folder = run_dir / entry["run_dir"]
        stored = _stored_responses(folder / "store.sqlite")
        if entry.get("status") == "done" and (folder / "results.json").is_file():
            state = "done"
        elif entry.get("status") == "failed":
            state = f"failed (exit {entry.get('exit_status')})"
        elif stored:
            state = "partial"
        else:
            state = "not started"
        rows.append({"name": entry["name"], "status": state, "responses": stored, "run_dir": str(folder)})
    return rows


def _stored_responses(store: Path) -> int:
    if not store.is_file():
        return 0
    import sqlite3

    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT COUNT(*) FROM responses WHERE status = 'ok'").fetchone()[0])
    except sqlite3.Error:
        return 0
