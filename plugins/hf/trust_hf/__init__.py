"""trust plugin: the ``hf`` backend (Hugging Face transformers).

Importing this module is cheap: torch and transformers are imported inside
:class:`~trust_hf.backend.HFBackend` methods, when a model is first used.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core import hookimpl
from trust_core.contracts import Backend
from trust_hf.backend import HFBackend

__all__ = ["HFBackend", "register_backends"]


@hookimpl
def register_backends(register: Callable[[type[Backend]], None]) -> None:
    """Register the ``hf`` backend."""
    register(HFBackend)
