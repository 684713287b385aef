"""The family judges: registration, defaults, quirks, and a real verdict from SmolLM2 as a Llama-family judge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trust_judges
from trust_judges import FAMILIES, GlmJudge, LlamaJudge, QwenJudge

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


COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _offline_with_cached(cache: Path, monkeypatch: pytest.MonkeyPatch, *repo_ids: str) -> None:
    """Make ``cache`` the Hugging Face cache, holding the config.json of ``repo_ids``, with the hub offline."""
    from huggingface_hub import constants

    for repo_id in repo_ids:
        repo = cache / f"models--{repo_id.replace('/', '--')}"
        (repo / "snapshots" / COMMIT).mkdir(parents=True)
        (repo / "snapshots" / COMMIT / "config.json").write_text(json.dumps({"model_type": "llama"}))
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text(COMMIT)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


def test_glm_s_default_needs_trust_remote_code_and_the_model_argument_wins(tmp_path: Path, monkeypatch) -> None:
    _offline_with_cached(tmp_path, monkeypatch, "THUDM/glm-4-9b-chat", "org/some-llama")
    context = ComponentContext(Registry(), BackendOptions())
    with pytest.raises(UserError, match="pass --trust-remote-code to allow it"):
        GlmJudge(None, context)
    allowed = ComponentContext(Registry(), BackendOptions(trust_remote_code=True))
    glm = GlmJudge(None, allowed)
    assert glm.model == "THUDM/glm-4-9b-chat" and glm._llm.backend.options.trust_remote_code is True
    llama = LlamaJudge("org/some-llama", context)
    assert llama.model == "org/some-llama" and llama._llm.backend.options.trust_remote_code is False
    assert llama._llm.label == "llama:org/some-llama"  # describe() would load the tokenizer from the hub


def test_a_family_judge_whose_model_is_not_cached_offline_is_refused_when_built(tmp_path: Path, monkeypatch) -> None:
    _offline_with_cached(tmp_path, monkeypatch)
    context = ComponentContext(Registry(), BackendOptions())
    with pytest.raises(UserError, match=r"--judge qwen: the model Qwen/Qwen2\.5-7B-Instruct is not in the local"):
        QwenJudge(None, context)


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
