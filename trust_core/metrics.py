"""Metric building blocks: pure functions of per-item outcomes.

How the four scoring modules differ: :mod:`trust_core.task_scoring` turns a task's responses into per-sample records
(what a task writes); :mod:`trust_core.metrics` computes a metric's value, n, n_invalid and interval from per-item
values (the statistics); :mod:`trust_core.evaluators` runs and caches the judges and embedder a task asks while
scoring; :mod:`trust_core.llm_judge` is the one judge that is a prompted model.

Every function takes per-item values (so invalid items stay in the
denominator unless the caller leaves them out on purpose) and returns a
:class:`~trust_core.contracts.MetricValue` with ``n``, ``n_invalid`` and a 95 %
percentile bootstrap interval over items (over groups when ``groups`` pairs
items). The bootstrap seed is fixed (:data:`BOOTSTRAP_SEED`) and recorded in
results, so intervals are reproducible.

Every invalid item comes with the reason it is invalid (an :data:`InvalidReason`,
one of ``trust_core.task_scoring.INVALID_REASONS``); the metric counts them per reason in
``invalid_reasons``, so the counts always sum to ``n_invalid``. A helper given an
invalid item without a reason raises instead of reporting a count it cannot explain.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from trust_core.contracts import MetricValue

BOOTSTRAP_SEED = 20240101
BOOTSTRAP_RESAMPLES = 1000
CONFIDENCE = 0.95

IndexArray = np.ndarray[Any, np.dtype[np.intp]]
"""Item indices of one bootstrap resample (with repeats): what a statistic passed to :func:`bootstrap_ci` gets."""

InvalidReason = str | None
"""Why one item is invalid (a reason of ``trust_core.task_scoring.INVALID_REASONS``), or None for a valid item."""


def reason_counts(reasons: Iterable[InvalidReason], context: str = "metric") -> dict[str, int]:
    """The number of invalid items per reason, by reason name (valid items, None, are not counted).

    Raises TypeError, naming ``context``, for an entry that is neither None nor a non-empty string
    (e.g. a bare ``True`` flag that says an item is invalid but not why).
    """
    counts: Counter[str] = Counter()
    for reason in reasons:
        if reason is None:
            continue
        if not isinstance(reason, str) or not reason:
            raise TypeError(
                f"{context}: an invalid item needs its reason (a non-empty string; None for a valid item), "
                f"got {reason!r}"
            )
        counts[reason] += 1
    return dict(sorted(counts.items()))


def sum_reason_counts(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Per-reason counts added up (e.g. over the parts of a mean), by reason name."""
    total: Counter[str] = Counter()
    for count in counts:
        total.update(count)
    return dict(sorted((reason, n) for reason, n in total.items() if n))


def checked_reasons(
    invalid: Sequence[bool], reasons: Sequence[InvalidReason] | None, context: str
) -> list[InvalidReason]:
    """``reasons`` checked against which items are ``invalid``: an item has a reason exactly when it is invalid.

    ``reasons`` may be None only when no item is invalid. Raises ValueError naming ``context`` otherwise.
    """
    given = [None] * len(invalid) if reasons is None else list(reasons)
    if len(given) != len(invalid):
        raise ValueError(f"{context}: {len(given)} invalid reasons for {len(invalid)} items")
    for index, (flag, reason) in enumerate(zip(invalid, given, strict=True)):
        if flag != (reason is not None):
            state = "is invalid but has no reason" if flag else f"is valid but has the invalid reason {reason!r}"
            raise ValueError(f"{context}: item {index} {state}")
    return list(given)


def bootstrap_ci(
    n_items: int,
    statistic: Callable[[IndexArray], float | None],
    groups: Sequence[Hashable] | None = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float] | None:
    """95 % percentile bootstrap interval of ``statistic(indices)`` over items.

    ``statistic`` receives an array of item indices (with repeats) and returns
    the metric on that resample (or None when undefined there). With ``groups``,
    whole groups are resampled (e.g. the two items of a pair together).
    Returns None for fewer than two items or when no resample is defined.
    """
    if n_items < 2:
        return None
    rng = np.random.default_rng(seed)
    expand = None if groups is None else _group_expander(groups)
    units = n_items if expand is None else expand.units
    if units < 2:
        return None
    values = []
    for picks in _resample_blocks(rng, units, resamples):
        samples = [picks[row] for row in range(len(picks))] if expand is None else expand.rows(picks)
        for sample in samples:
            value = statistic(sample)
            if value is not None and not np.isnan(value):
                values.append(value)
    if not values:
        return None
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(np.array(values), [alpha, 1 - alpha])
    return float(low), float(high)


BLOCK_ELEMENTS = 1 << 20
"""Resampled indices drawn at once (a block of resamples); bounds the bootstrap's memory on large sets."""


