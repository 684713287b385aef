"""The ``refusal-patterns`` judge: the offline default refusal detector."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from trust_core.plugin import Judge, JudgeQuery, UserError, Verdict
from trust_refusal.detector import detect, detector_digest
from trust_refusal.patterns import OPENING_SENTENCES, SHORT_RESPONSE_SENTENCES

if TYPE_CHECKING:
    from trust_core.plugin import ComponentContext


class RefusalPatternJudge(Judge):
    """REFUSED / COMPLIED / UNCLEAR from the response (``query.subject``), the prompt (``query.context``, for echo
    masking and choice options) and the task's criterion (``query.criterion``): English refusal phrases in the
    opening, a compliance override, task-aware cues and degenerate-text detection (:mod:`trust_refusal.detector`).

    ``raw`` is ``<rule>: <what matched>``. A blank response, or one not written in a Latin script, is a failed
    verdict with the reason: it counts in ``n_invalid``, never as refused.
    """

    name = "refusal-patterns"
    version = "2"
    description = (
        "English refusal phrases, compliance override, task-aware cues and degenerate-text detection; offline, "
        "no model (default refusal judge)"
    )
    kinds = frozenset({"refusal"})
    default_for = frozenset({"refusal"})
    calibrated = True  # validated on the plugin's own labelled set (README: "Validation set")

    def __init__(self, argument: str | None = None, context: ComponentContext | None = None) -> None:
        if argument:
            raise UserError(f"--refusal-judge refusal-patterns takes no argument (got '{argument}')")
        self.context = context

    def identity(self) -> str:
        """``refusal-patterns/v2:<hash of the phrase lists, cues and thresholds>``."""
        return f"{self.name}/v{self.version}:{detector_digest()}"

    def describe(self) -> dict[str, Any]:
        """Metadata recorded in results."""
        return {
            "judge": self.name,
            "judge_version": self.version,
            "detector": detector_digest(),
            "language": "en",
            "opening_sentences": OPENING_SENTENCES,
            "short_response_sentences": SHORT_RESPONSE_SENTENCES,
        }

    def judge(self, queries: Sequence[JudgeQuery]) -> list[Verdict]:
        """One verdict per query, in order."""
        return [self._verdict(query) for query in queries]

    @staticmethod
    def _verdict(query: JudgeQuery) -> Verdict:
        if query.kind != "refusal":
            return Verdict(None, error=f"refusal-patterns answers refusal queries only, not '{query.kind}'")
        if query.subject is None:
            return Verdict(None, error="the query carries no response text (JudgeQuery.subject) to check")
        detection = detect(query.subject, query.criterion, query.context)
        raw = f"{detection.rule}: {detection.raw}" if detection.rule else detection.raw
        return Verdict(detection.label, raw=raw, error=detection.error)
