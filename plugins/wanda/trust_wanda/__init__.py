"""trust plugin: the pruners ``magnitude``, ``wanda`` and ``sparsegpt``.

Importing this module is cheap: torch and transformers are imported inside the
functions that prune, when :meth:`~trust_core.contracts.Pruner.prune` runs.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import Pruner, hookimpl
from trust_wanda.pruners import MagnitudePruner, SparseGPTPruner, WandaPruner
from trust_wanda.recipe import PruneRecipe, parse_recipe
from trust_wanda.sparsity import PatternCheck, check_pattern

__all__ = [
    "MagnitudePruner",
    "PatternCheck",
    "PruneRecipe",
    "SparseGPTPruner",
    "WandaPruner",
    "check_pattern",
    "parse_recipe",
    "register_pruners",
]


@hookimpl
def register_pruners(register: Callable[[type[Pruner]], None]) -> None:
    """Register the ``magnitude``, ``wanda`` and ``sparsegpt`` pruners."""
    register(MagnitudePruner)
    register(WandaPruner)
    register(SparseGPTPruner)
