"""What the truthfulness tasks share: the base task (the generic helpers live in ``trust_core.scoring``)."""

from __future__ import annotations

from trust_core.scoring import (
    SinglePromptTask,
    accuracy_metric,
    base_record,
    empty_reason,
    mark_invalid,
    ordered_subsets,
    records_of,
    sample_order,
    user_prompt,
    verdict_label,
    verdict_record,
)

PACKAGE = "trust_truthfulness"

__all__ = [
    "PACKAGE",
    "TruthfulnessTask",
    "accuracy_metric",
    "base_record",
    "empty_reason",
    "mark_invalid",
    "ordered_subsets",
    "records_of",
    "sample_order",
    "user_prompt",
    "verdict_label",
    "verdict_record",
]


class TruthfulnessTask(SinglePromptTask):
    """Base of the truthfulness tasks: packaged sample data, one user message per sample."""

    version = "1"
    sample_package = PACKAGE
