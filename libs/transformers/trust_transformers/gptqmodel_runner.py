"""Running GPTQModel 7.6 on CPU for the ``gptq`` and ``awq`` quantizers, and the checks before it.

GPTQModel 7.6 quantizes on a CPU build of torch (7.7 wants a CUDA build). Its output folder carries a
``quantization_config`` that transformers reads, so the hf backend loads it on CPU unchanged (through
GPTQModel's torch kernels; GPTQ also needs optimum). GPTQModel writes run logs to ``./logs`` of the working
directory: :func:`quantize_and_save` runs it inside a scratch folder and points its log folder there.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from trust_core.errors import UserError

SUPPORTED_GPTQMODEL = "7.6."
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
    with contextlib.chdir(scratch):  # GPTQModel writes run logs to ./logs of the working directory
        model.quantize(samples, batch_size=1, **extra)
        seconds = time.perf_counter() - started
        model.save(str(output_dir.resolve()))
    del model
    return Quantized(round(seconds, 2), device, str(dtype).removeprefix("torch."))


def _redirect_logs(folder: Path) -> None:
    """Make GPTQModel write its per-run log under ``folder`` instead of ``./logs`` in the working directory."""
    from gptqmodel.looper import loop_processor

    if isinstance(getattr(loop_processor, "_PROJECT_LOG_DIR", None), Path):
        loop_processor._PROJECT_LOG_DIR = folder
