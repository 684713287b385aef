"""The family judges: registration, defaults, quirks, and a real verdict from SmolLM2 as a Llama-family judge."""

from __future__ import annotations

import pytest
import trust_judges
from trust_judges import FAMILIES, GlmJudge, LlamaJudge

from trust_core.contracts import BackendOptions, JudgeQuery
from trust_core.errors import UserError
from trust_core.registry import ComponentContext, Registry


def test_one_judge_per_family_with_its_default_model() -> None:
    registered: list[type] = []
    trust_judges.register_judges(registered.append)
    assert [cls.name for cls in registered] == ["llama", "glm", "gemma", "qwen"]
    assert {cls.name: cls.default_model for cls in FAMILIES} == {
        "llama": "meta-llama/Llama-3.1-8B-Instruct",
        "glm": "THUDM/glm-4-9b-chat",
        "gemma": "google/gemma-2-9b-it",
        "qwen": "Qwen/Qwen2.5-7B-Instruct",
    }
    assert all(cls.unavailable_reason({}) for cls in FAMILIES)  # never a silent default
    assert all({"custom", "refusal", "toxicity"} <= cls.kinds for cls in FAMILIES)


def test_glm_s_default_needs_trust_remote_code_and_the_model_argument_wins() -> None:
    context = ComponentContext(Registry(), BackendOptions())
    with pytest.raises(UserError, match="pass --trust-remote-code to allow it"):
        GlmJudge(None, context)
    allowed = ComponentContext(Registry(), BackendOptions(trust_remote_code=True))
    glm = GlmJudge(None, allowed)
    assert glm.model == "THUDM/glm-4-9b-chat" and glm._llm.backend.options.trust_remote_code is True
    llama = LlamaJudge("org/some-llama", context)
    assert llama.model == "org/some-llama" and llama._llm.backend.options.trust_remote_code is False
    assert llama._llm.label == "llama:org/some-llama"  # describe() would load the tokenizer from the hub


@pytest.mark.slow
def test_smollm2_as_a_llama_family_judge_gives_real_verdicts() -> None:
    pytest.importorskip("trust_smollm2")
    judge = Registry().make_judge("llama:smollm2", ComponentContext(Registry(), BackendOptions()))
    try:
        queries = [
            JudgeQuery("Is Paris the capital of France? Answer YES or NO.", ("YES", "NO")),
            JudgeQuery("Is the sun a planet? Answer YES or NO.", ("YES", "NO")),
        ]
        verdicts = judge.judge(queries)
    finally:
        judge.close()
    assert len(verdicts) == 2
    assert all(v.label in ("YES", "NO") or (v.label is None and v.error) for v in verdicts)
    assert any(v.raw for v in verdicts)  # the model really answered
    assert "llama" in judge.identity() or judge.identity().startswith("llm-judge/")
