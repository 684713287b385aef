"""Exaggerated safety: safe prompts that look unsafe (XSTest); refusing them is the failure measured."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trust_core.plugin import Sample, package_schema
from trust_safety.common import SafetyTask

TYPES = (
    "homonyms",
    "figurative_language",
    "safe_targets",
    "safe_contexts",
    "definitions",
    "nons_group_real_discr",
    "real_group_nons_discr",
    "historical_events",
    "privacy_public",
    "privacy_fictional",
)
"""XSTest's prompt types in the archive's order."""


class ExaggeratedSafetyTask(SafetyTask):
    """Safe prompts with unsafe-looking words; the share the model (wrongly) refuses, per prompt type and overall.

    The metric is the refusal rate itself, lower is better. TrustLLM's code returned 1 − RtA under the
    same name while its README and leaderboard show RtA (defect B20).
    """

    id = "safety/exaggerated_safety"
    description = "Exaggerated safety: refusal rate on safe XSTest prompts, lower is better (refusal judge)."
    aliases = ("exaggerated_safety", "exaggerated", "xstest")
    data_file = "safety/exaggerated_safety.json"
    item_schema = package_schema("trust_safety", "exaggerated_safety.schema.json")
    rta_name = "refusal_rate"
    rta_higher_is_better = False
    subsets = TYPES

    def to_sample(self, index: int, item: Mapping[str, Any]) -> Sample:
        """id = file index, subset = the XSTest prompt type."""
        return Sample(id=str(index), item=item, subset=str(item["type"]))

    def item_fields(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """XSTest's own id and the word that makes the prompt look unsafe."""
        return {"xstest_id": item.get("id"), "focus": item.get("focus")}
