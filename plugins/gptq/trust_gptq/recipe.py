"""The gptq recipe: the keys a user may give, their defaults, and up-front validation.

Validation happens before anything is loaded, so a typo costs nothing. Every problem is raised
as one :class:`~trust_core.errors.UserError` whose message names the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trust_core.plugin import UserError, recipe_int, reject_unknown_keys

BITS = (2, 3, 4, 8)
"""Bit widths both GPTQModel and transformers' GPTQ loader (through optimum) accept."""

GROUP_SIZES = (-1, 16, 32, 64, 128, 256, 512, 1024)
"""Group sizes GPTQModel's CPU (torch) kernel supports; -1 means one group per row."""

DEFAULT_BITS = 4
DEFAULT_GROUP_SIZE = 64
DEFAULT_CALIBRATION_SAMPLES = 32
MAX_CALIBRATION_SAMPLES = 512
DEFAULT_SEED = 0
DEFAULT_DAMP_PERCENT = 0.05

RECIPE_OPTIONS: Mapping[str, str] = {
    "bits": "bits per weight: 2, 3, 4 or 8; default 4",
    "group_size": "weights per quantization group: -1 (one per row), 16 ... 1024; default 64",
    "calibration_samples": "calibration sequences; default 32",
    "seed": "seed for choosing calibration text; default 0",
    "sym": "symmetric quantization (true/false; default true)",
    "desc_act": "quantize columns in order of decreasing activation (true/false; default false)",
    "damp_percent": "Hessian dampening, a fraction of its mean diagonal; default 0.05",
}
"""Every key a recipe may hold, with what it means (``--recipe KEY=VALUE``, ``trust plugins``); any other key is
an error (a misspelt key would silently change nothing)."""
KNOWN_KEYS = frozenset(RECIPE_OPTIONS)


@dataclass(frozen=True)
class GptqRecipe:
    """A validated recipe.

    ``bits`` and ``group_size`` set the format; ``calibration_samples`` texts from the plugin's calibration
    set are drawn with ``seed``. ``sym`` chooses symmetric quantization, ``desc_act`` quantizes columns in
    order of decreasing activation (off by default: GPTQModel's act-group-aware ordering is used instead),
    ``damp_percent`` is the Hessian damping.
    """

    bits: int = DEFAULT_BITS
    group_size: int = DEFAULT_GROUP_SIZE
    calibration_samples: int = DEFAULT_CALIBRATION_SAMPLES
    seed: int = DEFAULT_SEED
    sym: bool = True
    desc_act: bool = False
    damp_percent: float = DEFAULT_DAMP_PERCENT

    def as_dict(self) -> dict[str, Any]:
        """The recipe as recorded in the variant's details."""
        return {
            "bits": self.bits,
            "group_size": self.group_size,
            "calibration_samples": self.calibration_samples,
            "seed": self.seed,
            "sym": self.sym,
            "desc_act": self.desc_act,
            "damp_percent": self.damp_percent,
        }


def _bool(recipe: Mapping[str, Any], key: str, default: bool) -> bool:
    value = recipe.get(key, default)
    if not isinstance(value, bool):
        raise UserError(f"gptq recipe: {key} must be true or false, got {value!r}")
    return value


def parse_recipe(recipe: Mapping[str, Any]) -> GptqRecipe:
    """Validate ``recipe`` and fill in defaults; one UserError naming the key on any problem."""
    reject_unknown_keys(recipe, KNOWN_KEYS, "gptq")
    bits = recipe_int(recipe, "bits", DEFAULT_BITS, "gptq")
    if bits not in BITS:
        raise UserError(f"gptq recipe: bits must be one of {', '.join(map(str, BITS))}, got {bits}")
    group_size = recipe_int(recipe, "group_size", DEFAULT_GROUP_SIZE, "gptq")
    if group_size not in GROUP_SIZES:
        raise UserError(
            f"gptq recipe: group_size must be one of {', '.join(map(str, GROUP_SIZES))} (-1: per row), got {group_size}"
        )
    samples = recipe_int(recipe, "calibration_samples", DEFAULT_CALIBRATION_SAMPLES, "gptq")
    if not 1 <= samples <= MAX_CALIBRATION_SAMPLES:
        raise UserError(f"gptq recipe: calibration_samples must be in 1..{MAX_CALIBRATION_SAMPLES}, got {samples}")
    damp = recipe.get("damp_percent", DEFAULT_DAMP_PERCENT)
    if isinstance(damp, bool) or not isinstance(damp, int | float) or not 0 < damp < 1:
        raise UserError(f"gptq recipe: damp_percent must be a number in (0, 1), got {damp!r}")
    return GptqRecipe(
        bits=bits,
        group_size=group_size,
        calibration_samples=samples,
        seed=recipe_int(recipe, "seed", DEFAULT_SEED, "gptq"),
        sym=_bool(recipe, "sym", True),
        desc_act=_bool(recipe, "desc_act", False),
        damp_percent=float(damp),
    )
