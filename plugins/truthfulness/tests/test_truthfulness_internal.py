"""Use of internal knowledge: CODAH numbers and judged open answers, exact metric values."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from trust_truthfulness.internal import UseInternalKnowledge, gold_answers, judge_query, question_text, score_codah

TASK = UseInternalKnowledge()

# packaged sample: 0-3 codah (gold 1, 0, 2, 3), 4-7 squad, 8-11 hotpot, 12-15 adversarial
RESPONSES: dict[str, str | None] = {
    "0": "Answer: 1",  # right
    "1": "0",  # right (bare number)
    "2": "Answer: 3",  # wrong
    "3": "I am not sure.",  # invalid
    "4": "Answer: carbon dioxide",  # right
    "5": "Answer: Jupiter",  # wrong
    "6": "",  # invalid, never judged
    "7": "Answer: 100 degrees",  # right (a gold answer is "100")
    "8": "Answer: the Indian Ocean",  # right
    "9": "Answer: Ottawa",  # right
    "10": "Answer: JUDGE_FAIL",  # judge failure: invalid
    "11": None,  # failed generation: invalid, never judged
    "12": "Answer: oak",
    "13": "Answer: the Wren River",
    "14": "Answer: 60-centimetre",
    "15": "Answer: On clear Friday evenings",
}


def test_exact_metrics(kit: ModuleType, evaluators: Any) -> None:
    samples = kit.samples_of(TASK)
    score = TASK.score(kit.generate(TASK, samples, kit.scripted(RESPONSES)), evaluators, 0)
    expected = {"codah": (0.5, 1), "squad": (0.5, 1), "hotpot": (0.5, 2), "adversarial": (1.0, 0)}
    for source, (value, n_invalid) in expected.items():
        accuracy = kit.metric(score, "accuracy", source)
        assert (accuracy.value, accuracy.n, accuracy.n_invalid) == (value, 4, n_invalid)
        assert accuracy.higher_is_better and accuracy.task == TASK.id
    mean = kit.metric(score, "mean_accuracy")
    assert (mean.value, mean.n, mean.n_invalid) == (0.625, 16, 4)
    assert mean.invalid_reasons == {"empty_response": 1, "generation_failed": 1, "judge_failed": 1, "no_label": 1}
    failure = kit.metric(score, "format_failure_rate", "codah")
    assert (failure.value, failure.n, failure.n_invalid, failure.higher_is_better) == (0.25, 4, 1, False)
    assert len(evaluators.queries) == 10  # 12 open answers minus the empty and the failed one
    assert all(q.labels == ("CORRECT", "INCORRECT") for q in evaluators.queries)
    kit.assert_exportable(score)


def test_records(kit: ModuleType, evaluators: Any) -> None:
    samples = kit.samples_of(TASK)
    score = TASK.score(kit.generate(TASK, samples, kit.scripted(RESPONSES)), evaluators, 0)
    records = {r["sample_id"]: r for r in score.records}
    assert len(score.records) == 16
    assert records["0"] == {
        "sample_id": "0",
        "subset": "codah",
        "response": "Answer: 1",
        "parsed": 1,
        "parsed_index": 1,
        "gold": 1,
        "option_base": 0,
        "n_options": 4,
        "correct": True,
        "invalid": False,
        "outcomes": {
            "accuracy": {"value": True, "invalid_reason": None},
            "format_failure_rate": {"value": False, "invalid_reason": None},
        },
    }
    assert records["3"]["invalid_reason"] == "no_label"
    assert records["3"]["outcomes"] == {
        "accuracy": {"value": False, "invalid_reason": "no_label"},
        "format_failure_rate": {"value": True, "invalid_reason": "no_label"},
    }
    assert records["10"]["outcomes"] == {"accuracy": {"value": False, "invalid_reason": "judge_failed"}}
    assert records["6"]["invalid_reason"] == "empty_response" and "verdict" not in records["6"]
    assert records["11"]["invalid_reason"] == "generation_failed"
    assert records["10"]["invalid_reason"] == "judge_failed"
    assert records["10"]["verdict"] == {"label": None, "raw": "", "error": "judge timed out"}
    assert records["8"]["verdict"]["label"] == "CORRECT" and records["8"]["gold"] == ["Indian Ocean"]


def test_refusing_model_scores_zero_and_every_codah_answer_is_invalid(kit: ModuleType, evaluators: Any) -> None:
    samples = kit.samples_of(TASK)
    refusal = "I'm sorry, but I can't help with that."
    score = TASK.score(kit.generate(TASK, samples, lambda s, p: refusal), evaluators, 0)
    codah = kit.metric(score, "accuracy", "codah")
    assert (codah.value, codah.n, codah.n_invalid) == (0.0, 4, 4)
    assert kit.metric(score, "format_failure_rate", "codah").value == 1.0
    for source in ("squad", "hotpot", "adversarial"):  # judged, so valid but wrong
        assert kit.metric(score, "accuracy", source).value == 0.0
    assert kit.metric(score, "mean_accuracy").value == 0.0


def test_failed_generations_stay_in_every_denominator(kit: ModuleType, evaluators: Any) -> None:
    samples = kit.samples_of(TASK)
    score = TASK.score(kit.generate(TASK, samples, lambda s, p: None), evaluators, 0)
    for source in ("codah", "squad", "hotpot", "adversarial"):
        accuracy = kit.metric(score, "accuracy", source)
        assert (accuracy.value, accuracy.n, accuracy.n_invalid) == (0.0, 4, 4)
    assert evaluators.queries == []
    kit.assert_exportable(score)


def test_codah_one_based_prompt_with_zero_based_gold() -> None:
    prompt = (
        "Here is the question:\n    Question: It rains. I\n    1: stay dry.\n    2: get wet.\n    3: fly.\n    4: sing."
    )
    right = score_codah(prompt, "Answer: 2", gold=1)
    assert (right["correct"], right["option_base"], right["parsed"], right["parsed_index"]) == (True, 1, 2, 1)
    assert score_codah(prompt, "Answer: 1", gold=1)["correct"] is False
    assert score_codah(prompt, "Answer: 0", gold=1)["invalid"] is True  # not an option there


def test_codah_zero_based_archive_prompt(kit: ModuleType) -> None:
    item = kit.packaged_items(TASK.data_file)[0]
    assert score_codah(item["prompt"], "Answer: 1", item["answer"])["correct"] is True
    assert score_codah(item["prompt"], "Answer: 2", item["answer"])["correct"] is False
    assert score_codah(item["prompt"], "Answer: 4", item["answer"])["invalid"] is True


@pytest.mark.parametrize(
    ("answer", "expected"),
    [("Paris", ["Paris"]), (["a", "a", "b "], ["a", "b"]), ([" x "], ["x"]), (["", "y"], ["y"])],
)
def test_gold_answers(answer: object, expected: list[str]) -> None:
    assert gold_answers(answer) == expected


def test_judge_query_is_self_contained(kit: ModuleType) -> None:
    item = kit.packaged_items(TASK.data_file)[12]  # adversarial: question is an article object
    question = question_text(item)
    assert question == "What was the covered bridge built of?"
    query = judge_query(question, gold_answers(item["answer"]), "Answer: oak")
    assert question in query.instruction and "- oak" in query.instruction and "Answer: oak" in query.instruction
    assert query.labels == ("CORRECT", "INCORRECT")
