"""The pruning recipe: the keys a user may give, their defaults, and up-front validation.

Validation happens before anything is loaded, so a typo costs nothing. Every problem is
raised as one :class:`~trust_core.errors.UserError` whose message names the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trust_core.plugin import UserError

DEFAULT_SPARSITY = 0.5
DEFAULT_CALIBRATION_SAMPLES = 32
DEFAULT_SEQ_LEN = 256
DEFAULT_SEED = 0
DEFAULT_BLOCKSIZE = 128
DEFAULT_PERCDAMP = 0.01
COMPARISONS = ("row", "layer")

RECIPE_OPTIONS: Mapping[str, str] = {
    "sparsity": "fraction of weights zeroed per pruned layer (0-1); default 0.5, implied by an N:M pattern",
    "pattern": "N:M semi-structured pattern (2:4, 4:8) or null for unstructured",
    "calibration_samples": "calibration sequences (wanda, sparsegpt); default 32",
    "calibration_seq_len": "tokens per calibration sequence; default 256",
    "calibration_file": "a text file to draw calibration sequences from (default: the packaged text)",
    "seed": "seed for choosing calibration text; default 0",
    "comparison": "unstructured magnitude/wanda: compare scores per output row (row, default) or per layer (layer)",
    "blocksize": "SparseGPT's lazy-update block width; default 128",
    "percdamp": "SparseGPT's Hessian dampening; default 0.01",
}
"""Every key a recipe may hold, with what it means (``--recipe KEY=VALUE``, ``trust plugins``); any other key is
an error (a misspelt key would silently change nothing)."""
KNOWN_KEYS = frozenset(RECIPE_OPTIONS)

PATTERN_RE = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")


@dataclass(frozen=True)
class PruneRecipe:
    """A validated recipe.

    ``sparsity`` is the fraction of weights zeroed in every pruned linear layer. ``pattern`` is
    ``(n, m)`` for N:M sparsity (at most ``n`` non-zeros in every ``m`` consecutive weights of a
    row along the input dimension; sparsity ``(m - n) / m``) or None for unstructured sparsity.
    ``comparison`` says where magnitude and Wanda compare scores in unstructured mode: per output
    row (``"row"``, the Wanda paper's choice) or over the whole layer (``"layer"``).
    ``blocksize`` and ``percdamp`` are SparseGPT's lazy-update block width and Hessian damping.
    """

    sparsity: float
    pattern: tuple[int, int] | None
    calibration_samples: int
    calibration_seq_len: int
    seed: int
    calibration_file: str | None = None
    comparison: str = "row"
    blocksize: int = DEFAULT_BLOCKSIZE
    percdamp: float = DEFAULT_PERCDAMP

    @property
    def pattern_text(self) -> str | None:
        """The pattern as the user writes it (``"2:4"``), or None."""
        return f"{self.pattern[0]}:{self.pattern[1]}" if self.pattern else None


def parse_pattern(value: Any) -> tuple[int, int] | None:
    """``"N:M"`` → ``(N, M)``; None, ``""`` and ``"unstructured"`` → None. Raises UserError otherwise."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "unstructured")):
        return None
    match = PATTERN_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise UserError(f"recipe: pattern must be 'N:M' such as '2:4' or '4:8' (or none), got {value!r}")
    n, m = int(match.group(1)), int(match.group(2))
    if not 0 < n < m:
        raise UserError(f"recipe: pattern '{n}:{m}' must keep N of every M weights with 0 < N < M (e.g. '2:4')")
    return n, m


def _int(recipe: Mapping[str, Any], key: str, default: int, minimum: int) -> int:
    value = recipe.get(key, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        elif isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        else:
            raise UserError(f"recipe: {key} must be an integer, got {value!r}")
    if value < minimum:
        raise UserError(f"recipe: {key} must be at least {minimum}, got {value}")
    return value


def _sparsity(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise UserError(f"recipe: sparsity must be a fraction between 0 and 1 (exclusive), got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"recipe: sparsity must be a fraction between 0 and 1 (exclusive), got {value!r}") from None
    if not 0.0 < number < 1.0:
        raise UserError(f"recipe: sparsity must be a fraction between 0 and 1 (exclusive), got {value!r}")
    return number


def parse_recipe(recipe: Mapping[str, Any] | None) -> PruneRecipe:
    """Validate ``recipe`` and fill in defaults. Raises :class:`UserError` with one clear message.

    With a ``pattern``, ``sparsity`` may be left out (it is implied) or must equal the pattern's
    ``(M - N) / M``; a conflicting value is an error rather than silently overridden.
    """
    recipe = dict(recipe or {})
    unknown = sorted(set(recipe) - KNOWN_KEYS)
    if unknown:
        raise UserError(f"recipe: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(KNOWN_KEYS))}")
    pattern = parse_pattern(recipe.get("pattern"))
    sparsity = _sparsity(recipe.get("sparsity"))
    if pattern is not None:
        implied = (pattern[1] - pattern[0]) / pattern[1]
        if sparsity is not None and abs(sparsity - implied) > 1e-9:
            raise UserError(
                f"recipe: pattern '{pattern[0]}:{pattern[1]}' means sparsity {implied:g}, "
                f"which conflicts with sparsity {sparsity:g}; drop sparsity or make them agree"
            )
        sparsity = implied
    elif sparsity is None:
        sparsity = DEFAULT_SPARSITY
    comparison = str(recipe.get("comparison") or "row").lower()
    if comparison not in COMPARISONS:
        raise UserError(f"recipe: comparison must be one of {', '.join(COMPARISONS)}, got {recipe['comparison']!r}")
    if pattern is not None and recipe.get("comparison") not in (None, "row"):
        raise UserError("recipe: comparison applies to unstructured sparsity only; N:M patterns compare within groups")
    calibration_file = recipe.get("calibration_file")
    if calibration_file is not None:
        if not isinstance(calibration_file, (str, Path)) or not Path(calibration_file).expanduser().is_file():
            raise UserError(f"recipe: calibration_file {calibration_file!r} is not a readable file")
        calibration_file = str(Path(calibration_file).expanduser().resolve())
    percdamp = recipe.get("percdamp", DEFAULT_PERCDAMP)
    try:
        percdamp = float(percdamp if percdamp is not None else DEFAULT_PERCDAMP)
    except (TypeError, ValueError):
        raise UserError(f"recipe: percdamp must be a number in (0, 1], got {percdamp!r}") from None
    if not 0.0 < percdamp <= 1.0:
        raise UserError(f"recipe: percdamp must be a number in (0, 1], got {percdamp!r}")
    blocksize = _int(recipe, "blocksize", DEFAULT_BLOCKSIZE, 1)
    if pattern is not None and blocksize % pattern[1]:
        raise UserError(f"recipe: blocksize {blocksize} must be a multiple of the pattern's M ({pattern[1]})")
    return PruneRecipe(
        sparsity=sparsity,
        pattern=pattern,
        calibration_samples=_int(recipe, "calibration_samples", DEFAULT_CALIBRATION_SAMPLES, 1),
        calibration_seq_len=_int(recipe, "calibration_seq_len", DEFAULT_SEQ_LEN, 8),
        seed=_int(recipe, "seed", DEFAULT_SEED, 0),
        calibration_file=calibration_file,
        comparison=comparison,
        blocksize=blocksize,
        percdamp=percdamp,
    )
