"""The pruning rules and the layer-wise pipeline, on small random layers and a tiny random Llama (no downloads)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from trust_wanda import MagnitudePruner, SparseGPTPruner, WandaPruner, check_pattern, parse_recipe, register_pruners
from trust_wanda.algorithms import (
    magnitude_scores,
    nm_mask,
    reconstruction_error,
    score_mask,
    sparsegpt_prune,
    unstructured_mask,
    wanda_scores,
)
from trust_wanda.calibration import build_calibration, load_text
from trust_wanda.pipeline import capture_block_inputs, find_blocks, prune_model
from trust_wanda.sparsity import measure_sparsity, nm_violations

if TYPE_CHECKING:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast
else:

    class _Imported:
        """A module imported when a test first uses it, not when the file is collected (every pytest-xdist
        worker collects every file; torch and transformers take seconds to import)."""

        def __init__(self, module: str, attribute: str | None = None) -> None:
            self._module, self._attribute = module, attribute

        def _target(self) -> Any:
            module = importlib.import_module(self._module)
            return module if self._attribute is None else getattr(module, self._attribute)

        def __getattr__(self, name: str) -> Any:
            if name.startswith("_") and name != "__version__":  # pytest probes ``__wrapped__``... while collecting
                raise AttributeError(name)
            return getattr(self._target(), name)

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return self._target()(*args, **kwargs)

    torch = _Imported("torch")
    LlamaConfig = _Imported("transformers", "LlamaConfig")
    LlamaForCausalLM = _Imported("transformers", "LlamaForCausalLM")
    PreTrainedTokenizerFast = _Imported("transformers", "PreTrainedTokenizerFast")

METHODS = ("magnitude", "wanda", "sparsegpt")
PATTERNS = ((2, 4), (4, 8))


def _tiny_config(vocab: int = 128) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=False,
    )


def _tiny_model(seed: int = 0, vocab: int = 128) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    return LlamaForCausalLM(_tiny_config(vocab)).eval()


def _calibration_ids(samples: int = 8, seq_len: int = 32, vocab: int = 128) -> torch.Tensor:
    return torch.randint(0, vocab, (samples, seq_len), generator=torch.Generator().manual_seed(1))


def _prune(method: str, recipe: dict[str, object], seed: int = 0) -> LlamaForCausalLM:
    model = _tiny_model(seed)
    prune_model(model, method, parse_recipe(recipe), _calibration_ids())
    return model


def _layer_inputs(tokens: int = 512, features: int = 64, seed: int = 0) -> torch.Tensor:
    """Correlated inputs whose features have different scales (as LLM activations do)."""
    generator = torch.Generator().manual_seed(seed)
    mixing = torch.eye(features) + 0.5 * torch.randn(features, features, generator=generator) / features**0.5
    scales = torch.logspace(-0.5, 0.5, features)[torch.randperm(features, generator=generator)]
    return (torch.randn(tokens, features, generator=generator) @ mixing) * scales


# --------------------------------------------------------------------------- single layers


@pytest.mark.parametrize("sparsity", [0.25, 0.5, 0.75])
def test_unstructured_masks_reach_the_target_exactly(sparsity: float) -> None:
    weight = torch.randn(32, 64)
    for comparison in ("row", "layer"):
        mask = unstructured_mask(magnitude_scores(weight), sparsity, comparison)
        assert int(mask.sum()) == round(sparsity * weight.numel())
    per_row = unstructured_mask(magnitude_scores(weight), sparsity, "row").sum(dim=1)
    assert torch.all(per_row == round(sparsity * 64))
    pruned = sparsegpt_prune(weight, _hessian(_layer_inputs()), sparsity)
    assert int((pruned == 0).sum()) == round(sparsity * weight.numel())


@pytest.mark.parametrize(("n", "m"), PATTERNS)
def test_nm_masks_leave_exactly_n_per_group(n: int, m: int) -> None:
    weight = torch.randn(16, 64)
    mask = nm_mask(magnitude_scores(weight), n, m)
    assert torch.all(mask.reshape(16, 64 // m, m).sum(dim=2) == m - n)
    pruned = sparsegpt_prune(weight, _hessian(_layer_inputs()), (m - n) / m, (n, m))
    assert nm_violations(pruned, n, m) == 0
    assert torch.all((pruned.reshape(16, 64 // m, m) != 0).sum(dim=2) == n)


def test_nm_violations_counts_bad_groups() -> None:
    weight = torch.ones(2, 8)
    assert nm_violations(weight, 2, 4) == 4
    weight[:, [0, 1, 4, 5]] = 0
    assert nm_violations(weight, 2, 4) == 0
    assert nm_violations(torch.ones(3, 6), 2, 4) == 3  # 6 inputs cannot tile groups of 4


def test_wanda_differs_from_magnitude_when_input_norms_differ() -> None:
    weight = torch.randn(32, 64, generator=torch.Generator().manual_seed(3))
    norms = _layer_inputs().norm(dim=0)
    for pattern in (None, (2, 4)):
        magnitude = score_mask(magnitude_scores(weight), 0.5, pattern, "row")
        wanda = score_mask(wanda_scores(weight, norms), 0.5, pattern, "row")
        assert int(magnitude.sum()) == int(wanda.sum())
        assert not torch.equal(magnitude, wanda)


def test_wanda_matches_magnitude_when_inputs_are_isotropic() -> None:
    weight = torch.randn(32, 64, generator=torch.Generator().manual_seed(3))
    inputs = torch.randn(256, 64)
    inputs = inputs / inputs.norm(dim=0, keepdim=True) * 3.0  # every feature has the same norm
    norms = inputs.norm(dim=0)
    for pattern in (None, (2, 4), (4, 8)):
        magnitude = score_mask(magnitude_scores(weight), 0.5, pattern, "row")
        wanda = score_mask(wanda_scores(weight, norms), 0.5, pattern, "row")
        assert torch.equal(magnitude, wanda)


def _hessian(inputs: torch.Tensor) -> torch.Tensor:
    return 2 * inputs.T @ inputs / inputs.shape[0]


@pytest.mark.parametrize("pattern", [None, (2, 4), (4, 8)])
def test_sparsegpt_reconstructs_better_than_magnitude_and_wanda(pattern: tuple[int, int] | None) -> None:
    """‖WX - ŴX‖ at equal sparsity (50 %): SparseGPT's weight updates beat masking alone."""
    for seed in range(3):
        weight = torch.randn(48, 64, generator=torch.Generator().manual_seed(seed))
        inputs = _layer_inputs(seed=seed + 10)
        magnitude = weight * ~score_mask(magnitude_scores(weight), 0.5, pattern, "row")
        wanda = weight * ~score_mask(wanda_scores(weight, inputs.norm(dim=0)), 0.5, pattern, "row")
        sparse = sparsegpt_prune(weight, _hessian(inputs), 0.5, pattern)
        errors = [reconstruction_error(weight, w, inputs) for w in (magnitude, wanda, sparse)]
        assert errors[2] < min(errors[0], errors[1])
        assert int((sparse == 0).sum()) == int((magnitude == 0).sum()) == weight.numel() // 2


