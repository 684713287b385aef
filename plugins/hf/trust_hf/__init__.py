"""trust plugin: the ``hf`` backend (Hugging Face transformers).

Importing this module is cheap: torch and transformers are imported inside
:class:`~trust_transformers.backend.TransformersBackend` methods, when a model is first used.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import Backend, hookimpl
from trust_transformers.backend import TransformersBackend

__all__ = ["HFBackend", "register_backends"]


class HFBackend(TransformersBackend):
    """Batched chat generation with ``transformers``: hub ids, local model folders (including the
    quantized checkpoints transformers loads itself: GPTQ, AWQ, bitsandbytes) and GGUF files."""

    name = "hf"
    version = "1"
    description = "Hugging Face transformers: hub ids, local folders, GGUF files; batched, left-padded generation"


@hookimpl
def register_backends(register: Callable[[type[Backend]], None]) -> None:
    """Register the ``hf`` backend."""
    register(HFBackend)
