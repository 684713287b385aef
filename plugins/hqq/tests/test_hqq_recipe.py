"""Fast tests of the hqq plugin's model-free parts: recipe validation, backend choice, registration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trust_hqq
from trust_hqq import HqqBackend, HqqQuantizer, parse_recipe
from trust_hqq.checkpoint import is_hqq_folder, read_marker, write_marker

from trust_core.errors import UserError
from trust_core.registry import Registry


def test_defaults_match_the_core_options() -> None:
    recipe = parse_recipe({"bits": 4, "group_size": 64, "seed": 42})
    assert (recipe.bits, recipe.group_size, recipe.axis, recipe.compute_dtype) == (4, 64, 1, "float32")
    assert parse_recipe({}).as_dict() == {"bits": 4, "group_size": 64, "axis": 1, "compute_dtype": "float32"}
    assert parse_recipe({"bits": 2, "group_size": 16, "axis": 0}).axis == 0


@pytest.mark.parametrize(
    ("recipe", "message"),
    [
        ({"bits": 5}, "bits must be one of 1, 2, 3, 4, 8, got 5"),
        ({"bits": "4"}, "bits must be an integer"),
        ({"group_size": 48}, "group_size must be a power of two, at least 8, got 48"),
        ({"group_size": 4}, "at least 8"),
        ({"axis": 2}, "axis must be 0 or 1"),
        ({"compute_dtype": "int8"}, "compute_dtype must be one of"),
        ({"calibration_samples": 8}, "calibration_samples does not apply (HQQ is calibration-free)"),
        ({"nbits": 4}, "unknown key(s) nbits"),
    ],
)
def test_bad_recipes_are_one_clear_user_error(recipe: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_recipe(recipe)
    assert message in str(caught.value) and str(caught.value).startswith("hqq recipe: ")


def test_a_bad_recipe_or_model_fails_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="bits must be"):
        HqqQuantizer().quantize(str(tmp_path / "absent.gguf"), {"bits": 6}, tmp_path / "out")
    with pytest.raises(UserError, match="is a folder without config"):
        HqqQuantizer().quantize(str(tmp_path), {}, tmp_path / "out")
    (tmp_path / "config.json").write_text(json.dumps({"quantization_config": {"quant_method": "awq"}}))
    with pytest.raises(UserError, match=r"already quantized \(awq\)"):
        HqqQuantizer().quantize(str(tmp_path), {}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_hqq_checkpoint_is_loaded_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (tmp_path / "qmodel.pt").write_bytes(b"")
    write_marker(tmp_path, parse_recipe({"bits": 2}).as_dict(), "0.2.8")
    variant = HqqQuantizer().quantize(str(tmp_path), {"bits": 4}, tmp_path / "out")
    assert variant.model == str(tmp_path.resolve()) and variant.details["prequantized"] is True
    assert variant.details["hqq"]["bits"] == 2 and variant.details["recipe_applied"] is False
    assert not (tmp_path / "out").exists()


def test_the_hqq_backend_claims_hqq_folders_only(tmp_path: Path) -> None:
    folder = tmp_path / "v"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    assert HqqBackend.supports(str(folder)) == 0 and not is_hqq_folder(folder)
    (folder / "qmodel.pt").write_bytes(b"")
    assert HqqBackend.supports(str(folder)) == 3 and is_hqq_folder(folder)
    assert HqqBackend.supports("mobiuslabsgmbh/Llama-3.1-8b-instruct_4bitgs64_hqq_calib") == 0  # needs --backend
    registry = Registry()
    assert registry.backend_class(None, str(folder)) is HqqBackend  # above hf's 2 for a folder


def test_the_marker_records_the_recipe(tmp_path: Path) -> None:
    assert read_marker(tmp_path) is None
    write_marker(tmp_path, parse_recipe({"bits": 3}).as_dict(), "0.2.8")
    assert read_marker(tmp_path) == {
        "format": "hqq",
        "hqq_version": "0.2.8",
        "bits": 3,
        "group_size": 64,
        "axis": 1,
        "compute_dtype": "float32",
    }


def test_the_plugin_registers_a_quantizer_and_a_backend() -> None:
    quantizers: list[type] = []
    backends: list[type] = []
    trust_hqq.register_quantizers(quantizers.append)
    trust_hqq.register_backends(backends.append)
    assert quantizers == [HqqQuantizer] and backends == [HqqBackend]
    assert HqqQuantizer.name == HqqBackend.name == "hqq"
