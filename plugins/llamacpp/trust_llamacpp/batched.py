"""Many requests per ``llama_decode`` call: llama.cpp's batch API, one sequence id per request.

Continuous batching over one llama.cpp context with ``parallel`` sequences, each with a KV cache stream of its
own (``kv_unified`` off) of ``cells`` cells: each step feeds every running sequence its last token (and prompt
tokens of newly admitted ones, in chunks) in a single batch, picks each sequence's next token from its own logits,
and clears a finished sequence's stream at once so the next request takes its place. A request's tokens depend on
its own prompt, settings and seed only — not on which requests share its batches: its cache cells sit where they
would sit were it alone (a shared cache would place them elsewhere, and the attention's sums would round
differently), and flash attention is off, as in llama-cpp-python's one-request ``Llama`` — so greedy output is
identical to one-at-a-time decoding (``bench/bench_generation.py`` checks the agreement).

The scheduler (:class:`Scheduler`) is pure Python; :class:`LlamaBatchEngine` is the llama.cpp side.
"""

from __future__ import annotations

import ctypes
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class Job:
    """One request to decode: its prompt token ids and how to pick tokens."""

    index: int
    prompt: tuple[int, ...]
    max_new_tokens: int
    temperature: float
    seed: int

    @property
    def cells(self) -> int:
        """KV cache cells the job can occupy at most (prompt plus every new token)."""
        return len(self.prompt) + self.max_new_tokens


@dataclass(frozen=True)
class Finished:
    """A decoded job: its new tokens (a stop token excluded), or why decoding failed."""

    index: int
    tokens: tuple[int, ...]
    error: str | None = None


@dataclass
class _Running:
    job: Job
    slot: int
    fed: int = 0
    generated: list[int] = field(default_factory=list)
    rng: np.random.Generator | None = None

    @property
    def prefilling(self) -> bool:
        return self.fed < len(self.job.prompt)

    @property
    def position(self) -> int:
        """Position of the next token fed to the model."""
        return self.fed + len(self.generated) - 1 if self.generated else self.fed


class Engine(Protocol):
    """What the scheduler needs from a model: decode a batch, read logits, free a sequence."""

    def decode(self, tokens: Sequence[tuple[int, int, int, bool]]) -> int:
        """Feed ``(token, position, sequence, wants_logits)`` entries as one batch; llama_decode's return code."""
        ...

    def logits(self, batch_index: int) -> np.ndarray:
        """The logits of the ``batch_index``-th entry of the last batch (it asked for them)."""
        ...

    def free(self, sequence: int) -> None:
        """Drop every cache cell of ``sequence``."""
        ...


def pick_token(logits: np.ndarray, temperature: float, rng: np.random.Generator | None) -> int:
    """Greedy (temperature 0): the arg-max. Otherwise a draw from softmax(logits / temperature) with ``rng``."""
    if temperature == 0 or rng is None:
        return int(np.argmax(logits))
    scaled = logits.astype(np.float64) / temperature
    scaled -= scaled.max()
    weights = np.exp(scaled)
    cumulative = np.cumsum(weights)
    return int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))


