"""Choosing a subset of samples: ``--limit N`` per subtask, stratified by subset, optionally keeping units
(pairs, groups) of samples whole."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
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


def units_of(samples: Sequence[S], unit_key: Callable[[S], Hashable | None]) -> list[list[S]]:
    """Samples grouped into units by ``unit_key`` (None = a unit of its own), in file order of first member."""
    units: list[list[S]] = []
    by_key: dict[Hashable, list[S]] = {}
    for sample in samples:
        key = unit_key(sample)
        if key is None:
            units.append([sample])
        elif key in by_key:
            by_key[key].append(sample)
        else:
            by_key[key] = [sample]
            units.append(by_key[key])
    return units


def stratified_units(samples: Sequence[S], limit: int | None, unit_key: Callable[[S], Hashable | None]) -> list[S]:
    """At most ``limit`` samples, never splitting a unit of :func:`units_of` (e.g. a pair, a group).

    Units are taken round-robin over the subsets of their first members, in order of first appearance,
    as long as they fit; the first unit that does not fit ends the selection, so a larger limit always
    selects a superset. The result is in file order.
    """
    if limit is None or limit >= len(samples):
        return list(samples)
    buckets: dict[str | None, list[list[S]]] = {}
    for unit in units_of(samples, unit_key):
        buckets.setdefault(unit[0].subset, []).append(unit)
    queues = list(buckets.values())
    rounds = max((len(queue) for queue in queues), default=0)
    ordered = [queue[i] for i in range(rounds) for queue in queues if i < len(queue)]
    chosen: set[int] = set()
    for unit in ordered:
        if len(chosen) + len(unit) > limit:
            break
        chosen.update(id(sample) for sample in unit)
    return [sample for sample in samples if id(sample) in chosen]
