"""The ``hqq`` backend: batched generation from hqq-format checkpoints (``qmodel.pt``).

Everything but loading is the shared transformers engine (:class:`~trust_transformers.backend.TransformersBackend`):
same chat templates, batching, seeds and fingerprints as the ``hf`` backend, so scores of a dense model and
of its HQQ variant differ only by the weights.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trust_hqq.checkpoint import is_hqq_folder, load_hqq, read_marker
from trust_transformers.backend import Placement, TransformersBackend
from trust_transformers.source import ModelSource


class HqqBackend(TransformersBackend):
    """Runs hqq checkpoints: local folders with ``qmodel.pt`` (chosen automatically), or hub ids of
    pre-quantized hqq models (e.g. ``mobiuslabsgmbh/Llama-3.1-8b-instruct_4bitgs64_hqq_calib``) when named
    with ``--backend hqq`` and the hub is reachable."""

    name = "hqq"
    version = "1"
    description = "hqq-format checkpoints (qmodel.pt) through hqq's loader; batched transformers generation"

    @classmethod
    def supports(cls, model: str) -> int:
        """A local folder holding hqq's checkpoint → 3 (above the hf backend's 2); anything else → 0."""
        return 3 if is_hqq_folder(Path(model).expanduser()) else 0

    def load_model(self, source: ModelSource, placement: Placement) -> Any:
        """Load with hqq's ``from_quantized`` on the placement's device (one device: hqq places layers itself)."""
        device = "cpu" if placement.device == "cpu" else "cuda:0"
        return load_hqq(source.location, placement.dtype, device)

    def describe(self) -> dict[str, Any]:
        """The shared description plus the recipe recorded in the folder's ``hqq_config.json``, if any."""
        info = super().describe()
        marker = read_marker(Path(self.model)) if Path(self.model).is_dir() else None
        info["hqq"] = marker
        return info
