"""Helpers for testing task plugins without a model (the pytester of trust).

A task plugin's tests load its packaged sample or the real TrustLLM archive,
answer the task's prompts with a scripted model, score with deterministic
evaluators and assert exact metrics::

    from trust_core.testing import generate, metric, samples_of, scripted

    task = MyTask()
    samples = samples_of(task)
    score = task.score(generate(task, samples, scripted({"0": "Yes"})), evaluators, seed=0)
    assert metric(score, "accuracy", "mc").value == 1.0

The archive path comes from ``TRUSTLLM_DATASET_ZIP`` or this project's
``../shared/datasets/trustllm/dataset.zip``; tests that need it are skipped without it.
pytest is imported only by :func:`archive_items`.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from trust_core.contracts import Generation, Prompt, Sample, Task, TaskScore
from trust_core.data import sample_file

ARCHIVE_ENV = "TRUSTLLM_DATASET_ZIP"

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
        return json.loads(archive.read(f"dataset/{data_file}").decode("utf-8"), strict=False)


def packaged_items(task: Task | type[Task]) -> list[Any]:
    """The items of the task's packaged sample file."""
    resource = resources.files(task.sample_package).joinpath(*sample_file(task.data_file).split("/"))
    return json.loads(resource.read_text(encoding="utf-8"))


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
    """Records and metrics are strict JSON (no NaN) and every count is consistent."""
    json.dumps(score.records, allow_nan=False)
    for value in score.metrics:
        json.dumps([value.value, value.ci, dict(value.extra)], allow_nan=False)
        assert 0 <= value.n_invalid <= value.n, value
