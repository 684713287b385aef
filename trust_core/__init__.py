"""trust: measure how trustworthy a large language model is, and how compression changes it.

The core holds the contracts (:mod:`trust_core.contracts`), the hook
specifications (:mod:`trust_core.hookspecs`), plugin discovery, the run store,
metrics and results. Everything specific to a model, method or dataset lives
in plugins registered under the entry-point group ``trust``.
"""

from __future__ import annotations

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("trust")
"""Decorator marking a plugin's hook implementation."""

__all__ = ["__version__", "hookimpl"]
