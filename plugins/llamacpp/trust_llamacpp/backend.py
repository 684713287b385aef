"""The ``llamacpp`` backend: GGUF models with llama-cpp-python, many requests decoded together."""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from trust_core.plugin import (
    FALLBACK_TEMPLATE,
    Backend,
    BackendOptions,
    ChatRequest,
    ChatTemplate,
    GenerationResult,
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

if TYPE_CHECKING:  # numpy and llama_cpp load with the model, not with the plugin
    from trust_llamacpp.batched import LlamaBatchEngine

DEFAULT_N_CTX = 4096
DEFAULT_PARALLEL = 4
"""Requests decoded together by default. On the 2-core machine (16 prompts, 64 greedy tokens, SmolLM2 Q4_1) 1, 2
and 4 sequences gave identical tokens; 8 and 16 gave 14 and 10 of 16 identical (bench/README.md)."""
BATCH_TOKENS = 512
"""Entries of one llama_decode call: every running sequence's next token plus chunks of new prompts."""
CELL_ROUNDING = 256
"""A sequence's cache cells are rounded up to a multiple of this (llama.cpp pads its context the same way)."""
MAX_SEQUENCES = 256
"""llama.cpp's limit on sequences in one context (LLAMA_MAX_SEQ)."""
THREADS_ENV = "TRUST_LLAMACPP_THREADS"
"""Environment variable: threads llama.cpp decodes with (default: half the CPUs)."""


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
    """GGUF models with llama-cpp-python: the embedded chat template, continuous batching.

    Up to ``parallel`` requests are decoded together, one llama.cpp sequence each with a cache of its own
    (:mod:`trust_llamacpp.batched`). Built cheaply; the vocabulary loads on the first :meth:`render`, the weights
    on the first :meth:`generate` (or :meth:`load`). Options (``-o``): ``n_ctx`` (context size of one request),
    ``n_threads``, ``parallel``, ``cache_tokens`` (KV cache cells of all sequences together). A chat template the
    user named (``--chat-template``) replaces the embedded one; a GGUF without one gets the registered template
    matching the model, else the plain fallback.
    """

    name = "llamacpp"
    version = "2"
    description = (
        "llama.cpp (llama-cpp-python) for GGUF files; embedded chat template, continuous batching of "
        "`parallel` requests, per-request seeds"
    )
    declared_options: ClassVar[dict[str, Option]] = {
        "n_ctx": Option(
            f"context size in tokens (default: the model's trained context, at most {DEFAULT_N_CTX})",
            "int",
            minimum=16,
        ),
        "n_threads": Option(f"decoding threads (default: ${THREADS_ENV}, else half the CPUs)", "int", minimum=1),
        "parallel": Option(
            f"requests decoded together (default {DEFAULT_PARALLEL}: greedy output measured identical to one request "
            "at a time; wider batches are faster on some machines but llama.cpp's CPU kernels may round differently, "
            "so a near-tie can then resolve another way)",
            "int",
            minimum=1,
        ),
        "cache_tokens": Option(
            "KV cache cells of the requests decoded together (default: 4 x n_ctx); each gets the cells of the "
            "longest (prompt + new tokens), so fewer than `parallel` run together when prompts are long",
            "int",
            minimum=16,
        ),
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
        """Complete the requests, ``parallel`` of them decoded together, yielding each as soon as it is done.

        A request that cannot run (bad settings, a prompt the template rejects, too long for ``n_ctx``) gets its
        error result at once; the others are decoded together (:class:`~trust_llamacpp.batched.Scheduler`).
        """
        from trust_llamacpp.batched import Job, Scheduler

        jobs: list[Job] = []
        for index, request in enumerate(requests):
            tokens, problem = self._prompt_tokens(request)
            if tokens is None:
                yield error_result(request, problem or "no prompt")
                continue
            settings = request.settings
            jobs.append(Job(index, tuple(tokens), settings.max_new_tokens, float(settings.temperature), settings.seed))
        if not jobs:
            return
        engine = self._ensure_llm()
        parallel, cells = batch_shape(
            [job.cells for job in jobs], self._parallel(), self._n_ctx(), self._cache_tokens()
        )
        with library_output(), quiet_llama(), self._load_errors():
            engine.prepare(parallel, cells)
        stops = template.stop_strings() if (template := self._chat_template()) is not None else []
        scheduler = Scheduler(
            engine,
            parallel=parallel,
            kv_cells=cells,
            batch_tokens=BATCH_TOKENS,
            is_end=engine.is_end,
            stops_in=(lambda generated: any(stop in self._text(generated) for stop in stops)) if stops else None,
        )
        prompts = {job.index: job.prompt for job in jobs}
        try:
            for finished in scheduler.run(jobs):
                request = requests[finished.index]
                prompt = prompts.pop(finished.index)
                if finished.error is not None:
                    yield error_result(request, f"generation failed: {finished.error}")
                    continue
                text = cut_at_stops(self._text(finished.tokens, prompt), stops)
                yield GenerationResult(key=request.key, text=text.strip(), completion_tokens=len(finished.tokens))
        except Exception as exc:  # a llama.cpp failure: the requests not yet done get it as their error
            for index in list(prompts):
                yield error_result(requests[index], f"generation failed: {type(exc).__name__}: {exc}")

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
            parallel=self._parallel(),
            cache_tokens=self._cache_tokens(),
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

    def _ensure_llm(self) -> LlamaBatchEngine:
        """The weights (the context is sized per :meth:`generate` call)."""
        if self._llm is None:
            from trust_llamacpp.batched import LlamaBatchEngine

            with library_output(), quiet_llama(), self._load_errors():
                self._llm = LlamaBatchEngine(
                    str(self._path()),
                    n_threads=self._decoding_threads(),
                    batch_tokens=BATCH_TOKENS,
                    n_gpu_layers=self._n_gpu_layers(),
                )
        return self._llm

    def _parallel(self) -> int:
        """Requests decoded together: the ``parallel`` option, else 4 (llama.cpp allows at most 256 sequences)."""
        return max(1, min(MAX_SEQUENCES, int(self.option("parallel") or DEFAULT_PARALLEL)))

    def _cache_tokens(self) -> int:
        """KV cache cells of all sequences together: the ``cache_tokens`` option, else 4 x ``n_ctx``."""
        return int(self.option("cache_tokens") or 4 * self._n_ctx())

    def _text(self, tokens: Sequence[int], prompt: Sequence[int] = ()) -> str:
        """The text of new ``tokens`` after ``prompt`` (as llama-cpp-python's completion decodes it)."""
        raw = self._ensure_vocab().detokenize(list(tokens), prev_tokens=list(prompt) or None)
        return bytes(raw).decode("utf-8", errors="ignore")

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


def batch_shape(needs: Sequence[int], parallel: int, n_ctx: int, cache_tokens: int) -> tuple[int, int]:
    """(sequences decoded together, cache cells of each) for jobs needing ``needs`` cells (prompt + new tokens).

    Each sequence gets the cells of the longest job rounded up to 256 (at most ``n_ctx``); as many sequences run
    together as ``parallel``, the number of jobs and ``cache_tokens`` allow — at least one.
    """
    cells = min(n_ctx, -(-max(needs) // CELL_ROUNDING) * CELL_ROUNDING)
    return max(1, min(parallel, len(needs), cache_tokens // cells, MAX_SEQUENCES)), cells


def cut_at_stops(text: str, stops: Sequence[str]) -> str:
    """``text`` up to the first occurrence of any stop string (all of it when none occurs)."""
    cut = min((index for stop in stops if stop and (index := text.find(stop)) >= 0), default=len(text))
    return text[:cut]
