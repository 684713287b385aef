"""The ``magnitude``, ``wanda`` and ``sparsegpt`` pruners (the :class:`~trust_core.contracts.Pruner` contract).

Each loads the base model with transformers in float32 on CPU (a ``.gguf`` file is de-quantized),
prunes every linear layer of the transformer blocks, saves model and tokenizer with
``save_pretrained(output_dir, safe_serialization=True)`` (so the ``hf`` backend loads ``output_dir``
as a folder) and returns a :class:`~trust_core.contracts.Variant` whose details record what was
done and measured.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from trust_core.contracts import Pruner, Variant
from trust_core.errors import UserError
from trust_wanda.recipe import PruneRecipe, parse_recipe

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[A-Za-z0-9][\w.\-]*$")


@dataclass(frozen=True)
class ModelLocation:
    """What to pass to ``from_pretrained``: a folder or hub id, and the GGUF file name inside it."""

    kind: str
    location: str
    gguf_file: str | None = None

    def load_kwargs(self) -> dict[str, Any]:
        """``gguf_file=...`` for a GGUF model, nothing otherwise."""
        return {"gguf_file": self.gguf_file} if self.gguf_file else {}


def locate_model(model: str) -> ModelLocation:
    """Classify ``model`` as a GGUF file, a local folder with ``config.json`` or a hub id; UserError otherwise."""
    path = Path(model).expanduser()
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise UserError(f"cannot prune '{model}': a model file must be .gguf (or give a model folder)")
        resolved = path.resolve()
        return ModelLocation("gguf", str(resolved.parent), resolved.name)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserError(f"cannot prune '{model}': the folder has no config.json")
        return ModelLocation("folder", str(path.resolve()))
    if HUB_ID.match(model):
        return ModelLocation("hub", model)
    raise UserError(f"cannot prune '{model}': not a .gguf file, a model folder or a hub id (org/name)")


def load_model(location: ModelLocation) -> tuple[Any, Any]:
    """Model (float32, CPU, eval mode) and tokenizer for ``location``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = location.load_kwargs()
    tokenizer = AutoTokenizer.from_pretrained(location.location, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(location.location, dtype=torch.float32, **kwargs)
    if location.gguf_file:
        _drop_gguf_quantizer(model)
    return model.eval(), tokenizer


def _drop_gguf_quantizer(model: Any) -> None:
    """Detach the GGUF "quantizer" transformers leaves on a model it de-quantized on load.

    The weights are plain float32 tensors by then, but the attached quantizer makes
    ``save_pretrained`` refuse to write them. If some weight is not float32 (a transformers that keeps
    GGUF blocks quantized), the model cannot be pruned as it is, and that is said plainly.
    """
    import torch

    odd = sorted({str(p.dtype) for p in model.parameters() if p.dtype != torch.float32})
    if odd:
        raise UserError(
            f"the GGUF model loaded with non-float32 weights ({', '.join(odd)}); this transformers version "
            "does not de-quantize it, so it cannot be pruned: convert it to a model folder first"
        )
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)


def folder_size(folder: Path) -> int:
    """Total bytes of the files directly in ``folder``."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


class _BlockPruner(Pruner):
    """Shared flow of the three pruners; subclasses set ``name`` and ``uses_calibration``."""

    uses_calibration: ClassVar[bool] = True
    reference: ClassVar[str] = ""

    def prune(self, model: str, recipe: Mapping[str, Any], output_dir: Path) -> Variant:
        """Prune ``model`` (GGUF path, folder or hub id) per ``recipe`` and save it under ``output_dir``."""
        parsed = parse_recipe(recipe)
        location = locate_model(model)
        output_dir = Path(output_dir)
        if output_dir.exists() and not output_dir.is_dir():
            raise UserError(f"output {output_dir} exists and is not a folder")
        return self._run(model, location, parsed, output_dir)

    def _run(self, model: str, location: ModelLocation, recipe: PruneRecipe, output_dir: Path) -> Variant:
        import torch
        import transformers

        from trust_wanda.calibration import build_calibration
        from trust_wanda.pipeline import prune_model
        from trust_wanda.sparsity import check_pattern, measure_sparsity

        timings: dict[str, float] = {}
        started = time.perf_counter()
        hf_model, tokenizer = load_model(location)
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
