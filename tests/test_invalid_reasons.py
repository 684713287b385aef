"""Why items are invalid (issue #9, item 10): every invalid per-sample record names its reason, one of the
documented set (``trust_core.task_scoring.INVALID_REASONS``), and every metric counts the reasons behind its
``n_invalid`` (``invalid_reasons``, summing exactly to ``n_invalid``) — for every task of the six dimension
plugins, on its packaged sample, with scripted answers of every kind and evaluators that sometimes fail."""

from __future__ import annotations

import itertools
import json
import os
import re
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from trust_core.contracts import REFUSAL_LABELS, Evaluators, JudgeQuery, MetricValue, Task, Verdict
from trust_core.metrics import (
    macro_f1_metric,
    max_over_valid,
    mean_metric,
    mean_of_metrics,
    mean_over_valid,
    reason_counts,
)
from trust_core.registry import ALLOW_LIST_ENV, Registry
from trust_core.results import metric_record, summary_table
from trust_core.schemas import load_schema, validator
from trust_core.task_scoring import INVALID_REASONS, reasons_of
from trust_core.testing import Respond, generate, packaged_items, run_cli, samples_of

DIMENSIONS = ("truthfulness", "safety", "fairness", "robustness", "privacy", "ethics")

ANSWERS: tuple[str | None, ...] = (
    None,
    "",
    "   \n",
    "zzz qqq",
    "Yes",
    "No.",
    "yes or no",
    "Answer: A",
    "B",
    "A, B, or C",
    "2",
    "Answer: SUPPORT",
    "REFUTE",
    "It is not wrong.",
    "wrong",
    "I'm not sure.",
    "That is good.",
    "bad or neutral",
    "positive",
    "Sorry, I can't help with that.",
    "Sure: write to john.doe@example.com",
    "I agree with that.",
    "50",
    "The diagnosis is pneumonia.",
    "It is not negative.",
    "Not bad at all.",
    "It supports the claim, and it refutes it too.",
    "Positive. Negative, on reflection.",
)
"""Answers of every kind: failed, empty, blank, nonsense, committed labels, label echoes, negations, hedges,
refusals, addresses (:func:`cycling_answers` hands them out)."""


def _hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def cycling_answers(step: int = 5) -> Respond:
    """A scripted model answering the prompts in turn with :data:`ANSWERS`, ``step`` apart (coprime with their
    number, so every answer comes within as many prompts); the first prompt's generation fails."""
    turn = itertools.count()
    return lambda sample, prompt: ANSWERS[next(turn) * step % len(ANSWERS)]


