"""FastChat templates: rendering, stop strings, the model-name match, and never a silent one-shot."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import trust_fastchat
from trust_fastchat import FastChatTemplate

from trust_core.contracts import BackendOptions
from trust_core.errors import UserError
from trust_core.registry import Registry

pytestmark = pytest.mark.skipif(importlib.util.find_spec("fastchat") is None, reason="fschat is not installed")

VICUNA_SYSTEM = "A chat between a curious user and an artificial intelligence assistant."


def test_vicuna_renders_user_and_assistant_turns() -> None:
    template = FastChatTemplate("vicuna_v1.1")
    prompt = template.render([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
                              {"role": "user", "content": "Capital of France?"}])  # fmt: skip
    assert prompt.startswith(VICUNA_SYSTEM)
    assert prompt.endswith("USER: Hi ASSISTANT: Hello!</s>USER: Capital of France? ASSISTANT:")
    custom = template.render([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert custom == "Be brief. USER: Hi ASSISTANT:"
    assert "USER:" in template.stop_strings()
    assert template.identity().startswith("fastchat:vicuna_v1.1@fschat==")


def test_bad_names_are_one_clear_error() -> None:
    with pytest.raises(UserError, match="FastChat has no template of that name"):
        FastChatTemplate("no-such-template")
    with pytest.raises(UserError, match=r"needs a template name, e\.g\. fastchat:vicuna_v1\.1"):
        FastChatTemplate(None)


def test_the_model_name_picks_a_template_but_never_one_shot() -> None:
    found = FastChatTemplate.for_model("lmsys/vicuna-7b-v1.5")
    assert found is not None and found.argument == "vicuna_v1.1"
    assert trust_fastchat.adapter_template_name("some-org/unknown-model") == "one_shot"
    assert FastChatTemplate.for_model("some-org/unknown-model") is None  # FastChat's catch-all is not used


@pytest.mark.slow
def test_the_hf_backend_uses_it_only_when_the_tokenizer_has_no_template(tmp_path: Path) -> None:
    trust_smollm2 = pytest.importorskip("trust_smollm2")
    pytest.importorskip("trust_hf")
    from transformers import AutoConfig, AutoTokenizer

    gguf = Path(trust_smollm2.gguf_path())
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = AutoConfig.from_pretrained(gguf.parent, gguf_file=gguf.name)
    folders = {}
    for name, keep_template in (("vicuna-7b-v1.5", False), ("mystery-model", False), ("modern-model", True)):
        folder = tmp_path / name
        config.save_pretrained(folder)
        if not keep_template:
            tokenizer.chat_template = None
        tokenizer.save_pretrained(folder)
        folders[name] = str(folder)
    chat = [{"role": "user", "content": "Hi"}]
    registry = Registry()

    vicuna = registry.make_backend(folders["vicuna-7b-v1.5"], "hf", BackendOptions())
    assert vicuna.render(chat).endswith("USER: Hi ASSISTANT:")
    assert vicuna.describe()["chat_template"].startswith("fastchat:vicuna_v1.1")

    mystery = registry.make_backend(folders["mystery-model"], "hf", BackendOptions())
    assert "Human:" not in mystery.render(chat) and VICUNA_SYSTEM not in mystery.render(chat)  # no one-shot
    assert not mystery.describe()["chat_template"].startswith("fastchat")

    named = registry.make_backend(
        folders["mystery-model"], "hf", BackendOptions(extra={"chat_template": "fastchat:koala_v1"})
    )
    assert named.render(chat).endswith("USER: Hi GPT:")
