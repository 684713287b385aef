"""Layer-by-layer pruning of a transformers causal LM.

Wanda and SparseGPT prune one transformer block at a time, as both papers do: the calibration
activations entering block ``i`` are the outputs of the already-pruned blocks ``0..i-1``. For each
block, forward hooks on its linear layers gather the statistics a rule needs (per-input squared
norms for Wanda, the Hessian ``XᵀX`` for SparseGPT) over all calibration sequences, every linear
of the block is pruned, and the block is run again to produce the next block's inputs.

Only ``nn.Linear`` modules inside the transformer blocks are pruned (attention q/k/v/o and the MLP
projections); embeddings, norms and ``lm_head`` are left dense.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trust_core.plugin import UserError, progress
from trust_wanda.algorithms import magnitude_scores, score_mask, sparsegpt_prune, wanda_scores
from trust_wanda.recipe import PruneRecipe

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

METHODS = ("magnitude", "wanda", "sparsegpt")
FORWARD_BATCH = 4
"""Calibration sequences per forward pass."""


class _StopForward(Exception):  # noqa: N818 - control flow, not an error
    """Raised by the capture hook on the first block to stop the model's forward pass."""


def find_blocks(model: torch.nn.Module) -> torch.nn.ModuleList:
    """The ``nn.ModuleList`` of transformer blocks (``model.model.layers`` in Llama-style models)."""
    import torch

    expected = getattr(getattr(model, "config", None), "num_hidden_layers", None)
    candidates = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.ModuleList) and len(module) > 0 and name.split(".")[-1] in ("layers", "h")
    ]
    for _, module in candidates:
        if expected is None or len(module) == expected:
            return module
    raise UserError(f"cannot find the transformer blocks of {type(model).__name__} (no 'layers' module list)")


def block_linears(block: torch.nn.Module) -> dict[str, torch.nn.Linear]:
    """Every ``nn.Linear`` of one block, by name within the block."""
    import torch

    return {name: module for name, module in block.named_modules() if isinstance(module, torch.nn.Linear)}


def check_divisible(model: torch.nn.Module, pattern: tuple[int, int] | None) -> None:
    """Raise UserError when an N:M pattern cannot tile some pruned layer's input dimension."""
    if pattern is None:
        return
    for i, block in enumerate(find_blocks(model)):
        for name, linear in block_linears(block).items():
            if linear.in_features % pattern[1]:
                raise UserError(
                    f"pattern {pattern[0]}:{pattern[1]}: layer {i}.{name} has {linear.in_features} inputs, "
                    f"not a multiple of {pattern[1]}"
                )


@dataclass
class _Calibrated:
    """Block inputs for every calibration batch, with the keyword arguments the model passed."""

    hidden: list[torch.Tensor]
    kwargs: list[dict[str, Any]]


def capture_block_inputs(model: torch.nn.Module, input_ids: torch.Tensor) -> _Calibrated:
    """Run the model up to its first block on each batch of ``input_ids`` and keep what enters it."""
    import torch

    first = find_blocks(model)[0]
    captured = _Calibrated([], [])

    def hook(_module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        hidden = args[0] if args else kwargs.pop("hidden_states")
        kwargs = {key: value for key, value in kwargs.items() if key != "hidden_states"}
        kwargs["use_cache"] = False
        for key in ("cache", "past_key_values", "past_key_value"):
            if key in kwargs:
                kwargs[key] = None
        captured.hidden.append(hidden.detach())
        captured.kwargs.append(kwargs)
        raise _StopForward

    handle = first.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        with torch.no_grad():
            for start in range(0, input_ids.shape[0], FORWARD_BATCH):
                batch = input_ids[start : start + FORWARD_BATCH]
                with contextlib.suppress(_StopForward):
                    model(input_ids=batch, use_cache=False)
    finally:
        handle.remove()
    return captured


def _block_output(output: Any) -> torch.Tensor:
    return output[0] if isinstance(output, (tuple, list)) else output


class _InputNorms:
    """Accumulates ``Σ x_j²`` per input feature; :meth:`norms` gives ``‖X_j‖₂``."""

    def __init__(self, features: int) -> None:
        import torch

        self.sum_sq = torch.zeros(features, dtype=torch.float64)
        self.tokens = 0

    def add(self, x: torch.Tensor) -> None:
        flat = x.detach().reshape(-1, x.shape[-1]).double()
        self.sum_sq += (flat * flat).sum(dim=0)
        self.tokens += flat.shape[0]

    def norms(self) -> torch.Tensor:
        return self.sum_sq.sqrt().float()


class _Hessian:
    """Accumulates ``Σ x xᵀ``; :meth:`value` gives ``H = (2 / tokens) Σ x xᵀ`` (SparseGPT's scaling)."""

    def __init__(self, features: int) -> None:
        import torch

        self.sum = torch.zeros(features, features, dtype=torch.float32)
        self.tokens = 0

    def add(self, x: torch.Tensor) -> None:
        flat = x.detach().reshape(-1, x.shape[-1]).float()
        self.sum += flat.T @ flat
        self.tokens += flat.shape[0]

    def value(self) -> torch.Tensor:
        return self.sum * (2.0 / max(1, self.tokens))


def _collect(block: torch.nn.Module, calibrated: _Calibrated, make: Callable[[int], Any]) -> list[tuple[Any, Any]]:
    """Run ``block`` on every calibration batch with hooks feeding each linear's input to an accumulator
    made by ``make(in_features)``; returns ``(linear, accumulator)`` pairs.

    Linears that read the very same tensor (q/k/v, gate/up) share one accumulator, so ``XᵀX`` is computed
    once: sharing is decided on the first batch by the identity of the input tensor.
    """
    linears = block_linears(block)
    accumulators: dict[str, Any] = {}
    first_inputs: list[tuple[torch.Tensor, Any]] = []  # holding the tensors keeps their ids unique
    last_added: dict[int, torch.Tensor] = {}

    def make_hook(name: str, linear: torch.nn.Linear) -> Callable[..., None]:
        def hook(_module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], _output: Any) -> None:
            x = inputs[0]
            accumulator = accumulators.get(name)
            if accumulator is None:
                accumulator = next((acc for tensor, acc in first_inputs if tensor is x), None)
                if accumulator is None:
                    accumulator = make(linear.in_features)
                    first_inputs.append((x, accumulator))
                accumulators[name] = accumulator
            if last_added.get(id(accumulator)) is not x:  # a shared accumulator sees each tensor once
                accumulator.add(x)
                last_added[id(accumulator)] = x

        return hook

    handles = [linear.register_forward_hook(make_hook(name, linear)) for name, linear in linears.items()]
    try:
        _run_block(block, calibrated)
    finally:
        for handle in handles:
            handle.remove()
    first_inputs.clear()
    last_added.clear()
    missing = sorted(set(linears) - set(accumulators))
    if missing:
        raise RuntimeError(f"linear layers {', '.join(missing)} saw no calibration input")
    return [(linear, accumulators[name]) for name, linear in linears.items()]


