"""Item schemas live with the task that owns them (issue #10, item 3): every installed task's ``item_schema`` is a
file in its own plugin package's ``schemas/`` folder, and the core ships only its own schemas."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from conftest import REPO
from trust_core.errors import UserError
from trust_core.registry import Registry
from trust_core.schemas import package_schema, schema_dir


def test_every_installed_task_ships_its_item_schema_in_its_own_package() -> None:
    tasks = Registry().tasks()
    assert len(tasks) >= 26
    for task in tasks:
        package = task.__module__.split(".")[0]
        shipped = [
            json.loads(path.read_text(encoding="utf-8"))
            for path in (resources.files(package) / "schemas").iterdir()
            if path.name.endswith(".schema.json")
        ]
        assert dict(task.item_schema) in shipped, f"{task.id}: item_schema is not a file of {package}/schemas/"


def test_the_core_ships_only_its_own_schemas() -> None:
    assert schema_dir() == REPO / "schemas"
    assert sorted(path.name for path in schema_dir().iterdir()) == [
        "results.schema.json",
        "samples.schema.json",
        "study.schema.json",
        "variant.schema.json",
    ]


def test_a_schema_a_package_does_not_ship_is_one_message() -> None:
    with pytest.raises(UserError, match=r"schema nope\.schema\.json not found in the schemas/ folder of the package"):
        package_schema("trust_truthfulness", "nope.schema.json")
