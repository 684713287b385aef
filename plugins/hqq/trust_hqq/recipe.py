"""The hqq recipe: the keys a user may give, their defaults, and up-front validation.

Validation happens before anything is loaded, so a typo costs nothing. Every problem is raised
as one :class:`~trust_core.errors.UserError` whose message names the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trust_core.plugin import UserError, recipe_int, reject_unknown_keys

BITS = (1, 2, 3, 4, 8)
"""Bit widths HQQ quantizes to."""

DEFAULT_BITS = 4
DEFAULT_GROUP_SIZE = 64
AXES = (0, 1)
DEFAULT_AXIS = 1
COMPUTE_DTYPES = ("float32", "bfloat16", "float16")

RECIPE_OPTIONS: Mapping[str, str] = {
    "bits": "bits per weight: 1, 2, 3, 4 or 8; default 4",
    "group_size": "weights per quantization group; default 64",
    "axis": "grouping axis: 1 along the input dimension (default), 0 along the output dimension",
    "compute_dtype": "dtype layers de-quantize to: float32 (default), bfloat16, float16",
    "seed": "recorded; HQQ is calibration-free",
}
"""Every key a recipe may hold, with what it means (``--recipe KEY=VALUE``, ``trust plugins``); any other key is
an error (a misspelt key would silently change nothing)."""
KNOWN_KEYS = frozenset(RECIPE_OPTIONS)


@dataclass(frozen=True)
class HqqRecipe:
    """A validated recipe.

    ``bits`` per weight, one scale and zero-point per ``group_size`` consecutive weights along ``axis``
    (1: along the input dimension, hqq's default; 0: along the output dimension). ``compute_dtype`` is
    the dtype weights are de-quantized to for the matmul (float32 on CPU). HQQ uses no data and no
    randomness; ``seed`` is only recorded.
    """

    bits: int = DEFAULT_BITS
    group_size: int = DEFAULT_GROUP_SIZE
    axis: int = DEFAULT_AXIS
    compute_dtype: str = "float32"
    seed: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The recipe as recorded in the variant's details."""
        return {
            "bits": self.bits,
            "group_size": self.group_size,
            "axis": self.axis,
            "compute_dtype": self.compute_dtype,
        }


def parse_recipe(recipe: Mapping[str, Any]) -> HqqRecipe:
    """Validate ``recipe`` (``bits``, ``group_size``, ``axis``, ``compute_dtype``, ``seed``).

    ``calibration_samples`` is rejected: HQQ is calibration-free, so asking for calibration is a mistake
    worth saying out loud.
    """
    if "calibration_samples" in recipe:
        raise UserError("hqq recipe: calibration_samples does not apply (HQQ is calibration-free)")
    reject_unknown_keys(recipe, KNOWN_KEYS, "hqq")
    bits = recipe_int(recipe, "bits", DEFAULT_BITS, "hqq")
    if bits not in BITS:
        raise UserError(f"hqq recipe: bits must be one of {', '.join(map(str, BITS))}, got {bits}")
    group_size = recipe_int(recipe, "group_size", DEFAULT_GROUP_SIZE, "hqq")
    if group_size is None or group_size < 8 or group_size & (group_size - 1):
        raise UserError(f"hqq recipe: group_size must be a power of two, at least 8, got {group_size}")
    axis = recipe_int(recipe, "axis", DEFAULT_AXIS, "hqq")
    if axis not in AXES:
        raise UserError(f"hqq recipe: axis must be 0 or 1, got {axis}")
    compute_dtype = str(recipe.get("compute_dtype") or "float32").lower().removeprefix("torch.")
    if compute_dtype not in COMPUTE_DTYPES:
        raise UserError(f"hqq recipe: compute_dtype must be one of {', '.join(COMPUTE_DTYPES)}, got {compute_dtype!r}")
    return HqqRecipe(bits, group_size, axis, compute_dtype, recipe_int(recipe, "seed", None, "hqq"))
