"""trust plugin: the ``llamacpp`` backend (GGUF models with llama-cpp-python).

Importing this module is cheap: ``llama_cpp`` is imported when a model is first used.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import Backend, hookimpl
from trust_llamacpp.backend import LlamaCppBackend

__all__ = ["LlamaCppBackend", "register_backends"]


@hookimpl
def register_backends(register: Callable[[type[Backend]], None]) -> None:
    """Register the ``llamacpp`` backend."""
    register(LlamaCppBackend)
