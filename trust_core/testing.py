"""Helpers for testing task plugins without a model (the pytester of trust).

A task plugin's tests load its packaged sample or the real TrustLLM archive,
answer the task's prompts with a scripted model, score with deterministic
evaluators and assert exact metrics::

    from trust_core.testing import generate, metric, samples_of, scripted

    task = MyTask()
    samples = samples_of(task)
    score = task.score(generate(task, samples, scripted({"0": "Yes"})), evaluators, seed=0)
    assert metric(score, "accuracy", "mc").value == 1.0

The checks every task plugin makes of its tasks are helpers too::

    # dimension, sample package, aliases, data file stem, temperature, needs
    assert_task_attributes(MyTask, "mydim", "trust_mydim", ("mine",), "mine", 0.0, {"judge"})
    assert_packaged_sample(MyTask, "trust_mydim", {"a": 4, "b": 4})
    assert_plugin_registers("mydim", ["mydim/mine", "mydim/other"])

The archive path comes from ``TRUSTLLM_DATASET_ZIP`` or this project's
``../shared/datasets/trustllm/dataset.zip``; tests that need it are skipped without it.
pytest is imported only by :func:`archive_items`, the plugin registry only by
:func:`assert_plugin_registers`.

:func:`run_cli` runs the real ``trust`` command in the test's own process (milliseconds instead of a Python start-up),
as a user would type it::

    result = run_cli("run", "--tasks", "mydim/mine", "--limit", "2", "--run-dir", str(tmp_path))
    assert result.code == 0, result.stderr
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import zipfile
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trust_core.contracts import Generation, Prompt, Sample, Task, TaskScore
from trust_core.data import DataSource, LoadedData, load_task_data, sample_file

ARCHIVE_ENV = "TRUSTLLM_DATASET_ZIP"

SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"
"""The JSON Schema dialect every task's ``item_schema`` declares."""

DESCRIPTION_MAX = 120
"""The longest a task's one-line ``description`` may be."""

Respond = Callable[[Sample, Prompt], "str | None"]
"""A scripted model: the response (None = failed generation) for a sample's prompt."""


