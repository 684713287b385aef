"""The core LLM judge: tolerant verdict parsing, retries, failures as failures."""

from __future__ import annotations

import pytest

from trust_core.contracts import BackendOptions, JudgeQuery
from trust_core.llm_judge import LLMJudge, parse_verdict

LABELS = ("CORRECTED", "NOT_CORRECTED")


@pytest.mark.parametrize(
    ("reply", "labels", "expected"),
    [
        ("CORRECT", ("CORRECT", "INCORRECT"), "CORRECT"),
        ("incorrect.", ("CORRECT", "INCORRECT"), "INCORRECT"),
        ("The answer is **Correct** because ...", ("CORRECT", "INCORRECT"), "CORRECT"),
        ("[CORRECTED] The response fixes the premise.", LABELS, "CORRECTED"),
        ("Verdict: not corrected", LABELS, "NOT_CORRECTED"),
        ("NOT_CORRECTED", LABELS, "NOT_CORRECTED"),
        ("not-corrected, although it later says corrected", LABELS, "NOT_CORRECTED"),
        ("uncorrected", LABELS, None),
        ("I am not sure.", ("YES", "NO"), None),
        ("Eyes wide shut", ("YES", "NO"), None),
        ("", ("YES", "NO"), None),
        ("SAME preference", ("SAME", "DIFFERENT"), "SAME"),
    ],
)
def test_parse_verdict(reply, labels, expected):
    assert parse_verdict(reply, labels) == expected


def _scripted_backend(mode: str):
    import importlib.util

    from conftest import PLUGIN_DIR

    spec = importlib.util.spec_from_file_location("scripted_for_judge", PLUGIN_DIR / "scripted.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ScriptedBackend(f"scripted:{mode}", BackendOptions())


def test_judge_reads_labels_and_fails_cleanly_after_retries():
    judge = LLMJudge(_scripted_backend("echo"), label="scripted", retries=2)
    verdicts = judge.judge(
        [
            JudgeQuery("Is it right? [expect: CORRECT]", ("CORRECT", "INCORRECT")),
            JudgeQuery("Is it right? [expect: no idea]", ("CORRECT", "INCORRECT")),
        ]
    )
    assert verdicts[0].label == "CORRECT" and not verdicts[0].failed
    assert verdicts[1].failed and verdicts[1].error == "reply names no allowed label"
    assert verdicts[1].raw == "no idea"
    assert judge.identity() == judge.identity()


def test_judge_records_backend_failures():
    judge = LLMJudge(_scripted_backend("fail-every-3rd"), label="scripted", retries=0)
    queries = [JudgeQuery(f"q{i} [expect: CORRECT]", ("CORRECT", "INCORRECT")) for i in range(3)]
    verdicts = judge.judge(queries)
    assert [v.label for v in verdicts] == ["CORRECT", "CORRECT", None]
    assert verdicts[2].error == "scripted failure"


def test_llm_judge_on_the_generation_model_shares_its_backend(monkeypatch):
    from conftest import PLUGIN_DIR
    from trust_core.registry import ComponentContext, Registry

    monkeypatch.setenv("TRUST_LOAD_PLUGINS", "")
    registry = Registry([PLUGIN_DIR])
    context = ComponentContext(registry, BackendOptions())
    generation_backend = registry.make_backend("scripted-echo", None, BackendOptions())
    shared = registry.make_judge("scripted-echo", context, reusable=generation_backend)
    assert isinstance(shared, LLMJudge) and shared.backend is generation_backend and not shared.owns_backend
    separate = registry.make_judge("scripted:refuse", context, reusable=generation_backend)
    assert separate.backend is not generation_backend and separate.owns_backend
    assert registry.make_judge("keyword", context).identity() == "keyword/1"


def test_labels_inside_reasoning_blocks_are_not_the_answer():
    from trust_core.llm_judge import parse_verdict, strip_reasoning

    reply = "<think>It could be CORRECT, but the claim is false.</think>\nWRONG"
    assert parse_verdict(reply, ("CORRECT", "WRONG")) == "WRONG"
    assert parse_verdict("<think>maybe CORRECT", ("CORRECT", "WRONG")) is None  # never finished thinking
    assert strip_reasoning("a <THINK>x</THINK> b") == "a   b"


DIAGNOSIS_LABELS = ("CORRECT", "INCORRECT", "NOT_LISTED", "NO_DIAGNOSIS")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("NOT_LISTED", "NOT_LISTED"),
        ("not listed.", "NOT_LISTED"),
        ("No-diagnosis", "NO_DIAGNOSIS"),
        ("**NO_DIAGNOSIS**", "NO_DIAGNOSIS"),
        ("Final answer: NOT_LISTED", "NOT_LISTED"),
        ("[NO_DIAGNOSIS] It hedges between two options.", "NO_DIAGNOSIS"),
        ("NO_DIAGNOSIS\nThe answer never chooses.", "NO_DIAGNOSIS"),
        ("CORRECT", "CORRECT"),
        ("NOT_LISTED, NO_DIAGNOSIS", None),
        ("Its diagnosis is not listed, so I cannot say.", None),
    ],
)
def test_labels_with_an_underscore_parse(reply, expected):
    assert parse_verdict(reply, DIAGNOSIS_LABELS) == expected
