"""trust plugin: embedders on sentence-transformers (``minilm``, the default, and ``sentence-transformers``).

Importing this module is cheap: sentence-transformers and torch are imported on the first ``embed``.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import Embedder, hookimpl
from trust_sentence_transformers.embedders import (
    BgeM3Embedder,
    MiniLMEmbedder,
    SentenceTransformerEmbedder,
    cached_locally,
    minilm_path,
)

__all__ = [
    "BgeM3Embedder",
    "MiniLMEmbedder",
    "SentenceTransformerEmbedder",
    "cached_locally",
    "minilm_path",
    "register_embedders",
]


@hookimpl
def register_embedders(register: Callable[[type[Embedder]], None]) -> None:
    """Register ``minilm`` (the default embedder) and ``sentence-transformers``."""
    register(MiniLMEmbedder)
    register(SentenceTransformerEmbedder)
    register(BgeM3Embedder)
