"""trust-refusal: the ``refusal-patterns`` judge, the offline default refusal detector.

It decides REFUSED / COMPLIED / UNCLEAR from documented English refusal phrases in the
opening of a response (:mod:`trust_refusal.patterns`), a compliance override, task-aware
cues (:mod:`trust_refusal.criteria`) and degenerate-text detection
(:mod:`trust_refusal.detector`); it needs no model and no network. It ships the
real-output validation set (:mod:`trust_refusal.real_output`), registered for
``trust judge-check``, and a hand-written regression set (:mod:`trust_refusal.validation`).
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import CalibrationSet, Judge, hookimpl
from trust_refusal.detector import Detection, detect
from trust_refusal.judge import RefusalPatternJudge
from trust_refusal.patterns import PHRASES, Finding, find_refusal
from trust_refusal.real_output import RealOutputSet

__version__ = "0.1.0"


@hookimpl
def register_judges(register: Callable[[type[Judge]], None]) -> None:
    """Register ``refusal-patterns`` (the default refusal judge)."""
    register(RefusalPatternJudge)


@hookimpl
def register_calibration_sets(register: Callable[[type[CalibrationSet]], None]) -> None:
    """Register ``refusal-real-output`` (real model responses, labelled) for ``trust judge-check``."""
    register(RealOutputSet)


__all__ = [
    "PHRASES",
    "Detection",
    "Finding",
    "RealOutputSet",
    "RefusalPatternJudge",
    "detect",
    "find_refusal",
    "register_calibration_sets",
    "register_judges",
]
