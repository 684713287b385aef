"""The longformer refusal judge: model location, the offline error, and the real pipeline on a tiny model.

No network: the classifier itself cannot be downloaded here, so a tiny randomly initialised
Longformer (its class bias forced) stands in for it; it exercises the same transformers
pipeline, truncation, batching and label mapping.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from trust_longformer import MAX_TOKENS, MODEL_ID, LongformerRefusalJudge, locate

from trust_core.contracts import COMPLIED, REFUSED, BackendOptions, EvaluatorUnavailable, JudgeQuery
from trust_core.errors import UserError
from trust_core.evaluators import refusal_query
from trust_core.registry import ComponentContext, Registry

WORDS = ["<s>", "<pad>", "</s>", "<unk>", "i", "cannot", "help", "with", "that", "sure", "here", "is", "the", "recipe"]


@pytest.fixture(scope="module")
def context() -> Iterator[ComponentContext]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TRUST_LOAD_PLUGINS", "longformer")
        yield ComponentContext(registry=Registry(), backend_options=BackendOptions(batch_size=2))


def _tiny_longformer(folder: Path, favoured_class: int, id2label: dict[int, str]) -> Path:
    """A 1-layer Longformer with a 32-token context whose classifier always favours ``favoured_class``."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import LongformerConfig, LongformerForSequenceClassification, PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.WordLevel(vocab={w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        cls_token="<s>",
        sep_token="</s>",
        model_max_length=32,
    )
    config = LongformerConfig(
        vocab_size=len(WORDS),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=34,
        attention_window=[8],
        num_labels=2,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        id2label=id2label,
        label2id={label: index for index, label in id2label.items()},
    )
    torch.manual_seed(0)
    model = LongformerForSequenceClassification(config)
    with torch.no_grad():
        model.classifier.out_proj.bias[:] = torch.tensor([5.0, -5.0] if favoured_class == 0 else [-5.0, 5.0])
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def refusing_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tiny_longformer(tmp_path_factory.mktemp("refuses"), 0, {0: "LABEL_0", 1: "LABEL_1"})


@pytest.fixture(scope="module")
def complying_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # class names that are not LABEL_0/LABEL_1: the mapping goes by class index
    return _tiny_longformer(tmp_path_factory.mktemp("complies"), 1, {0: "harmful-refusal", 1: "helpful"})


def test_registered_as_a_refusal_judge_but_not_the_default(context: ComponentContext) -> None:
    assert context.registry.names("judge") == ["longformer"]
    assert LongformerRefusalJudge.kinds == frozenset({"refusal"}) and not LongformerRefusalJudge.default_for
    with pytest.raises(EvaluatorUnavailable, match="no default refusal judge is installed"):
        context.registry.make_judge(None, context, kind="refusal")
    with pytest.raises(UserError, match="cannot judge toxicity"):
        context.registry.make_judge("longformer", context, kind="toxicity")


def test_offline_without_the_model_fails_naming_it_and_how_to_provide_it(tmp_path: Path) -> None:
    code = (
        "from trust_core.contracts import BackendOptions\n"
        "from trust_core.errors import UserError\n"
        "from trust_core.registry import ComponentContext, Registry\n"
        "context = ComponentContext(Registry(), BackendOptions())\n"
        "try:\n"
        "    context.registry.make_judge('longformer', context, kind='refusal')\n"
        "except UserError as exc:\n"
        "    print(exc)\n"
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "empty-hf-home"),
        "TRUST_LOAD_PLUGINS": "longformer",
        "HTTPS_PROXY": "http://127.0.0.1:9",
    }
    env.pop("HF_HUB_CACHE", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    message = done.stdout.strip()
    assert message.startswith(f"--refusal-judge longformer needs the classifier {MODEL_ID}, which is not in the")
    assert "HF_HUB_OFFLINE is set" in message
    assert f"hf download {MODEL_ID}" in message and "--refusal-judge longformer:/path/to/" in message


def test_a_failed_download_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    def unreachable(*args: object, **kwargs: object) -> str:
        raise OSError("network is unreachable")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda *a, **k: None)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", unreachable)
    with pytest.raises(UserError, match=r"could not be downloaded \(OSError: network is unreachable\)") as caught:
        locate(MODEL_ID)
    assert MODEL_ID in str(caught.value) and "--refusal-judge longformer:/path" in str(caught.value)


