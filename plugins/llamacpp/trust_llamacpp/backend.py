"""The ``llamacpp`` backend: GGUF models with llama-cpp-python, one request at a time."""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
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
    checked_messages,
    error_result,
    gguf_problem,
    library_output,
    plain_prompt,
    settings_problem,
    sha256_file,
)

DEFAULT_N_CTX = 4096
SEED_MODULUS = 2**32 - 1
THREADS_ENV = "TRUST_LLAMACPP_THREADS"
"""Environment variable: threads llama.cpp decodes with (default: half the CPUs)."""
"""llama.cpp seeds are uint32 and 0xFFFFFFFF means "random", so request seeds are reduced modulo this."""


def sampling_arguments(settings: GenerationSettings) -> dict[str, Any]:
    """``create_completion`` arguments: greedy at temperature 0, else plain temperature sampling."""
    greedy = settings.temperature == 0
    return {
        "max_tokens": settings.max_new_tokens,
        "temperature": 0.0 if greedy else float(settings.temperature),
        "top_p": 1.0,
        "top_k": 1 if greedy else 0,
        "min_p": 0.0,
        "typical_p": 1.0,
        "repeat_penalty": 1.0,
        "frequency_penalty": 0.0,
        "presence_penalty": 0.0,
        "seed": settings.seed % SEED_MODULUS,
    }


@contextmanager
def quiet_llama() -> Iterator[None]:
    """Silence llama.cpp's log while loading and freeing a model (a level above CRITICAL hides all)."""
    logger = logging.getLogger("llama-cpp-python")
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        logger.setLevel(level)


