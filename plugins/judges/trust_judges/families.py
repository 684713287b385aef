"""Open LLM judges by family: each is the core's LLM judge over a local model of that family.

``--judge llama`` uses the family's default model; ``--judge llama:MODEL`` any model (hub id, folder, GGUF
file or alias) — the ORNL workflow's ``--judge_family llama --judge_model MODEL``. The model runs in whichever
installed backend fits it best (``hf``, ``llamacpp``...), with the family's quirks applied: GLM-4's original
checkpoints run their own code, so the default needs ``--trust-remote-code``; reasoning models' ``<think>``
blocks are ignored by the core's verdict parser. The judge prompts come from the task plugins; a judge only
runs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from trust_core.plugin import ComponentContext, DelegatingJudge, LLMJudge, UserError


class FamilyJudge(DelegatingJudge):
    """An LLM judge over a local model of one family; subclasses set the family's name and default model."""

    version = "1"
    default_model: ClassVar[str]
    remote_code: ClassVar[bool] = False
    """Whether the family's default checkpoint ships modelling code that must run: then ``--trust-remote-code``
    is required (remote code never runs without it)."""

    @classmethod
    def unavailable_reason(cls, secrets: Mapping[str, str]) -> str | None:
        """Never a default: a family judge is used when named."""
        return f"used only when named (--judge {cls.name}[:MODEL])"

    def __init__(self, argument: str | None, context: ComponentContext) -> None:
        self.model = argument or self.default_model
        options = context.backend_options
        if self.remote_code and self.model == self.default_model and not options.trust_remote_code:
            raise UserError(
                f"--judge {self.name}: {self.model} runs its own modelling code from the hub; pass "
                "--trust-remote-code to allow it, or name another model (--judge glm:MODEL)"
            )
        try:  # a backend checks that its model can be loaded (a hub model: cached or fetchable), before any work
            backend = context.registry.make_backend(self.model, None, options)
        except UserError as exc:
            raise UserError(f"--judge {self.name}: {exc}") from None
        super().__init__(LLMJudge(backend, label=f"{self.name}:{self.model}"))

    def describe(self) -> dict[str, Any]:
        """Family, model and the backend's description."""
        return {**super().describe(), "judge": self.name, "family": self.name, "model": self.model}


class LlamaJudge(FamilyJudge):
    """Meta Llama 3.x Instruct as judge (default: Llama-3.1-8B-Instruct; gated on the hub)."""

    name = "llama"
    default_model = "meta-llama/Llama-3.1-8B-Instruct"
    description = "Llama family LLM judge (default meta-llama/Llama-3.1-8B-Instruct); --judge llama:MODEL"


class GlmJudge(FamilyJudge):
    """GLM-4 chat as judge (default: THUDM/glm-4-9b-chat, whose checkpoint runs its own modelling code: the
    default needs ``--trust-remote-code``)."""

    name = "glm"
    default_model = "THUDM/glm-4-9b-chat"
    remote_code = True
    description = "GLM family LLM judge (default THUDM/glm-4-9b-chat, needs --trust-remote-code); --judge glm:MODEL"


class GemmaJudge(FamilyJudge):
    """Gemma 2 instruction-tuned as judge (default: google/gemma-2-9b-it; its template has no system role,
    which the judge prompts never use)."""

    name = "gemma"
    default_model = "google/gemma-2-9b-it"
    description = "Gemma family LLM judge (default google/gemma-2-9b-it); --judge gemma:MODEL"


class QwenJudge(FamilyJudge):
    """Qwen 2.5 Instruct as judge (default: Qwen/Qwen2.5-7B-Instruct; Qwen3's <think> blocks are ignored)."""

    name = "qwen"
    default_model = "Qwen/Qwen2.5-7B-Instruct"
    description = "Qwen family LLM judge (default Qwen/Qwen2.5-7B-Instruct); --judge qwen:MODEL"


FAMILIES: tuple[type[FamilyJudge], ...] = (LlamaJudge, GlmJudge, GemmaJudge, QwenJudge)
