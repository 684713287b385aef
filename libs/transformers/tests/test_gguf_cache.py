"""The cache of de-quantized GGUF copies (trust_transformers.gguf_cache) with a tiny real transformers model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trust_transformers import gguf_cache
from trust_transformers.gguf_cache import MARKER, cache_root, cacheable, existing_copy, save_copy


def _tiny_model_and_tokenizer() -> tuple[Any, Any]:
    """A two-layer Llama with random weights and a word-level fast tokenizer: real objects that save and load."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=8, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2)
    vocab = {word: i for i, word in enumerate(["<unk>", "the", "sea", "is", "blue", "a", "b", "c"])}
    words = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=words)
    return LlamaForCausalLM(config).eval(), tokenizer


@pytest.fixture
def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF" + bytes(64))
    return path


def test_the_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRUST_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"
    monkeypatch.setenv("TRUST_CACHE_DIR", "OFF")
    assert cache_root() is None
    monkeypatch.delenv("TRUST_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "trust"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "trust"


def test_only_small_files_are_copied_and_off_copies_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, gguf: Path
) -> None:
    monkeypatch.setenv("TRUST_CACHE_DIR", str(tmp_path / "cache"))
    assert cacheable(gguf)
    large = tmp_path / "large.gguf"
    with large.open("wb") as handle:  # sparse: no disk is used
        handle.truncate(gguf_cache.MAX_GGUF_BYTES + 1)
    assert not cacheable(large)
    model, tokenizer = _tiny_model_and_tokenizer()
    assert save_copy(large, "f" * 64, model, tokenizer) is None
    monkeypatch.setenv("TRUST_CACHE_DIR", "off")
    assert not cacheable(gguf)
    assert save_copy(gguf, "e" * 64, model, tokenizer) is None
    assert not (tmp_path / "cache").exists()


def test_a_saved_copy_loads_back_with_the_same_weights_and_tokenizer(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, gguf: Path
) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    monkeypatch.setenv("TRUST_CACHE_DIR", str(tmp_path / "cache"))
    model, tokenizer = _tiny_model_and_tokenizer()
    digest = "a" * 64
    assert existing_copy(gguf, digest) is None
    folder = save_copy(gguf, digest, model, tokenizer)
    assert folder is not None and folder.parent == tmp_path / "cache" / "gguf-dense"
    assert folder.name.startswith(digest + "-transformers-")
    assert json.loads((folder / MARKER).read_text()) == {"gguf": str(gguf), "sha256": digest}
    assert existing_copy(gguf, digest) == folder
    assert existing_copy(gguf, "b" * 64) is None  # another content, another copy
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no staging folder left behind
    loaded = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    for (name, ours), (_, theirs) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(ours, theirs), name
    assert AutoTokenizer.from_pretrained(folder)("the sea is blue")["input_ids"] == [1, 2, 3, 4]
    # saved again (another process loading the same file): the copy is reused, not rewritten
    before = (folder / "model.safetensors").stat().st_mtime_ns
    assert save_copy(gguf, digest, model, tokenizer) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == before


def test_a_copy_without_its_marker_is_not_used_and_an_unwritable_cache_is_skipped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, gguf: Path
) -> None:
    monkeypatch.setenv("TRUST_CACHE_DIR", str(tmp_path / "cache"))
    half = gguf_cache.copy_folder("c" * 64)
    assert half is not None
    half.mkdir(parents=True)
    (half / "config.json").write_text("{}")
    assert existing_copy(gguf, "c" * 64) is None
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("TRUST_CACHE_DIR", str(blocked))
    model, tokenizer = _tiny_model_and_tokenizer()
    assert save_copy(gguf, "d" * 64, model, tokenizer) is None
    assert blocked.read_text() == "not a folder"


def test_a_model_with_packed_weights_is_not_copied(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, gguf: Path) -> None:
    import torch

    monkeypatch.setenv("TRUST_CACHE_DIR", str(tmp_path / "cache"))
    model, tokenizer = _tiny_model_and_tokenizer()
    model.model.layers[0].mlp.down_proj.to(torch.float16)
    assert save_copy(gguf, "a" * 64, model, tokenizer) is None
    assert not (tmp_path / "cache").exists()
