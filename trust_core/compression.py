"""Producing model variants with quantizer and pruner plugins, with provenance.

``trust compress`` (and ``trust run --prune/--quantize``) resolves the base model,
asks the plugin for the variant, and writes ``variant.json`` beside it:
base model and its fingerprint, method, recipe, seed, the plugin's measurements,
library versions, the weights' digest and size on disk. ``trust run --model <dir>``
on a folder with ``variant.json`` records it in results as ``run.variant``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trust_core import __version__
from trust_core.contracts import BackendOptions, Pruner, Quantizer, Variant, content_hash
from trust_core.errors import UserError
from trust_core.registry import Registry
from trust_core.schemas import load_schema, validator

VARIANT_FILE = "variant.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt", ".pth")


@dataclass(frozen=True)
class CompressionRequest:
    """What to produce: ``kind`` "prune" or "quantize", the plugin ``method`` and its recipe."""

    kind: str
    method: str
    recipe: dict[str, Any]

    @property
    def digest(self) -> str:
        """Short content hash of the request (names cached variants)."""
        return content_hash([self.kind, self.method, self.recipe])[:16]


def compression_request(
    prune: str | None,
    quantize: str | None,
    *,
    sparsity: float | None = None,
    pattern: str | None = None,
    bits: int | None = None,
    group_size: int | None = None,
    calibration_samples: int | None = None,
    seed: int = 42,
    extra: Mapping[str, Any] | None = None,
) -> CompressionRequest | None:
    """The request the options describe, or None when neither ``--prune`` nor ``--quantize`` was given.

    ``extra`` (``--recipe KEY=VALUE``) adds method-specific keys and overrides the ones the options set."""
    if prune and quantize:
        raise UserError("--prune and --quantize: choose one (compose variants by compressing a variant)")
    if extra and not (prune or quantize):
        raise UserError("--recipe applies to --prune or --quantize")
    request = _base_request(prune, quantize, sparsity, pattern, bits, group_size, calibration_samples, seed)
    if request is None or not extra:
        return request
    return CompressionRequest(request.kind, request.method, {**request.recipe, **extra})


def _base_request(
    prune: str | None,
    quantize: str | None,
    sparsity: float | None,
    pattern: str | None,
    bits: int | None,
    group_size: int | None,
    calibration_samples: int | None,
    seed: int,
) -> CompressionRequest | None:
    if prune:
        recipe: dict[str, Any] = {"pattern": pattern}
        if sparsity is not None or pattern is None:  # an N:M pattern implies its own sparsity
            recipe["sparsity"] = sparsity if sparsity is not None else 0.5
        if calibration_samples is not None:
            recipe["calibration_samples"] = calibration_samples
        return CompressionRequest("prune", prune, {**recipe, "seed": seed})
    if quantize:
        if sparsity is not None or pattern is not None:
            raise UserError("--sparsity/--pattern apply to --prune, not --quantize")
        recipe = {"bits": bits if bits is not None else 4, "group_size": group_size if group_size is not None else 64}
        if calibration_samples is not None:
            recipe["calibration_samples"] = calibration_samples
        return CompressionRequest("quantize", quantize, {**recipe, "seed": seed})
    return None


def recipe_value(text: str) -> Any:
    """A ``--recipe`` value as the type it reads as: true/false, an integer, a number, null, else the text."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("null", "none"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def parse_recipe_items(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` items (``--recipe``, repeatable or comma-separated) as a recipe mapping."""
    recipe: dict[str, Any] = {}
    for item in (part for given in items for part in given.split(",") if part.strip()):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key.strip()):
            raise UserError(f"--recipe {item!r}: expected KEY=VALUE (e.g. --recipe quant_type=fp4)")
        recipe[key.strip()] = recipe_value(value)
    return recipe


def check_request(registry: Registry, request: CompressionRequest) -> None:
    """The method is registered and accepts the recipe: checked before any model is loaded (exit 2 naming the
    method and the key otherwise)."""
    kind = "pruner" if request.kind == "prune" else "quantizer"
    component = registry.compressor(kind, request.method)
    type(component).check_recipe(request.recipe)


def recipe_int(recipe: Mapping[str, Any], key: str, default: int | None, who: str) -> int | None:
    """``recipe[key]`` as an integer (``default`` when absent or None); UserError ``"<who> recipe: <key> must be an
    integer"`` for anything else (booleans included). Plugins validate their recipes with it."""
    value = recipe.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{who} recipe: {key} must be an integer, got {value!r}")
    return value


def reject_unknown_keys(recipe: Mapping[str, Any], known: Collection[str], who: str) -> None:
    """UserError naming every key of ``recipe`` not in ``known``: a misspelt key would otherwise change nothing."""
    unknown = sorted(set(recipe) - set(known))
    if unknown:
        raise UserError(f"{who} recipe: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")


def read_variant(model: str) -> dict[str, Any] | None:
    """The ``variant.json`` of a model folder, or None for a model that is not a variant."""
    path = Path(model) / VARIANT_FILE
    if not path.is_file():
        return None
    try:
        info: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return info
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None