def _run_block(block: torch.nn.Module, calibrated: _Calibrated) -> list[torch.Tensor]:
    import torch

    outputs = []
    with torch.no_grad():
        for hidden, kwargs in zip(calibrated.hidden, calibrated.kwargs, strict=True):
            outputs.append(_block_output(block(hidden, **kwargs)).detach())
    return outputs


def prune_magnitude(model: torch.nn.Module, recipe: PruneRecipe) -> int:
    """Prune every block linear by ``|W|``; no calibration. Returns the number of layers pruned."""
    import torch

    count = 0
    blocks = find_blocks(model)
    with torch.no_grad(), progress(len(blocks), "magnitude: pruning", unit="block") as bar:
        for block in blocks:
            for linear in block_linears(block).values():
                mask = score_mask(magnitude_scores(linear.weight), recipe.sparsity, recipe.pattern, recipe.comparison)
                linear.weight[mask] = 0
                count += 1
            bar.update(1)
    return count


def prune_layerwise(model: torch.nn.Module, method: str, recipe: PruneRecipe, input_ids: torch.Tensor) -> int:
    """Prune block by block with ``method`` ("wanda" or "sparsegpt") on calibration ``input_ids``
    (``(samples, seq_len)``), propagating activations through the pruned blocks. Returns layers pruned."""
    import torch

    if method not in ("wanda", "sparsegpt"):
        raise ValueError(f"unknown layer-wise method {method!r}")
    calibrated = capture_block_inputs(model, input_ids)
    blocks = find_blocks(model)
    count = 0
    bar = progress(len(blocks), f"{method}: pruning", unit="block")
    for index, block in enumerate(blocks):
        make = _InputNorms if method == "wanda" else _Hessian
        stats = _collect(block, calibrated, make)
        with torch.no_grad():
            for linear, accumulator in stats:
                if method == "wanda":
                    scores = wanda_scores(linear.weight, accumulator.norms())
                    mask = score_mask(scores, recipe.sparsity, recipe.pattern, recipe.comparison)
                    linear.weight[mask] = 0
                else:
                    new = sparsegpt_prune(
                        linear.weight,
                        accumulator.value(),
                        recipe.sparsity,
                        recipe.pattern,
                        blocksize=recipe.blocksize,
                        percdamp=recipe.percdamp,
                    )
                    linear.weight.copy_(new.to(linear.weight.dtype))
                count += 1
        del stats
        calibrated = _Calibrated(_run_block(block, calibrated), calibrated.kwargs)
        log.info("%s: pruned block %d/%d", method, index + 1, len(blocks))
        bar.update(1)
    bar.close()
    return count


def prune_model(model: torch.nn.Module, method: str, recipe: PruneRecipe, input_ids: torch.Tensor | None) -> int:
    """Prune ``model`` in place with ``method``; returns the number of linear layers pruned."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    check_divisible(model, recipe.pattern)
    model.eval()
    if method == "magnitude":
        return prune_magnitude(model, recipe)
    if input_ids is None:
        raise ValueError(f"{method} needs calibration input_ids")
    return prune_layerwise(model, method, recipe, input_ids)
