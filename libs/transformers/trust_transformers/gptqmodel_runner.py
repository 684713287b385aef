"""Running GPTQModel 7.6 on CPU for the ``gptq`` and ``awq`` quantizers, and the checks before it.

GPTQModel 7.6 quantizes on a CPU build of torch (7.7 wants a CUDA build). Its output folder carries a
``quantization_config`` that transformers reads, so the hf backend loads it on CPU unchanged (through
GPTQModel's torch kernels; GPTQ also needs optimum). GPTQModel writes run logs to ``./logs`` of the working
directory: :func:`quantize_and_save` runs it inside a scratch folder and points its log folder there.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from trust_core.plugin import UserError, Variant
from trust_transformers.calibration import calibration_record, calibration_samples
from trust_transformers.checks import reload_and_generate
from trust_transformers.source import (
    ModelSource,
    dense_folder,
    float32_parameter_bytes,
    library_versions,
    prequantized,
    require_dense,
    require_source,
)

SUPPORTED_GPTQMODEL = "7.6."
QUANTIZED_LAYERS = "gptqmodel.nn_modules.qlinear"
"""Where GPTQModel's quantized linear classes live (what the reload check counts)."""
DEFAULT_CPU_WORKERS = "2"

REQUIREMENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "gptq": (("gptqmodel", "'gptqmodel==7.6.*'"), ("optimum", "optimum")),
    "awq": (("gptqmodel", "'gptqmodel==7.6.*'"),),
}
"""Distributions each method needs to quantize and to reload its output with transformers."""


def preflight(method: str) -> dict[str, str]:
    """Check, without importing them, that what ``method`` needs is installed; return the versions found.

    Raises one :class:`~trust_core.errors.UserError` naming the fix, before any model is loaded: a missing
    distribution, or a GPTQModel other than 7.6 on a machine without CUDA.
    """
    versions: dict[str, str] = {}
    for name, hint in REQUIREMENTS[method]:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            raise UserError(f"--quantize {method} needs {name}: pip install {hint} (with your torch pinned)") from None
    if not versions["gptqmodel"].startswith(SUPPORTED_GPTQMODEL):
        import torch

        if not torch.cuda.is_available():
            raise UserError(
                f"--quantize {method} on CPU needs gptqmodel 7.6 (found {versions['gptqmodel']}, which wants a "
                "CUDA build of torch): pip install 'gptqmodel==7.6.*' with your torch pinned"
            )
    return versions


def import_gptqmodel() -> Any:
    """Import and return the ``gptqmodel`` module, with ``GPTQMODEL_CPU_WORKERS`` defaulted to 2 first
    (GPTQModel reads it at import time)."""
    os.environ.setdefault("GPTQMODEL_CPU_WORKERS", DEFAULT_CPU_WORKERS)
    import gptqmodel

    return gptqmodel


@dataclass(frozen=True)
class Quantized:
    """What :func:`quantize_and_save` measured."""

    quantize_seconds: float
    device: str
    dtype: str


def quantize_and_save(
    location: str, config: Any, samples: list[str], output_dir: Path, scratch: Path, *, dtype: Any, backend: Any = None
) -> Quantized:
    """Load the dense folder ``location`` into GPTQModel with ``config``, calibrate on ``samples``, save.

    Runs on CUDA when torch sees a GPU, else on CPU with ``GPTQMODEL_CPU_WORKERS`` workers (default 2).
    ``backend`` picks GPTQModel's packing kernel (None lets GPTQModel choose).
    """
    import torch

    gptqmodel = import_gptqmodel()
    _redirect_logs(scratch / "logs")
    device = "cuda:0" if torch.cuda.is_available() else "cpu"
    started = time.perf_counter()
    try:
        model = gptqmodel.GPTQModel.load(location, config, device=device, dtype=dtype)
    except OSError as exc:
        raise UserError(f"cannot load {location}: {exc}") from None
    extra = {"backend": backend} if backend is not None else {}
    output_dir = output_dir.resolve()  # before the chdir below
    with contextlib.chdir(scratch):  # GPTQModel writes run logs to ./logs of the working directory
        model.quantize(samples, batch_size=1, **extra)
        seconds = time.perf_counter() - started
        model.save(str(output_dir))
    del model
    return Quantized(round(seconds, 2), device, str(dtype).removeprefix("torch."))


