"""Fast tests of the gptq quantizer's model-free parts: recipe, calibration set, preflight, registration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trust_gptq
from trust_gptq import GptqQuantizer, parse_recipe

from trust_core.contracts import Quantizer
from trust_core.errors import UserError
from trust_transformers.gptqmodel_runner import preflight


def test_defaults_and_the_core_recipe() -> None:
    recipe = parse_recipe({"bits": 4, "group_size": 64, "seed": 42})
    assert (recipe.bits, recipe.group_size, recipe.calibration_samples, recipe.seed) == (4, 64, 32, 42)
    assert recipe.sym and not recipe.desc_act
    assert parse_recipe({}).as_dict()["calibration_samples"] == 32
    assert parse_recipe({"bits": 8, "group_size": -1, "calibration_samples": 4}).group_size == -1


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ({"bits": 5}, "bits must be one of 2, 3, 4, 8, got 5"),
        ({"bits": 4.0}, "bits must be an integer"),
        ({"group_size": 100}, "group_size must be one of -1, 16, 32"),
        ({"calibration_samples": 0}, "calibration_samples must be in 1..512, got 0"),
        ({"calibration_samples": 10_000}, "calibration_samples must be in 1..512"),
        ({"damp_percent": 1.5}, "damp_percent must be a number in (0, 1)"),
        ({"sym": "yes"}, "sym must be true or false"),
        ({"group_sise": 64}, "unknown key(s) group_sise"),
    ],
)
def test_bad_recipes_are_one_clear_user_error(recipe: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_recipe(recipe)
    assert message in str(caught.value)
    assert str(caught.value).startswith("gptq recipe: ")


def test_a_bad_recipe_fails_before_the_model_is_touched(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="bits must be"):
        GptqQuantizer().quantize(str(tmp_path / "absent.gguf"), {"bits": 6}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_unusable_model_fails_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is a folder without config"):
        GptqQuantizer().quantize(str(tmp_path), {"bits": 4}, tmp_path / "out")


def test_a_gptq_checkpoint_is_loaded_as_it_is(tmp_path: Path) -> None:
    pytest.importorskip("gptqmodel")
    pytest.importorskip("optimum")
    config = {"quant_method": "gptq", "bits": 4, "group_size": 128}
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "quantization_config": config}))
    variant = GptqQuantizer().quantize(str(tmp_path), {"bits": 4}, tmp_path / "out")
    assert variant.model == str(tmp_path.resolve()) and variant.details["prequantized"] is True
    assert not (tmp_path / "out").exists()


def test_preflight_finds_gptqmodel_76_and_optimum() -> None:
    pytest.importorskip("gptqmodel")
    versions = preflight("gptq")
    assert versions["gptqmodel"].startswith("7.6.")
    assert "optimum" in versions


def test_the_plugin_registers_the_gptq_quantizer() -> None:
    registered: list[type[Quantizer]] = []
    trust_gptq.register_quantizers(registered.append)
    assert registered == [GptqQuantizer]
