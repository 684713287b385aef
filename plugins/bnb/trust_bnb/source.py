"""Where the base model comes from, and turning a GGUF file into a dense Hugging Face folder.

transformers refuses to combine a ``quantization_config`` with ``gguf_file=`` and refuses to
``save_pretrained`` a model loaded from GGUF (its GGUF quantizer is marked not serializable), so a
GGUF base is first de-quantized to float32, checked to be fully dense, stripped of its GGUF
quantization marker and saved as an ordinary folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from trust_core.errors import UserError


@dataclass(frozen=True)
class BaseModel:
    """A classified base model: ``location`` is the folder or hub id; ``gguf_file`` the file name inside it."""

    kind: Literal["gguf", "folder", "hub"]
    location: str
    gguf_file: str | None = None

    def load_kwargs(self) -> dict[str, Any]:
        """Extra ``from_pretrained`` arguments for this source."""
        return {"gguf_file": self.gguf_file} if self.gguf_file else {}


def classify(model: str, who: str) -> BaseModel:
    """Classify ``model`` as a GGUF file, a folder with ``config.json`` or a hub id; UserError otherwise.

    A folder whose ``config.json`` already carries a ``quantization_config`` is rejected: quantize the
    base model, not a quantized variant. ``who`` prefixes error messages (the quantizer's name).
    """
    path = Path(model).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise UserError(f"{who}: {model} is a file but not a .gguf file")
        resolved = path.resolve()
        return BaseModel("gguf", str(resolved.parent), resolved.name)
    if path.is_dir():
        config = path / "config.json"
        if not config.is_file():
            raise UserError(f"{who}: {model} is a folder without config.json (not a Hugging Face model folder)")
        try:
            quantization = json.loads(config.read_text(encoding="utf-8")).get("quantization_config")
        except json.JSONDecodeError as exc:
            raise UserError(f"{config}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
        if quantization:
            method = quantization.get("quant_method", "unknown") if isinstance(quantization, dict) else "unknown"
            raise UserError(f"{who}: {model} is already quantized ({method}); quantize the unquantized base model")
        return BaseModel("folder", str(path.resolve()))
    if "/" in model and not model.lower().endswith(".gguf"):
        return BaseModel("hub", model)
    raise UserError(f"{who}: '{model}' is not a GGUF file, a folder with config.json or a hub id")


def dense_folder_from_gguf(source: BaseModel, folder: Path) -> int:
    """De-quantize the GGUF ``source`` to float32 and save it, with its tokenizer, as a folder; return its bytes.

    Raises RuntimeError when transformers kept any weight packed in GGUF blocks (only possible with a
    GGUF matmul kernel installed), since such a model cannot be saved faithfully.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert source.gguf_file is not None
    model = AutoModelForCausalLM.from_pretrained(source.location, gguf_file=source.gguf_file, dtype=torch.float32)
    packed = sorted({type(module).__name__ for module in model.modules() if "gguf" in type(module).__name__.lower()})
    if packed:
        raise RuntimeError(f"{source.gguf_file}: transformers kept GGUF-packed layers ({', '.join(packed)})")
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(source.location, gguf_file=source.gguf_file).save_pretrained(folder)
    size = int(model.get_memory_footprint())
    del model
    return size


def library_versions(*names: str) -> dict[str, str]:
    """Installed versions of the named distributions (missing ones are left out)."""
    from importlib import metadata

    versions: dict[str, str] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
