"""trust plugin: the ``vllm`` backend (vLLM's offline engine on CUDA GPUs).

Importing this module is cheap: vllm and torch are imported when a model is first used, and the backend
refuses to be built (exit 2, one message) on a machine without a CUDA GPU or without the vllm package.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import Backend, hookimpl
from trust_vllm.backend import VllmBackend, missing_requirements

__all__ = ["VllmBackend", "missing_requirements", "register_backends"]


@hookimpl
def register_backends(register: Callable[[type[Backend]], None]) -> None:
    """Register the ``vllm`` backend."""
    register(VllmBackend)
