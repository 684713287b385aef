"""trust plugin: the ``bnb`` quantizer (bitsandbytes nf4 / fp4 / int8).

Importing this module is cheap: torch, transformers and bitsandbytes are imported inside
:meth:`~trust_bnb.quantizer.BnbQuantizer.quantize`, when a model is quantized.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_bnb.quantizer import BnbQuantizer
from trust_bnb.recipe import BnbRecipe, parse_recipe
from trust_core.plugin import Quantizer, hookimpl

__all__ = ["BnbQuantizer", "BnbRecipe", "parse_recipe", "register_quantizers"]


@hookimpl
def register_quantizers(register: Callable[[type[Quantizer]], None]) -> None:
    """Register the ``bnb`` quantizer."""
    register(BnbQuantizer)