def test_sparsegpt_handles_dead_inputs() -> None:
    inputs = _layer_inputs()
    inputs[:, :4] = 0
    pruned = sparsegpt_prune(torch.randn(8, 64), _hessian(inputs), 0.5, (2, 4))
    assert torch.all(pruned[:, :4] == 0) and nm_violations(pruned, 2, 4) == 0


# --------------------------------------------------------------------------- the tiny model


@pytest.mark.parametrize("method", METHODS)
def test_each_method_reaches_the_unstructured_target_exactly(method: str) -> None:
    for sparsity in (0.5, 0.25):
        report = measure_sparsity(_prune(method, {"sparsity": sparsity}))
        assert report.overall == sparsity
        assert len(report.per_layer) == 14  # 2 blocks x (q, k, v, o, gate, up, down)
        assert all(value == sparsity for value in report.per_layer.values())


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("pattern", ["2:4", "4:8"])
def test_each_method_keeps_the_nm_pattern_in_every_layer(method: str, pattern: str) -> None:
    model = _prune(method, {"pattern": pattern})
    check = check_pattern(model, pattern)
    assert check.ok and check.layers_checked == 14 and not check.failures
    assert measure_sparsity(model).overall == 0.5
    n, m = map(int, pattern.split(":"))
    for _, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and module is not model.lm_head:
            groups = (module.weight.reshape(module.out_features, -1, m) != 0).sum(dim=2)
            assert int(groups.max()) <= n


