"""Adversarial instructions: is the answer to a perturbed instruction close to the answer to the original?

Each of the 50 instruction groups (``index``) has an original and 11 perturbations (typos, URLs,
markup...). Every perturbed answer is paired with the original answer of ITS OWN group (TrustLLM
pairs answers to different instructions, defect B2) and scored by the cosine similarity of their
embeddings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trust_core.plugin import (
    MEAN_OVER_VALID,
    Evaluators,
    EvaluatorUnavailable,
    Generation,
    MetricSpec,
    Sample,
    TaskScore,
    all_grouped_metrics,
    as_int,
    base_record,
    cosine,
    empty_reason,
    package_schema,
    repair_item,
    sample_order,
    set_outcome,
    skipped_value,
    stratified_units,
)
from trust_robustness.common import RobustnessTask

ORIGINAL = "original"
PERTURBATIONS = (
    "word_change",
    "letter_change",
    "one_url",
    "detail_url",
    "grammatical error",
    "Misspelling of words (three typos)",
    "Misspelling of words (four typos)",
    "Misspelling of words (five typos)",
    "space in mid of words",
    "latex_markdown",
    "html_others",
)
"""The perturbation types of the archive, in its order."""

METRIC = "mean_cosine"


MINIMUM_SELECTION = 2
"""The fewest samples that hold a pair to score: an original and one of its perturbations."""


def limit_groups(samples: Sequence[Sample], limit: int | None) -> list[Sample]:
    """At most ``limit`` samples, keeping instruction groups whole (original included).

    Whole groups are taken in file order while they fit. When not even the first group fits (a limit
    below the group size, e.g. ``--limit 2``), its original and its first ``limit - 1`` perturbations
    are taken, so a small limit still yields pairs; ``--limit 1`` is rounded up to 2 (the original and one
    perturbation: the smallest selection with a pair to score; the run prints a note). A larger limit
    always selects a superset.
    """
    chosen = stratified_units(samples, limit, lambda sample: int(sample.item["index"]))
    if chosen or not samples or not limit or limit <= 0:
        return chosen
    group = int(samples[0].item["index"])
    members = [s for s in samples if int(s.item["index"]) == group]
    members.sort(key=lambda s: (s.item["type"] != ORIGINAL, sample_order(s.id)))
    kept = {id(s) for s in members[: max(limit, MINIMUM_SELECTION)]}
    return [sample for sample in samples if id(sample) in kept]


def mean_cosine_specs() -> tuple[MetricSpec, ...]:
    """``mean_cosine`` over all pairs (subset null) first, then per perturbation type: the mean cosine over the
    valid pairs (an invalid pair's outcome is null: left out, counted in ``n_invalid`` under its reason). Each
    pair's outcome sits on its perturbed record; the interval resamples instruction groups (``group``: pairs
    sharing an original answer move together). Skipped when the run has no embedder."""
    common: dict[str, Any] = {"cluster": "group", "extra_of": lambda _: {"unit": "pairs"}}
    return (
        MetricSpec(METRIC, MEAN_OVER_VALID, True, per_subset=False, overall="pooled", **common),
        MetricSpec(METRIC, MEAN_OVER_VALID, True, canonical_subsets=PERTURBATIONS, **common),
    )


class AdversarialInstruction(RobustnessTask):
    """Stability of open-ended answers under perturbed instructions, by embedding similarity."""

    id = "robustness/adversarial_instruction"
    description = "AdvInstruction: cosine similarity of each perturbed answer to its own group's original answer."
    aliases = ("adversarial_instruction", "advinstruction", "AdvInstruction")
    data_file = "robustness/AdvInstruction.json"
    item_schema = package_schema("trust_robustness", "AdvInstruction.schema.json")
    temperature = 1.0
    needs = frozenset({"embedder"})

    def normalize(self, item: Mapping[str, Any]) -> Mapping[str, Any]:
        """Control characters dropped; an ``index`` given as a string or integral float becomes an int."""
        repaired = repair_item(item)
        if "index" in repaired:
            repaired["index"] = as_int(repaired["index"])
        if isinstance(repaired.get("type"), str):
            repaired["type"] = repaired["type"].strip()
        return repaired

    def to_sample(self, index: int, item: Mapping[str, Any]) -> Sample:
        """Sample id = file index; subset = the perturbation type (``original`` for the originals)."""
        return Sample(id=str(index), item=item, subset=str(item["type"]))

    def limit(self, samples: Sequence[Sample], limit: int | None) -> list[Sample]:
        """At most ``limit`` samples, whole groups (see :func:`limit_groups`)."""
        return limit_groups(samples, limit)

    def metric_specs(self) -> tuple[MetricSpec, ...]:
        """``mean_cosine`` over all pairs, then per perturbation type (see :func:`mean_cosine_specs`)."""
        return mean_cosine_specs()

    def score(self, generations: Sequence[Generation], evaluators: Evaluators, seed: int) -> TaskScore:
        """``mean_cosine`` over all pairs (↑) and per perturbation type (↑)."""
        records = [self._record(generation) for generation in generations]
        pairs = pair_with_originals(records)
        perturbed = [record for record in records if record["role"] != ORIGINAL]
        try:
            embed_pairs(records, pairs, evaluators)
        except EvaluatorUnavailable as exc:
            for record in records:
                record["embedding_skipped"] = exc.reason
            for record in perturbed:  # the core's skip marker; an invalid pair keeps its reason
                reason = record.get("invalid_reason") if record.get("invalid") else None
                set_outcome(record, METRIC, skipped_value(exc.reason), reason)
        else:
            for record in perturbed:
                set_outcome(record, METRIC, record["cosine"], record.get("invalid_reason"))
        return TaskScore(metrics=all_grouped_metrics(self.id, records, self.metric_specs()), records=records)

    @staticmethod
    def _record(generation: Generation) -> dict[str, Any]:
        item = generation.sample.item
        record = base_record(generation)
        reason = empty_reason(generation.text)
        role = ORIGINAL if item["type"] == ORIGINAL else "perturbed"
        record.update(group=int(item["index"]), role=role, cosine=None, invalid=reason is not None)
        if reason:
            record["invalid_reason"] = reason
        return record


def pair_with_originals(records: Sequence[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(perturbed, original) record pairs within each group; perturbed records that cannot pair are marked invalid.

    A perturbed answer is invalid when its own generation failed, when its group has no original
    (``missing_original``) or several (``ambiguous_original``), or when the original's generation
    failed (``original_generation_failed`` / ``original_empty_response``).
    """
    originals: dict[int, list[dict[str, Any]]] = {}
    for record in records:
        if record["role"] == ORIGINAL:
            originals.setdefault(record["group"], []).append(record)
    pairs = []
    for record in records:
        if record["role"] == ORIGINAL:
            continue
        found = originals.get(record["group"], [])
        if len(found) == 1:
            record["original_id"] = found[0]["sample_id"]
        if record["invalid"]:
            continue
        reason = None
        if len(found) != 1:
            reason = "missing_original" if not found else "ambiguous_original"
        elif found[0]["invalid"]:
            reason = f"original_{found[0]['invalid_reason']}"
        if reason:
            record.update(invalid=True, invalid_reason=reason)
        else:
            pairs.append((record, found[0]))
    return pairs


def embed_pairs(
    records: Sequence[dict[str, Any]], pairs: Sequence[tuple[dict[str, Any], dict[str, Any]]], evaluators: Evaluators
) -> None:
    """Embed every answer that takes part in a pair (one call) and set each perturbed record's ``cosine``."""
    by_id = {record["sample_id"]: record for record in records}
    needed = list(
        dict.fromkeys(sid for perturbed, original in pairs for sid in (original["sample_id"], perturbed["sample_id"]))
    )
    if not needed:
        return
    texts = [str(by_id[sid]["response"]) for sid in needed]
    vectors = evaluators.embed(texts)
    if len(vectors) != len(texts):
        raise ValueError(f"the embedder returned {len(vectors)} vectors for {len(texts)} texts")
    vector_of = dict(zip(needed, vectors, strict=True))
    for perturbed, original in pairs:
        perturbed["cosine"] = cosine(vector_of[perturbed["sample_id"]], vector_of[original["sample_id"]])
