"""trust plugin: embedders on sentence-transformers (``minilm``, the default, and ``sentence-transformers``).

Importing this module is cheap: sentence-transformers and torch are imported on the first ``embed``.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core import hookimpl
from trust_core.contracts import Embedder
from trust_sentence_transformers.embedders import MiniLMEmbedder, SentenceTransformerEmbedder, minilm_path

__all__ = ["MiniLMEmbedder", "SentenceTransformerEmbedder", "minilm_path", "register_embedders"]


@hookimpl
def register_embedders(register: Callable[[type[Embedder]], None]) -> None:
    """Register ``minilm`` (the default embedder) and ``sentence-transformers``."""
    register(MiniLMEmbedder)
    register(SentenceTransformerEmbedder)
