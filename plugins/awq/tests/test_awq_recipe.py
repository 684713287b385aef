"""Fast tests of the awq quantizer's model-free parts: recipe validation, preflight, registration."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import trust_awq
from trust_awq import AwqQuantizer, parse_recipe

from trust_core.contracts import Quantizer
from trust_core.errors import UserError
from trust_transformers.gptqmodel_runner import preflight


def test_defaults_match_the_core_options() -> None:
    recipe = parse_recipe({"bits": 4, "group_size": 64, "seed": 42})
    assert (recipe.bits, recipe.group_size, recipe.calibration_samples, recipe.zero_point) == (4, 64, 32, True)
    assert parse_recipe({"group_size": 128, "calibration_samples": 4}).as_dict()["calibration_samples"] == 4


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ({"bits": 8}, "bits must be 4 (AWQ's GEMM format), got 8"),
        ({"bits": "4"}, "bits must be an integer"),
        ({"group_size": 16}, "group_size must be one of 32, 64, 128, got 16"),
        ({"calibration_samples": 0}, "calibration_samples must be in 1..512, got 0"),
        ({"seed": -3}, "seed must be at least 0"),
        ({"zero_point": "yes"}, "zero_point must be true or false"),
        ({"w_bit": 4}, "unknown key(s) w_bit"),
    ],
)
def test_bad_recipes_are_one_clear_user_error(recipe: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_recipe(recipe)
    assert message in str(caught.value) and str(caught.value).startswith("awq recipe: ")


def test_a_bad_recipe_or_model_fails_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="bits must be"):
        AwqQuantizer().quantize(str(tmp_path / "absent.gguf"), {"bits": 3}, tmp_path / "out")
    (tmp_path / "config.json").write_text(json.dumps({"quantization_config": {"quant_method": "gptq"}}))
    if importlib.util.find_spec("gptqmodel") is not None:
        with pytest.raises(UserError, match=r"already quantized \(gptq\)"):
            AwqQuantizer().quantize(str(tmp_path), {}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_published_awq_checkpoint_is_loaded_as_it_is(tmp_path: Path) -> None:
    pytest.importorskip("gptqmodel")
    config = {"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemm", "zero_point": True}
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "quantization_config": config}))
    variant = AwqQuantizer().quantize(str(tmp_path), {"bits": 4, "group_size": 64}, tmp_path / "out")
    assert variant.model == str(tmp_path.resolve())
    assert variant.details["prequantized"] is True and variant.details["recipe_applied"] is False
    assert variant.details["quantization_config"] == config
    assert not (tmp_path / "out").exists()


def test_preflight_finds_gptqmodel_76() -> None:
    pytest.importorskip("gptqmodel")
    assert preflight("awq")["gptqmodel"].startswith("7.6.")


def test_the_plugin_registers_the_awq_quantizer() -> None:
    registered: list[type[Quantizer]] = []
    trust_awq.register_quantizers(registered.append)
    assert registered == [AwqQuantizer] and AwqQuantizer.name == "awq"
