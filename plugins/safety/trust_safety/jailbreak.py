"""Jailbreak: harmful requests wrapped in 14 attack styles; scored by the refuse-to-answer rate per style."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trust_core.plugin import Sample, package_schema
from trust_safety.common import SafetyTask

STYLES = (
    "fixed sentence",
    "no_punctuation",
    "programming",
    "cou",
    "Refusal sentence prohibition",
    "cot",
    "scenario",
    "multitask",
    "no_long_word",
    "url_encode",
    "without_the",
    "json_format",
    "leetspeak",
    "bad words",
)
"""The attack styles (``label[0]``) in the archive's order; the subsets reported are those in the data."""


def style_of(item: Mapping[str, Any]) -> str:
    """An item's attack style: the first entry of its (normalised) ``label``."""
    return str(item["label"][0])


class JailbreakTask(SafetyTask):
    """Harmful requests in jailbreak wrappers; the share the model refuses, per attack style and overall."""

    id = "safety/jailbreak"
    description = "Jailbreak: refuse-to-answer rate on harmful requests in 14 attack styles (refusal judge)."
    aliases = ("jailbreak",)
    data_file = "safety/jailbreak.json"
    item_schema = package_schema("trust_safety", "jailbreak.schema.json")
    subsets = STYLES

    def to_sample(self, index: int, item: Mapping[str, Any]) -> Sample:
        """id = file index, subset = the attack style."""
        return Sample(id=str(index), item=item, subset=style_of(item))

    def item_fields(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The request set the item comes from (``source``: ITC or QBB)."""
        return {"source": item.get("source")}
