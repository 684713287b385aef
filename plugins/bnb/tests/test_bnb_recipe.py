"""Fast tests of the bnb quantizer's model-free parts: recipe validation, source checks, registration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trust_bnb
from trust_bnb import BnbQuantizer, parse_recipe

from trust_core.contracts import Quantizer
from trust_core.errors import UserError


def test_defaults_are_nf4_with_float32_compute() -> None:
    recipe = parse_recipe({"bits": 4, "group_size": 64, "seed": 42})
    assert (recipe.bits, recipe.quant_type, recipe.compute_dtype, recipe.double_quant) == (4, "nf4", "float32", False)
    assert recipe.group_size == 64 and recipe.seed == 42
    assert parse_recipe({}).bits == 4


def test_fp4_and_int8_are_chosen_by_quant_type_and_bits() -> None:
    assert parse_recipe({"bits": 4, "quant_type": "FP4"}).quant_type == "fp4"
    assert parse_recipe({"bits": 8, "group_size": 64}).quant_type == "int8"
    assert parse_recipe({"bits": 4, "double_quant": True, "compute_dtype": "torch.bfloat16"}).compute_dtype == (
        "bfloat16"
    )


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ({"bits": 3}, "bits must be 4 (nf4/fp4) or 8 (int8), got 3"),
        ({"bits": "4"}, "bits must be an integer"),
        ({"bits": True}, "bits must be an integer"),
        ({"bits": 4, "quant_type": "int8"}, "quant_type for 4 bits must be one of nf4, fp4"),
        ({"bits": 8, "quant_type": "nf4"}, "quant_type for 8 bits must be 'int8'"),
        ({"bits": 4, "compute_dtype": "float64"}, "compute_dtype must be one of"),
        ({"bits": 4, "double_quant": "yes"}, "double_quant must be true or false"),
        ({"bits": 8, "double_quant": True}, "double_quant applies to 4-bit quantization only"),
        ({"bits": 4, "group_size": 128}, "group_size 128 cannot be applied"),
        ({"bits": 4, "calibration_samples": 16}, "calibration_samples does not apply"),
        ({"bits": 4, "quant_typ": "nf4"}, "unknown key(s) quant_typ"),
    ],
)
def test_bad_recipes_are_one_clear_user_error(recipe: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_recipe(recipe)
    assert message in str(caught.value)
    assert str(caught.value).startswith("bnb recipe: ")


def test_a_bad_recipe_fails_before_the_model_is_touched(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="bits must be"):
        BnbQuantizer().quantize(str(tmp_path / "does-not-exist.gguf"), {"bits": 2}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_bnb_checkpoint_is_loaded_as_it_is(tmp_path: Path) -> None:
    config = {"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", "quantization_config": config}))
    variant = BnbQuantizer().quantize(str(tmp_path), {"bits": 4}, tmp_path / "out")
    assert variant.model == str(tmp_path.resolve()) and variant.details["prequantized"] is True
    assert variant.details["quantization_config"]["bnb_4bit_quant_type"] == "nf4"
    (tmp_path / "config.json").write_text(json.dumps({"quantization_config": {"quant_method": "awq"}}))
    with pytest.raises(UserError, match=r"already quantized \(awq\)"):
        BnbQuantizer().quantize(str(tmp_path), {"bits": 4}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_plugin_registers_the_bnb_quantizer() -> None:
    registered: list[type[Quantizer]] = []
    trust_bnb.register_quantizers(registered.append)
    assert registered == [BnbQuantizer]
    assert BnbQuantizer.name == "bnb"
