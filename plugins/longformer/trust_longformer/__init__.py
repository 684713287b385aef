"""trust-longformer: the ``longformer`` refusal judge, TrustLLM's Longformer classifier.

``--refusal-judge longformer`` (hub id ``LibrAI/longformer-harmful-ro`` from the cache)
or ``--refusal-judge longformer:/path/to/model``. Importing this module is cheap:
torch, transformers and huggingface_hub are imported when the judge is built or used.
"""

from __future__ import annotations

from collections.abc import Callable

from trust_core.plugin import Judge, hookimpl
from trust_longformer.judge import MAX_TOKENS, MODEL_ID, LongformerRefusalJudge, locate

__version__ = "0.1.0"


@hookimpl
def register_judges(register: Callable[[type[Judge]], None]) -> None:
    """Register ``longformer`` (a refusal judge; not a default, since it needs a model download)."""
    register(LongformerRefusalJudge)


__all__ = ["MAX_TOKENS", "MODEL_ID", "LongformerRefusalJudge", "locate", "register_judges"]
