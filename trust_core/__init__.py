"""trust: measure how trustworthy a large language model is, and how compression changes it.

The core holds the contracts (:mod:`trust_core.contracts`), the hook
specifications (:mod:`trust_core.hookspecs`), plugin discovery, the run store,
metrics and results. Everything specific to a model, method or dataset lives
in plugins registered under the entry-point group ``trust``.
"""

from __future__ import annotations

from typing import Any

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("trust")
"""Decorator marking a plugin's hook implementation."""

_PYTHON_API = ("evaluate", "study", "compare", "load_result", "RunResult", "MetricRow")
"""The Python API (:mod:`trust_core.python_api`), imported on first use: ``trust_core.evaluate(...)``."""

__all__ = ["__version__", "hookimpl", *_PYTHON_API]


def __getattr__(name: str) -> Any:
    """``trust_core.evaluate`` and the rest of the Python API, without importing it with the package."""
    if name in _PYTHON_API:
        from trust_core import python_api

        return getattr(python_api, name)
    raise AttributeError(f"module 'trust_core' has no attribute {name!r}")
