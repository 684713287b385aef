"""The bnb recipe: the keys a user may give, their defaults, and up-front validation.

Validation happens before anything is loaded, so a typo costs nothing. Every problem is raised
as one :class:`~trust_core.errors.UserError` whose message names the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trust_core.plugin import UserError, recipe_int, reject_unknown_keys

QUANT_TYPES_4BIT = ("nf4", "fp4")
COMPUTE_DTYPES = ("float32", "bfloat16", "float16")
DEFAULT_GROUP_SIZE = 64
"""What ``trust`` puts in every quantize recipe when ``--quant-group-size`` is not given."""

BNB_4BIT_BLOCKSIZE = 64
"""The block size bitsandbytes uses for 4-bit weights through transformers (not configurable there)."""

RECIPE_OPTIONS: Mapping[str, str] = {
    "bits": "4 (nf4/fp4) or 8 (int8, LLM.int8 row-wise absmax); default 4",
    "group_size": "only the default 64 (bitsandbytes' fixed 4-bit block); recorded as not applied",
    "seed": "recorded; bitsandbytes quantization is deterministic and uses no data",
    "quant_type": "4-bit: nf4 (default) or fp4; 8-bit: int8",
    "compute_dtype": "dtype 4-bit layers de-quantize to for their matmuls: float32 (default), bfloat16, float16",
    "double_quant": "also quantize the 4-bit block scales (true/false; default false)",
}
"""Every key a recipe may hold, with what it means (``--recipe KEY=VALUE``, ``trust plugins``); any other key is
an error (a misspelt key would silently change nothing)."""
KNOWN_KEYS = frozenset(RECIPE_OPTIONS)


@dataclass(frozen=True)
class BnbRecipe:
    """A validated recipe.

    ``bits`` is 4 (``quant_type`` ``nf4`` or ``fp4``) or 8 (``quant_type`` ``int8``, LLM.int8 row-wise
    absmax). ``compute_dtype`` is the dtype 4-bit layers de-quantize to for their matmuls (float32 suits
    CPU). ``double_quant`` also quantizes the 4-bit block scales. ``group_size`` is what was asked for: only
    the core's default (64) or none is accepted, since bitsandbytes takes no group size (4-bit blocks are
    fixed at 64 weights, int8 scales are per row); it is recorded as not applied.
    """

    bits: int
    quant_type: str
    compute_dtype: str
    double_quant: bool
    group_size: int | None
    seed: int | None

    def as_dict(self) -> dict[str, Any]:
        """The recipe as recorded in the variant's details."""
        return {
            "bits": self.bits,
            "quant_type": self.quant_type,
            "compute_dtype": self.compute_dtype,
            "double_quant": self.double_quant,
        }


def parse_recipe(recipe: Mapping[str, Any]) -> BnbRecipe:
    """Validate ``recipe`` (``bits`` 4 or 8, optional ``quant_type``, ``compute_dtype``, ``double_quant``).

    ``calibration_samples`` is rejected: bitsandbytes quantization is data-free, so asking for calibration
    is a mistake worth saying out loud. ``group_size`` other than the core's default (64) is rejected, since
    it could not be honoured; the default is accepted and recorded as not applied.
    """
    if "calibration_samples" in recipe:
        raise UserError("bnb recipe: calibration_samples does not apply (bitsandbytes quantization uses no data)")
    reject_unknown_keys(recipe, KNOWN_KEYS, "bnb")
    bits = recipe_int(recipe, "bits", None, "bnb")
    bits = 4 if bits is None else bits
    if bits not in (4, 8):
        raise UserError(f"bnb recipe: bits must be 4 (nf4/fp4) or 8 (int8), got {bits}")
    quant_type = recipe.get("quant_type")
    if bits == 4:
        quant_type = "nf4" if quant_type is None else str(quant_type).lower()
        if quant_type not in QUANT_TYPES_4BIT:
            allowed = ", ".join(QUANT_TYPES_4BIT)
            raise UserError(f"bnb recipe: quant_type for 4 bits must be one of {allowed}, got {quant_type!r}")
    else:
        quant_type = "int8" if quant_type is None else str(quant_type).lower()
        if quant_type != "int8":
            raise UserError(f"bnb recipe: quant_type for 8 bits must be 'int8', got {quant_type!r}")
    compute_dtype = str(recipe.get("compute_dtype") or "float32").lower().removeprefix("torch.")
    if compute_dtype not in COMPUTE_DTYPES:
        raise UserError(f"bnb recipe: compute_dtype must be one of {', '.join(COMPUTE_DTYPES)}, got {compute_dtype!r}")
    double_quant = recipe.get("double_quant", False)
    if not isinstance(double_quant, bool):
        raise UserError(f"bnb recipe: double_quant must be true or false, got {double_quant!r}")
    if double_quant and bits == 8:
        raise UserError("bnb recipe: double_quant applies to 4-bit quantization only")
    group_size = recipe_int(recipe, "group_size", None, "bnb")
    if group_size is not None and group_size != DEFAULT_GROUP_SIZE:
        raise UserError(
            f"bnb recipe: group_size {group_size} cannot be applied: bitsandbytes quantizes 4-bit weights in fixed "
            f"blocks of {BNB_4BIT_BLOCKSIZE} and int8 weights per row; leave --quant-group-size out"
        )
    return BnbRecipe(bits, quant_type, compute_dtype, double_quant, group_size, recipe_int(recipe, "seed", None, "bnb"))
