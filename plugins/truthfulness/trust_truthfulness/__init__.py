"""trust-truthfulness: the TrustLLM truthfulness subtasks for ``trust``.

Registers five tasks: use of internal knowledge, use of external knowledge,
hallucination, sycophancy and adversarial factuality. Each ships a small
sample set written by this project under ``data/truthfulness/``.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import Task, hookimpl
from trust_truthfulness.advfact import AdversarialFactuality
from trust_truthfulness.external import UseExternalKnowledge
from trust_truthfulness.hallucination import Hallucination
from trust_truthfulness.internal import UseInternalKnowledge
from trust_truthfulness.sycophancy import Sycophancy

__version__ = "0.1.0"

TASKS: tuple[type[Task], ...] = (
    UseInternalKnowledge,
    UseExternalKnowledge,
    Hallucination,
    Sycophancy,
    AdversarialFactuality,
)
"""The task classes this plugin registers."""


@hookimpl
def register_tasks(register: Callable[[type[Task]], None]) -> None:
    """Register the five truthfulness tasks."""
    for task in TASKS:
        register(task)


__all__ = ["TASKS", "register_tasks"]
