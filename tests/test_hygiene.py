"""trust_core.hygiene: the archive's NaN, control-character and numeric-string quirks (TrustLLM B29)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from trust_core.hygiene import as_int, as_number, clean_text, is_missing, repair_item, repair_value


@pytest.mark.parametrize(("value", "missing"), [(None, True), (math.nan, True), (0.0, False), ("", False), ([], False)])
def test_is_missing(value: Any, missing: bool) -> None:
    assert is_missing(value) is missing


def test_clean_text_removes_control_characters_but_keeps_layout() -> None:
    assert clean_text("Ho\bw\x00 ki\x7fll\x1b\n\tOK\r") == "How kill\n\tOK\r"
    assert clean_text("A.\bB.", backspace="\n") == "A.\nB."


def test_repair_value_is_deep_and_never_mutates_its_input() -> None:
    item = {"prompt": "a\bb", "label": math.nan, "options": ["x\x00", {"y": math.nan}], "pair": ("z\x7f",), "n": 2}
    assert repair_value(item) == {"prompt": "ab", "label": None, "options": ["x", {"y": None}], "pair": ["z"], "n": 2}
    assert repair_value(item, backspace="\n")["prompt"] == "a\nb"
    assert item["prompt"] == "a\bb" and math.isnan(item["label"])
    assert repair_value(math.nan) is None and repair_value(True) is True


def test_repair_item_keeps_the_named_fields_as_they_are() -> None:
    item = {"prompt": "p\b", "res": "r\b", "label": math.nan}
    assert repair_item(item, keep=("res",)) == {"prompt": "p", "res": "r\b", "label": None}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("-1.0", -1.0), (" 2 ", 2.0), ("x", "x"), (math.nan, None), ("inf", None), (3, 3), (None, None)],
)
def test_as_number(value: Any, expected: Any) -> None:
    assert as_number(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", 1), (" 2 ", 2), ("1.0", 1), ("-3", -3), (2.0, 2), (2.5, 2.5), ("1.5", "1.5"), (True, True), ("a", "a")],
)
def test_as_int(value: Any, expected: Any) -> None:
    result = as_int(value)
    assert result == expected and type(result) is type(expected)
