"""Use of external knowledge: verify a claim against a paragraph (SUPPORT / REFUTE)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trust_core.plugin import (
    Evaluators,
    Generation,
    MetricSpec,
    MetricValue,
    TaskScore,
    all_grouped_metrics,
    label_record,
    macro_f1,
    package_schema,
    set_outcome,
)
from trust_truthfulness.common import TruthfulnessTask, base_record
from trust_truthfulness.parsing import REFUTE, SUPPORT, parse_support_refute_result

SOURCES = ("climate", "healthver", "covid", "scifact")
LABELS = (SUPPORT, REFUTE)


def score_claim(response: str | None, gold: str) -> dict[str, Any]:
    """Parse a fact-check answer; an invalid answer (no single label) is wrong, with its ``invalid_reason``."""
    return label_record(parse_support_refute_result(response), gold)


class UseExternalKnowledge(TruthfulnessTask):
    """Claim verification from a given paragraph, scored by macro-F1 per source."""

    id = "truthfulness/use_external_knowledge"
    description = "External knowledge: SUPPORT/REFUTE verdicts on claims given evidence, macro-F1 per source."
    aliases = ("use_external_knowledge", "external")
    data_file = "truthfulness/external.json"
    item_schema = package_schema("trust_truthfulness", "external.schema.json")
    temperature = 0.0

    def score(self, generations: Sequence[Generation], evaluators: Evaluators, seed: int) -> TaskScore:
        """Macro-F1 over {SUPPORT, REFUTE} per source (invalid = a third value), and their mean."""
        records = []
        for generation in generations:
            record = base_record(generation)
            record.update(score_claim(generation.text, str(generation.sample.item["answer"])))
            records.append(record)
        return TaskScore(metrics=self.metrics(records), records=records)

    def metric_specs(self) -> tuple[MetricSpec, ...]:
        """Macro-F1 over {SUPPORT, REFUTE} per source and their unweighted mean."""
        return (
            MetricSpec(
                "macro_f1",
                macro_f1(LABELS),
                True,
                overall="mean_of_subsets",
                overall_name="mean_macro_f1",
                canonical_subsets=SOURCES,
            ),
        )

    def metrics(self, records: Sequence[dict[str, Any]]) -> list[MetricValue]:
        """The task's metrics from its per-generation records (their outcomes, [gold, parsed], written here)."""
        for record in records:
            reason = record.get("invalid_reason") if record["invalid"] else None
            set_outcome(record, "macro_f1", [str(record["gold"]), record["parsed"]], reason)
        return all_grouped_metrics(self.id, records, self.metric_specs())
