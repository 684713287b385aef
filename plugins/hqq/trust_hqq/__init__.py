"""trust plugin: the ``hqq`` quantizer and the ``hqq`` backend that runs its checkpoints.

Importing this module is cheap: torch, transformers and hqq are imported when a model is quantized
or first loaded.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import Backend, Quantizer, hookimpl
from trust_hqq.backend import HqqBackend
from trust_hqq.quantizer import HqqQuantizer
from trust_hqq.recipe import HqqRecipe, parse_recipe

__all__ = ["HqqBackend", "HqqQuantizer", "HqqRecipe", "parse_recipe", "register_backends", "register_quantizers"]


@hookimpl
def register_quantizers(register: Callable[[type[Quantizer]], None]) -> None:
    """Register the ``hqq`` quantizer."""
    register(HqqQuantizer)


@hookimpl
def register_backends(register: Callable[[type[Backend]], None]) -> None:
    """Register the ``hqq`` backend (loads hqq-format checkpoints)."""
    register(HqqBackend)
