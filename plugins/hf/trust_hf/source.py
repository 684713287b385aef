"""Where a model comes from (GGUF file, local folder, hub id), and its fingerprint."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[A-Za-z0-9][\w.\-]*$")
"""``org/name`` as the Hugging Face hub spells repository ids."""

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
"""Files of a model folder whose name, size and head enter its fingerprint."""

HEAD_BYTES = 2**20


@dataclass(frozen=True)
class ModelSource:
    """A classified model spec: what to pass to ``from_pretrained``.

    ``location`` is the folder or hub id; ``gguf_file`` is the file name inside
    ``location`` when the model is a GGUF file.
    """

    kind: Literal["gguf", "folder", "hub"]
    location: str
    gguf_file: str | None = None

    @property
    def path(self) -> Path:
        """The local file (GGUF) or folder; meaningless for a hub id."""
        base = Path(self.location)
        return base / self.gguf_file if self.gguf_file else base


def classify(model: str) -> ModelSource | None:
    """Classify ``model`` as a GGUF file, a local model folder or a hub id; None if it is none of them."""
    path = Path(model).expanduser()
    if path.is_file():
        if path.suffix.lower() == ".gguf":
            resolved = path.resolve()
            return ModelSource("gguf", str(resolved.parent), resolved.name)
        return None
    if path.is_dir():
        return ModelSource("folder", str(path.resolve())) if (path / "config.json").is_file() else None
    if HUB_ID.match(model) and not model.lower().endswith(".gguf"):
        return ModelSource("hub", model)
    return None


def folder_digest(folder: Path) -> str:
    """sha256 over ``config.json`` and, for each weight file, its name, size and first MiB."""
    digest = hashlib.sha256()
    config = folder / "config.json"
    if config.is_file():
        digest.update(b"config.json\0" + config.read_bytes())
    weights = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
    for weight in weights:
        digest.update(f"\0{weight.name}\0{weight.stat().st_size}\0".encode())
        with weight.open("rb") as handle:
            digest.update(handle.read(HEAD_BYTES))
    return digest.hexdigest()


def cached_hub_commit(repo_id: str, revision: str | None) -> str | None:
    """The commit of the locally cached snapshot of ``repo_id`` (at ``revision``), if there is one."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    if isinstance(found, str):
        return Path(found).parent.name
    return None
