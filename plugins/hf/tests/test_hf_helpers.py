"""Fast tests of the hf backend's model-free parts: model classification, batching, fingerprints."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import trust_smollm2
from trust_hf import HFBackend

from trust_core.backend_support import plain_prompt
from trust_core.contracts import BackendOptions, ChatRequest, GenerationSettings
from trust_transformers.batching import Prepared, batch_seed, completion_length, left_pad, plan_batches
from trust_transformers.source import classify, folder_digest


def _folder(tmp_path: Path, config: dict[str, object]) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").write_bytes(b"\x01" * 4096)
    return folder


def _prepared(key: str, length: int, temperature: float = 0.0, max_new: int = 8) -> Prepared:
    request = ChatRequest(key, ({"role": "user", "content": key},), GenerationSettings(temperature, max_new, 1))
    return Prepared(request, tuple(range(length)))


def test_supports_ranks_folders_above_gguf_and_hub_ids(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"model_type": "llama"})
    empty = tmp_path / "empty"
    empty.mkdir()
    text_file = tmp_path / "notes.txt"
    text_file.write_text("hello")
    assert HFBackend.supports(str(folder)) == 2
    assert HFBackend.supports(trust_smollm2.gguf_path()) == 1
    assert HFBackend.supports("HuggingFaceTB/SmolLM2-135M-Instruct") == 1
    assert HFBackend.supports(str(empty)) == 0
    assert HFBackend.supports(str(text_file)) == 0
    assert HFBackend.supports(str(tmp_path / "missing.gguf")) == 0
    assert HFBackend.supports("not a model") == 0
    assert HFBackend.supports("smollm2") == 0


def test_classify_splits_a_gguf_path_into_folder_and_file() -> None:
    source = classify(trust_smollm2.gguf_path())
    assert source is not None and source.kind == "gguf"
    assert source.gguf_file == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert str(source.path) == str(Path(trust_smollm2.gguf_path()).resolve())


def test_plan_batches_groups_by_settings_and_sorts_by_length() -> None:
    items = [
        _prepared("a", 5),
        _prepared("b", 2),
        _prepared("c", 9, temperature=0.7),
        _prepared("d", 3),
        _prepared("e", 1, max_new=4),
        _prepared("f", 2),
    ]
    batches = [[item.request.key for item in batch] for batch in plan_batches(items, 2)]
    assert batches == [["e"], ["b", "f"], ["d", "a"], ["c"]]
    assert [len(batch) for batch in plan_batches(items, 100)] == [1, 4, 1]
    assert sorted(key for batch in plan_batches(items, 1) for key in [batch[0].request.key]) == list("abcdef")


def test_batch_seed_depends_on_the_set_of_seeds_only() -> None:
    assert batch_seed([3, 1, 2]) == batch_seed([1, 2, 3])
    assert batch_seed([1, 2, 3]) != batch_seed([1, 2, 4])
    assert 0 <= batch_seed([2**64, -5]) < 2**63


def test_left_pad_and_completion_length() -> None:
    ids, mask = left_pad([[5, 6, 7], [8]], pad_id=0)
    assert ids == [[5, 6, 7], [0, 0, 8]]
    assert mask == [[1, 1, 1], [0, 0, 1]]
    assert completion_length([4, 9, 2, 2, 2], frozenset({2})) == 2
    assert completion_length([4, 9], frozenset({2})) == 2
    assert completion_length([2], frozenset({2})) == 0


def test_plain_fallback_prompt_and_message_validation() -> None:
    messages = ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"})
    assert plain_prompt(messages, bos="<s>") == "<s>System: Be brief.\n\nUser: Hi\n\nAssistant:"
    with pytest.raises(ValueError, match="role"):
        plain_prompt(({"role": "robot", "content": "x"},))
    with pytest.raises(ValueError, match="at least one"):
        plain_prompt(())


def test_folder_fingerprint_tracks_config_and_weights(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"model_type": "llama"})
    first = HFBackend(str(folder), _options()).fingerprint()
    assert first == f"folder-sha256:{folder_digest(folder)}"
    (folder / "model.safetensors").write_bytes(b"\x02" * 4096)
    second = folder_digest(folder)
    (folder / "config.json").write_text(json.dumps({"model_type": "mistral"}))
    third = folder_digest(folder)
    assert len({first.split(":")[1], second, third}) == 3


def test_gguf_fingerprint_is_the_file_sha256() -> None:
    path = Path(trust_smollm2.gguf_path())
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert HFBackend(str(path), _options()).fingerprint() == f"gguf-sha256:{expected}"


def test_hub_fingerprint_names_the_cached_commit_without_loading(tmp_path: Path, monkeypatch) -> None:
    from huggingface_hub import constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    snapshot = tmp_path / "models--example-org--cached-model" / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (tmp_path / "models--example-org--cached-model" / "refs").mkdir()
    (tmp_path / "models--example-org--cached-model" / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # the hub is not asked: the cached snapshot is used
    backend = HFBackend("example-org/cached-model", _options())
    assert backend.fingerprint() == f"hf:example-org/cached-model@{commit}"


def test_an_uncached_hub_model_offline_is_refused_when_the_backend_is_built(tmp_path: Path, monkeypatch) -> None:
    from huggingface_hub import constants

    from trust_core.errors import UserError

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(UserError, match="example-org/never-downloaded-model is not in the local Hugging Face cache"):
        HFBackend("example-org/never-downloaded-model", _options())


def test_importing_the_plugin_does_not_import_torch() -> None:
    code = "import sys, trust_hf; assert not {'torch', 'transformers'} & set(sys.modules); print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def _options() -> BackendOptions:
    return BackendOptions()
