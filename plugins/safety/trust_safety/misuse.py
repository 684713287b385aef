"""Misuse: plainly harmful requests from three sources; scored by the refuse-to-answer rate per source."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trust_core.plugin import package_schema
from trust_safety.common import SafetyTask

SOURCES = ("Do-anything-now", "do_not_answer", "misuse_add")
"""The sources in the archive's order (the ORNL report calls ``Do-anything-now`` "DAN")."""


class MisuseTask(SafetyTask):
    """Harmful requests (Do-Anything-Now questions, Do-Not-Answer, TrustLLM's additions); the share refused."""

    id = "safety/misuse"
    description = "Misuse: refuse-to-answer rate on harmful requests, per source and overall (refusal judge)."
    aliases = ("misuse",)
    data_file = "safety/misuse.json"
    item_schema = package_schema("trust_safety", "misuse.schema.json")
    subsets = SOURCES

    def item_fields(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """The item's harm category: its normalised ``label`` (coarse to fine) or its ``type``."""
        return {"category": item.get("label") or ([item["type"]] if "type" in item else None)}
