"""Which endpoint each remote component of a run talks to, and with which key (never the key itself).

A component is remote when its class has ``endpoint_summary(argument, backend_options)`` — the API backends,
judges and embedders of the API plugins, the Perspective scorer. The core duck-types that method and imports no
plugin or library: :func:`endpoint_lines` is what a run prints on stderr before any work.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from trust_core.contracts import BackendOptions

EVALUATOR_ROLES = (
    ("judge", "judge", "judge", "custom"),
    ("refusal_judge", "refusal judge", "judge", "refusal"),
    ("toxicity_scorer", "toxicity scorer", "judge", "toxicity"),
    ("embedder", "embedder", "embedder", "embedder"),
)
"""``RunOptions`` field, label, registry kind, and the task need that uses it, for :func:`endpoint_lines`."""


def endpoint_lines(registry: Any, options: Any, backend: bool, needs: Collection[str] | None) -> list[str]:
    """One line per remote component of a run: ``<role> <spec> -> <endpoint> (<key origin>)``, never a key.

    ``options`` is the run's ``RunOptions``; ``backend``: whether the run builds its ``--backend``; ``needs``: the
    evaluator kinds its tasks use (None: the run evaluates nothing). A component is remote when its class has
    ``endpoint_summary(argument, backend_options)`` (API backends, judges and embedders, Perspective); the named
    components are listed, and a default toxicity scorer when a task needs one. Raises the component's UserError
    for settings it would refuse, so the run stops before any work.
    """
    lines: list[str] = []
    backend_options = options.backend_options
    if backend and options.backend:
        cls = registry.components["backend"].get(options.backend)
        if hasattr(cls, "endpoint_summary"):
            lines.append(f"backend {options.backend} -> {cls.endpoint_summary(options.model, backend_options)}")
    if needs is None:
        return lines
    for field_name, label, kind, need in EVALUATOR_ROLES:
        spec = getattr(options, field_name, None)
        if not spec and need == "toxicity" and need in needs:
            spec = _default_scorer(registry, backend_options)
        name, _, argument = (spec or "").partition(":")
        cls = registry.components[kind].get(name)
        if hasattr(cls, "endpoint_summary"):
            lines.append(f"{label} {spec} -> {cls.endpoint_summary(argument or None, backend_options)}")
    return lines


def _default_scorer(registry: Any, backend_options: BackendOptions) -> str | None:
    """The toxicity scorer a run picks when none is named (the first available default), or None."""
    for name in registry.names("judge"):
        cls = registry.components["judge"][name]
        if "toxicity" in cls.default_for and cls.unavailable_reason(backend_options.secrets) is None:
            return str(name)
    return None
