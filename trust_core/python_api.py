"""trust as a Python library: :func:`evaluate` runs what ``trust run`` runs and returns a typed :class:`RunResult`;
:func:`study` runs a study file as ``trust study run`` does; :func:`compare` compares runs (or a study's run
directory) as ``trust compare`` does.

The keyword arguments are the command line's options (``tasks``, ``limit``, ``quantize``, ``recipe`` ...). They
go through the same option parser as the command line, so defaults, validation and messages are the same;
a bad value raises :class:`~trust_core.errors.UserError` with the command line's message. Nothing is printed
unless ``echo=True``.

Example::

    import trust_core

    base = trust_core.evaluate(tasks=["truthfulness/hallucination"], limit=3, run_dir="runs/base")
    hqq4 = trust_core.evaluate(tasks=["truthfulness/hallucination"], limit=3, run_dir="runs/hqq4",
                               quantize="hqq", recipe={"bits": 4})
    print(base.metric("truthfulness/hallucination", "mean_accuracy").value)
    for row in trust_core.compare("runs/base", ["runs/hqq4"])[0].metrics:
        print(row.task, row.metric, row.subset, row.delta, row.ci)
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trust_core.errors import UserError


@dataclass(frozen=True)
class MetricRow:
    """One metric of results.json (see schemas/results.schema.json)."""

    task: str
    metric: str
    subset: str | None
    value: float | None
    ci: tuple[float, float] | None
    n: int
    n_invalid: int
    higher_is_better: bool | None
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class RunResult:
    """What one evaluation produced: the run's metadata (results.json ``run``), its metrics and the per-sample
    records (samples.jsonl), and where they are."""

    run_dir: Path
    run: Mapping[str, Any]
    metrics: list[MetricRow]
    records: list[dict[str, Any]]

    def metric(self, task: str, metric: str, subset: str | None = None) -> MetricRow:
        """The metric ``metric`` of ``task`` (over all subsets when ``subset`` is None); KeyError if absent."""
        for row in self.metrics:
            if (row.task, row.metric, row.subset) == (task, metric, subset):
                return row
        raise KeyError(f"{task} {metric} {subset!r} is not in {self.run_dir / 'results.json'}")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _argv(options: Mapping[str, Any]) -> list[str]:
    """Keyword options as command-line arguments (lists repeat the option, mappings are KEY=VALUE items)."""
    argv: list[str] = []
    for name, value in options.items():
        if value is None or value is False:
            continue
        flag = _flag(name)
        if value is True:
            argv.append(flag)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                text = json.dumps(item) if isinstance(item, bool) or item is None else str(item)
                argv += [flag, f"{key}={text}"]
        elif isinstance(value, (list, tuple)):
            for item in value:
                argv += [flag, str(item)]
        else:
            argv += [flag, str(value)]
    return argv


@contextlib.contextmanager
def _quiet(echo: bool) -> Iterator[None]:
    if echo:
        yield
        return
    previous = os.environ.get("TRUST_PROGRESS")
    os.environ["TRUST_PROGRESS"] = "0"
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        if previous is None:
            os.environ.pop("TRUST_PROGRESS", None)
        else:
            os.environ["TRUST_PROGRESS"] = previous


def evaluate(
    model: str | None = None,
    tasks: Sequence[str] = (),
    *,
    run_dir: str | Path = "trust-run",
    plugin_dirs: Sequence[str | Path] = (),
    echo: bool = False,
    **options: Any,
) -> RunResult:
    """Generate, judge and score, as ``trust run`` does; the run's :class:`RunResult`.

    ``options`` are ``trust run``'s options by their Python names: ``limit``, ``dimensions``, ``data_dir``,
    ``seed``, ``max_new_tokens``, ``backend``, ``judge``, ``refusal_judge``, ``embedder``, ``quantize``,
    ``prune``, ``recipe`` (a mapping), ``option`` (a mapping of component options, ``{"n_ctx": 4096,
    "minilm.batch_size": 16}``, as ``-o``), ``key`` (``["openai=..."]``), ``restart`` ... Responses already stored in
    ``run_dir`` are reused, as on the command line.
    """
    import click

    from trust_core.cli import _build_options, cli
    from trust_core.registry import Registry
    from trust_core.session import execute

    argv = _argv({"model": model, "tasks": list(tasks), "run_dir": str(run_dir), **options})
    registry = Registry([Path(folder) for folder in plugin_dirs])
    command = cli.commands["run"]
    try:
        context = command.make_context("run", argv)
    except click.UsageError as exc:
        raise UserError(exc.format_message()) from None
    params = dict(context.params)
    with _quiet(echo):
        execute(registry, _build_options(params, registry), "run", None)
    return load_result(Path(run_dir))


def load_result(run_dir: str | Path) -> RunResult:
    """The :class:`RunResult` of a finished run directory (its results.json and samples.jsonl)."""
    folder = Path(run_dir)
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    lines = (folder / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    metrics = [
        MetricRow(
            task=entry["task"],
            metric=entry["metric"],
            subset=entry["subset"],
            value=entry["value"],
            ci=(float(entry["ci"][0]), float(entry["ci"][1])) if entry["ci"] else None,
            n=entry["n"],
            n_invalid=entry["n_invalid"],
            higher_is_better=entry["higher_is_better"],
            raw=entry,
        )
        for entry in results["metrics"]
    ]
    return RunResult(folder, results["run"], metrics, [json.loads(line) for line in lines if line.strip()])


def study(
    study_file: str | Path, run_dir: str | Path, plugin_dirs: Sequence[str | Path] = (), echo: bool = False
) -> dict[str, Any]:
    """``trust study run``: every variant of the study file evaluated into ``run_dir``; the study index
    (study.json). Unknown tasks, methods or recipe keys raise UserError before any model is loaded."""
    from trust_core.registry import Registry
    from trust_core.studies import check_study, load_study, run_study

    folders = [Path(folder) for folder in plugin_dirs]
    plan = load_study(Path(study_file))
    check_study(Registry(folders), plan)
    return run_study(plan, Path(run_dir), folders, echo=print if echo else (lambda line: None), quiet=not echo)


def compare(base: str | Path, variants: Sequence[str | Path] = (), plugin_dirs: Sequence[str | Path] = ()) -> list[Any]:
    """``trust compare``: one :class:`~trust_core.comparison.Comparison` per variant against ``base`` (a study's
    run directory alone: its base against each of its variants)."""
    from trust_core.comparison import compare_runs, load_side
    from trust_core.registry import Registry
    from trust_core.studies import study_runs

    if not variants:
        base, listed = study_runs(Path(base))
        variants = list(listed)
    registry = Registry([Path(folder) for folder in plugin_dirs])
    tasks = {cls.id: cls() for cls in registry.tasks()}
    base_side = load_side(Path(base))
    return [compare_runs(base_side, load_side(Path(variant)), tasks) for variant in variants]
