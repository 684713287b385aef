"""hqq's own checkpoint format: ``config.json`` (the model's architecture) + ``qmodel.pt`` (the weights).

transformers cannot load this format (its ``HqqConfig`` loading path is unimplemented in transformers 5.x), so the
plugin loads it with hqq's ``AutoHQQHFModel.from_quantized``: both the quantizer's reload check and the
``hqq`` backend go through :func:`load_hqq`. A marker file, ``hqq_config.json``, records the recipe and
lets :func:`is_hqq_folder` recognise the folder without reading the weights.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

WEIGHTS_FILE = "qmodel.pt"
MARKER_FILE = "hqq_config.json"


def is_hqq_folder(path: Path) -> bool:
    """True for a folder holding hqq's checkpoint (``config.json`` and ``qmodel.pt``)."""
    return path.is_dir() and (path / "config.json").is_file() and (path / WEIGHTS_FILE).is_file()


def write_marker(folder: Path, recipe: dict[str, Any], hqq_version: str) -> None:
    """Record how the checkpoint in ``folder`` was quantized (read back by :func:`read_marker`)."""
    marker = {"format": "hqq", "hqq_version": hqq_version, **recipe}
    (folder / MARKER_FILE).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The recipe ``folder`` was quantized with, or None (a checkpoint made elsewhere, e.g. on the hub)."""
    path = folder / MARKER_FILE
    if not path.is_file():
        return None
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None
    return found if isinstance(found, dict) else None


def quiet_hqq() -> None:
    """Silence hqq's and torchao's import-time chatter about CUDA extensions a CPU machine does not have."""
    for name in ("hqq", "torchao"):
        logging.getLogger(name).setLevel(logging.ERROR)


def load_hqq(location: str, compute_dtype: Any, device: str) -> Any:
    """Load an hqq checkpoint (local folder, or hub id when online) with hqq's own loader, in eval mode."""
    quiet_hqq()
    from hqq.models.hf.base import AutoHQQHFModel

    # cache_dir=None: a local folder is used as it is; a hub id goes through the standard Hugging Face cache
    model = AutoHQQHFModel.from_quantized(location, compute_dtype=compute_dtype, device=device, cache_dir=None)
    return model.eval()
