"""Batched chat generation with Hugging Face transformers: the engine behind the ``hf`` backend.

Plugins subclass :class:`TransformersBackend`, set ``name``/``version``/``description`` and, for a model
format transformers cannot load by itself, override :meth:`TransformersBackend.load_model` and
:meth:`TransformersBackend.supports`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

from trust_core.plugin import (
    FALLBACK_TEMPLATE,
    Backend,
    BackendOptions,
    ChatRequest,
    ChatTemplate,
    GenerationResult,
    GenerationSettings,
    Message,
    Option,
    UserError,
    checked_messages,
    error_result,
    library_output,
    plain_prompt,
    settings_problem,
    sha256_file,
)
from trust_transformers.batching import Prepared, batch_seed, completion_length, left_pad, plan_batches
from trust_transformers.gguf_cache import cacheable, existing_copy, save_copy, strip_gguf_marker
from trust_transformers.source import (
    ModelSource,
    cached_hub_commit,
    classify,
    folder_digest,
    gguf_load_errors,
    hub_model_local_only,
    require_gguf,
)

MEMORY_FRACTION = 0.9
"""Share of each GPU's memory ``device_map="auto"`` may fill (the rest is left for activations)."""


@dataclass(frozen=True)
class Placement:
    """Where and in which dtype the model lives, and the ``from_pretrained`` arguments that say so."""

    device: str
    dtype: Any
    load_kwargs: dict[str, Any]


def plan_placement(num_gpus: int) -> Placement:
    """CPU/float32 for 0 GPUs or no CUDA; ``cuda:0`` for 1; ``device_map="auto"`` over GPUs 0..n-1 for more."""
    import torch

    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    count = min(max(0, num_gpus), available)
    if count == 0:
        return Placement("cpu", torch.float32, {})
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if count == 1:
        return Placement("cuda:0", dtype, {"device_map": {"": 0}})
    max_memory = {i: int(torch.cuda.get_device_properties(i).total_memory * MEMORY_FRACTION) for i in range(count)}
    return Placement(f"auto:cuda:0-{count - 1}", dtype, {"device_map": "auto", "max_memory": max_memory})