def _resample_blocks(rng: np.random.Generator, units: int, resamples: int) -> Iterator[IndexArray]:
    """``resamples`` draws of ``units`` units with replacement, as blocks of rows (the same numbers, in the same
    order, as one ``rng.integers(0, units, size=units)`` per resample)."""
    per_block = max(1, BLOCK_ELEMENTS // units)
    for start in range(0, resamples, per_block):
        yield rng.integers(0, units, size=(min(per_block, resamples - start), units))


class _GroupExpander:
    """Item indices of resampled groups: the members of each picked group, in order (vectorised)."""

    def __init__(self, members: list[list[int]]) -> None:
        self.units = len(members)
        self._flat = np.array([index for group in members for index in group], dtype=np.int64)
        self._lengths = np.array([len(group) for group in members], dtype=np.int64)
        self._starts = np.concatenate(([0], np.cumsum(self._lengths)[:-1])).astype(np.int64)

    def rows(self, picks: IndexArray) -> list[IndexArray]:
        """For each row of picked groups, the item indices of its groups' members, in order."""
        lengths = self._lengths[picks]
        flat_lengths = lengths.ravel()
        ends = np.cumsum(flat_lengths)
        offsets = np.arange(int(ends[-1]) if len(ends) else 0) - np.repeat(ends - flat_lengths, flat_lengths)
        indices = self._flat[np.repeat(self._starts[picks].ravel(), flat_lengths) + offsets]
        return np.split(indices, np.cumsum(lengths.sum(axis=1))[:-1])


def _group_expander(groups: Sequence[Hashable]) -> _GroupExpander:
    """The expander of the groups of items (``groups[i]`` is item i's group), in order of first appearance."""
    by_group: dict[Hashable, list[int]] = {}
    for index, group in enumerate(groups):
        by_group.setdefault(group, []).append(index)
    return _GroupExpander(list(by_group.values()))


def mean_metric(
    task: str,
    metric: str,
    values: Sequence[float | bool],
    invalid: Sequence[InvalidReason],
    higher_is_better: bool | None,
    subset: str | None = None,
    groups: Sequence[Hashable] | None = None,
    **extra: Any,
) -> MetricValue:
    """Mean of per-item ``values`` over all items (invalid items carry the value the caller gave them,
    normally 0 / wrong). ``invalid`` holds, per item, why it is invalid (None: valid). Used for accuracy,
    refusal rates and shares."""
    data = np.asarray(values, dtype=float)
    n = len(data)
    if len(invalid) != n:
        raise ValueError(f"{task} {metric}: {len(invalid)} invalid reasons for {n} items")
    reasons = reason_counts(invalid, f"{task} {metric}")
    value = float(data.mean()) if n else None
    ci = bootstrap_ci(n, lambda idx: float(data[idx].mean()), groups)
    return MetricValue(
        task=task,
        metric=metric,
        value=value,
        higher_is_better=higher_is_better,
        n=n,
        n_invalid=sum(reasons.values()),
        subset=subset,
        ci=ci,
        note=None if n else "no items",
        extra=extra,
        invalid_reasons=reasons,
    )


def mean_over_valid(
    task: str,
    metric: str,
    values: Sequence[float | None],
    higher_is_better: bool | None,
    subset: str | None = None,
    groups: Sequence[Hashable] | None = None,
    *,
    reasons: Sequence[InvalidReason] | None = None,
    **extra: Any,
) -> MetricValue:
    """Mean over the items whose value is not None; ``n`` counts all items, ``n_invalid`` the None ones.

    For statistics where an invalid item has no value to count (a cosine margin,
    a share among valid answers): invalid items are left out of the value and its
    bootstrap interval and reported through ``n_invalid``. Null when no item is valid.
    With ``groups`` (one per item), the interval resamples the valid items' groups whole.
    ``reasons`` (one per item) says why each None value is invalid; it may be left out only when
    no value is None.
    """
    why = checked_reasons([value is None for value in values], reasons, f"{task} {metric}")
    valid = [float(value) for value in values if value is not None]
    valid_groups = None
    if groups is not None:
        valid_groups = [group for value, group in zip(values, groups, strict=True) if value is not None]
    metric_value = mean_metric(
        task, metric, valid, [None] * len(valid), higher_is_better, subset=subset, groups=valid_groups, **extra
    )
    n_invalid = len(values) - len(valid)
    note = metric_value.note
    if values and not valid:
        note = f"no valid items ({n_invalid} invalid)"
    return replace(metric_value, n=len(values), n_invalid=n_invalid, note=note, invalid_reasons=reason_counts(why))


def max_over_valid(
    task: str,
    metric: str,
    values: Sequence[float | None],
    higher_is_better: bool | None,
    *,
    reasons: Sequence[InvalidReason] | None = None,
    **extra: Any,
) -> MetricValue:
    """Maximum over the items whose value is not None; ``n`` counts all items, ``n_invalid`` the None ones
    (``reasons`` as for :func:`mean_over_valid`).

    Null (with a note) when no item is valid; no interval (a maximum is not a mean over items).
    """
    why = checked_reasons([value is None for value in values], reasons, f"{task} {metric}")
    valid = [float(value) for value in values if value is not None]
    n_invalid = len(values) - len(valid)
    note = None if valid else ("no items" if not values else f"no valid items ({n_invalid} invalid)")
    return MetricValue(
        task=task,
        metric=metric,
        value=max(valid) if valid else None,
        higher_is_better=higher_is_better,
        n=len(values),
        n_invalid=n_invalid,
        note=note,
        extra=extra,
        invalid_reasons=reason_counts(why),
    )


def macro_f1(gold: Sequence[str], predicted: Sequence[str | None], labels: Sequence[str]) -> float:
    """Unweighted mean over ``labels`` of each label's F1 (0 where undefined).

    A prediction that is None or outside ``labels`` matches no label: it lowers
    the recall of its gold label and adds no false positive.
    """
    scores = []
    for label in labels:
        true_positive = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p == label)
        predicted_positive = sum(1 for p in predicted if p == label)
        actual_positive = sum(1 for g in gold if g == label)
        precision = true_positive / predicted_positive if predicted_positive else 0.0
        recall = true_positive / actual_positive if actual_positive else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return float(np.mean(scores)) if scores else 0.0