@pytest.mark.parametrize("method", METHODS)
def test_embeddings_norms_and_lm_head_stay_dense(method: str) -> None:
    before = _tiny_model()
    after = _prune(method, {"pattern": "2:4"})
    assert torch.equal(before.model.embed_tokens.weight, after.model.embed_tokens.weight)
    assert torch.equal(before.lm_head.weight, after.lm_head.weight)
    assert torch.equal(before.model.layers[0].input_layernorm.weight, after.model.layers[0].input_layernorm.weight)


@pytest.mark.parametrize("method", METHODS)
def test_the_pruned_tiny_model_still_generates(method: str) -> None:
    model = _prune(method, {"pattern": "2:4"})
    prompt = _calibration_ids(1, 6)
    output = model.generate(prompt, max_new_tokens=5, do_sample=False, pad_token_id=0)
    assert output.shape == (1, 11)
    assert torch.isfinite(model(prompt).logits).all()


def test_wanda_and_sparsegpt_propagate_through_pruned_blocks() -> None:
    """The inputs each block is calibrated on are the outputs of the blocks already pruned."""
    model = _tiny_model()
    ids = _calibration_ids()
    seen: list[torch.Tensor] = []
    block1 = find_blocks(model)[1]
    handle = block1.register_forward_pre_hook(lambda _m, args: seen.append(args[0].clone()))
    prune_model(model, "wanda", parse_recipe({"pattern": "2:4"}), ids)
    handle.remove()
    calibrated = capture_block_inputs(model, ids)  # block 0 is pruned now: its outputs are what block 1 saw
    with torch.no_grad():
        pairs = zip(calibrated.hidden, calibrated.kwargs, strict=True)
        expected = torch.cat([find_blocks(model)[0](hidden, **kwargs) for hidden, kwargs in pairs])
    assert torch.allclose(torch.cat(seen[-len(calibrated.hidden) :]), expected, atol=1e-5)


def test_layerwise_methods_are_deterministic() -> None:
    for method in ("wanda", "sparsegpt"):
        first, second = _prune(method, {"pattern": "4:8"}), _prune(method, {"pattern": "4:8"})
        for a, b in zip(first.parameters(), second.parameters(), strict=True):
            assert torch.equal(a, b)


# --------------------------------------------------------------------------- recipes


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ({"pattern": "2-4"}, "pattern must be 'N:M'"),
        ({"pattern": "4:2"}, "0 < N < M"),
        ({"pattern": 24}, "pattern must be 'N:M'"),
        ({"sparsity": 0}, "between 0 and 1"),
        ({"sparsity": 1.0}, "between 0 and 1"),
        ({"sparsity": -0.5}, "between 0 and 1"),
        ({"sparsity": "half"}, "between 0 and 1"),
        ({"pattern": "2:4", "sparsity": 0.6}, "conflicts with sparsity 0.6"),
        ({"pattern": "4:8", "sparsity": 0.25}, "conflicts"),
        ({"calibration_samples": 0}, "calibration_samples must be at least 1"),
        ({"calibration_samples": "many"}, "calibration_samples must be an integer"),
        ({"seed": -1}, "seed must be at least 0"),
        ({"sparsty": 0.5}, "unknown key(s) sparsty"),
        ({"comparison": "column"}, "comparison must be one of row, layer"),
        ({"pattern": "2:4", "blocksize": 6}, "multiple of the pattern's M"),
        ({"calibration_file": "/no/such/file.txt"}, "not a readable file"),
    ],
)
def test_bad_recipes_fail_with_one_clear_message(recipe: dict[str, object], message: str) -> None:
    from trust_core.errors import UserError

    with pytest.raises(UserError, match=None) as info:
        parse_recipe(recipe)
    assert message in str(info.value)
    assert str(info.value).startswith("recipe: ")


