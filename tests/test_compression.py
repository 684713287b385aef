"""`trust compress` and `trust run --prune/--quantize`: variants with provenance, cached by recipe."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import PLUGIN_DIR
from trust_core.compression import compression_request, weights_digest
from trust_core.registry import file_plugin_version
from trust_core.schemas import load_schema, validator

NO_ENTRY_POINTS = {"TRUST_LOAD_PLUGINS": ""}


def test_compress_writes_a_schema_valid_variant_json(scripted, tmp_path: Path):
    out = tmp_path / "variant"
    result = scripted(
        "compress",
        "--model",
        "scripted:echo",
        "--prune",
        "copy",
        "--pattern",
        "2:4",
        "--out",
        str(out),
        env=NO_ENTRY_POINTS,
    )
    assert result.code == 0, result.stderr
    info = json.loads((out / "variant.json").read_text())
    assert not list(validator(load_schema("variant.schema.json")).iter_errors(info))
    assert info["kind"] == "prune" and info["method"] == "copy"
    assert info["recipe"] == {"pattern": "2:4", "seed": 42}
    assert info["base_model"]["spec"] == "scripted:echo" and info["base_model"]["fingerprint"]
    assert info["plugin"] == {"name": "scripted", "version": file_plugin_version(PLUGIN_DIR / "scripted.py")}
    assert info["details"] == {"copied_from": "scripted:echo", "sparsity": None}
    assert info["size_bytes"] == (out / "model.txt").stat().st_size
    again = scripted("compress", "--model", "scripted:echo", "--prune", "copy", "--out", str(out), env=NO_ENTRY_POINTS)
    assert again.code == 2 and "already holds a variant" in again.stderr
    run = scripted("run", "--model", str(out), "--tasks", "echo", "--run-dir", str(tmp_path / "r"), env=NO_ENTRY_POINTS)
    assert run.code == 0, run.stderr
    recorded = json.loads((tmp_path / "r" / "results.json").read_text())["run"]["variant"]
    assert recorded == info


def test_run_with_prune_compresses_once_and_records_the_recipe(scripted, tmp_path: Path):
    args = (
        "run",
        "--model",
        "scripted:echo",
        "--prune",
        "copy",
        "--sparsity",
        "0.25",
        "--tasks",
        "echo",
        "--run-dir",
        str(tmp_path),
    )
    first = scripted(*args, env=NO_ENTRY_POINTS)
    assert first.code == 0, first.stderr
    variants = list((tmp_path / "variants").iterdir())
    assert len(variants) == 1
    created = (variants[0] / "variant.json").read_text()
    run = json.loads((tmp_path / "results.json").read_text())["run"]
    assert run["variant"]["method"] == "copy" and run["variant"]["recipe"]["sparsity"] == 0.25
    second = scripted(*args, env=NO_ENTRY_POINTS)
    assert second.code == 0 and "already stored" in second.stderr
    assert list((tmp_path / "variants").iterdir()) == variants
    assert (variants[0] / "variant.json").read_text() == created
    other = scripted(
        *args[:-4], "--sparsity", "0.75", "--tasks", "echo", "--run-dir", str(tmp_path), env=NO_ENTRY_POINTS
    )
    assert other.code == 0, other.stderr
    assert len(list((tmp_path / "variants").iterdir())) == 2


def test_bad_compression_options_exit_2(scripted, tmp_path: Path):
    both = scripted(
        "compress",
        "--prune",
        "copy",
        "--quantize",
        "copy",
        "--model",
        "scripted:echo",
        "--out",
        str(tmp_path / "v"),
        env=NO_ENTRY_POINTS,
    )
    assert both.code == 2 and "choose one" in both.stderr
    unknown = scripted(
        "compress", "--prune", "nope", "--model", "scripted:echo", "--out", str(tmp_path / "v"), env=NO_ENTRY_POINTS
    )
    assert unknown.code == 2 and "--prune nope: unknown pruner" in unknown.stderr
    neither = scripted("compress", "--model", "scripted:echo", "--out", str(tmp_path / "v"), env=NO_ENTRY_POINTS)
    assert neither.code == 2 and "--prune METHOD or --quantize METHOD" in neither.stderr
    assert not (tmp_path / "v").exists()


def test_quantize_recipe_defaults_and_request_digest():
    request = compression_request(None, "hqq", bits=None, group_size=None, seed=1)
    assert request.recipe == {"bits": 4, "group_size": 64, "seed": 1}
    assert request.digest != compression_request(None, "hqq", bits=8, seed=1).digest


def test_weights_digest_covers_weight_files_only(tmp_path: Path):
    (tmp_path / "model.safetensors").write_bytes(b"abc")
    (tmp_path / "config.json").write_text("{}")
    digest, size = weights_digest(tmp_path)
    assert size == 5
    (tmp_path / "config.json").write_text('{"x": 1}')
    assert weights_digest(tmp_path)[0] == digest
    (tmp_path / "model.safetensors").write_bytes(b"abd")
    assert weights_digest(tmp_path)[0] != digest


def test_ornl_workflow_flags_are_translated_into_trusts_own():
    from trust_core.flag_translation import translate_flags

    assert translate_flags(["run", "--load_hqq_model", "--hqq_bits", "4", "--hqq_groupsize=32"]) == [
        "run",
        "--quantize",
        "hqq",
        "--quant-bits",
        "4",
        "--quant-group-size=32",
    ]
    assert translate_flags(["--load_bnb_model"]) == ["--quantize", "bnb"]
    assert translate_flags(["--load_custom_model", "m", "--model_path=n"]) == ["--model", "m", "--model=n"]
    assert translate_flags(["--subtasks", "a", "--include_generate_types", "b"]) == [
        "--tasks",
        "a",
        "--dimensions",
        "b",
    ]
    assert translate_flags(["--", "--load_hqq_model"]) == ["--", "--load_hqq_model"]


def test_an_ornl_load_flag_compresses_with_that_quantizer(scripted, tmp_path: Path):
    out = tmp_path / "v"
    run = scripted(
        "compress",
        "--load_copy_model",
        "--hqq_bits",
        "8",
        "--model",
        "scripted:echo",
        "--out",
        str(out),
        env=NO_ENTRY_POINTS,
    )
    assert run.code == 0, run.stderr
    info = json.loads((out / "variant.json").read_text())
    assert (info["kind"], info["method"], info["recipe"]["bits"]) == ("quantize", "copy", 8)


def test_a_variant_in_its_output_folder_must_have_weights(tmp_path: Path):
    import pytest

    from trust_core.compression import CompressionRequest, _check_produced
    from trust_core.contracts import Variant

    request = CompressionRequest("quantize", "x", {})
    (tmp_path / "tokenizer.json").write_text("{}")
    with pytest.raises(RuntimeError, match="quantize x: the plugin returned its output folder but wrote no weights"):
        _check_produced(request, Variant(str(tmp_path), {}), tmp_path)
    _check_produced(request, Variant("org/elsewhere", {}), tmp_path)  # a variant pointing elsewhere is fine
    (tmp_path / "model.safetensors").write_bytes(b"x")
    _check_produced(request, Variant(str(tmp_path), {}), tmp_path)


def test_recipe_helpers_name_the_plugin_and_the_key():
    import pytest

    from trust_core.compression import recipe_int, reject_unknown_keys
    from trust_core.errors import UserError

    assert recipe_int({"bits": 4}, "bits", 8, "x") == 4 and recipe_int({}, "bits", 8, "x") == 8
    assert recipe_int({"bits": None}, "bits", 8, "x") == 8
    for bad in ("4", 4.0, True):
        with pytest.raises(UserError, match=r"^x recipe: bits must be an integer"):
            recipe_int({"bits": bad}, "bits", 8, "x")
    reject_unknown_keys({"bits": 4}, {"bits", "seed"}, "x")
    with pytest.raises(UserError, match=r"^x recipe: unknown key\(s\) bitz, sed \(known: bits, seed\)"):
        reject_unknown_keys({"bitz": 4, "sed": 1}, {"bits", "seed"}, "x")


# --------------------------------------------------------------------------- --recipe KEY=VALUE (issue #10, item 2)


def test_recipe_keys_reach_the_method_and_are_recorded(scripted, tmp_path: Path):
    out = tmp_path / "variant"
    args = ("--model", "scripted:echo", "--quantize", "copy", "--recipe", "quant_type=fp4,double_quant=true")
    result = scripted("compress", *args, "--recipe", "damp_percent=0.1", "--out", str(out), env=NO_ENTRY_POINTS)
    assert result.code == 0, result.stderr
    recipe = json.loads((out / "variant.json").read_text())["recipe"]
    assert recipe == {
        "bits": 4,
        "group_size": 64,
        "seed": 42,
        "quant_type": "fp4",
        "double_quant": True,
        "damp_percent": 0.1,
    }
    overridden = compression_request(None, "copy", bits=4, extra={"bits": 8})
    assert overridden is not None and overridden.recipe["bits"] == 8


def test_malformed_or_misplaced_recipe_items_exit_2(scripted, tmp_path: Path):
    bad = scripted(
        "compress",
        "--model",
        "scripted:echo",
        "--quantize",
        "copy",
        "--recipe",
        "fp4",
        "--out",
        str(tmp_path / "v"),
        env=NO_ENTRY_POINTS,
    )
    assert bad.code == 2 and "--recipe 'fp4': expected KEY=VALUE" in bad.stderr and "Traceback" not in bad.stderr
    alone = scripted(
        "run",
        "--model",
        "scripted:echo",
        "--tasks",
        "private/echo",
        "--recipe",
        "bits=4",
        "--run-dir",
        str(tmp_path / "r"),
        env=NO_ENTRY_POINTS,
    )
    assert alone.code == 2 and "--recipe applies to --prune or --quantize" in alone.stderr
    assert not (tmp_path / "v").exists() and not (tmp_path / "r" / "store.sqlite").exists()


QUANTIZER_PLUGINS = {"TRUST_LOAD_PLUGINS": "bnb,gptq,awq,hqq,wanda,smollm2,llamacpp,truthfulness"}


def test_an_unknown_recipe_key_exits_2_naming_the_method_and_the_key_before_any_work(trust, tmp_path: Path):
    run_dir = tmp_path / "r"
    args = ("--tasks", "truthfulness/hallucination", "--limit", "1", "--run-dir", str(run_dir))
    for method, key in (("bnb", "quant_typ"), ("gptq", "desc_akt"), ("hqq", "axes"), ("wanda", "blocksz")):
        flag = "--prune" if method == "wanda" else "--quantize"
        result = trust("run", flag, method, "--recipe", f"{key}=1", *args, env=QUANTIZER_PLUGINS)
        assert result.code == 2, (method, result.stderr)
        assert f"{method} recipe: unknown key(s) {key}" in result.stderr and "Traceback" not in result.stderr
    bad_value = trust(
        "compress",
        "--quantize",
        "gptq",
        "--recipe",
        "desc_act=perhaps",
        "--out",
        str(tmp_path / "v"),
        env=QUANTIZER_PLUGINS,
    )
    assert bad_value.code == 2 and "gptq recipe: desc_act must be true or false" in bad_value.stderr
    assert not (run_dir / "variants").exists() and not (tmp_path / "v").exists()


def test_plugins_json_lists_each_methods_recipe_keys(trust):
    listing = trust("plugins", "--json", env=QUANTIZER_PLUGINS).json()
    options = {
        name: declared["recipe"]
        for entry in listing
        for name, declared in entry["options"].items()
        if "recipe" in declared
    }
    assert {"quant_type", "compute_dtype", "double_quant"} <= set(options["quantizer/bnb"])
    assert {"sym", "desc_act", "damp_percent"} <= set(options["quantizer/gptq"])
    assert "zero_point" in options["quantizer/awq"] and {"axis", "compute_dtype"} <= set(options["quantizer/hqq"])
    assert options["pruner/wanda"] == options["pruner/sparsegpt"] and "percdamp" in options["pruner/magnitude"]


def test_the_cli_names_no_provider_and_no_compression_method():
    """Components declare their own keys and recipe options (issue #10, item 2): the command line's code names
    none of them; other tools' flags live in one translation table (trust_core.flag_translation)."""
    import re

    from trust_core.registry import Registry

    registry = Registry()
    providers = set(registry.api_keys())
    variables = {variable for variable in registry.api_keys().values() if variable}
    methods = set(registry.components["quantizer"]) | set(registry.components["pruner"])
    assert {"openai", "gemini", "perspective"} <= providers and {"bnb", "gptq", "wanda"} <= methods
    source = (Path(__file__).parents[1] / "trust_core" / "cli.py").read_text()
    for name in sorted(providers | variables | methods):
        assert not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", source), f"cli.py names {name}"
