"""Access to the JSON Schemas: the core's own in the top-level ``schemas/`` folder (results, samples, studies,
variants), and a task's item schema in the plugin package that owns the task (:func:`package_schema`).

In a wheel the core's folder is shipped as ``trust_core/_schemas``; in a source
checkout (editable install) it is read from the repository root.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from trust_core.errors import UserError


def schema_dir() -> Path:
    """The folder holding the schemas."""
    packaged = Path(__file__).parent / "_schemas"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "schemas"


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Load the core's ``schemas/<name>`` (e.g. ``results.schema.json``)."""
    path = schema_dir() / name
    try:
        schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return schema
    except FileNotFoundError:
        raise UserError(f"schema {name} not found in {schema_dir()}") from None


@cache
def package_schema(package: str, name: str) -> dict[str, Any]:
    """Load the schema ``name`` from the ``schemas/`` folder of the installed package ``package`` (a task plugin
    ships its items' schemas in its own package: ``item_schema = package_schema("trust_acme", "q.schema.json")``)."""
    from importlib import resources

    try:
        text = (resources.files(package) / "schemas" / name).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):
        raise UserError(f"schema {name} not found in the schemas/ folder of the package {package}") from None
    schema: dict[str, Any] = json.loads(text)
    return schema


def validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    """A Draft 2020-12 validator for ``schema``."""
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)
