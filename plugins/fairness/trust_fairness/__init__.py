"""trust-fairness: the TrustLLM fairness subtasks for ``trust``.

Registers five tasks: stereotype agreement, stereotype recognition, stereotype
queries, disparagement and preference bias. Each ships a small sample set
written by this project under ``data/fairness/``.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import Task, hookimpl
from trust_fairness.disparagement import Disparagement
from trust_fairness.preference import PreferenceBias
from trust_fairness.stereotypes import StereotypeAgreement, StereotypeQuery, StereotypeRecognition

__version__ = "0.1.0"

TASKS: tuple[type[Task], ...] = (
    StereotypeAgreement,
    StereotypeRecognition,
    StereotypeQuery,
    Disparagement,
    PreferenceBias,
)
"""The task classes this plugin registers."""


@hookimpl
def register_tasks(register: Callable[[type[Task]], None]) -> None:
    """Register the five fairness tasks."""
    for task in TASKS:
        register(task)


__all__ = ["TASKS", "register_tasks"]
