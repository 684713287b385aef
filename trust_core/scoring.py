"""Helpers task plugins share: single-message prompts, per-sample records, invalid marking,
verdict records, subset ordering and the accuracy metric.

A record is one JSON-serialisable dict per generation; ``correct`` and ``invalid``
are the flags accuracy-type metrics read (an invalid record is wrong and stays in
the denominator).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from trust_core.contracts import Generation, MetricValue, Prompt, Sample, Task, Verdict
from trust_core.metrics import mean_metric


class SinglePromptTask(Task):
    """A task whose prompt is the item's ``prompt`` as one user message, at the task temperature."""

    def prompts(self, samples: Sequence[Sample], seed: int) -> list[Prompt]:
        """One user message per sample."""
        return [user_prompt(sample, str(sample.item["prompt"]), self.temperature) for sample in samples]


def user_prompt(sample: Sample, text: str, temperature: float, meta: Mapping[str, Any] | None = None) -> Prompt:
    """A single-turn chat asking ``text`` for ``sample``."""
    return Prompt(
        sample_id=sample.id,
        messages=({"role": "user", "content": text},),
        temperature=temperature,
        meta=dict(meta or {}),
    )


def is_empty(text: str | None) -> bool:
    """True when a generation failed (``None``) or is blank."""
    return text is None or not text.strip()


def base_record(generation: Generation) -> dict[str, Any]:
    """The fields every per-generation record starts with."""
    record: dict[str, Any] = {
        "sample_id": generation.sample.id,
        "subset": generation.sample.subset,
        "response": generation.text,
    }
    if generation.prompt.variant:
        record["variant"] = generation.prompt.variant
    if generation.error:
        record["generation_error"] = generation.error
    return record


def empty_reason(text: str | None) -> str | None:
    """Why a response cannot be scored at all: ``generation_failed`` (None), ``empty_response`` (blank)."""
    if text is None:
        return "generation_failed"
    return "empty_response" if is_empty(text) else None


def mark_invalid(record: dict[str, Any], reason: str) -> dict[str, Any]:
    """Flag ``record`` as invalid (and so wrong) for ``reason``."""
    record.update(correct=False, invalid=True, invalid_reason=reason)
    return record


def verdict_record(verdict: Verdict) -> dict[str, Any]:
    """A verdict as plain JSON."""
    record: dict[str, Any] = {"label": verdict.label, "raw": verdict.raw, "error": verdict.error}
    if verdict.score is not None:
        record["score"] = verdict.score
    return record


def verdict_label(verdict: Verdict, labels: Sequence[str]) -> str | None:
    """The verdict's label when it is one of ``labels``; None for a failed or off-list verdict."""
    return verdict.label if verdict.label in labels else None


def ordered_subsets(present: Iterable[str | None], canonical: Sequence[str]) -> list[str]:
    """The subsets in ``present``: canonical ones first in canonical order, then others as they appear."""
    seen = [subset for subset in dict.fromkeys(present) if subset is not None]
    return [s for s in canonical if s in seen] + [s for s in seen if s not in canonical]


def sample_order(sample_id: str) -> tuple[int, int, str]:
    """Sort key for sample ids: numeric ids (file indices) numerically, others after, as strings."""
    return (0, int(sample_id), "") if sample_id.isdigit() else (1, 0, sample_id)


def records_of(records: Sequence[Mapping[str, Any]], subset: str) -> list[Mapping[str, Any]]:
    """The records of one subset."""
    return [record for record in records if record["subset"] == subset]


def accuracy_metric(
    task: str, records: Sequence[Mapping[str, Any]], subset: str | None, metric: str = "accuracy"
) -> MetricValue:
    """Share of ``records`` that are correct; invalid records stay in the denominator as wrong."""
    return mean_metric(
        task,
        metric,
        [bool(r["correct"]) for r in records],
        [bool(r["invalid"]) for r in records],
        higher_is_better=True,
        subset=subset,
    )
