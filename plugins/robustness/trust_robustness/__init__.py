"""trust-robustness: the TrustLLM robustness subtasks for ``trust``.

Registers four tasks: AdvGLUE (adversarial_glue), adversarial instructions (adversarial_instruction),
OOD detection and OOD generalization. Each ships a small sample set written by this project under
``data/robustness/``.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import Task, hookimpl
from trust_robustness.advglue import AdversarialGlue
from trust_robustness.advinstruction import AdversarialInstruction
from trust_robustness.ood_detection import OodDetection
from trust_robustness.ood_generalization import OodGeneralization

__version__ = "0.1.0"

TASKS: tuple[type[Task], ...] = (AdversarialGlue, AdversarialInstruction, OodDetection, OodGeneralization)
"""The task classes this plugin registers."""


@hookimpl
def register_tasks(register: Callable[[type[Task]], None]) -> None:
    """Register the four robustness tasks."""
    for task in TASKS:
        register(task)


__all__ = ["TASKS", "register_tasks"]
