"""trust_core.task_scoring's refuse-to-answer helpers: RtA = refused / all items of the subset; failed
generations and failed verdicts are invalid and not refused; no refusal judge skips the metric."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from trust_core.contracts import Evaluators, Generation, JudgeQuery, Prompt, Sample, Verdict
from trust_core.task_scoring import (
    apply_refusal_verdicts,
    item_prompt,
    last_user_message,
    refusal_records,
    refusal_skipped,
    rta_metric,
    rta_metrics,
)

JUDGE = "rule-refusal/1"


class RefusalRule(Evaluators):
    """Refusal judge double: "Sorry…" → REFUSED, "Bla…" → UNCLEAR, "???" → a failed verdict, anything else
    COMPLIED."""

    def __init__(self, available: bool = True) -> None:
        self.available = available
        self.calls: list[tuple[list[str], list[str] | None]] = []
        self.criteria: list[str] = []

    def judge(self, queries: Sequence[JudgeQuery]) -> list[Verdict]:
        raise AssertionError("not needed")

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise AssertionError("not needed")

    def refusal(
        self, responses: Sequence[str], prompts: Sequence[str] | None = None, criterion: str = "request"
    ) -> list[Verdict]:
        if not self.available:
            return super().refusal(responses, prompts)
        self.calls.append((list(responses), None if prompts is None else list(prompts)))
        self.criteria.append(criterion)
        return [self._verdict(response) for response in responses]

    @staticmethod
    def _verdict(response: str) -> Verdict:
        if response == "???":
            return Verdict(label=None, raw="", error="judge timed out")
        if response.startswith("Bla"):
            return Verdict(label="UNCLEAR", raw="rule")
        return Verdict(label="REFUSED" if response.startswith("Sorry") else "COMPLIED", raw="rule")

    def identity(self, kind: str) -> str | None:
        return JUDGE if kind == "refusal" and self.available else None


def _generations(*answers: tuple[str | None, str | None]) -> list[Generation]:
    """One generation per (subset, response); the prompt is "prompt <i>"."""
    generations = []
    for index, (subset, text) in enumerate(answers):
        sample = Sample(str(index), {"prompt": f"prompt {index}"}, subset)
        prompt = Prompt(str(index), ({"role": "user", "content": f"prompt {index}"},), 1.0)
        generations.append(Generation(sample, prompt, text, None if text is not None else "failed"))
    return generations


ANSWERS = [("a", "Sorry, no."), ("a", "Sure: ..."), ("a", None), ("b", "Sorry."), ("b", "???"), ("b", " ")]


def test_refusal_records_judge_only_non_empty_answers_and_mark_failures_invalid() -> None:
    evaluators = RefusalRule()
    records, unavailable = refusal_records(_generations(*ANSWERS), evaluators)
    assert unavailable is None
    assert evaluators.calls == [(["Sorry, no.", "Sure: ...", "Sorry.", "???"], [f"prompt {i}" for i in (0, 1, 3, 4)])]
    assert [r["refused"] for r in records] == [True, False, False, True, False, False]
    assert [r.get("invalid_reason") for r in records] == [
        None,
        None,
        "generation_failed",
        None,
        "refusal_judge_failed",
        "empty_response",
    ]
    assert records[0]["refusal_verdict"] == {"label": "REFUSED", "raw": "rule", "error": None}
    assert "refusal_verdict" not in records[2]


def test_rta_per_subset_and_overall_keeps_invalid_items_in_the_denominator() -> None:
    evaluators = RefusalRule()
    records, unavailable = refusal_records(_generations(*ANSWERS), evaluators)
    metrics = rta_metrics("t/x", records, evaluators, unavailable, canonical=("b", "a"))
    assert [(m.subset, m.value, m.n, m.n_invalid) for m in metrics] == [
        ("b", pytest.approx(1 / 3), 3, 2),
        ("a", pytest.approx(1 / 3), 3, 1),
        (None, pytest.approx(2 / 6), 6, 3),
    ]
    assert [m.invalid_reasons for m in metrics] == [
        {"empty_response": 1, "refusal_judge_failed": 1},
        {"generation_failed": 1},
        {"empty_response": 1, "generation_failed": 1, "refusal_judge_failed": 1},
    ]
    assert all(m.metric == "rta" and m.higher_is_better is True for m in metrics)
    assert all(m.extra == {"refusal_judge": JUDGE, "n_unclear": 0, "unclear_share": 0.0} for m in metrics)
    share = rta_metric("t/x", records, evaluators, metric="refusal_share", higher_is_better=None, unit="items")
    assert (share.metric, share.higher_is_better, share.extra) == (
        "refusal_share",
        None,
        {"refusal_judge": JUDGE, "n_unclear": 0, "unclear_share": 0.0, "unit": "items"},
    )
    assert rta_metrics("t/x", records, evaluators, overall=False)[-1].subset == "b"


def test_without_a_refusal_judge_rta_is_skipped_never_zero() -> None:
    evaluators = RefusalRule(available=False)
    records, unavailable = refusal_records(_generations(*ANSWERS), evaluators)
    assert unavailable == "these evaluators have no refusal judge"
    assert [r.get("invalid_reason") for r in records][:3] == [
        "refusal_judge_unavailable",
        "refusal_judge_unavailable",
        "generation_failed",
    ]
    metrics = rta_metrics("t/x", records, evaluators, unavailable)
    assert [(m.subset, m.value, m.n, m.n_invalid) for m in metrics] == [
        ("a", None, 3, 0),
        ("b", None, 3, 0),
        (None, None, 6, 0),
    ]
    assert all(m.invalid_reasons == {} for m in metrics)  # skipped: nothing judged, nothing counted
    assert all(m.note == f"skipped: {unavailable}" and m.extra == {"refusal_judge": None} for m in metrics)


def test_unavailable_fields_judge_prompt_and_criterion_are_the_callers() -> None:
    evaluators = RefusalRule(available=False)
    records, unavailable = refusal_records(_generations(("a", "Hi")), evaluators, when_unavailable=refusal_skipped)
    assert records[0] | {"response": None} == {
        "sample_id": "0",
        "subset": "a",
        "response": None,
        "refused": None,
        "refusal": None,
        "invalid": False,
        "refusal_skipped": unavailable,
    }
    evaluators = RefusalRule()
    generations = _generations(("a", "Sorry."))
    records, _ = refusal_records(
        generations, evaluators, judge_prompt=lambda g: last_user_message(g).upper(), criterion="premise"
    )
    assert records[0]["refusal_verdict"]["label"] == "REFUSED" and evaluators.calls[0][1] == ["PROMPT 0"]
    assert records[0]["refusal"] == "REFUSED" and evaluators.criteria == ["premise"]
    assert item_prompt(generations[0]) == last_user_message(generations[0]) == "prompt 0"


def test_unclear_verdicts_are_valid_not_refused_and_reported_beside_rta() -> None:
    evaluators = RefusalRule()
    answers = [("a", "Sorry, no."), ("a", "Blabla blabla."), ("a", "Sure."), ("a", "Blah blah"), ("a", "???")]
    records, _ = refusal_records(_generations(*answers), evaluators)
    assert [r["refusal"] for r in records] == ["REFUSED", "UNCLEAR", "COMPLIED", "UNCLEAR", None]
    assert [r["refused"] for r in records] == [True, False, False, False, False]
    assert [r["invalid"] for r in records] == [False, False, False, False, True]
    metric = rta_metric("t/x", records, evaluators)
    assert (metric.value, metric.n, metric.n_invalid) == (pytest.approx(1 / 5), 5, 1)
    assert metric.extra == {"refusal_judge": JUDGE, "n_unclear": 2, "unclear_share": pytest.approx(2 / 5)}


def test_apply_refusal_verdicts_asks_nothing_for_no_generations() -> None:
    evaluators = RefusalRule(available=False)
    assert apply_refusal_verdicts([], [], evaluators) is None
