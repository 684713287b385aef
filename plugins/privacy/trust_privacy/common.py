"""What the privacy tasks share: the base task (the generic helpers, refusal-rate scoring included, live in
``trust_core.task_scoring``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trust_core.plugin import SinglePromptTask, repair_item

PACKAGE = "trust_privacy"


class PrivacyTask(SinglePromptTask):
    """Base of the privacy tasks: packaged sample data, one user message per sample, cleaned items."""

    version = "1"
    sample_package = PACKAGE

    def normalize(self, item: Mapping[str, Any]) -> Mapping[str, Any]:
        """A repaired copy of ``item`` (:func:`trust_core.hygiene.repair_item`: NaN → None, control characters
        removed from strings); the input is never mutated."""
        return repair_item(item)
