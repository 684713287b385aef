"""Measuring sparsity and checking N:M patterns, on a live model or on a saved model folder.

:func:`check_pattern` is public: other code (a report, a test, the core) can call it on any model
folder written by ``save_pretrained`` (safetensors), without loading the model.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

BLOCK_WEIGHT = re.compile(r"(^|\.)layers\.\d+\..+\.weight$")
"""Names of weights inside the transformer blocks (``model.layers.<i>.<...>.weight``)."""


@dataclass(frozen=True)
class PatternCheck:
    """Outcome of :func:`check_pattern`.

    ``ok`` is True when every checked layer satisfies the pattern (and at least one was checked);
    ``failures`` maps a layer name to the number of groups holding more than N non-zeros.
    """

    pattern: str
    ok: bool
    layers_checked: int
    failures: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form for variant details."""
        return {
            "pattern": self.pattern,
            "ok": self.ok,
            "layers_checked": self.layers_checked,
            "failures": dict(self.failures),
        }


def nm_violations(weight: torch.Tensor, n: int, m: int) -> int:
    """Number of groups of ``m`` consecutive inputs of a row that hold more than ``n`` non-zeros.

    A layer whose ``in_features`` is not a multiple of ``m`` counts every row as violating.
    """
    rows, cols = weight.shape
    if cols % m:
        return rows
    nonzero = (weight.detach().reshape(rows, cols // m, m) != 0).sum(dim=2)
    return int((nonzero > n).sum())


def block_linear_weights(source: Any) -> Iterator[tuple[str, torch.Tensor]]:
    """``(name, weight)`` of every 2-D weight inside the transformer blocks.

    ``source`` is a :class:`torch.nn.Module` (its ``nn.Linear`` modules under ``layers.<i>``) or a
    folder of ``*.safetensors`` files (the 2-D tensors named ``...layers.<i>....weight``; norms are
    1-D, so in Llama-style models these are exactly the attention and MLP projections).
    """
    import torch

    if isinstance(source, torch.nn.Module):
        for name, module in source.named_modules():
            if isinstance(module, torch.nn.Linear) and BLOCK_WEIGHT.search(f"{name}.weight"):
                yield name, module.weight
        return
    folder = Path(source)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{folder} holds no .safetensors files")
    from safetensors import safe_open

    for file in files:
        with safe_open(str(file), framework="pt") as handle:
            for key in handle.keys():  # noqa: SIM118 - safe_open handles are not iterable
                if BLOCK_WEIGHT.search(key):
                    tensor = handle.get_tensor(key)
                    if tensor.dim() == 2:
                        yield key.removesuffix(".weight"), tensor


def check_pattern(source: Any, pattern: str | tuple[int, int]) -> PatternCheck:
    """Verify that N:M ``pattern`` holds in EVERY linear layer of the transformer blocks of ``source``.

    ``source`` is a model (``nn.Module``) or a saved model folder (see :func:`block_linear_weights`);
    ``pattern`` is ``"2:4"`` or ``(2, 4)``: at most N non-zeros in every M consecutive input weights.
    """
    from trust_wanda.recipe import parse_pattern

    parsed = parse_pattern(pattern) if isinstance(pattern, str) else tuple(pattern)
    if parsed is None:
        raise ValueError("check_pattern needs an N:M pattern")
    n, m = parsed
    failures: dict[str, int] = {}
    checked = 0
    for name, weight in block_linear_weights(source):
        checked += 1
        bad = nm_violations(weight, n, m)
        if bad:
            failures[name] = bad
    return PatternCheck(pattern=f"{n}:{m}", ok=checked > 0 and not failures, layers_checked=checked, failures=failures)


@dataclass(frozen=True)
class SparsityReport:
    """Zeros over the pruned layers: overall and per layer."""

    overall: float
    zeros: int
    total: int
    per_layer: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        """Plain-dict form for variant details."""
        return {"overall": self.overall, "zeros": self.zeros, "total": self.total, "per_layer": dict(self.per_layer)}


def measure_sparsity(source: Any) -> SparsityReport:
    """Share of exactly-zero weights in the block linear layers of ``source`` (model or folder)."""
    zeros = total = 0
    per_layer: dict[str, float] = {}
    for name, weight in block_linear_weights(source):
        layer_zeros = int((weight.detach() == 0).sum())
        zeros += layer_zeros
        total += weight.numel()
        per_layer[name] = round(layer_zeros / weight.numel(), 6)
    return SparsityReport(overall=zeros / total if total else 0.0, zeros=zeros, total=total, per_layer=per_layer)