def macro_f1_metric(
    task: str,
    metric: str,
    gold: Sequence[str],
    predicted: Sequence[str | None],
    labels: Sequence[str],
    subset: str | None = None,
    *,
    reasons: Sequence[InvalidReason] | None = None,
    **extra: Any,
) -> MetricValue:
    """Macro-F1 over ``labels`` with invalid predictions (None, or outside ``labels``) kept as misses;
    ``reasons`` (one per item) says why each invalid prediction is invalid."""
    why = checked_reasons([p not in labels for p in predicted], reasons, f"{task} {metric}")
    gold_array = np.asarray(gold, dtype=object)
    predicted_array = np.asarray(predicted, dtype=object)
    n = len(gold_array)

    def statistic(idx: IndexArray) -> float:
        return macro_f1(list(gold_array[idx]), list(predicted_array[idx]), labels)

    return MetricValue(
        task=task,
        metric=metric,
        value=macro_f1(gold, predicted, labels) if n else None,
        higher_is_better=True,
        n=n,
        n_invalid=sum(1 for p in predicted if p not in labels),
        subset=subset,
        ci=bootstrap_ci(n, statistic),
        note=None if n else "no items",
        extra=extra,
        invalid_reasons=reason_counts(why, f"{task} {metric}"),
    )


def per_class_mean_accuracy(gold: Sequence[str], correct: Sequence[bool]) -> float | None:
    """For each gold class, share correct; then the unweighted mean over classes present."""
    by_class: dict[str, list[bool]] = {}
    for label, ok in zip(gold, correct, strict=True):
        by_class.setdefault(label, []).append(bool(ok))
    if not by_class:
        return None
    return float(np.mean([np.mean(values) for values in by_class.values()]))


def mean_of_metrics(
    task: str, metric: str, parts: Sequence[MetricValue], higher_is_better: bool | None, **extra: Any
) -> MetricValue:
    """Unweighted mean of already-computed metrics (e.g. the mean over sources).

    ``n`` and ``n_invalid`` are the sums of the parts; the interval is None
    (a mean of per-subset statistics is not a mean over items). Null when any
    part is null.
    """
    values = [part.value for part in parts]
    defined = bool(values) and all(value is not None for value in values)
    return MetricValue(
        task=task,
        metric=metric,
        value=float(np.mean([float(value) for value in values if value is not None])) if defined else None,
        higher_is_better=higher_is_better,
        n=sum(part.n for part in parts),
        n_invalid=sum(part.n_invalid for part in parts),
        subset=None,
        ci=None,
        note=None if defined else "undefined: a part has no value",
        extra={"of": [part.subset for part in parts], **extra},
        invalid_reasons=sum_reason_counts(part.invalid_reasons for part in parts),
    )


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (0 when either is the zero vector)."""
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    denominator = float(np.linalg.norm(x) * np.linalg.norm(y))
    return float(x @ y / denominator) if denominator else 0.0


def skipped_metric(
    task: str,
    metric: str,
    higher_is_better: bool | None,
    reason: str,
    n: int,
    subset: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> MetricValue:
    """A metric that could not be computed (e.g. no toxicity scorer): value null, ``note`` = ``skipped: reason``.

    ``n`` counts the items it would have covered; ``n_invalid`` is 0 because nothing was judged. ``extra``
    (default: none) can still say which evaluator was missing, e.g. ``{"refusal_judge": None}``.
    """
    return MetricValue(
        task=task,
        metric=metric,
        value=None,
        higher_is_better=higher_is_better,
        n=n,
        n_invalid=0,
        subset=subset,
        note=f"skipped: {reason}",
        extra=dict(extra or {}),
    )
