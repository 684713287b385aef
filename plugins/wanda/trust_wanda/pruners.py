"""The ``magnitude``, ``wanda`` and ``sparsegpt`` pruners (the :class:`~trust_core.contracts.Pruner` contract).

Each loads the base model with transformers in float32 on CPU (a ``.gguf`` file is de-quantized),
prunes every linear layer of the transformer blocks, saves model and tokenizer with
``save_pretrained(output_dir, safe_serialization=True)`` (so the ``hf`` backend loads ``output_dir``
as a folder) and returns a :class:`~trust_core.contracts.Variant` whose details record what was
done and measured.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from trust_core.plugin import Pruner, UserError, Variant
from trust_transformers.source import ModelSource, load_dense, require_dense, require_source
from trust_wanda.recipe import RECIPE_OPTIONS, PruneRecipe, parse_recipe


def folder_size(folder: Path) -> int:
    """Total bytes of the files directly in ``folder``."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


class _BlockPruner(Pruner):
    """Shared flow of the three pruners; subclasses set ``name`` and ``uses_calibration``."""

    uses_calibration: ClassVar[bool] = True
    reference: ClassVar[str] = ""
    recipe_options = RECIPE_OPTIONS

    @classmethod
    def check_recipe(cls, recipe: Mapping[str, Any]) -> None:
        """The recipe is validated in full before any model is loaded; the message names the pruner."""
        try:
            parse_recipe(recipe)
        except UserError as exc:
            raise UserError(f"{cls.name} {exc}") from None

    def prune(self, model: str, recipe: Mapping[str, Any], output_dir: Path) -> Variant:
        """Prune ``model`` (GGUF path, folder or hub id) per ``recipe`` and save it under ``output_dir``."""
        parsed = parse_recipe(recipe)
        location = require_source(model, f"--prune {self.name}")
        require_dense(location, f"--prune {self.name}")
        output_dir = Path(output_dir)
        if output_dir.exists() and not output_dir.is_dir():
            raise UserError(f"output {output_dir} exists and is not a folder")
        return self._run(model, location, parsed, output_dir)

    def _run(self, model: str, location: ModelSource, recipe: PruneRecipe, output_dir: Path) -> Variant:
        import torch
        import transformers

        from trust_wanda.calibration import build_calibration
        from trust_wanda.pipeline import prune_model
        from trust_wanda.sparsity import check_pattern, measure_sparsity

        timings: dict[str, float] = {}
        started = time.perf_counter()
        hf_model, tokenizer = load_dense(location)
        timings["load_s"] = time.perf_counter() - started

        calibration = None
        mark = time.perf_counter()
        if self.uses_calibration:
            calibration = build_calibration(
                tokenizer, recipe.calibration_samples, recipe.calibration_seq_len, recipe.seed, recipe.calibration_file
            )
        layers = prune_model(hf_model, self.name, recipe, calibration.input_ids if calibration else None)
        timings["prune_s"] = time.perf_counter() - mark

        mark = time.perf_counter()
        report = measure_sparsity(hf_model)
        output_dir.mkdir(parents=True, exist_ok=True)
        hf_model.save_pretrained(output_dir, safe_serialization=True)
        tokenizer.save_pretrained(output_dir)
        timings["save_s"] = time.perf_counter() - mark

        pattern_check = check_pattern(output_dir, recipe.pattern) if recipe.pattern else None
        timings["total_s"] = time.perf_counter() - started
        details: dict[str, Any] = {
            "method": self.name,
            "method_version": self.version,
            "reference": self.reference,
            "base_model": model,
            "base_source": location.kind,
            "sparsity_target": recipe.sparsity,
            "pattern": recipe.pattern_text,
            "comparison": None if recipe.pattern or self.name == "sparsegpt" else recipe.comparison,
            "measured_sparsity": round(report.overall, 6),
            "pruned_layers": layers,
            "pruned_weights": report.zeros,
            "weights_in_pruned_layers": report.total,
            "per_layer_sparsity": report.per_layer,
            "pattern_ok": pattern_check.ok if pattern_check else None,
            "pattern_check": pattern_check.as_dict() if pattern_check else None,
            "calibration": calibration.describe() if calibration else None,
            "dtype": "float32",
            "device": "cpu",
            "saved_bytes": folder_size(output_dir),
            "torch_version": torch.__version__,
            "transformers_version": transformers.__version__,
            "elapsed_s": round(timings["total_s"], 2),
            "timings": {key: round(value, 2) for key, value in timings.items()},
        }
        if self.name == "sparsegpt":
            details["sparsegpt"] = {"blocksize": recipe.blocksize, "percdamp": recipe.percdamp}
        return Variant(model=str(output_dir), details=details)


class MagnitudePruner(_BlockPruner):
    """Zero the weights of smallest ``|W|`` (per output row by default); no calibration data."""

    name = "magnitude"
    version = "1"
    description = "magnitude pruning |W| (unstructured or N:M); no calibration"
    uses_calibration = False
    reference = "Han et al. 2015, Learning both Weights and Connections for Efficient Neural Networks"


class WandaPruner(_BlockPruner):
    """Wanda: zero the weights of smallest ``|W_ij| · ‖X_j‖₂`` per output row, block by block."""

    name = "wanda"
    version = "1"
    description = "Wanda: |W|·‖X‖₂ per output row, block by block on calibration text (unstructured or N:M)"
    reference = "Sun et al. 2023, A Simple and Effective Pruning Approach for Large Language Models"


class SparseGPTPruner(_BlockPruner):
    """SparseGPT: OBS-style pruning with weight reconstruction from the layer Hessian, block by block."""

    name = "sparsegpt"
    version = "1"
    description = "SparseGPT: OBS pruning + reconstruction with the layer Hessian (unstructured or N:M)"
    reference = "Frantar & Alistarh 2023, SparseGPT: Massive Language Models Can Be Accurately Pruned in One-Shot"
