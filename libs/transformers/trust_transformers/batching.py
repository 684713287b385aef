"""Pure helpers for batched generation: grouping, ordering, seeds."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from trust_core.plugin import ChatRequest


@dataclass(frozen=True)
class Prepared:
    """A request with its prompt tokens."""

    request: ChatRequest
    input_ids: tuple[int, ...]


def plan_batches(items: Sequence[Prepared], batch_size: int) -> Iterator[list[Prepared]]:
    """Batches of at most ``batch_size`` items sharing (temperature, max_new_tokens), sorted by prompt length.

    Groups come in order of (temperature, max_new_tokens); within a group, shorter prompts
    come first (ties keep request order), so each batch pads as little as possible.
    """
    size = max(1, int(batch_size))
    groups: dict[tuple[float, int], list[tuple[int, Prepared]]] = {}
    for index, item in enumerate(items):
        settings = item.request.settings
        groups.setdefault((settings.temperature, settings.max_new_tokens), []).append((index, item))
    for key in sorted(groups):
        ordered = [item for _, item in sorted(groups[key], key=lambda pair: (len(pair[1].input_ids), pair[0]))]
        for start in range(0, len(ordered), size):
            yield ordered[start : start + size]


def batch_seed(seeds: Sequence[int]) -> int:
    """A torch seed (below 2**63) determined by the set of the batch's request seeds, not their order."""
    text = ",".join(str(seed) for seed in sorted(seeds))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def left_pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[list[list[int]], list[list[int]]]:
    """Left-pad token rows to the longest; return (input_ids, attention_mask)."""
    width = max(len(row) for row in rows)
    ids = [[pad_id] * (width - len(row)) + list(row) for row in rows]
    mask = [[0] * (width - len(row)) + [1] * len(row) for row in rows]
    return ids, mask


def completion_length(tokens: Sequence[int], stop_ids: frozenset[int]) -> int:
    """How many tokens precede the first stop token (all of them when there is none)."""
    for position, token in enumerate(tokens):
        if token in stop_ids:
            return position
    return len(tokens)
