"""Data hygiene: generic repairs of the TrustLLM archive's value quirks (TrustLLM defect B29).

The archive's JSON files have ``NaN`` literals (a missing value), stray control characters in strings
(backspaces where a line break was meant) and numbers written as strings. Task plugins repair their
items with these pure functions in ``Task.normalize``; label repairs that only make sense for one
file stay in the plugin. No function mutates its input.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from typing import Any

CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
"""C0 control characters and DEL, except tab, line feed and carriage return."""

_INTEGER = re.compile(r"\s*-?\d+(?:\.0+)?\s*")


def is_missing(value: Any) -> bool:
    """True for ``None`` and float ``NaN`` (how the archive's ``NaN`` literals parse)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def clean_text(text: str, backspace: str = "") -> str:
    """``text`` with each backspace replaced by ``backspace`` (default: removed) and the other control
    characters removed; tab, line feed and carriage return are kept."""
    if backspace:
        text = text.replace("\b", backspace)
    return CONTROL_CHARACTERS.sub("", text)


def repair_value(value: Any, backspace: str = "") -> Any:
    """A deep copy of a JSON ``value`` with its quirks repaired.

    * A float NaN becomes None (a missing value; the item schema decides whether it was required).
    * Every string is cleaned by :func:`clean_text` (``backspace`` replaces backspaces; default: removed).
    * Mappings become dicts and lists or tuples become lists, with their entries repaired.

    Anything else (numbers, booleans, None) is returned unchanged.
    """
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str):
        return clean_text(value, backspace)
    if isinstance(value, Mapping):
        return {key: repair_value(inner, backspace) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [repair_value(inner, backspace) for inner in value]
    return value


def repair_item(item: Mapping[str, Any], keep: Collection[str] = (), backspace: str = "") -> dict[str, Any]:
    """A new dict with every field of ``item`` repaired by :func:`repair_value`, except the fields named in
    ``keep`` (e.g. an imported response, which must be scored exactly as the model wrote it)."""
    return {key: value if key in keep else repair_value(value, backspace) for key, value in item.items()}


def as_number(value: Any) -> Any:
    """A numeric string ("-1.0", " 2 ") as a float; NaN or infinite as None; anything else unchanged."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def as_int(value: Any) -> Any:
    """An integral float or a string of an integer ("1", " 2 ", "1.0") as an int; anything else unchanged.

    Booleans stay booleans (the schema rejects them).
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(float(value))
    return value