def test_recipe_defaults_and_implied_sparsity() -> None:
    default = parse_recipe({})
    assert (default.sparsity, default.pattern, default.calibration_samples) == (0.5, None, 32)
    assert (default.calibration_seq_len, default.seed, default.comparison) == (256, 0, "row")
    assert parse_recipe({"pattern": "2:4"}).sparsity == 0.5
    assert parse_recipe({"pattern": "4:8", "sparsity": 0.5}).pattern == (4, 8)
    assert parse_recipe({"pattern": "1:4"}).sparsity == 0.75
    assert parse_recipe({"pattern": None, "sparsity": 0.7}).sparsity == 0.7


@pytest.mark.parametrize("pruner", [MagnitudePruner, WandaPruner, SparseGPTPruner])
def test_prune_validates_before_loading_anything(pruner: type, tmp_path: Path) -> None:
    from trust_core.errors import UserError

    with pytest.raises(UserError, match="conflicts"):
        pruner().prune("no/such-model", {"pattern": "2:4", "sparsity": 0.3}, tmp_path / "out")
    with pytest.raises(UserError, match=r"is not a GGUF file, a folder with config\.json or a hub id"):
        pruner().prune(str(tmp_path / "missing"), {}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_register_pruners_registers_the_three_methods() -> None:
    registered: list[type] = []
    register_pruners(registered.append)
    assert [cls.name for cls in registered] == ["magnitude", "wanda", "sparsegpt"]


# --------------------------------------------------------------------------- calibration and the full prune()


def _char_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained in memory on the shipped calibration text (no downloads)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512, special_tokens=["<eos>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(load_text().paragraphs, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<eos>", pad_token="<eos>")


def test_calibration_is_seeded_and_described() -> None:
    tokenizer = _char_tokenizer()
    first = build_calibration(tokenizer, samples=4, seq_len=64, seed=3)
    again = build_calibration(tokenizer, samples=4, seq_len=64, seed=3)
    other = build_calibration(tokenizer, samples=4, seq_len=64, seed=4)
    assert first.input_ids.shape == (4, 64)
    assert torch.equal(first.input_ids, again.input_ids) and not torch.equal(first.input_ids, other.input_ids)
    info = first.describe()
    assert info["source"] == "trust-wanda/calibration.txt" and len(info["sha256"]) == 64
    assert (info["samples"], info["seq_len"], info["tokens"], info["seed"]) == (4, 64, 256, 3)
    assert info["paragraphs"] >= 40


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = _char_tokenizer()
    _tiny_model(vocab=len(tokenizer)).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("pruner", [MagnitudePruner, WandaPruner, SparseGPTPruner])
def test_prune_saves_a_loadable_folder_and_records_details(pruner: type, tiny_folder: Path, tmp_path: Path) -> None:
    recipe = {"pattern": "2:4", "calibration_samples": 4, "calibration_seq_len": 32, "seed": 1}
    variant = pruner().prune(str(tiny_folder), recipe, tmp_path / "out")
    out = Path(variant.model)
    assert out == tmp_path / "out" and (out / "config.json").is_file() and list(out.glob("*.safetensors"))
    details = variant.details
    json.dumps(details)  # the core writes it to variant.json
    assert details["method"] == pruner.name and details["pattern"] == "2:4" and details["sparsity_target"] == 0.5
    assert details["pattern_ok"] is True and details["pattern_check"]["layers_checked"] == 14
    assert details["measured_sparsity"] == 0.5 and len(details["per_layer_sparsity"]) == 14
    assert details["torch_version"] == torch.__version__ and details["elapsed_s"] >= 0
    if pruner is MagnitudePruner:
        assert details["calibration"] is None
    else:
        calibration = details["calibration"]
        assert calibration["samples"] == 4 and calibration["seq_len"] == 32 and calibration["seed"] == 1
        assert calibration["sha256"] == load_text().sha256
    assert check_pattern(out, "2:4").ok and measure_sparsity(out).overall == 0.5
    reloaded = LlamaForCausalLM.from_pretrained(out)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(out)
    ids = tokenizer("The river", return_tensors="pt")["input_ids"]
    assert reloaded.generate(ids, max_new_tokens=3, do_sample=False).shape[1] == ids.shape[1] + 3


def test_check_pattern_reports_failing_layers(tiny_folder: Path) -> None:
    dense = check_pattern(tiny_folder, "2:4")
    assert not dense.ok and dense.layers_checked == 14 and len(dense.failures) == 14
    assert all(name.startswith("model.layers.") for name in dense.failures)
