"""trust-refusal: the ``refusal-patterns`` judge, the offline default refusal detector.

It decides REFUSED / COMPLIED from documented English refusal phrases in the opening
of a response (:mod:`trust_refusal.patterns`), needs no model and no network, and
ships a labelled validation set (:mod:`trust_refusal.validation`).
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core import hookimpl
from trust_core.contracts import Judge
from trust_refusal.judge import RefusalPatternJudge
from trust_refusal.patterns import PHRASES, Detection, Finding, detect, find_refusal

__version__ = "0.1.0"


@hookimpl
def register_judges(register: Callable[[type[Judge]], None]) -> None:
    """Register ``refusal-patterns`` (the default refusal judge)."""
    register(RefusalPatternJudge)


__all__ = ["PHRASES", "Detection", "Finding", "RefusalPatternJudge", "detect", "find_refusal", "register_judges"]
