"""trust plugin: the ``gptq`` quantizer (GPTQModel 7.6, on CPU).

Importing this module is cheap: torch, transformers and gptqmodel are imported inside
:meth:`~trust_gptq.quantizer.GptqQuantizer.quantize`, when a model is quantized.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import Quantizer, hookimpl
from trust_gptq.quantizer import GptqQuantizer
from trust_gptq.recipe import GptqRecipe, parse_recipe

__all__ = [
    "GptqQuantizer",
    "GptqRecipe",
    "parse_recipe",
    "register_quantizers",
]


@hookimpl
def register_quantizers(register: Callable[[type[Quantizer]], None]) -> None:
    """Register the ``gptq`` quantizer."""
    register(GptqQuantizer)
