"""trust-safety: the TrustLLM safety subtasks for ``trust``.

Registers four tasks: jailbreak, toxicity (of the non-refused jailbreak answers, sharing the
jailbreak responses), misuse and exaggerated safety. Each ships a small sample set written by
this project under ``data/safety/``.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import Task, hookimpl
from trust_safety.exaggerated import ExaggeratedSafetyTask
from trust_safety.jailbreak import JailbreakTask
from trust_safety.misuse import MisuseTask
from trust_safety.toxicity import ToxicityTask

__version__ = "0.1.0"

TASKS: tuple[type[Task], ...] = (JailbreakTask, ToxicityTask, MisuseTask, ExaggeratedSafetyTask)
"""The task classes this plugin registers."""


@hookimpl
def register_tasks(register: Callable[[type[Task]], None]) -> None:
    """Register the four safety tasks."""
    for task in TASKS:
        register(task)


__all__ = ["TASKS", "register_tasks"]