def _redirect_logs(folder: Path) -> None:
    """Make GPTQModel write its per-run log under ``folder`` instead of ``./logs`` in the working directory."""
    from gptqmodel.looper import loop_processor

    if isinstance(getattr(loop_processor, "_PROJECT_LOG_DIR", None), Path):
        loop_processor._PROJECT_LOG_DIR = folder


@dataclass(frozen=True)
class GptqModelJob:
    """What a GPTQModel-based quantizer asks for: ``method`` ("gptq", "awq"), the ``quant_method`` values of
    its checkpoints, calibration count and seed, the GPTQModel config (built in the scratch folder), the dtype
    the model is held in while quantizing and the packing kernel (each given whether a GPU is used), and the
    recipe to record."""

    method: str
    quant_methods: tuple[str, ...]
    calibration_samples: int
    seed: int
    make_config: Callable[[Path], Any]
    dtype: Callable[[bool], Any]
    packing_backend: Callable[[bool], Any]
    recipe: dict[str, Any]


def run_quantizer(job: GptqModelJob, model: str, output_dir: Path) -> Variant:
    """The whole flow of a GPTQModel-based quantizer, after its recipe was validated.

    Checks what is needed before any work; a checkpoint of the same method is returned as it is
    (``prequantized``); otherwise a GGUF base is de-quantized to a scratch folder, the model is calibrated
    on the shared paragraphs, quantized, saved with its tokenizer in ``output_dir``, reloaded the way the hf
    backend loads it and made to generate. The details record all of it.
    """
    versions = preflight(job.method)
    who = f"--quantize {job.method}"
    source = require_source(model, who)
    if (loaded := prequantized(source, job.method, job.quant_methods)) is not None:
        return Variant(source.location, loaded | {"recipe_applied": False})  # already this method: load as it is
    require_dense(source, who)
    output_dir = Path(output_dir).resolve()  # GPTQModel runs inside the scratch folder: no relative paths
    output_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"trust-{job.method}-"))
    try:
        details = _quantize(job, source, output_dir, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    details["libraries"] = library_versions("gptqmodel", "optimum", "transformers", "torch", "accelerate") | versions
    return Variant(str(output_dir), details)


def _quantize(job: GptqModelJob, source: ModelSource, output_dir: Path, scratch: Path) -> dict[str, Any]:
    import torch
    from transformers import AutoTokenizer

    import_gptqmodel()  # sets GPTQMODEL_CPU_WORKERS before gptqmodel's first import
    started = time.perf_counter()
    location = source.location
    if source.kind == "gguf":
        location = str(scratch / "dense")
        dense_folder(source, Path(location))
    dequantize_seconds = time.perf_counter() - started
    bytes_before = float32_parameter_bytes(location)
    samples = calibration_samples(job.calibration_samples, job.seed)
    on_gpu = torch.cuda.is_available()
    torch.manual_seed(job.seed)
    done = quantize_and_save(
        location,
        job.make_config(scratch),
        samples,
        output_dir,
        scratch,
        dtype=job.dtype(on_gpu),
        backend=job.packing_backend(on_gpu),
    )
    if not (output_dir / "tokenizer_config.json").is_file():
        AutoTokenizer.from_pretrained(location).save_pretrained(output_dir)
    with contextlib.chdir(scratch):
        check = reload_and_generate(output_dir, QUANTIZED_LAYERS)
    return {
        "method": job.method,
        **job.recipe,
        "lm_head_quantized": False,
        "calibration": calibration_record(samples, job.seed),
        "base_source": source.kind,
        "dequantized_from_gguf": source.gguf_file,
        "dequantize_seconds": round(dequantize_seconds, 2) if source.kind == "gguf" else None,
        "quantize_seconds": done.quantize_seconds,
        "quantize_dtype": done.dtype,
        "quantized_layers": check["quantized_layers"],
        "parameter_bytes_before": bytes_before,
        "memory_bytes_after": check["memory_footprint_bytes"],
        "compression_ratio": round(bytes_before / check["memory_footprint_bytes"], 3),
        "reload_check": check,
        "device": done.device,
        "cpu_workers": os.environ.get("GPTQMODEL_CPU_WORKERS"),
    }
