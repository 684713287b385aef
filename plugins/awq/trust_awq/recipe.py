"""The awq recipe: the keys a user may give, their defaults, and up-front validation.

Validation happens before anything is loaded, so a typo costs nothing. Every problem is raised
as one :class:`~trust_core.errors.UserError` whose message names the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trust_core.plugin import UserError, recipe_int, reject_unknown_keys

BITS = (4,)
"""AWQ's GEMM checkpoint format, the one transformers and vLLM load, is 4-bit."""

GROUP_SIZES = (32, 64, 128)
"""Group sizes both GPTQModel's AWQ packer and its CPU (ATen) kernel accept."""

DEFAULT_BITS = 4
DEFAULT_GROUP_SIZE = 64
DEFAULT_CALIBRATION_SAMPLES = 32
MAX_CALIBRATION_SAMPLES = 512
DEFAULT_SEED = 0

RECIPE_OPTIONS: Mapping[str, str] = {
    "bits": "bits per weight: 4 (AWQ's GEMM format)",
    "group_size": "weights per quantization group: 32, 64 (default) or 128",
    "calibration_samples": "calibration sequences; default 32",
    "seed": "seed for choosing calibration text; default 0",
    "zero_point": "asymmetric quantization with a zero point (true/false; default true)",
}
"""Every key a recipe may hold, with what it means (``--recipe KEY=VALUE``, ``trust plugins``); any other key is
an error (a misspelt key would silently change nothing)."""
KNOWN_KEYS = frozenset(RECIPE_OPTIONS)


@dataclass(frozen=True)
class AwqRecipe:
    """A validated recipe.

    ``bits`` and ``group_size`` set the format; ``calibration_samples`` texts from trust-transformers'
    calibration paragraphs are drawn with ``seed`` to measure activation scales. ``zero_point`` (asymmetric
    quantization, AWQ's default) stores a zero-point per group.
    """

    bits: int = DEFAULT_BITS
    group_size: int = DEFAULT_GROUP_SIZE
    calibration_samples: int = DEFAULT_CALIBRATION_SAMPLES
    seed: int = DEFAULT_SEED
    zero_point: bool = True

    def as_dict(self) -> dict[str, Any]:
        """The recipe as recorded in the variant's details."""
        return {
            "bits": self.bits,
            "group_size": self.group_size,
            "calibration_samples": self.calibration_samples,
            "seed": self.seed,
            "zero_point": self.zero_point,
        }


def parse_recipe(recipe: Mapping[str, Any]) -> AwqRecipe:
    """Validate ``recipe`` (``bits``, ``group_size``, ``calibration_samples``, ``seed``, ``zero_point``)."""
    reject_unknown_keys(recipe, KNOWN_KEYS, "awq")
    bits = recipe_int(recipe, "bits", DEFAULT_BITS, "awq")
    if bits not in BITS:
        raise UserError(f"awq recipe: bits must be 4 (AWQ's GEMM format), got {bits}")
    group_size = recipe_int(recipe, "group_size", DEFAULT_GROUP_SIZE, "awq")
    if group_size not in GROUP_SIZES:
        raise UserError(f"awq recipe: group_size must be one of {', '.join(map(str, GROUP_SIZES))}, got {group_size}")
    samples = recipe_int(recipe, "calibration_samples", DEFAULT_CALIBRATION_SAMPLES, "awq")
    if not 1 <= samples <= MAX_CALIBRATION_SAMPLES:
        raise UserError(f"awq recipe: calibration_samples must be in 1..{MAX_CALIBRATION_SAMPLES}, got {samples}")
    seed = recipe_int(recipe, "seed", DEFAULT_SEED, "awq")
    if seed < 0:
        raise UserError(f"awq recipe: seed must be at least 0, got {seed}")
    zero_point = recipe.get("zero_point", True)
    if not isinstance(zero_point, bool):
        raise UserError(f"awq recipe: zero_point must be true or false, got {zero_point!r}")
    return AwqRecipe(bits, group_size, samples, seed, zero_point)
