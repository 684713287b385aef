"""The ``vllm`` backend: vLLM's offline engine (``vllm.LLM``) with continuous batching.

Prompts are rendered exactly as the ``hf`` backend renders them (the tokenizer's chat template, through
:class:`~trust_transformers.backend.TransformersBackend`), so a response's store key is the same whichever of
the two generated it, and vLLM is given the rendered text. Every request carries its own seed
(``SamplingParams.seed``), so a sampled response does not depend on the other requests of its batch. Prefix
caching is on: the many prompts that share a jailbreak template or few-shot prefix reuse its KV cache.
``--num-gpus N`` is vLLM's tensor parallelism; the quantized checkpoints vLLM loads (AWQ, GPTQ, bitsandbytes,
fp8) are taken from the model's ``quantization_config``.
"""

from __future__ import annotations

import gc
import importlib.util
import sys
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from trust_core.plugin import (
    BackendOptions,
    ChatRequest,
    GenerationResult,
    Option,
    UserError,
    checked_messages,
    error_result,
    library_output,
    settings_problem,
)
from trust_transformers.backend import TransformersBackend

CHUNK = 512
"""Requests handed to the engine at once (its scheduler batches them continuously); results are committed after
each chunk, so an interruption loses at most one chunk."""


def missing_requirements() -> list[str]:
    """What this machine lacks to run vLLM (empty when nothing): the vllm package, a CUDA GPU."""
    missing = []
    if importlib.util.find_spec("vllm") is None:
        missing.append("the vllm package is not installed (pip install 'trust-vllm[vllm]')")
    if not _cuda_available():
        missing.append("no CUDA GPU is visible (torch.cuda.is_available() is False)")
    return missing


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


class VllmBackend(TransformersBackend):
    """vLLM's offline engine on CUDA GPUs: hub ids and local folders (including AWQ, GPTQ, bitsandbytes and fp8
    checkpoints); continuous batching, ``--num-gpus`` tensor parallelism, per-request seeds, prefix caching."""

    name = "vllm"
    version = "1"
    description = "vLLM on CUDA GPUs: continuous batching, tensor parallelism (--num-gpus), prefix caching"
    declared_options: ClassVar[dict[str, Option]] = {
        **TransformersBackend.declared_options,
        "gpu_memory_utilization": Option("share of each GPU's memory vLLM may take", "float", default=0.9),
        "max_model_len": Option("context length (default: the model's)", "int", minimum=16),
        "enforce_eager": Option("disable CUDA graphs (less memory, slower)", "bool", default=False),
    }

    def __init__(self, model: str, options: BackendOptions) -> None:
        if missing := missing_requirements():
            raise UserError(
                "--backend vllm needs an NVIDIA GPU with CUDA and the vllm package; on this machine "
                + "; ".join(missing)
                + ". Use --backend hf (or llamacpp for a GGUF file) here"
            )
        super().__init__(model, options)
        if self._source is not None and self._source.kind == "gguf":
            raise UserError(
                f"--backend vllm: {model} is a GGUF file; give a model folder or hub id (or --backend llamacpp)"
            )
        self._llm: Any = None

    @classmethod
    def supports(cls, model: str) -> int:
        """3 for a folder or hub id when vLLM can run here (preferred over ``hf``), else 0."""
        base = super().supports(model)
        if base == 0 or model.endswith(".gguf") or missing_requirements():
            return 0
        return 3

    def load(self) -> None:
        """Start the engine now (the core announces it before generating)."""
        self._ensure_llm()

    def generate(self, requests: Sequence[ChatRequest]) -> Iterator[GenerationResult]:
        """Render every request, then let the engine schedule them; yield each chunk's results as it finishes."""
        ready: list[tuple[ChatRequest, str]] = []
        for request in requests:
            if problem := settings_problem(request.settings):
                yield error_result(request, problem)
                continue
            try:
                ready.append((request, self.render(checked_messages(request.messages))))
            except Exception as exc:  # a malformed chat or a template that rejects it
                yield error_result(request, f"cannot render prompt: {type(exc).__name__}: {exc}")
        if not ready:
            return
        llm = self._ensure_llm()
        for start in range(0, len(ready), CHUNK):
            yield from self._run_chunk(llm, ready[start : start + CHUNK])

    def _run_chunk(self, llm: Any, chunk: list[tuple[ChatRequest, str]]) -> Iterator[GenerationResult]:
        from vllm import SamplingParams

        stops = template.stop_strings() if (template := self._chat_template()) is not None else []
        params = [
            SamplingParams(
                temperature=request.settings.temperature,
                max_tokens=request.settings.max_new_tokens,
                seed=request.settings.seed,
                stop=stops or None,
            )
            for request, _ in chunk
        ]
        try:
            with library_output():
                outputs = llm.generate([text for _, text in chunk], params, use_tqdm=False)
        except Exception as exc:  # e.g. a prompt longer than the context: fail this chunk, keep going
            for request, _ in chunk:
                yield error_result(request, f"generation failed: {type(exc).__name__}: {exc}")
            return
        for (request, _), output in zip(chunk, outputs, strict=True):
            completion = output.outputs[0]
            yield GenerationResult(request.key, completion.text.strip(), completion_tokens=len(completion.token_ids))

    def describe(self) -> dict[str, Any]:
        """The hf backend's description, with vLLM's version and settings."""
        info = super().describe()
        vllm = sys.modules.get("vllm")
        info.update(
            vllm=getattr(vllm, "__version__", None),
            tensor_parallel_size=max(1, self.options.num_gpus),
            prefix_caching=True,
            gpu_memory_utilization=self.option("gpu_memory_utilization"),
        )
        return info

    def close(self) -> None:
        """Shut the engine down and free the GPUs."""
        self._llm = None
        gc.collect()
        super().close()

    def _ensure_llm(self) -> Any:
        if self._llm is None:
            from vllm import LLM

            source = self._require_source()
            arguments: dict[str, Any] = {
                "model": source.location,
                "tokenizer": source.location,
                "tensor_parallel_size": max(1, self.options.num_gpus),
                "enable_prefix_caching": True,
                "trust_remote_code": self.options.trust_remote_code,
                "gpu_memory_utilization": float(self.option("gpu_memory_utilization")),
                "enforce_eager": bool(self.option("enforce_eager")),
                "seed": 0,
            }
            if revision := self._revision():
                arguments["revision"] = revision
            if max_model_len := self.option("max_model_len"):
                arguments["max_model_len"] = int(max_model_len)
            with library_output(), self._cache_load_errors():
                self._llm = LLM(**arguments)
            self._ensure_tokenizer()
        return self._llm
