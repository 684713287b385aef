"""Choosing a subset of samples: ``--limit N`` per subtask, stratified by subset."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from trust_core.contracts import Sample

S = TypeVar("S", bound=Sample)


def stratified(samples: Sequence[S], limit: int | None) -> list[S]:
    """At most ``limit`` samples, taken round-robin over subsets in order of first appearance.

    Within a subset the file order is kept, so the same limit always selects the
    same items and a larger limit selects a superset. The result is in file order.
    """
    if limit is None or limit >= len(samples):
        return list(samples)
    buckets: dict[str | None, list[S]] = {}
    for sample in samples:
        buckets.setdefault(sample.subset, []).append(sample)
    chosen: set[int] = set()
    queues = [list(bucket) for bucket in buckets.values()]
    position = 0
    while len(chosen) < limit:
        progressed = False
        for queue in queues:
            if position < len(queue) and len(chosen) < limit:
                chosen.add(id(queue[position]))
                progressed = True
        if not progressed:
            break
        position += 1
    return [sample for sample in samples if id(sample) in chosen]