def weights_digest(folder: Path) -> tuple[str, int]:
    """sha256 over the weight files of ``folder`` (names and contents, sorted) and its total size in bytes."""
    digest = hashlib.sha256()
    total = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        total += path.stat().st_size
        if path.suffix in WEIGHT_SUFFIXES:
            digest.update(path.relative_to(folder).as_posix().encode())
            with path.open("rb") as handle:
                while chunk := handle.read(2**22):
                    digest.update(chunk)
    return digest.hexdigest(), total


def compress(
    registry: Registry, model_spec: str, request: CompressionRequest, out_dir: Path, options: BackendOptions
) -> dict[str, Any]:
    """Produce the variant in ``out_dir`` (which must not hold one already) and write its ``variant.json``."""
    kind = "pruner" if request.kind == "prune" else "quantizer"
    component = registry.compressor(kind, request.method)
    type(component).check_recipe(request.recipe)
    if (out_dir / VARIANT_FILE).exists():
        raise UserError(f"--out {out_dir}: already holds a variant (remove it or choose another folder)")
    base = registry.make_backend(model_spec, None, options)
    resolved, fingerprint = base.model, base.fingerprint()
    base.close()
    work_dir = out_dir.with_name(f".{out_dir.name}.partial-{os.getpid()}")
    shutil.rmtree(work_dir, ignore_errors=True)
    work_dir.mkdir(parents=True)
    started = time.time()
    try:
        variant = _produce(component, request, resolved, work_dir)
        _check_produced(request, variant, work_dir)
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        raise
    info = _variant_record(registry, model_spec, resolved, fingerprint, request, kind, variant, started)
    info["model"] = "." if Path(variant.model).resolve() == work_dir.resolve() else variant.model
    _finish(work_dir, out_dir, info)
    return info


def variant_model(folder: Path, info: dict[str, Any]) -> str:
    """The model spec a variant folder stands for: the folder itself, or the spec its plugin returned."""
    model = info.get("model", ".")
    return str(folder) if model == "." else str(model)


def _check_produced(request: CompressionRequest, variant: Variant, work_dir: Path) -> None:
    """A variant that says it lives in ``work_dir`` must have left weight files there (a plugin bug otherwise)."""
    if Path(variant.model).resolve() != work_dir.resolve():
        return
    if not any(path.suffix in WEIGHT_SUFFIXES for path in work_dir.rglob("*") if path.is_file()):
        raise RuntimeError(
            f"{request.kind} {request.method}: the plugin returned its output folder but wrote no weights"
        )


def _produce(component: Pruner | Quantizer, request: CompressionRequest, model: str, work_dir: Path) -> Variant:
    if isinstance(component, Pruner):
        return component.prune(model, request.recipe, work_dir)
    return component.quantize(model, request.recipe, work_dir)


def _variant_record(
    registry: Registry,
    spec: str,
    resolved: str,
    fingerprint: str,
    request: CompressionRequest,
    kind: str,
    variant: Variant,
    started: float,
) -> dict[str, Any]:
    plugin = registry.plugin_of(kind, request.method)
    return {
        "schema_version": "1",
        "base_model": {"spec": spec, "resolved": resolved, "fingerprint": fingerprint},
        "kind": request.kind,
        "method": request.method,
        "recipe": request.recipe,
        "seed": request.recipe.get("seed"),
        "plugin": {"name": plugin.name, "version": plugin.version},
        "trust_version": __version__,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.time() - started, 1),
        "details": dict(variant.details),
    }


def _finish(work_dir: Path, out_dir: Path, info: dict[str, Any]) -> None:
    """Record digest and size, validate, write variant.json, and move the folder into place."""
    info["weights_sha256"], info["size_bytes"] = weights_digest(work_dir)
    errors = list(validator(load_schema("variant.schema.json")).iter_errors(info))
    if errors:
        shutil.rmtree(work_dir, ignore_errors=True)
        raise ValueError(f"variant.json does not match variant.schema.json: {errors[0].message}")
    (work_dir / VARIANT_FILE).write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
    if out_dir.exists():
        if any(out_dir.iterdir()):
            raise UserError(f"--out {out_dir}: not empty")
        out_dir.rmdir()
    os.replace(work_dir, out_dir)


def cached_variant(
    registry: Registry, model_spec: str, request: CompressionRequest, run_dir: Path, options: BackendOptions
) -> tuple[str, dict[str, Any]]:
    """The variant for ``request`` under ``run_dir/variants/``, produced on first use and reused after."""
    check_request(registry, request)
    base = registry.make_backend(model_spec, None, options)
    fingerprint = base.fingerprint()
    base.close()
    folder = run_dir / "variants" / f"{request.method}-{content_hash([fingerprint, request.digest])[:16]}"
    info = read_variant(str(folder)) or compress(registry, model_spec, request, folder, options)
    return variant_model(folder, info), info
