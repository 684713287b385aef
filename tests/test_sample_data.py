"""Every installed task ships its own sample set: it loads, validates, and copies nothing from TrustLLM."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from trust_core.data import DataSource, load_task_data
from trust_core.registry import Registry
from trust_core.testing import packaged_items

TASKS = [cls() for cls in Registry().tasks()]


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.id)
def test_packaged_sample_loads_and_validates(task):
    loaded = load_task_data(task, DataSource(None), None)
    assert loaded.total_items >= 2
    assert len({sample.subset for sample in loaded.samples}) >= 1


CATEGORY_FIELDS = {"label", "type", "source", "topic"}
"""Fields holding category names (a taxonomy's labels), which a sample legitimately shares with the archive."""


def _long_strings(value: object) -> set[str]:
    if isinstance(value, str):
        return {value.strip()} if len(value.strip()) > 40 else set()
    if isinstance(value, dict):
        content = [v for k, v in value.items() if k not in CATEGORY_FIELDS]
        return set().union(*(_long_strings(v) for v in content)) if content else set()
    if isinstance(value, list):
        return set().union(*(_long_strings(v) for v in value)) if value else set()
    return set()


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.id)
def test_packaged_sample_copies_no_archive_text(task, archive: Path):
    with zipfile.ZipFile(archive) as zf:
        original = json.loads(zf.read(f"dataset/{task.data_file}").decode("utf-8"), strict=False)
    shared = _long_strings(packaged_items(task)) & _long_strings(original)
    assert not shared, f"{task.id}: sample text copied from the TrustLLM archive: {sorted(shared)[:2]}"