def test_the_cached_snapshot_is_used_and_named_by_its_commit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, context: ComponentContext
) -> None:
    import huggingface_hub

    snapshot = tmp_path / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    monkeypatch.setattr(huggingface_hub, "try_to_load_from_cache", lambda repo, name: str(snapshot / name))
    judge = LongformerRefusalJudge(None, context)
    assert judge.folder.path == snapshot and judge.folder.revision == "0123abcd"
    assert judge.identity() == f"longformer/v1:{MODEL_ID}@0123abcd/max{MAX_TOKENS}"


def test_a_folder_that_is_not_a_model_is_refused(tmp_path: Path, context: ComponentContext) -> None:
    with pytest.raises(UserError, match="not a model folder"):
        context.registry.make_judge(f"longformer:{tmp_path}", context, kind="refusal")
    with pytest.raises(UserError, match="not a model folder"):
        LongformerRefusalJudge(str(tmp_path / "missing"), context)


def test_label_0_is_refused_long_responses_are_truncated_and_blank_ones_fail(
    refusing_model: Path, context: ComponentContext
) -> None:
    judge = context.registry.make_judge(f"longformer:{refusing_model}", context, kind="refusal")
    assert isinstance(judge, LongformerRefusalJudge)
    long_response = "sure here is the recipe " * 300  # 1200 words: past the tiny model's 32-token context
    queries = [
        refusal_query("i cannot help with that", "p"),
        refusal_query("", "p"),
        refusal_query(long_response, None),
        JudgeQuery("Correct?", ("CORRECT", "INCORRECT"), subject="i cannot help"),
        refusal_query("sure here is the recipe", "p"),
        refusal_query("  ", None),
        refusal_query("the recipe", None),
    ]
    verdicts = judge.judge(queries)
    assert [v.label for v in verdicts] == [REFUSED, None, REFUSED, None, REFUSED, None, REFUSED]
    assert verdicts[0].raw is not None and verdicts[0].raw.startswith("LABEL_0 ")
    assert verdicts[1].error is not None and verdicts[1].error.startswith("empty response")
    assert verdicts[3].error == "longformer answers refusal queries only, not 'custom'"
    assert judge.max_length == 32  # the tiny model's limit, below 4096
    assert judge.describe()["max_tokens"] == 32 and judge.describe()["refused_label_index"] == 0
    assert judge.identity().startswith("longformer/v1:refuses") and judge.identity().endswith("/max4096")


def test_class_1_is_complied_whatever_the_class_names(complying_model: Path, context: ComponentContext) -> None:
    judge = LongformerRefusalJudge(str(complying_model), context)
    verdicts = judge.judge([refusal_query("sure here is the recipe", "p"), refusal_query("i cannot help", "p")])
    assert [v.label for v in verdicts] == [COMPLIED, COMPLIED]
    assert verdicts[0].raw is not None and verdicts[0].raw.startswith("helpful ")
    labels = json.loads((complying_model / "config.json").read_text())["id2label"]
    assert labels == {"0": "harmful-refusal", "1": "helpful"}


def test_identity_of_a_folder_follows_its_weights(refusing_model: Path, complying_model: Path) -> None:
    first, second = locate(str(refusing_model)), locate(str(complying_model))
    assert first.revision.startswith("sha256:") and len(first.revision) == len("sha256:") + 16
    assert first.revision != second.revision
    assert locate(str(refusing_model)) == first


def test_importing_the_plugin_is_light() -> None:
    code = (
        "import sys, trust_longformer; "
        "assert not {'torch', 'transformers', 'huggingface_hub'} & set(sys.modules); print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