def archive_path() -> Path:
    """Where the TrustLLM archive is expected: ``$TRUSTLLM_DATASET_ZIP`` or ``<repo>/../shared/...``."""
    configured = os.environ.get(ARCHIVE_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "shared" / "datasets" / "trustllm" / "dataset.zip"


def archive_items(data_file: str) -> list[Any]:
    """The raw items of ``data_file`` (e.g. ``safety/jailbreak.json``) in the archive; skips the test without it."""
    import pytest

    path = archive_path()
    if not path.is_file():
        pytest.skip(f"TrustLLM archive not found at {path} (set {ARCHIVE_ENV})")
    with zipfile.ZipFile(path) as archive:
        items: list[Any] = json.loads(archive.read(f"dataset/{data_file}").decode("utf-8"), strict=False)
        return items


def packaged_items(task: Task | type[Task]) -> list[Any]:
    """The items of the task's packaged sample file."""
    from trust_core.data import read_packaged_sample

    _, raw = read_packaged_sample(task)
    items: list[Any] = json.loads(raw.decode("utf-8"))
    return items


def samples_of(task: Task, items: Sequence[Any] | None = None) -> list[Sample]:
    """The task's samples from ``items`` (default: its packaged sample), normalised as the core does."""
    raw = packaged_items(task) if items is None else items
    normalized = [task.normalize(item) if isinstance(item, dict) else item for item in raw]
    return [task.to_sample(index, item) for index, item in task.select_items(normalized)]


def generate(task: Task, samples: Sequence[Sample], respond: Respond, seed: int = 0) -> list[Generation]:
    """Generations for the task's prompts from a scripted model ``respond(sample, prompt)``."""
    by_id = {sample.id: sample for sample in samples}
    owner = task.generation_of() if task.generation_of else task
    generations = []
    for prompt in owner.prompts(samples, seed):
        sample = by_id[prompt.sample_id]
        text = respond(sample, prompt)
        generations.append(Generation(sample, prompt, text, None if text is not None else "scripted failure"))
    return generations


def scripted(responses: Mapping[str, str | None], default: str | None = None) -> Respond:
    """A model answering each sample id with a fixed response (``default`` for ids not listed)."""
    return lambda sample, prompt: responses.get(sample.id, default)


def metric(score: TaskScore, name: str, subset: str | None = None) -> Any:
    """The one metric of ``score`` with this name and subset (fails if there is not exactly one)."""
    found = [m for m in score.metrics if m.metric == name and m.subset == subset]
    assert len(found) == 1, f"{name}/{subset}: found {[(m.metric, m.subset) for m in score.metrics]}"
    return found[0]


def assert_exportable(score: TaskScore) -> None:
    """Records and metrics are strict JSON (no NaN) and every count is consistent: ``n_invalid`` within
    ``n``, the per-reason counts summing to it, and every invalid record naming its ``invalid_reason``."""
    json.dumps(score.records, allow_nan=False)
    for record in score.records:
        if record.get("invalid"):
            assert record.get("invalid_reason"), f"invalid record without invalid_reason: {record}"
    for value in score.metrics:
        json.dumps([value.value, value.ci, dict(value.extra), dict(value.invalid_reasons)], allow_nan=False)
        assert 0 <= value.n_invalid <= value.n, value
        assert sum(value.invalid_reasons.values()) == value.n_invalid, value


def assert_task_attributes(
    task: type[Task],
    dimension: str,
    package: str,
    aliases: tuple[str, ...],
    stem: str,
    temperature: float,
    needs: Collection[str],
    *,
    version: str = "1",
) -> None:
    """The task class declares exactly these attributes, and the ones every task must have in due form.

    An instance's ``dimension`` must be ``dimension``, ``sample_package`` must be ``package`` and ``data_file``
    ``<dimension>/<stem>.json``; the description one non-empty line of at most :data:`DESCRIPTION_MAX`
    characters; the item schema a draft 2020-12 JSON Schema. A plugin's tests can keep a table of
    ``(aliases, stem, temperature, needs)`` rows by task id and pass ``*row``.
    """
    name = task.id
    assert task.aliases == aliases, f"{name}: aliases {task.aliases!r}, expected {aliases!r}"
    assert task.temperature == temperature, f"{name}: temperature {task.temperature!r}, expected {temperature!r}"
    assert task.needs == frozenset(needs), f"{name}: needs {sorted(task.needs)}, expected {sorted(needs)}"
    assert task.data_file == f"{dimension}/{stem}.json", f"{name}: data_file {task.data_file!r}"
    assert task.version == version, f"{name}: version {task.version!r}, expected {version!r}"
    assert task.sample_package == package, f"{name}: sample_package {task.sample_package!r}, expected {package!r}"
    description = task.description
    assert description, f"{name}: no description"
    assert "\n" not in description, f"{name}: description on more than one line"
    assert len(description) <= DESCRIPTION_MAX, f"{name}: description longer than {DESCRIPTION_MAX} characters"
    assert task.item_schema.get("$schema") == SCHEMA_DRAFT, f"{name}: item_schema $schema is not {SCHEMA_DRAFT}"
    assert task().dimension == dimension, f"{name}: dimension {task().dimension!r}, expected {dimension!r}"


def assert_packaged_sample(task: type[Task], package: str, subset_counts: Mapping[str | None, int]) -> LoadedData:
    """The task's packaged sample loads and validates as the core loads it, from ``package``'s sample file,
    with exactly ``subset_counts`` samples per subset (``None`` = no subset); returns the loaded data."""
    loaded = load_task_data(task(), DataSource(), None)
    expected_file = f"{package}:{sample_file(task.data_file)}"
    assert loaded.file == expected_file, f"{task.id}: loaded {loaded.file!r}, expected {expected_file!r}"
    counts = Counter(sample.subset for sample in loaded.samples)
    assert counts == subset_counts, f"{task.id}: subsets {dict(counts)}, expected {dict(subset_counts)}"
    return loaded


def assert_plugin_registers(plugin: str, task_ids: Iterable[str]) -> None:
    """With only ``plugin`` loaded (``TRUST_LOAD_PLUGINS=<plugin>``, restored after), the registry holds exactly
    the tasks ``task_ids``, each registered by that plugin."""
    from trust_core.registry import ALLOW_LIST_ENV, Registry

    previous = os.environ.get(ALLOW_LIST_ENV)
    os.environ[ALLOW_LIST_ENV] = plugin
    try:
        registry = Registry()
    finally:
        if previous is None:
            del os.environ[ALLOW_LIST_ENV]
        else:
            os.environ[ALLOW_LIST_ENV] = previous
    expected = sorted(task_ids)
    assert registry.names("task") == expected, f"tasks {registry.names('task')}, expected {expected}"
    for task_id in expected:
        owner = registry.plugin_of("task", task_id).name
        assert owner == plugin, f"{task_id} registered by plugin {owner!r}, expected {plugin!r}"


# --------------------------------------------------------------------------- the command line, in-process


@dataclass(frozen=True)
class CliResult:
    """What one ``trust`` command did: its exit status and what it printed."""

    code: int
    stdout: str
    stderr: str

    @property
    def returncode(self) -> int:
        """The exit status (the name :class:`subprocess.CompletedProcess` gives it)."""
        return self.code

    def json(self) -> Any:
        """stdout parsed as JSON (for ``--json`` commands)."""
        return json.loads(self.stdout)


def run_cli(*args: str, env: Mapping[str, str | None] | None = None, cwd: Path | None = None) -> CliResult:
    """Run ``trust ARGS`` through the real entry point (:func:`trust_core.cli.main`) in this process, as a
    separate process would run it: a fresh plugin registry, ``TRUST_PROGRESS=0`` and ``env`` set (None removes
    a variable), working directory ``cwd``, stdin empty, stdout and stderr captured, the status ``sys.exit`` gave
    (1, with the traceback on stderr, for an exception it lets escape). The environment, working directory and
    the commands plugins added are put back afterwards.

    A test of what only a separate process shows (exit on a signal, a lock held by another process, output
    native libraries write straight to the file descriptors) runs ``python -m trust_core`` instead."""
    from click.testing import CliRunner

    from trust_core import cli as cli_module

    saved_environ, saved_cwd = dict(os.environ), os.getcwd()
    saved_commands = dict(cli_module.cli.commands)
    code = 0
    try:
        with CliRunner().isolation(env={"TRUST_PROGRESS": "0", **(env or {})}) as (stdout, stderr, _):
            if cwd is not None:
                os.chdir(cwd)
            try:
                cli_module.main(list(args))
            except SystemExit as exc:
                code = _exit_status(exc)
            except BaseException:  # what a real process prints before it exits 1
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
        return CliResult(code, stdout.getvalue().decode(), stderr.getvalue().decode())
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environ)
        cli_module.cli.commands.clear()
        cli_module.cli.commands.update(saved_commands)


def _exit_status(exc: SystemExit) -> int:
    """The process exit status ``sys.exit(code)`` would give (a message is printed to stderr, status 1)."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1
