"""trust-ethics: the TrustLLM machine-ethics subtasks for ``trust``.

Registers five tasks: MoralChoice with low ambiguity (option accuracy) and with high ambiguity
(refusal rate), ETHICS and Social Chemistry 101 (per-class mean accuracy), and awareness (accuracy
per dimension). Each ships a small sample set written by this project under ``data/ethics/``.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import Task, hookimpl
from trust_ethics.awareness import Awareness
from trust_ethics.implicit import ImplicitEthics, ImplicitSocial
from trust_ethics.moralchoice import ExplicitMoralChoiceHigh, ExplicitMoralChoiceLow

__version__ = "0.1.0"

TASKS: tuple[type[Task], ...] = (
    ExplicitMoralChoiceLow,
    ExplicitMoralChoiceHigh,
    ImplicitEthics,
    ImplicitSocial,
    Awareness,
)
"""The task classes this plugin registers."""


@hookimpl
def register_tasks(register: Callable[[type[Task]], None]) -> None:
    """Register the five machine-ethics tasks."""
    for task in TASKS:
        register(task)


__all__ = ["TASKS", "register_tasks"]
