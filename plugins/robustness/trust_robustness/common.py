"""What the robustness tasks share: the base task, item repairs and whole-unit limiting.

The generic helpers (records, invalid marking, accuracy) live in ``trust_core.scoring``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from trust_core.contracts import Sample
from trust_core.scoring import SinglePromptTask

PACKAGE = "trust_robustness"

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""Control characters other than tab, line feed and carriage return (the archive has backspaces, B29)."""


class RobustnessTask(SinglePromptTask):
    """Base of the robustness tasks: packaged sample data, the item's prompt as one user message."""

    version = "1"
    sample_package = PACKAGE


# --------------------------------------------------------------------------- item repairs (B29)


def clean_value(value: Any) -> Any:
    """A JSON value with its quirks repaired: control characters dropped from strings, NaN → None."""
    if isinstance(value, str):
        return _CONTROL.sub("", value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def clean_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict with :func:`clean_value` applied to every top-level field (the input is not modified)."""
    return {key: clean_value(value) for key, value in item.items()}


def single(value: Any) -> Any:
    """A one-element list or a one-value dict as its element (list-or-dict labels, B29); else ``value``."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    if isinstance(value, dict) and len(value) == 1:
        return next(iter(value.values()))
    return value


def as_int(value: Any) -> Any:
    """An integral float or a string of an integer ("1", " 2 ", "1.0") as an int; anything else unchanged.

    Booleans stay booleans (the schema rejects them).
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+(?:\.0+)?\s*", value):
        return int(float(value))
    return value


# --------------------------------------------------------------------------- limiting whole units


def units_of(samples: Sequence[Sample], unit_key: Callable[[Sample], Hashable | None]) -> list[list[Sample]]:
    """Samples grouped into units (``unit_key`` None = a unit of its own), in file order of first member."""
    units: list[list[Sample]] = []
    by_key: dict[Hashable, list[Sample]] = {}
    for sample in samples:
        key = unit_key(sample)
        if key is None:
            units.append([sample])
        elif key in by_key:
            by_key[key].append(sample)
        else:
            by_key[key] = [sample]
            units.append(by_key[key])
    return units


def limit_whole_units(
    samples: Sequence[Sample], limit: int | None, unit_key: Callable[[Sample], Hashable | None]
) -> list[Sample]:
    """At most ``limit`` samples, never splitting a unit (an AdvGLUE pair, an AdvInstruction group).

    Units are taken round-robin over the subsets of their first members, in order of first appearance,
    as long as they fit; the first unit that does not fit ends the selection, so a larger limit always
    selects a superset. The result is in file order.
    """
    if limit is None or limit >= len(samples):
        return list(samples)
    buckets: dict[str | None, list[list[Sample]]] = {}
    for unit in units_of(samples, unit_key):
        buckets.setdefault(unit[0].subset, []).append(unit)
    queues = list(buckets.values())
    rounds = max((len(queue) for queue in queues), default=0)
    ordered = [queue[i] for i in range(rounds) for queue in queues if i < len(queue)]
    chosen: set[int] = set()
    for unit in ordered:
        if len(chosen) + len(unit) > limit:
            break
        chosen.update(id(sample) for sample in unit)
    return [sample for sample in samples if id(sample) in chosen]