class FlakyEvaluators(Evaluators):
    """Deterministic evaluators that give every label and, for about one query in four, a failed verdict.

    Without ``refusal`` / ``toxicity`` the run has no refusal judge / toxicity scorer.
    """

    def __init__(self, refusal: bool = True, toxicity: bool = True) -> None:
        self.has_refusal = refusal
        self.has_toxicity = toxicity

    @staticmethod
    def _pick(text: str, labels: Sequence[str]) -> Verdict:
        k = _hash(text) % (len(labels) + 1)
        return Verdict(None, raw="", error="judge failed") if k == len(labels) else Verdict(labels[k], raw=labels[k])

    def judge(self, queries: Sequence[JudgeQuery]) -> list[Verdict]:
        return [self._pick(query.instruction, query.labels) for query in queries]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0 + _hash(text) % 7, float(_hash(text) // 7 % 5), 1.0] for text in texts]

    def refusal(
        self, responses: Sequence[str], prompts: Sequence[str] | None = None, criterion: str = "request"
    ) -> list[Verdict]:
        if not self.has_refusal:
            return super().refusal(responses, prompts)
        return [self._pick(response, REFUSAL_LABELS) for response in responses]

    def toxicity(self, texts: Sequence[str]) -> list[Verdict]:
        if not self.has_toxicity:
            return super().toxicity(texts)
        scores = [(_hash(text) % 5) / 4 for text in texts]
        return [Verdict(None, error="scorer failed") if s == 0.5 else Verdict("TOXIC", score=s) for s in scores]

    def identity(self, kind: str) -> str | None:
        available = {"refusal": self.has_refusal, "toxicity": self.has_toxicity}.get(kind, True)
        return f"flaky-{kind}/1" if available else None


def all_tasks() -> list[type[Task]]:
    """The tasks of the six dimension plugins, as the registry loads them."""
    previous = os.environ.get(ALLOW_LIST_ENV)
    os.environ[ALLOW_LIST_ENV] = ",".join(DIMENSIONS)
    try:
        return Registry().tasks()
    finally:
        if previous is None:
            del os.environ[ALLOW_LIST_ENV]
        else:
            os.environ[ALLOW_LIST_ENV] = previous


TASKS = all_tasks()
METRIC_SCHEMA = validator(load_schema("results.schema.json")["properties"]["metrics"]["items"])


def check_metric(metric: MetricValue) -> None:
    """The metric's reasons are documented and sum to ``n_invalid``; its results.json form is schema-valid."""
    where = f"{metric.task} {metric.metric} {metric.subset}"
    assert set(metric.invalid_reasons) <= set(INVALID_REASONS), (where, metric.invalid_reasons)
    assert sum(metric.invalid_reasons.values()) == metric.n_invalid, (where, metric.invalid_reasons)
    record = metric_record(metric)
    assert record["invalid_reasons"] == {k: v for k, v in metric.invalid_reasons.items() if v}
    errors = [error.message for error in METRIC_SCHEMA.iter_errors(record)]
    assert not errors, (where, errors)


def check_record(record: dict[str, Any], task: str) -> None:
    """An invalid record names a documented reason; a valid one names none."""
    where = (task, record.get("sample_id"))
    if record.get("invalid"):
        assert record.get("invalid_reason") in INVALID_REASONS, (where, record.get("invalid_reason"))
    else:
        assert "invalid_reason" not in record, (where, record.get("invalid_reason"))
    if "toxicity_invalid_reason" in record:
        assert record["toxicity_invalid_reason"] in INVALID_REASONS, where


NOT_REFUSED_NOR_DISCLOSED = frozenset(
    {"rta", "mean_rta", "refusal_rate", "refusal_share", "total_disclosure", "mean_total_disclosure"}
)
"""Refusal and disclosure rates: a failed or empty response is neither refused nor disclosing."""


def test_all_six_dimensions_are_covered() -> None:
    assert len(TASKS) >= 26
    assert {task.id.split("/")[0] for task in TASKS} == set(DIMENSIONS)


@pytest.mark.parametrize("task_class", TASKS, ids=lambda task: task.id)
@pytest.mark.parametrize("evaluators", [FlakyEvaluators(), FlakyEvaluators(refusal=False, toxicity=False)])
def test_every_invalid_record_has_a_documented_reason_and_metrics_count_them(
    task_class: type[Task], evaluators: FlakyEvaluators
) -> None:
    task = task_class()
    samples = samples_of(task)
    score = task.score(generate(task, samples, cycling_answers()), evaluators, seed=0)
    for record in score.records:
        check_record(record, task.id)
    for metric in score.metrics:
        check_metric(metric)
    if evaluators.has_refusal:
        assert any(record.get("invalid") for record in score.records), f"{task.id}: the answers made nothing invalid"
        assert any(metric.invalid_reasons for metric in score.metrics), task.id


def test_the_reasons_counted_over_all_tasks_cover_parsing_judging_and_generation() -> None:
    seen: set[str] = set()
    for task_class in TASKS:
        task = task_class()
        score = task.score(generate(task, samples_of(task), cycling_answers()), FlakyEvaluators(), seed=0)
        seen.update(reason for metric in score.metrics for reason in metric.invalid_reasons)
    assert seen >= {
        "generation_failed",
        "empty_response",
        "no_label",
        "label_echo",
        "negated",
        "outside_options",
        "judge_failed",
        "refusal_judge_failed",
        "toxicity_scorer_failed",
    }


@pytest.mark.parametrize("task_class", TASKS, ids=lambda task: task.id)
@pytest.mark.parametrize("answer", [None, ""], ids=["failed", "empty"])
def test_failed_or_empty_responses_are_invalid_everywhere_and_counted_by_reason(
    task_class: type[Task], answer: str | None
) -> None:
    """TASKS.md "Empty or failed responses": invalid everywhere; every counted metric says why."""
    task = task_class()
    score = task.score(generate(task, samples_of(task), lambda s, p: answer), FlakyEvaluators(), seed=0)
    own = "generation_failed" if answer is None else "empty_response"
    for record in score.records:
        check_record(record, task.id)
        assert record["invalid"] is True, (task.id, record)
        assert own in record["invalid_reason"], (task.id, record["invalid_reason"])
        assert not record.get("refused") and not record.get("disclosed") and not record.get("correct")
    for metric in score.metrics:
        check_metric(metric)
        assert set(metric.invalid_reasons) <= {own, f"pair_{own}", f"original_{own}", "no_gold_label"}, metric
        if metric.metric in NOT_REFUSED_NOR_DISCLOSED and metric.value is not None:
            assert metric.value == 0.0, metric  # not refused, not disclosed


# --------------------------------------------------------------------------- the metric helpers


def test_mean_metric_counts_reasons_and_rejects_a_bare_invalid_flag() -> None:
    metric = mean_metric("t/x", "accuracy", [1, 0, 0, 0], [None, "label_echo", "empty_response", "label_echo"], True)
    assert (metric.n_invalid, metric.invalid_reasons) == (3, {"empty_response": 1, "label_echo": 2})
    with pytest.raises(TypeError, match="t/x accuracy: an invalid item needs its reason"):
        mean_metric("t/x", "accuracy", [1, 0], [False, True], True)
    with pytest.raises(ValueError, match="1 invalid reasons for 2 items"):
        mean_metric("t/x", "accuracy", [1, 0], [None], True)


def test_over_valid_helpers_need_a_reason_exactly_for_each_missing_value() -> None:
    mean = mean_over_valid("t/x", "m", [0.5, None, None], True, reasons=[None, "judge_failed", "empty_response"])
    top = max_over_valid("t/x", "m", [0.5, None], False, reasons=[None, "toxicity_scorer_failed"])
    assert (mean.n_invalid, mean.invalid_reasons) == (2, {"empty_response": 1, "judge_failed": 1})
    assert top.invalid_reasons == {"toxicity_scorer_failed": 1}
    with pytest.raises(ValueError, match="item 1 is invalid but has no reason"):
        mean_over_valid("t/x", "m", [0.5, None], True)
    with pytest.raises(ValueError, match="item 0 is valid but has the invalid reason 'judge_failed'"):
        max_over_valid("t/x", "m", [0.5, None], False, reasons=["judge_failed", "judge_failed"])


def test_macro_f1_and_means_of_metrics_carry_the_reasons() -> None:
    gold = ["SUPPORT", "REFUTE", "REFUTE"]
    parts = [
        macro_f1_metric(
            "t/x",
            "f1",
            gold,
            ["SUPPORT", None, None],
            ("SUPPORT", "REFUTE"),
            "a",
            reasons=[None, "negated", "no_label"],
        ),
        macro_f1_metric(
            "t/x", "f1", gold, [None, "REFUTE", "REFUTE"], ("SUPPORT", "REFUTE"), "b", reasons=["negated", None, None]
        ),
    ]
    assert parts[0].invalid_reasons == {"negated": 1, "no_label": 1}
    mean = mean_of_metrics("t/x", "mean_f1", parts, True)
    assert (mean.n_invalid, mean.invalid_reasons) == (3, {"negated": 2, "no_label": 1})
    with pytest.raises(ValueError, match="item 1 is invalid but has no reason"):
        macro_f1_metric("t/x", "f1", gold, ["SUPPORT", None, "REFUTE"], ("SUPPORT", "REFUTE"))


def test_reasons_of_records_and_the_results_form() -> None:
    records = [{"sample_id": "0", "invalid": False}, {"sample_id": "1", "invalid": True, "invalid_reason": "no_label"}]
    assert reasons_of(records) == [None, "no_label"]
    with pytest.raises(ValueError, match="sample '2' is invalid but has no invalid_reason"):
        reasons_of([{"sample_id": "2", "invalid": True}])
    assert reason_counts(["b", None, "a", "b"]) == {"a": 1, "b": 2}
    inconsistent = MetricValue("t/x", "accuracy", 0.5, True, 4, 2, invalid_reasons={"no_label": 1})
    with pytest.raises(ValueError, match="do not sum to n_invalid 2"):
        metric_record(inconsistent)
    consistent = MetricValue("t/x", "accuracy", 0.5, True, 4, 2, invalid_reasons={"no_label": 1, "negated": 1})
    record = metric_record(consistent)
    assert record["invalid_reasons"] == {"negated": 1, "no_label": 1}
    table = summary_table({"metrics": [record]})
    assert "2 (negated 1, no_label 1)" in table


def test_the_documented_reasons_are_the_ones_in_the_guide() -> None:
    guide = (Path(__file__).resolve().parent.parent / "docs" / "user-guide.md").read_text(encoding="utf-8")
    section = guide.split("### Why an item is invalid", 1)[1].split("\n#", 1)[0]
    documented = re.findall(r"^\| `([a-z0-9_]+)` \|", section, flags=re.MULTILINE)
    assert sorted(documented) == sorted(INVALID_REASONS)


# --------------------------------------------------------------------------- through the CLI


def test_evaluate_writes_reasons_to_samples_and_counts_to_results(tmp_path: Path) -> None:
    """`trust evaluate` on TrustLLM-format generations: samples.jsonl says why each item is invalid and
    results.json counts the reasons behind every ``n_invalid``."""
    from trust_truthfulness.external import UseExternalKnowledge

    items = packaged_items(UseExternalKnowledge)
    answers = [None, "", "Answer: SUPPORT", "SUPPORT or REFUTE", "zzz"]
    for index, item in enumerate(items):
        item["res"] = answers[index % len(answers)]
    folder = tmp_path / "generations" / "truthfulness"
    folder.mkdir(parents=True)
    (folder / "external.json").write_text(json.dumps(items), encoding="utf-8")
    command = ["evaluate", "--tasks", "use_external_knowledge"]
    command += ["--generations", str(tmp_path / "generations"), "--run-dir", str(tmp_path / "run")]
    completed = run_cli(*command, env={ALLOW_LIST_ENV: "truthfulness"}, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    records = [json.loads(line) for line in (tmp_path / "run" / "samples.jsonl").read_text().splitlines()]
    invalid = [record for record in records if record["invalid"]]
    assert invalid and all(record["invalid_reason"] in INVALID_REASONS for record in invalid)
    by_response = {record["response"]: record.get("invalid_reason") for record in records}
    assert by_response[None] == "generation_failed" and by_response[""] == "empty_response"
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    for metric in results["metrics"]:
        assert sum(metric["invalid_reasons"].values()) == metric["n_invalid"], metric
    overall = next(m for m in results["metrics"] if m["metric"] == "mean_macro_f1")
    expected: dict[str, int] = {}
    for record in invalid:
        expected[record["invalid_reason"]] = expected.get(record["invalid_reason"], 0) + 1
    assert overall["invalid_reasons"] == dict(sorted(expected.items()))
    assert "generation_failed" in completed.stdout
