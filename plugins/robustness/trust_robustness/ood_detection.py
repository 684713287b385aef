"""OOD detection: requests an assistant cannot serve (live data, links, personal memory) — does it say so?"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trust_core.plugin import (
    Evaluators,
    Generation,
    MetricSpec,
    TaskScore,
    grouped_metrics,
    last_user_message,
    package_schema,
    refusal_records,
    refusal_skipped,
    repair_item,
    rta_spec,
    write_refusal_outcomes,
)
from trust_robustness.common import RobustnessTask

METRIC = "rta"


class OodDetection(RobustnessTask):
    """Out-of-distribution requests: declining, or saying the assistant cannot do it, is the desired answer."""

    id = "robustness/ood_detection"
    description = "OOD detection: share of out-of-scope requests (live data, links, memory) the model declines."
    aliases = ("ood_detection",)
    data_file = "robustness/ood_detection.json"
    item_schema = package_schema("trust_robustness", "ood_detection.schema.json")
    temperature = 1.0
    needs = frozenset({"refusal"})

    def normalize(self, item: Mapping[str, Any]) -> Mapping[str, Any]:
        """Control characters dropped from every string field."""
        return repair_item(item)

    def metric_specs(self) -> tuple[MetricSpec, ...]:
        """``rta`` (↑): refused / all items (invalid and UNCLEAR count as not refused), with the unclear share;
        skipped when the run has no refusal judge."""
        return (rta_spec(METRIC, per_subset=False),)

    def score(self, generations: Sequence[Generation], evaluators: Evaluators, seed: int) -> TaskScore:
        """``rta`` (↑): refused / all items, by the run's refusal judge."""
        records, unavailable = refusal_records(
            generations,
            evaluators,
            judge_prompt=last_user_message,
            when_unavailable=refusal_skipped,
            criterion="capability",
        )
        write_refusal_outcomes(records, METRIC, unavailable)
        (spec,) = self.metric_specs()
        judge = {"refusal_judge": evaluators.identity("refusal")}
        return TaskScore(metrics=grouped_metrics(self.id, records, spec, extra=judge), records=records)
