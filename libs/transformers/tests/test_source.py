"""Model-free tests of trust_transformers: source checks, calibration sampling, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from trust_core.errors import UserError
from trust_transformers.calibration import calibration_paragraphs, calibration_record, calibration_samples
from trust_transformers.source import classify, prequantized, quantization_config, require_dense, require_source


def test_sources_are_classified_or_rejected_with_the_reason(tmp_path: Path) -> None:
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(UserError, match=r"--quantize x: .*m\.gguf is a truncated GGUF file"):
        require_source(str(gguf), "--quantize x")
    gguf.write_bytes(b"GGUF" + (3).to_bytes(4, "little") + bytes(16))  # version 3, no tensors, no metadata
    assert require_source(str(gguf), "--quantize x").load_kwargs() == {"gguf_file": "m.gguf"}
    assert require_source("org/name", "--quantize x").kind == "hub"
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(UserError, match=r"--quantize x: .* without config\.json"):
        require_source(str(folder), "--quantize x")
    assert classify(str(folder)) is None
    (folder / "config.json").write_text(json.dumps({"model_type": "llama"}))
    source = require_source(str(folder), "--quantize x")
    assert source.kind == "folder" and quantization_config(source) is None
    require_dense(source, "--quantize x")
    text = tmp_path / "notes.txt"
    text.write_text("x")
    with pytest.raises(UserError, match=r"not a \.gguf file"):
        require_source(str(text), "--quantize x")
    with pytest.raises(UserError, match=r"is not a GGUF file, a folder with config\.json or a hub id"):
        require_source("nonsense", "--quantize x")


def test_an_already_quantized_folder_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"quantization_config": {"quant_method": "gptq"}}))
    source = require_source(str(tmp_path), "--quantize bnb")
    assert quantization_config(source) == {"quant_method": "gptq"}
    with pytest.raises(UserError, match=r"--quantize bnb: .* already quantized \(gptq\)"):
        require_dense(source, "--quantize bnb")


def test_a_broken_config_is_reported_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(UserError, match=r"config\.json: invalid JSON at line 1"):
        quantization_config(require_source(str(tmp_path), "x"))


def test_calibration_samples_are_seeded_and_recorded() -> None:
    paragraphs = calibration_paragraphs()
    assert len(paragraphs) >= 30 and len(set(paragraphs)) == len(paragraphs)
    assert all(60 <= len(p.split()) <= 120 for p in paragraphs)
    first, again, other = calibration_samples(40, 1), calibration_samples(40, 1), calibration_samples(40, 2)
    assert first == again and first != other and len(first) == 40
    assert set(first[: len(paragraphs)]) <= set(paragraphs)  # single paragraphs first, then pairs
    assert all("\n\n" in sample for sample in first[len(paragraphs) :])
    record = calibration_record(first, 1)
    assert record["samples"] == 40 and record["seed"] == 1
    assert record["samples_sha256"] != calibration_record(other, 2)["samples_sha256"]


def test_importing_the_library_does_not_import_torch() -> None:
    code = (
        "import sys, trust_transformers.backend, trust_transformers.source, trust_transformers.checks;"
        "assert not {'torch', 'transformers'} & set(sys.modules); print('ok')"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "ok"


def test_prequantized_recognises_the_method_s_own_checkpoints(tmp_path: Path) -> None:
    config = {"quant_method": "AWQ", "bits": 4}
    (tmp_path / "config.json").write_text(json.dumps({"quantization_config": config}))
    source = require_source(str(tmp_path), "x")
    assert prequantized(source, "awq", ("awq",)) == {
        "method": "awq",
        "prequantized": True,
        "quantization_config": config,
        "base_source": "folder",
    }
    assert prequantized(source, "gptq", ("gptq",)) is None
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    assert prequantized(source, "awq", ("awq",)) is None
