"""trust plugin: the ``gemini`` backend and the ``gemini`` judge (Google GenAI SDK).

Importing this module is cheap: ``google-genai`` is imported when a request is first made.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import Backend, Judge, hookimpl
from trust_gemini.backend import GEMINI, GeminiBackend
from trust_gemini.judge import GeminiJudge

__all__ = ["GEMINI", "GeminiBackend", "GeminiJudge", "register_backends", "register_judges"]


@hookimpl
def register_backends(register: Callable[[type[Backend]], None]) -> None:
    """Register the ``gemini`` backend."""
    register(GeminiBackend)


@hookimpl
def register_judges(register: Callable[[type[Judge]], None]) -> None:
    """Register the ``gemini`` judge."""
    register(GeminiJudge)
