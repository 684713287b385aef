"""A de-quantized copy of a small GGUF file, kept between runs so later loads skip transformers' GGUF parsing.

transformers loads a GGUF file by parsing it once for the tokenizer, once for the config and once more for the
tensors, which it then de-quantizes: about 29 s for the embedded 95 MB SmolLM2 on 2 CPU cores, against about
2 s for the same float32 weights read from a model folder. So the first CPU float32 load of a GGUF file of at
most :data:`MAX_GGUF_BYTES` saves what transformers made of it — the de-quantized float32 weights, the config and
the tokenizer — to ``<cache>/gguf-dense/<sha256 of the file>-transformers-<version>/``, and later loads of a file
with the same content read that folder instead. The copy holds the very tensors and tokenizer a direct load
builds, so generation is unchanged (tested token for token); a file of another content, or another transformers
version, gets its own copy.

The cache lives in ``$TRUST_CACHE_DIR`` (default ``$XDG_CACHE_HOME/trust``, else ``~/.cache/trust``);
``TRUST_CACHE_DIR=off`` turns it off. A copy is written to a temporary folder and renamed into place, so
processes loading the same file at once never read a half-written copy; deleting the folder is always safe.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

CACHE_ENV = "TRUST_CACHE_DIR"
"""Environment variable naming the cache folder (``off`` turns the cache off)."""

DISABLED = "off"

MAX_GGUF_BYTES = 256 * 2**20
"""Largest GGUF file copied: de-quantized to float32 it takes roughly 7x its size on disk (under ~2 GB)."""

MARKER = "trust-gguf-copy.json"
"""The file naming the GGUF a copy was made from; written last, so a copy without it is not used."""


def cache_root() -> Path | None:
    """The cache folder (``$TRUST_CACHE_DIR``, else ``$XDG_CACHE_HOME/trust``, else ``~/.cache/trust``), or None
    when ``TRUST_CACHE_DIR=off``."""
    named = os.environ.get(CACHE_ENV, "").strip()
    if named.lower() == DISABLED:
        return None
    if named:
        return Path(named).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "trust"


def copy_folder(sha256: str) -> Path | None:
    """Where the copy of the GGUF file with content digest ``sha256`` lives (None when the cache is off)."""
    root = cache_root()
    if root is None:
        return None
    import transformers

    return root / "gguf-dense" / f"{sha256}-transformers-{transformers.__version__}"


def cacheable(gguf: Path) -> bool:
    """Whether a copy of ``gguf`` would be kept: the cache is on and the file is at most :data:`MAX_GGUF_BYTES`."""
    return cache_root() is not None and gguf.stat().st_size <= MAX_GGUF_BYTES


def existing_copy(gguf: Path, sha256: str) -> Path | None:
    """The complete copy of ``gguf`` (content digest ``sha256``) in the cache, or None."""
    if not cacheable(gguf):
        return None
    folder = copy_folder(sha256)
    return folder if folder is not None and (folder / MARKER).is_file() else None


def save_copy(gguf: Path, sha256: str, model: Any, tokenizer: Any) -> Path | None:
    """Save ``model`` (de-quantized float32, its GGUF marker removed) and ``tokenizer`` as the cached copy of
    ``gguf``; return its folder, or None when the file is not cacheable or the cache cannot be written (a full
    disk, a read-only home: the run goes on without a copy)."""
    folder = copy_folder(sha256) if cacheable(gguf) else None
    if folder is None or (folder / MARKER).is_file():
        return folder
    if not all_float32(model):  # a GGUF kernel kept some blocks packed: not a faithful dense copy
        return None
    staging: Path | None = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=folder.parent))
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / MARKER).write_text(json.dumps({"gguf": str(gguf), "sha256": sha256}) + "\n", encoding="utf-8")
        staging.rename(folder)
    except OSError:  # another process renamed its copy first, or the cache is not writable
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        return folder if (folder / MARKER).is_file() else None
    return folder


def all_float32(model: Any) -> bool:
    """Whether every parameter of ``model`` is float32."""
    import torch

    return all(parameter.dtype == torch.float32 for parameter in model.parameters())


def strip_gguf_marker(model: Any) -> None:
    """Remove the GGUF "quantizer" transformers attaches to a model loaded from GGUF (it makes the model refuse
    ``save_pretrained``); the de-quantized weights are untouched."""
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
