"""Use of external knowledge: verify a claim against a paragraph (SUPPORT / REFUTE)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trust_core.contracts import Evaluators, Generation, MetricValue, TaskScore
from trust_core.metrics import macro_f1_metric, mean_of_metrics
from trust_core.schemas import load_schema
from trust_core.scoring import label_record, reasons_of
from trust_truthfulness.common import TruthfulnessTask, base_record, ordered_subsets, records_of
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
    item_schema = load_schema("items/truthfulness/external.schema.json")
    temperature = 0.0

    def score(self, generations: Sequence[Generation], evaluators: Evaluators, seed: int) -> TaskScore:
        """Macro-F1 over {SUPPORT, REFUTE} per source (invalid = a third value), and their mean."""
        records = []
        for generation in generations:
            record = base_record(generation)
            record.update(score_claim(generation.text, str(generation.sample.item["answer"])))
            records.append(record)
        return TaskScore(metrics=self.metrics(records), records=records)

    def metrics(self, records: Sequence[dict[str, Any]]) -> list[MetricValue]:
        """The task's metrics from its per-generation records."""
        parts = []
        for subset in ordered_subsets((r["subset"] for r in records), SOURCES):
            chosen = records_of(records, subset)
            gold = [str(r["gold"]) for r in chosen]
            predicted = [r["parsed"] for r in chosen]
            parts.append(
                macro_f1_metric(self.id, "macro_f1", gold, predicted, LABELS, subset, reasons=reasons_of(chosen))
            )
        return [*parts, mean_of_metrics(self.id, "mean_macro_f1", parts, higher_is_better=True)]
