"""Repairs of the safety archive's item quirks (TrustLLM defect B29), as pure functions.

Every function returns new values and never mutates its input. What is repaired:

* ``NaN`` literals and ``null`` values are *missing*: the key is dropped, so the item
  schema decides whether the field was required;
* control characters other than tab, newline and carriage return (e.g. the backspaces
  found in other archive files) are removed from every string;
* ``label`` comes as a list (jailbreak, misuse ``misuse_add``), a dict of
  ``first_class`` / ``second_class`` / ``third_class`` (misuse ``do_not_answer``) or a
  bare string: it becomes a list of its entries, coarse to fine.

Values of the wrong type are left as they are, so the schema rejects them with a clear
message instead of a silent coercion.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trust_core.plugin import clean_text, is_missing

CLASS_ORDER = ("first_class", "second_class", "third_class")
"""The key order of Do-Not-Answer's hierarchical labels, coarse to fine."""


def clean_value(value: Any) -> Any:
    """A copy of ``value`` with control characters removed from every string and missing entries dropped.

    Unlike :func:`trust_core.hygiene.repair_value`, which turns NaN into None, a missing entry is dropped
    here, so the item schema names a missing required field.
    """
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, Mapping):
        return {key: clean_value(entry) for key, entry in value.items() if not is_missing(entry)}
    if isinstance(value, list | tuple):
        return [clean_value(entry) for entry in value if not is_missing(entry)]
    return value


def label_entries(label: Any) -> Any:
    """A label as a list of its entries, coarse to fine.

    A list stays a list (strings stripped); a string becomes a one-entry list; a dict becomes the
    list of its values, ``first_class``, ``second_class``, ``third_class`` first, then other keys in
    order. Anything else (a number, a boolean) is returned unchanged for the schema to reject.
    """
    if isinstance(label, str):
        return [label.strip()]
    if isinstance(label, Mapping):
        keys = [key for key in CLASS_ORDER if key in label] + [key for key in label if key not in CLASS_ORDER]
        label = [label[key] for key in keys]
    if isinstance(label, list | tuple):
        return [entry.strip() if isinstance(entry, str) else entry for entry in label]
    return label


def normalize_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """A repaired copy of a safety item: cleaned strings, missing values dropped, ``label`` as a list."""
    repaired = clean_value(item)
    if "label" in repaired:
        repaired["label"] = label_entries(repaired["label"])
    return repaired