class Scheduler:
    """Continuous batching of :class:`Job` s over an :class:`Engine`.

    ``parallel`` sequences at most are in flight, each in a cache stream of ``kv_cells`` cells (a job needing
    more — prompt plus max new tokens — fails with the reason); one batch holds at most ``batch_tokens`` entries
    (long prompts are fed in chunks). ``is_end(token)`` tells a stop token (end of generation);
    ``stops_in(tokens)`` whether the new tokens' text reached a stop string.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        parallel: int,
        kv_cells: int,
        batch_tokens: int,
        is_end: Callable[[int], bool],
        stops_in: Callable[[Sequence[int]], bool] | None = None,
    ) -> None:
        self.engine = engine
        self.parallel = max(1, parallel)
        self.kv_cells = kv_cells
        self.batch_tokens = max(self.parallel, batch_tokens)
        self.is_end = is_end
        self.stops_in = stops_in

    def run(self, jobs: Sequence[Job]) -> Iterator[Finished]:
        """Decode every job, yielding each as soon as it finishes (not in job order)."""
        pending = deque(jobs)
        running: dict[int, _Running] = {}
        free_slots = list(range(self.parallel - 1, -1, -1))
        while pending or running:
            while pending and free_slots:
                job = pending.popleft()
                if job.cells > self.kv_cells:
                    yield Finished(job.index, (), f"needs {job.cells} cache cells, the context has {self.kv_cells}")
                    continue
                rng = np.random.default_rng(job.seed % 2**64) if job.temperature > 0 else None
                slot = free_slots.pop()
                running[slot] = _Running(job, slot, rng=rng)
            if not running:
                continue
            entries, asks = self._batch(running)
            code = self.engine.decode(entries)
            if code != 0:
                problem = f"llama_decode returned {code} ({DECODE_CODES.get(code, 'fatal error')})"
                for slot in list(running):
                    yield self._finish(running.pop(slot), free_slots, problem)
                continue
            for batch_index, slot in asks:
                sequence = running[slot]
                token = pick_token(self.engine.logits(batch_index), sequence.job.temperature, sequence.rng)
                if self._advance(sequence, token):
                    yield self._finish(running.pop(slot), free_slots, None)

    def _batch(self, running: dict[int, _Running]) -> tuple[list[tuple[int, int, int, bool]], list[tuple[int, int]]]:
        """This step's entries: each decoding sequence's last token, then prompt chunks within the token budget."""
        entries: list[tuple[int, int, int, bool]] = []
        asks: list[tuple[int, int]] = []
        for slot, sequence in running.items():
            if not sequence.prefilling:
                asks.append((len(entries), slot))
                entries.append((sequence.generated[-1], sequence.position, slot, True))
        for slot, sequence in running.items():
            room = self.batch_tokens - len(entries)
            if not sequence.prefilling or room <= 0:
                continue
            chunk = sequence.job.prompt[sequence.fed : sequence.fed + room]
            last = sequence.fed + len(chunk) == len(sequence.job.prompt)
            for offset, token in enumerate(chunk):
                wants = last and offset == len(chunk) - 1
                if wants:
                    asks.append((len(entries), slot))
                entries.append((token, sequence.fed + offset, slot, wants))
            sequence.fed += len(chunk)
        return entries, asks

    def _advance(self, sequence: _Running, token: int) -> bool:
        """Record ``token``; True when the sequence is done."""
        if self.is_end(token):
            return True
        sequence.generated.append(token)
        if len(sequence.generated) >= sequence.job.max_new_tokens:
            return True
        return bool(self.stops_in is not None and self.stops_in(sequence.generated))

    def _finish(self, sequence: _Running, free_slots: list[int], error: str | None) -> Finished:
        self.engine.free(sequence.slot)
        free_slots.append(sequence.slot)
        return Finished(sequence.job.index, tuple(sequence.generated), error)


DECODE_CODES = {1: "no cache slot for the batch", 2: "aborted", -1: "invalid batch"}


class LlamaBatchEngine:
    """:class:`Engine` over llama-cpp-python's low-level API: the model, and a context sized by :meth:`prepare`."""

    def __init__(self, model_path: str, *, n_threads: int, batch_tokens: int, n_gpu_layers: int = 0) -> None:
        import llama_cpp

        self._lib: Any = llama_cpp
        model_params = llama_cpp.llama_model_default_params()
        model_params.n_gpu_layers = n_gpu_layers
        self._model = llama_cpp.llama_model_load_from_file(model_path.encode("utf-8"), model_params)
        if not self._model:
            raise ValueError(f"llama.cpp could not load {model_path}")
        self.vocab = llama_cpp.llama_model_get_vocab(self._model)
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self.vocab))
        self._path = model_path
        self._threads = n_threads
        self._capacity = batch_tokens
        self._batch = llama_cpp.llama_batch_init(batch_tokens, 0, 1)
        self._ctx: Any = None
        self._memory: Any = None
        self._shape: tuple[int, int] | None = None

    def prepare(self, parallel: int, cells: int) -> None:
        """A context of ``parallel`` sequences with ``cells`` cache cells each (kept when the shape is the same)."""
        if self._shape == (parallel, cells):
            return
        self._free_context()
        llama_cpp = self._lib
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = parallel * cells
        params.n_batch = self._capacity
        params.n_ubatch = self._capacity
        params.n_seq_max = parallel
        params.kv_unified = False
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.n_threads = self._threads
        params.n_threads_batch = self._threads
        params.no_perf = True
        self._ctx = llama_cpp.llama_init_from_model(self._model, params)
        if not self._ctx:
            raise ValueError(f"llama.cpp could not create a context of {parallel} x {cells} cells for {self._path}")
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self._shape = (parallel, cells)

    def decode(self, tokens: Sequence[tuple[int, int, int, bool]]) -> int:
        """Fill the batch with ``(token, position, sequence, wants_logits)`` entries and decode it."""
        batch = self._batch
        if len(tokens) > self._capacity:
            raise ValueError(f"{len(tokens)} entries exceed the batch capacity {self._capacity}")
        for i, (token, position, sequence, wants) in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = position
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = sequence
            batch.logits[i] = 1 if wants else 0
        batch.n_tokens = len(tokens)
        return int(self._lib.llama_decode(self._ctx, batch))

    def logits(self, batch_index: int) -> np.ndarray:
        """A view of the logits llama.cpp holds for entry ``batch_index`` (valid until the next decode)."""
        pointer = self._lib.llama_get_logits_ith(self._ctx, batch_index)
        return np.ctypeslib.as_array(ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float)), shape=(self.n_vocab,))

    def free(self, sequence: int) -> None:
        """Remove the sequence's cells from the shared cache."""
        self._lib.llama_memory_seq_rm(self._memory, sequence, -1, -1)

    def is_end(self, token: int) -> bool:
        """Whether ``token`` ends generation (EOS, EOT, …)."""
        return bool(self._lib.llama_vocab_is_eog(self.vocab, token))

    def _free_context(self) -> None:
        if self._ctx:
            self._lib.llama_free(self._ctx)
        self._ctx = self._memory = self._shape = None

    def close(self) -> None:
        """Free the context, the batch and the model."""
        self._free_context()
        if self._model:
            self._lib.llama_batch_free(self._batch)
            self._lib.llama_model_free(self._model)
            self._model = None
