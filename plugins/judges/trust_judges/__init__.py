"""trust plugin: open LLM judges by family — ``llama``, ``glm``, ``gemma``, ``qwen``.

Each runs the core's LLM judge over a local model through any installed backend. Importing this module is
cheap: models load when a verdict is first asked for.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import Judge, hookimpl
from trust_judges.families import FAMILIES, FamilyJudge, GemmaJudge, GlmJudge, LlamaJudge, QwenJudge

__all__ = ["FAMILIES", "FamilyJudge", "GemmaJudge", "GlmJudge", "LlamaJudge", "QwenJudge", "register_judges"]


@hookimpl
def register_judges(register: Callable[[type[Judge]], None]) -> None:
    """Register one judge per family."""
    for family in FAMILIES:
        register(family)