class TransformersBackend(Backend):
    """Batched chat generation with ``transformers`` (hub ids, local folders, GGUF files).

    Built cheaply; the tokenizer loads on the first :meth:`render` and the model on the
    first :meth:`generate`. ``options.batch_size`` is read at every :meth:`generate` call.
    The ``revision`` option (``-o revision=...``) pins a hub revision.
    """

    declared_options: ClassVar[dict[str, Option]] = {
        "revision": Option("the hub revision (branch, tag or commit) of a hub model (default: the newest cached)"),
    }

    def __init__(self, model: str, options: BackendOptions) -> None:
        super().__init__(model, options)
        self._source = classify(model)
        if self._source is not None:
            require_gguf(self._source, f"{self.name} backend")
        self._local_only = self._source is not None and self._hub_local_only(self._source)
        self._tokenizer: Any = None
        self._model: Any = None
        self._placement: Placement | None = None
        self._fallback_bos = ""
        self._fingerprint: str | None = None

    # ------------------------------------------------------------------ contract

    @classmethod
    def supports(cls, model: str) -> int:
        """Local folder with ``config.json`` → 2; ``.gguf`` file → 1; hub-id-shaped spec → 1; else 0."""
        source = classify(model)
        if source is None:
            return 0
        return 2 if source.kind == "folder" else 1

    def fingerprint(self) -> str:
        """sha256 of a GGUF file; digest of a folder's config and weight heads; ``id@commit`` for a hub id."""
        if self._fingerprint is None:
            self._fingerprint = self._compute_fingerprint()
        return self._fingerprint

    def render(self, messages: Sequence[Message]) -> str:
        """The prompt text for ``messages``: the tokenizer's chat template, or the plain fallback."""
        tokenizer = self._ensure_tokenizer()
        checked = checked_messages(messages)
        if (template := self._chat_template()) is not None:
            return template.render(checked)
        if self._has_template():
            return str(tokenizer.apply_chat_template(checked, add_generation_prompt=True, tokenize=False))
        return plain_prompt(checked, bos=self._fallback_bos)

    def encode(self, prompt: str) -> list[int]:
        """The token ids the model is fed for a rendered ``prompt`` (no special tokens added)."""
        return list(self._ensure_tokenizer()(prompt, add_special_tokens=False)["input_ids"])

    def generate(self, requests: Sequence[ChatRequest]) -> Iterator[GenerationResult]:
        """Generate in batches grouped by settings; yield each batch's results as it finishes."""
        if not requests:
            return
        self._ensure_model()
        prepared: list[Prepared] = []
        for request in requests:
            item, failure = self._prepare(request)
            if failure is not None:
                yield failure
            elif item is not None:
                prepared.append(item)
        for batch in plan_batches(prepared, self.options.batch_size):
            yield from self._run_batch(batch)

    def load(self) -> None:
        """Load the tokenizer and the model now (the core announces it before generating)."""
        self._ensure_model()

    def describe(self) -> dict[str, Any]:
        """Backend, model, dtype, device, chat-template source, batch size (no secrets)."""
        placement = self._ensure_placement()
        info = super().describe()
        info.update(
            dtype=str(placement.dtype).removeprefix("torch."),
            device=placement.device,
            chat_template=self._template_name(),
            batch_size=self.options.batch_size,
            source=self._source.kind if self._source else None,
            trust_remote_code=self.options.trust_remote_code,
        )
        if revision := self._revision():
            info["revision"] = revision
        return info

    def close(self) -> None:
        """Drop the model and tokenizer and free cached GPU memory."""
        self._model = None
        self._tokenizer = None
        self.__dict__.pop("_loading_source", None)  # a copy made by this load is read by the next one
        torch = sys.modules.get("torch")  # never imported: nothing was loaded, nothing to free
        if torch is not None and torch.cuda.is_available():
            torch.cuda.empty_cache()

    # ------------------------------------------------------------------ loading

    def _require_source(self) -> ModelSource:
        if self._source is None:
            raise UserError(
                f"{self.name} backend: '{self.model}' is not a GGUF file, a folder with config.json or a hub id"
            )
        return self._source

    def _hub_local_only(self, source: ModelSource) -> bool:
        """For a hub id: whether to load it from the local cache only; UserError at once (before any work)
        when it is neither cached nor fetchable (see :func:`~trust_transformers.source.hub_model_local_only`)."""
        if source.kind != "hub":
            return False
        with library_output():  # the HTTP library may log the failed request
            return hub_model_local_only(source.location, self._revision())

    @contextmanager
    def _cache_load_errors(self) -> Iterator[None]:
        """A hub model loaded from the cache while the hub is unreachable: a file missing from the cache is one
        UserError naming the model, not the library's traceback."""
        if not self._local_only:
            yield
            return
        try:
            yield
        except OSError as exc:
            raise UserError(
                f"{self.name} backend: cannot load {self.model} from the local Hugging Face cache, and the hub "
                f"cannot be reached to complete it ({exc})"
            ) from None

    def _revision(self) -> str | None:
        revision = self.option("revision") or self.options.extra.get("revision")
        return str(revision) if revision else None

    def _load_kwargs(self, source: ModelSource | None = None) -> dict[str, Any]:
        """``from_pretrained`` arguments for ``source`` (default: the model's own source)."""
        source = source or self._require_source()
        kwargs: dict[str, Any] = {"trust_remote_code": bool(self.options.trust_remote_code)}
        if source.gguf_file:
            kwargs["gguf_file"] = source.gguf_file
        if source.kind == "hub" and (revision := self._revision()):
            kwargs["revision"] = revision
        if source.kind == "hub" and self._local_only:
            kwargs["local_files_only"] = True
        return kwargs

    @cached_property
    def _loading_source(self) -> ModelSource:
        """Where the tokenizer and the model are read from: for a small GGUF file, its de-quantized copy in the
        cache when there is one (:mod:`trust_transformers.gguf_cache`); else the model's own source."""
        source = self._require_source()
        digest = self._gguf_sha256()
        copy = existing_copy(source.path, digest) if digest else None
        return ModelSource("folder", str(copy)) if copy else source

    def _gguf_sha256(self) -> str | None:
        """The GGUF file's sha256 (from :meth:`fingerprint`) when a cached copy of it may exist; else None."""
        source = self._require_source()
        if source.kind != "gguf" or not cacheable(source.path):
            return None
        return self.fingerprint().removeprefix("gguf-sha256:")

    def _ensure_placement(self) -> Placement:
        if self._placement is None:
            with library_output():  # importing torch may warn
                self._placement = plan_placement(self.options.num_gpus)
        return self._placement

    def _ensure_tokenizer(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            source, loading = self._require_source(), self._loading_source
            with library_output(), gguf_load_errors(source, f"{self.name} backend"), self._cache_load_errors():
                tokenizer = AutoTokenizer.from_pretrained(loading.location, **self._load_kwargs(loading))
            tokenizer.padding_side = "left"
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
            self._fallback_bos = _implicit_bos(tokenizer)
            self._tokenizer = tokenizer
        return self._tokenizer

    def _ensure_model(self) -> Any:
        if self._model is None:
            self._ensure_tokenizer()
            placement = self._ensure_placement()
            source, loading = self._require_source(), self._loading_source
            with library_output(), gguf_load_errors(source, f"{self.name} backend"), self._cache_load_errors():
                self._model = self.load_model(loading, placement).eval()
            if loading.kind == "gguf" and placement.device == "cpu" and (digest := self._gguf_sha256()):
                strip_gguf_marker(self._model)
                with library_output():
                    save_copy(source.path, digest, self._model, self._tokenizer)
        return self._model

    def load_model(self, source: ModelSource, placement: Placement) -> Any:
        """Load the model ``source`` names where ``placement`` says (override for formats transformers lacks)."""
        from transformers import AutoModelForCausalLM

        kwargs = {**self._load_kwargs(source), **placement.load_kwargs, "dtype": placement.dtype}
        return AutoModelForCausalLM.from_pretrained(source.location, **kwargs)

    def _has_template(self) -> bool:
        return bool(getattr(self._ensure_tokenizer(), "chat_template", None))

    def _chat_template(self) -> ChatTemplate | None:
        """The registered template to render with: the one the user named, else — only for a tokenizer without
        a chat template — the first registered template matching the model; None for the tokenizer's own."""
        return self._template_choice

    @cached_property
    def _template_choice(self) -> ChatTemplate | None:
        named = self.options.extra.get("chat_template")
        if isinstance(named, ChatTemplate):
            return named
        if self._has_template():
            return None
        template_for = self.options.extra.get("chat_template_for")
        return template_for(self.model) if callable(template_for) else None

    def _template_name(self) -> str:
        if (template := self._chat_template()) is not None:
            return template.identity()
        return "tokenizer" if self._has_template() else FALLBACK_TEMPLATE

    # ------------------------------------------------------------------ generation

    def _prepare(self, request: ChatRequest) -> tuple[Prepared | None, GenerationResult | None]:
        """Render and tokenize one request, or explain why it cannot be generated."""
        if problem := settings_problem(request.settings):
            return None, error_result(request, problem)
        try:
            text = self.render(request.messages)
        except Exception as exc:  # a malformed chat or a template that rejects it
            return None, error_result(request, f"cannot render prompt: {type(exc).__name__}: {exc}")
        ids = tuple(self.encode(text))
        limit = getattr(self._model.config, "max_position_embeddings", None)
        if not ids:
            return None, error_result(request, "the rendered prompt is empty")
        if limit and len(ids) + request.settings.max_new_tokens > limit:
            return None, error_result(
                request, f"prompt of {len(ids)} tokens + {request.settings.max_new_tokens} new exceeds context {limit}"
            )
        return Prepared(request, ids), None

    def _run_batch(self, batch: list[Prepared]) -> Iterator[GenerationResult]:
        """Generate one batch; a failure becomes an error result for each of its requests."""
        try:
            outputs = self._generate_batch(batch)
        except Exception as exc:  # e.g. out of memory: fail this batch, keep going
            failed = [error_result(item.request, f"generation failed: {type(exc).__name__}: {exc}") for item in batch]
            yield from failed
            return
        for item, (text, count) in zip(batch, outputs, strict=True):
            yield GenerationResult(key=item.request.key, text=text, completion_tokens=count)

    def _generate_batch(self, batch: list[Prepared]) -> list[tuple[str, int]]:
        import torch

        tokenizer, model = self._tokenizer, self._model
        ids, mask = left_pad([item.input_ids for item in batch], tokenizer.pad_token_id)
        device = model.device
        input_ids = torch.tensor(ids, dtype=torch.long, device=device)
        attention_mask = torch.tensor(mask, dtype=torch.long, device=device)
        config = self._generation_config(batch[0].request.settings)
        torch.manual_seed(batch_seed([item.request.settings.seed for item in batch]))
        with torch.inference_mode():
            output = model.generate(input_ids=input_ids, attention_mask=attention_mask, generation_config=config)
        stop_ids = _stop_ids(config.eos_token_id)
        results = []
        stops = template.stop_strings() if (template := self._chat_template()) is not None else []
        for row in output[:, input_ids.shape[1] :].tolist():
            count = completion_length(row, stop_ids)
            text = tokenizer.decode(row[:count], skip_special_tokens=True)
            results.append((cut_at_stops(text, stops).strip(), count))
        return results

    def _generation_config(self, settings: GenerationSettings) -> Any:
        """A fresh config: only the request settings decide decoding, not the model's sampling defaults."""
        from transformers import GenerationConfig

        base = self._model.generation_config
        tokenizer = self._tokenizer
        eos = base.eos_token_id if base.eos_token_id is not None else tokenizer.eos_token_id
        common: dict[str, Any] = {
            "max_new_tokens": settings.max_new_tokens,
            "eos_token_id": eos,
            "bos_token_id": base.bos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
            "repetition_penalty": 1.0,
        }
        if settings.temperature == 0:
            return GenerationConfig(do_sample=False, temperature=None, top_p=None, top_k=None, **common)
        return GenerationConfig(do_sample=True, temperature=settings.temperature, top_p=1.0, top_k=0, **common)

    # ------------------------------------------------------------------ fingerprint

    def _compute_fingerprint(self) -> str:
        source = self._require_source()
        if source.kind == "gguf":
            return f"gguf-sha256:{sha256_file(source.path)}"
        if source.kind == "folder":
            return f"folder-sha256:{folder_digest(source.path)}"
        commit = getattr(getattr(self._model, "config", None), "_commit_hash", None)
        commit = commit or cached_hub_commit(source.location, self._revision())
        return f"hf:{source.location}@{commit or self._revision() or 'unresolved'}"


def cut_at_stops(text: str, stops: Sequence[str]) -> str:
    """``text`` up to the first of ``stops`` (a template's end-of-turn markers); unchanged without one."""
    cuts = [index for stop in stops if stop and (index := text.find(stop)) >= 0]
    return text[: min(cuts)] if cuts else text


def _implicit_bos(tokenizer: Any) -> str:
    """The BOS text the tokenizer adds on its own (used by the plain fallback), or ''."""
    bos_id = getattr(tokenizer, "bos_token_id", None)
    if bos_id is None or not tokenizer.bos_token:
        return ""
    ids = tokenizer("x", add_special_tokens=True)["input_ids"]
    return str(tokenizer.bos_token) if ids and ids[0] == bos_id else ""


def _stop_ids(eos: int | list[int] | None) -> frozenset[int]:
    if eos is None:
        return frozenset()
    return frozenset([eos] if isinstance(eos, int) else eos)
