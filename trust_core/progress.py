"""Progress on standard error: bars naming the stage and the task (items done / total and rate), and a line
saying which model is loading."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from trust_core.logs import library_output, terminal_stderr


def stage_label(stage: str, task: str | None = None) -> str:
    """A progress bar's label: ``"<task>: <stage>"``, or the stage alone."""
    return f"{task}: {stage}" if task else stage


def progress(total: int, desc: str, unit: str = "item", *, task: str | None = None) -> Any:
    """A tqdm bar labelled ``desc`` (and ``task`` when given); ``TRUST_PROGRESS=0`` turns bars off.

    It writes to the terminal's standard error even while library output is sent to the run's log
    (:func:`trust_core.logs.library_output`).
    """
    from tqdm import tqdm

    disabled = os.environ.get("TRUST_PROGRESS", "1") == "0" or total == 0
    return tqdm(
        total=total,
        desc=stage_label(desc, task),
        unit=unit,
        disable=disabled,
        mininterval=0.5,
        dynamic_ncols=True,
        file=terminal_stderr,
    )


def model_label(model: str) -> str:
    """How messages name a model: a local file or folder by its name, anything else (a hub id) as it is."""
    path = Path(model)
    return path.name if path.name and path.exists() else model


@contextlib.contextmanager
def announced(what: str) -> Iterator[None]:
    """Print ``<what>...`` on standard error before the block and `` done in N s`` (or `` failed``) after it, with
    what libraries print meanwhile sent to the run's log."""
    click.echo(f"{what}...", err=True, nl=False)
    started = time.perf_counter()
    try:
        with library_output():
            yield
    except BaseException:
        click.echo(" failed", err=True)
        raise
    click.echo(f" done in {time.perf_counter() - started:.1f} s", err=True)


def load_model(backend: Any) -> None:
    """Say which model loads (``loading model X (backend Y)... done in N s``) and load it, for a backend with a
    ``load()`` method (a local model); others (remote APIs) load nothing and say nothing."""
    load = getattr(backend, "load", None)
    if callable(load):
        with announced(f"loading model {model_label(str(backend.model))} (backend {backend.name})"):
            load()
