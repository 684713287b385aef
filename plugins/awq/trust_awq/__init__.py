"""trust plugin: the ``awq`` quantizer (AWQ through GPTQModel 7.6, on CPU or GPU).

Importing this module is cheap: torch, transformers and gptqmodel are imported inside
:meth:`~trust_awq.quantizer.AwqQuantizer.quantize`, when a model is quantized.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_awq.quantizer import AwqQuantizer
from trust_awq.recipe import AwqRecipe, parse_recipe
from trust_core.plugin import Quantizer, hookimpl

__all__ = ["AwqQuantizer", "AwqRecipe", "parse_recipe", "register_quantizers"]


@hookimpl
def register_quantizers(register: Callable[[type[Quantizer]], None]) -> None:
    """Register the ``awq`` quantizer."""
    register(AwqQuantizer)
