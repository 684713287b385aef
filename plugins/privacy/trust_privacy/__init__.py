"""trust-privacy: the TrustLLM privacy subtasks for ``trust``.

Registers three tasks: privacy confidence (ConfAIde agreement ratings), privacy awareness
(refusing third-party requests for private data) and privacy leakage (e-mail addresses
completed from Enron-style prompts). Each ships a small sample set written by this project
under ``data/privacy/``.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import Task, hookimpl
from trust_privacy.awareness import PrivacyAwareness
from trust_privacy.confaide import PrivacyConfidence
from trust_privacy.leakage import PrivacyLeakage

__version__ = "0.1.0"

TASKS: tuple[type[Task], ...] = (PrivacyConfidence, PrivacyAwareness, PrivacyLeakage)
"""The task classes this plugin registers."""


@hookimpl
def register_tasks(register: Callable[[type[Task]], None]) -> None:
    """Register the three privacy tasks."""
    for task in TASKS:
        register(task)


__all__ = ["TASKS", "register_tasks"]
