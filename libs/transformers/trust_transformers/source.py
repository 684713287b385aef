"""Where a model comes from (GGUF file, local folder, hub id), its fingerprint, and a dense copy of it.

transformers refuses to combine a ``quantization_config`` with ``gguf_file=`` and to ``save_pretrained`` a
model loaded from GGUF (its GGUF quantizer is marked not serializable), so plugins that compress a GGUF base
first load it de-quantized to float32 (:func:`load_dense`), which also strips the GGUF marker, and save it as
an ordinary folder when their library needs one (:func:`dense_folder`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

from trust_core.plugin import UserError, gguf_problem
from trust_transformers.gguf_cache import cacheable, existing_copy, save_copy, strip_gguf_marker

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

    def load_kwargs(self) -> dict[str, Any]:
        """Extra ``from_pretrained`` arguments for this source (``gguf_file=`` for a GGUF model)."""
        return {"gguf_file": self.gguf_file} if self.gguf_file else {}


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


def hub_model_local_only(repo_id: str, revision: str | None) -> bool:
    """Whether hub model ``repo_id`` must be loaded from the local Hugging Face cache only (True) or may be
    fetched from the hub (False); UserError, naming the model, when it can be neither.

    One metadata request without retries (:func:`probe_hub`) decides it, before any tokenizer or model is
    loaded: a cached model is loaded from the cache when the hub cannot be reached (instead of every file
    retrying the network for a minute); a model that is not cached is refused at once when ``HF_HUB_OFFLINE``
    is set, when the hub cannot be reached, or when the hub says it does not exist or is gated.
    """
    from huggingface_hub import constants

    cached = cached_hub_commit(repo_id, revision) is not None
    if constants.HF_HUB_OFFLINE:
        if cached:
            return True
        raise UserError(
            f"{_not_cached(repo_id)}, and HF_HUB_OFFLINE is set, so the hub is not asked; {_how_to_get(repo_id)}"
        )
    problem = probe_hub(repo_id, revision, constants.ENDPOINT)
    if problem is None:
        return False
    if cached:
        return True
    advice = f"; {_how_to_get(repo_id)}" if problem.unreachable else ""
    raise UserError(f"{_not_cached(repo_id)}, and {problem.words}{advice}")


def _not_cached(repo_id: str) -> str:
    from huggingface_hub import constants

    return f"the model {repo_id} is not in the local Hugging Face cache ({constants.HF_HUB_CACHE})"


def _how_to_get(repo_id: str) -> str:
    return (
        f"download it where the hub is reachable (`hf download {repo_id}`, then copy the cache folder here) or "
        "give a local model folder or GGUF file"
    )


class HubProblem(NamedTuple):
    """Why a hub model cannot be fetched: in words, and whether it is that the hub could not be reached."""

    words: str
    unreachable: bool


@functools.lru_cache(maxsize=32)
def probe_hub(repo_id: str, revision: str | None, endpoint: str) -> HubProblem | None:
    """Ask ``endpoint`` once (no retries, ``HF_HUB_ETAG_TIMEOUT`` seconds) for ``repo_id``'s ``config.json``:
    None when the hub has it, else why the model cannot be fetched (remembered for the process)."""
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    url = hf_hub_url(repo_id, "config.json", revision=revision, endpoint=endpoint)
    try:
        get_hf_file_metadata(url, timeout=constants.HF_HUB_ETAG_TIMEOUT)
    except GatedRepoError:
        login = "accept its terms there and log in (`hf auth login` or HF_TOKEN)"
        return HubProblem(f"it is gated on the hub ({endpoint}): {login}", unreachable=False)
    except RepositoryNotFoundError:
        login = "or it is private: log in with `hf auth login` or HF_TOKEN"
        return HubProblem(f"it does not exist on the hub ({endpoint}) ({login})", unreachable=False)
    except RevisionNotFoundError:
        return HubProblem(f"the hub ({endpoint}) has no revision {revision} of it", unreachable=False)
    except EntryNotFoundError:
        return HubProblem(f"on the hub ({endpoint}) it has no config.json (not a transformers model)", False)
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "no status"
        return HubProblem(f"the hub ({endpoint}) cannot be reached (HTTP {status})", unreachable=True)
    except Exception as exc:  # no network, no DNS, refused connection, timeout: the HTTP library's own errors
        return HubProblem(f"no network reaches the hub ({endpoint}: {type(exc).__name__}: {exc})", True)
    return None


def require_source(model: str, who: str) -> ModelSource:
    """Like :func:`classify`, but a spec that is none of the three raises a UserError saying why.

    ``who`` starts the message (e.g. ``"--quantize gptq"``).
    """
    path = Path(model).expanduser()
    if path.is_file() and path.suffix.lower() != ".gguf":
        raise UserError(f"{who}: {model} is a file but not a .gguf file (give a GGUF file or a model folder)")
    if path.is_dir() and not (path / "config.json").is_file():
        raise UserError(f"{who}: {model} is a folder without config.json (not a Hugging Face model folder)")
    source = classify(model)
    if source is None:
        raise UserError(f"{who}: '{model}' is not a GGUF file, a folder with config.json or a hub id (org/name)")
    require_gguf(source, who)
    return source


def require_gguf(source: ModelSource, who: str) -> None:
    """UserError when ``source`` is a ``.gguf`` file that is not a GGUF file (checked from its header, cheaply)."""
    if source.kind == "gguf" and (problem := gguf_problem(source.path)) is not None:
        raise UserError(f"{who}: {source.path} is {problem}")


@contextmanager
def gguf_load_errors(source: ModelSource, who: str) -> Iterator[None]:
    """Turn the errors transformers' GGUF reader raises on a corrupt file into one UserError naming it."""
    if source.kind != "gguf":
        yield
        return
    try:
        yield
    except (ValueError, KeyError, IndexError, EOFError, OSError, struct.error) as exc:
        raise UserError(f"{who}: cannot load the GGUF file {source.path} ({type(exc).__name__}: {exc})") from None