class LlamaCppBackend(Backend):
    """GGUF models with llama-cpp-python: the embedded chat template, one request at a time.

    Built cheaply; the vocabulary loads on the first :meth:`render`, the weights on the first
    :meth:`generate` (or :meth:`load`). Options (``-o``): ``n_ctx`` (context size), ``n_threads``. A chat template
    the user named (``--chat-template``) replaces the embedded one; a GGUF without one gets the registered
    template matching the model, else the plain fallback.
    """

    name = "llamacpp"
    version = "1"
    description = "llama.cpp (llama-cpp-python) for GGUF files; embedded chat template, per-request seeds"
    declared_options: ClassVar[dict[str, Option]] = {
        "n_ctx": Option(
            f"context size in tokens (default: the model's trained context, at most {DEFAULT_N_CTX})",
            "int",
            minimum=16,
        ),
        "n_threads": Option(f"decoding threads (default: ${THREADS_ENV}, else half the CPUs)", "int", minimum=1),
    }

    def __init__(self, model: str, options: BackendOptions) -> None:
        super().__init__(model, options)
        path = Path(model).expanduser()
        if path.is_file() and (problem := gguf_problem(path)) is not None:
            from trust_core.plugin import UserError

            raise UserError(f"{self.name} backend: {model} is {problem}")
        self._vocab: Any = None
        self._llm: Any = None
        self._formatter: Any = None
        self._template: ChatTemplate | None = None
        self._template_chosen = False
        self._fingerprint: str | None = None

    # ------------------------------------------------------------------ contract

    @classmethod
    def supports(cls, model: str) -> int:
        """3 for an existing ``.gguf`` file when ``llama_cpp`` is importable, else 0."""
        path = Path(model).expanduser()
        if path.suffix.lower() != ".gguf" or not path.is_file():
            return 0
        return 3 if importlib.util.find_spec("llama_cpp") is not None else 0

    def fingerprint(self) -> str:
        """sha256 of the GGUF file."""
        if self._fingerprint is None:
            self._fingerprint = f"gguf-sha256:{sha256_file(self._path())}"
        return self._fingerprint

    def render(self, messages: Sequence[Message]) -> str:
        """The prompt text for ``messages``: the named chat template, the GGUF's, or the plain fallback."""
        vocab = self._ensure_vocab()
        checked = checked_messages(messages)
        if (template := self._chat_template()) is not None:
            return template.render(checked)
        formatter = self._chat_formatter()
        if formatter is None:
            add_bos = vocab._model.add_bos_token() and vocab.token_bos() >= 0
            return plain_prompt(checked, bos=self._token_text(vocab.token_bos()) if add_bos else "")
        return str(formatter(messages=checked).prompt)

    def encode(self, prompt: str) -> list[int]:
        """The token ids the model is fed for a rendered ``prompt``: special tokens parsed, no BOS added."""
        return list(self._ensure_vocab().tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    def generate(self, requests: Sequence[ChatRequest]) -> Iterator[GenerationResult]:
        """Complete each request in turn, yielding its result as soon as it is done."""
        for request in requests:
            yield self._generate_one(request)

    def load(self) -> None:
        """Load the weights now (the core announces it before generating)."""
        self._ensure_llm()

    def describe(self) -> dict[str, Any]:
        """Backend, model, context size, threads, chat-template source, llama-cpp-python version."""
        import llama_cpp

        self._ensure_vocab()
        info = super().describe()
        info.update(
            chat_template=self._template_name(),
            n_ctx=self._n_ctx(),
            n_threads=self._decoding_threads(),
            n_gpu_layers=self._n_gpu_layers(),
            llama_cpp_python=llama_cpp.__version__,
        )
        return info

    def close(self) -> None:
        """Free the model."""
        with quiet_llama(), library_output():
            for handle in (self._llm, self._vocab):
                if handle is not None and hasattr(handle, "close"):
                    handle.close()
            self._llm = self._vocab = self._formatter = None

    # ------------------------------------------------------------------ loading

    def _path(self) -> Path:
        path = Path(self.model).expanduser()
        if not path.is_file():
            from trust_core.plugin import UserError

            raise UserError(f"llamacpp backend: {self.model} is not a GGUF file")
        return path

    def _ensure_vocab(self) -> Any:
        """The tokenizer and metadata only (``vocab_only``): cheap, enough to render and tokenize."""
        if self._vocab is None:
            from llama_cpp import Llama
            from llama_cpp._utils import suppress_stdout_stderr

            # A vocab-only load prints a context-size notice that verbose=False does not silence.
            with library_output(), quiet_llama(), suppress_stdout_stderr(disable=False), self._load_errors():
                self._vocab = Llama(str(self._path()), vocab_only=True, verbose=False)
        return self._vocab

    def _ensure_llm(self) -> Any:
        if self._llm is None:
            from llama_cpp import Llama

            threads = self._decoding_threads()
            with library_output(), quiet_llama(), self._load_errors():
                self._llm = Llama(
                    str(self._path()),
                    n_ctx=self._n_ctx(),
                    n_threads=threads,
                    n_threads_batch=threads,
                    n_gpu_layers=self._n_gpu_layers(),
                    verbose=False,
                )
        return self._llm

    @contextmanager
    def _load_errors(self) -> Iterator[None]:
        """llama.cpp's ValueError for a file it cannot load (a corrupt GGUF) as one UserError naming the file."""
        try:
            yield
        except ValueError as exc:
            from trust_core.plugin import UserError

            raise UserError(f"{self.name} backend: cannot load the GGUF file {self.model} ({exc})") from None

    def _decoding_threads(self) -> int:
        """Threads for decoding: the ``n_threads`` option, else :meth:`_threads`."""
        return int(self.option("n_threads") or self._threads())

    @staticmethod
    def _threads() -> int:
        """Threads for decoding: ``TRUST_LLAMACPP_THREADS``, else half the CPUs (llama.cpp's own default).

        Decoding a small model is memory-bound: on 2 cores one thread is as fast as two when the machine is idle
        (1.68 vs 1.64 s per request, measured), and two threads slow about tenfold once another process takes a
        core, since llama.cpp's threads wait on each other at every step.
        """
        if requested := os.environ.get(THREADS_ENV, "").strip():
            if not requested.isdigit() or int(requested) < 1:
                from trust_core.plugin import UserError

                raise UserError(f"{THREADS_ENV}={requested!r}: expected a positive whole number of threads")
            return int(requested)
        return max(1, (os.cpu_count() or 2) // 2)

    def _n_ctx(self) -> int:
        if requested := self.option("n_ctx"):
            return int(requested)
        metadata = self._ensure_vocab().metadata
        trained = int(metadata.get(f"{metadata.get('general.architecture', 'llama')}.context_length", 0) or 0)
        return min(DEFAULT_N_CTX, trained) if trained > 0 else DEFAULT_N_CTX

    def _n_gpu_layers(self) -> int:
        return -1 if self.options.num_gpus > 0 else 0

    def _token_text(self, token: int) -> str:
        return str(self._ensure_vocab()._model.token_get_text(token)) if token >= 0 else ""

    def _chat_template(self) -> ChatTemplate | None:
        """The registered template to render with: the one the user named, else — only for a GGUF without a chat
        template — the first registered template matching the model; None for the GGUF's own."""
        if not self._template_chosen:
            named = self.options.extra.get("chat_template")
            if isinstance(named, ChatTemplate):
                self._template = named
            elif self._chat_formatter() is None and callable(
                template_for := self.options.extra.get("chat_template_for")
            ):
                self._template = template_for(self.model)
            self._template_chosen = True
        return self._template

    def _template_name(self) -> str:
        if (template := self._chat_template()) is not None:
            return template.identity()
        return "gguf" if self._chat_formatter() is not None else FALLBACK_TEMPLATE

    def _chat_formatter(self) -> Any:
        """llama-cpp-python's Jinja2 formatter for the GGUF's embedded template, or None without one."""
        if self._formatter is None:
            vocab = self._ensure_vocab()
            template = vocab.metadata.get("tokenizer.chat_template")
            if not template:
                return None
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=self._token_text(vocab.token_eos()),
                bos_token=self._token_text(vocab.token_bos()),
                add_generation_prompt=True,
            )
        return self._formatter

    # ------------------------------------------------------------------ generation

    def _prompt_tokens(self, request: ChatRequest) -> tuple[list[int] | None, str | None]:
        """The request's prompt token ids, or why there are none."""
        if problem := settings_problem(request.settings):
            return None, problem
        try:
            tokens = self.encode(self.render(request.messages))
        except Exception as exc:  # a malformed chat or a template that rejects it
            return None, f"cannot render prompt: {type(exc).__name__}: {exc}"
        if not tokens:
            return None, "the rendered prompt is empty"
        bos = self._ensure_vocab().token_bos()
        if bos >= 0 and tokens[:2] == [bos, bos]:
            return None, "the rendered prompt starts with two BOS tokens"
        if len(tokens) + request.settings.max_new_tokens > self._n_ctx():
            return None, f"prompt of {len(tokens)} tokens + {request.settings.max_new_tokens} new exceeds n_ctx"
        return tokens, None

    def _generate_one(self, request: ChatRequest) -> GenerationResult:
        tokens, problem = self._prompt_tokens(request)
        if tokens is None:
            return error_result(request, problem or "no prompt")
        llm = self._ensure_llm()
        try:
            llm.reset()  # no KV reuse across requests: a result must not depend on what ran before it
            stops = template.stop_strings() if (template := self._chat_template()) is not None else []
            output = llm.create_completion(prompt=tokens, stop=stops, **sampling_arguments(request.settings))
        except Exception as exc:  # llama.cpp failure: report it, keep going with the next request
            return error_result(request, f"generation failed: {type(exc).__name__}: {exc}")
        choice = output["choices"][0]
        return GenerationResult(
            key=request.key, text=str(choice["text"]).strip(), completion_tokens=output["usage"]["completion_tokens"]
        )