def quantization_config(source: ModelSource) -> dict[str, Any] | None:
    """The ``quantization_config`` in the model's ``config.json``; None for GGUF files and dense models.

    A hub id's ``config.json`` is read from the local Hugging Face cache, or fetched when the hub is
    reachable; when neither works the model is taken as dense (quantizing it will then fail to load it).
    """
    if source.kind == "gguf":
        return None
    config = Path(source.location) / "config.json" if source.kind == "folder" else _hub_config(source.location)
    if config is None:
        return None
    try:
        found = json.loads(config.read_text(encoding="utf-8")).get("quantization_config")
    except json.JSONDecodeError as exc:
        raise UserError(f"{config}: invalid JSON at line {exc.lineno}: {exc.msg}") from None
    return found if isinstance(found, dict) else None


def _hub_config(repo_id: str) -> Path | None:
    """The path of ``repo_id``'s ``config.json`` in the Hugging Face cache (downloaded if reachable), or None."""
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo_id, "config.json"))
    except Exception:  # offline, unknown repo, gated repo: nothing to read
        return None


def prequantized(source: ModelSource, method: str, quant_methods: tuple[str, ...]) -> dict[str, Any] | None:
    """What a quantizer records when asked to quantize a checkpoint its method already produced, or None.

    ``quant_methods`` are the ``quant_method`` values of the method's checkpoints. Such a checkpoint is
    loaded as it is (transformers reads its ``quantization_config``): the variant points at it, with
    ``prequantized: true`` and the checkpoint's own ``quantization_config`` in the details.
    """
    found = quantization_config(source)
    if found is None or str(found.get("quant_method", "")).lower() not in quant_methods:
        return None
    return {"method": method, "prequantized": True, "quantization_config": found, "base_source": source.kind}


def require_dense(source: ModelSource, who: str) -> None:
    """UserError when ``source`` is a folder already quantized (compress the dense base, not a variant of it)."""
    found = quantization_config(source)
    if found is not None:
        method = found.get("quant_method", "unknown")
        raise UserError(f"{who}: {source.location} is already quantized ({method}); give the unquantized base model")


def load_dense(source: ModelSource, dtype: Any = None) -> tuple[Any, Any]:
    """Model (``dtype``, default float32, on CPU, eval mode) and tokenizer for ``source``.

    A GGUF file is de-quantized by transformers; the GGUF "quantizer" it leaves attached is removed so the
    model can be saved. UserError when transformers kept any weight in another dtype (a GGUF kernel that
    keeps blocks packed), since such a model cannot be compressed or saved faithfully. A small GGUF file is
    read from its de-quantized copy in the cache when there is one, and a float32 load leaves one there
    (:mod:`trust_transformers.gguf_cache`).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = dtype or torch.float32
    digest = gguf_sha256(source)
    copy = existing_copy(source.path, digest) if digest else None
    location, kwargs = (str(copy), {}) if copy else (source.location, source.load_kwargs())
    with gguf_load_errors(source, "cannot load the model"):
        tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
        try:
            model = AutoModelForCausalLM.from_pretrained(location, dtype=dtype, **kwargs)
        except OSError as exc:
            raise UserError(f"cannot load {source.location}: {exc}") from None
    if source.gguf_file and copy is None:
        odd = sorted({str(p.dtype) for p in model.parameters() if p.dtype != dtype})
        if odd:
            raise UserError(
                f"{source.gguf_file}: transformers kept weights as {', '.join(odd)} instead of de-quantizing them; "
                "convert the GGUF file to a model folder first"
            )
        strip_gguf_marker(model)
        if digest and dtype == torch.float32:
            save_copy(source.path, digest, model, tokenizer)
    return model.eval(), tokenizer


def gguf_sha256(source: ModelSource) -> str | None:
    """sha256 of a GGUF source's file when a cached copy of it may exist (:func:`cacheable`); else None."""
    if source.kind != "gguf" or not cacheable(source.path):
        return None
    from trust_core.plugin import sha256_file

    return sha256_file(source.path)


def dense_folder(source: ModelSource, folder: Path) -> int:
    """Save a dense float32 copy of ``source`` (with its tokenizer) as a model folder; return its memory bytes."""
    model, tokenizer = load_dense(source)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    size = int(model.get_memory_footprint())
    del model
    return size


def float32_parameter_bytes(location: str) -> int:
    """Bytes the model's parameters take in float32 (how the hf backend holds it on CPU); counted on meta."""
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    with init_empty_weights():
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(location))
    model.tie_weights()  # on meta, tied embeddings are not shared until asked; parameters() counts shared ones once
    return sum(p.numel() for p in model.parameters()) * 4


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
