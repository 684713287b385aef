"""Generation throughput: hf one prompt at a time vs hf batched vs llama.cpp, on the same model and prompts.

Each configuration runs in a fresh process (so its peak RSS is its own), loads the model, warms up with one
short request, then generates the same N greedy chat completions. Run ``python bench/bench_generation.py -h``.
This is a benchmark, not a test: it asserts nothing and takes a few minutes on a laptop CPU.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROMPTS = (
    "What is the capital of France?",
    "Name three primary colors.",
    "Explain in one sentence what photosynthesis is.",
    "Give me a synonym for 'happy'.",
    "What is 12 times 7?",
    "Who wrote 'Pride and Prejudice'?",
    "Write a haiku about autumn leaves.",
    "What does a thermometer measure?",
    "Translate 'good morning' into Spanish.",
    "List two benefits of regular exercise.",
    "What is the boiling point of water in Celsius?",
    "Describe a cat in five words.",
    "Why is the sky blue? Answer briefly.",
    "Suggest a name for a pet goldfish.",
    "What is the largest planet in our solar system?",
    "Give one tip for writing clear emails.",
)

CONFIGS = ("hf-1", "hf-batched", "llamacpp-1", "llamacpp", "vllm")
"""hf-1: hf backend, batch size 1 (how TrustLLM generates); hf-batched: hf with --batch-size; llamacpp-1: llama.cpp
one request at a time; llamacpp: llama.cpp decoding --parallel requests together (its default, 4, unless given);
vllm (a CUDA GPU and the vllm package; skipped elsewhere)."""


@dataclass(frozen=True)
class Outcome:
    """What one configuration measured."""

    config: str
    load_s: float
    generate_s: float
    items: int
    errors: int
    tokens: int
    peak_rss_mib: float
    texts: tuple[str | None, ...]

    @property
    def items_per_s(self) -> float:
        return self.items / self.generate_s if self.generate_s else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.generate_s if self.generate_s else 0.0


def default_model() -> str:
    """The smollm2 alias path (the default model of ``trust run``)."""
    import trust_smollm2

    return trust_smollm2.gguf_path()


def build_requests(n: int, max_new_tokens: int) -> list[Any]:
    """``n`` greedy single-turn chats, cycling through :data:`PROMPTS`."""
    from trust_core.contracts import ChatRequest, GenerationSettings

    chats = [({"role": "user", "content": PROMPTS[i % len(PROMPTS)]},) for i in range(n)]
    return [ChatRequest(f"p{i}", chat, GenerationSettings(0.0, max_new_tokens, i)) for i, chat in enumerate(chats)]


def make_backend(config: str, model: str, batch_size: int) -> Any:
    """Construct the backend for ``config`` straight from its plugin module (``batch_size``: hf's batch size, or
    llama.cpp's parallel sequences)."""
    from trust_core.contracts import BackendOptions

    if config.startswith("llamacpp"):
        from trust_llamacpp import LlamaCppBackend

        parallel = 1 if config == "llamacpp-1" else batch_size
        return LlamaCppBackend(model, BackendOptions(component_options={"llamacpp": {"parallel": parallel}}))
    if config == "vllm":
        from trust_vllm import VllmBackend

        return VllmBackend(model, BackendOptions(batch_size=batch_size, num_gpus=1))
    from trust_hf import HFBackend

    return HFBackend(model, BackendOptions(batch_size=1 if config == "hf-1" else batch_size))


def run_config(config: str, model: str, n: int, max_new_tokens: int, batch_size: int, log_dir: str) -> Outcome:
    """Load, warm up, and time one configuration (runs in its own process); what the libraries print (import
    notices, their progress bars) goes to ``log_dir/trust.log``, as in a trust command."""
    from trust_core.logs import command_log, library_output

    with command_log(Path(log_dir), f"bench {config}"), library_output():
        return _measure(config, model, n, max_new_tokens, batch_size)


def _measure(config: str, model: str, n: int, max_new_tokens: int, batch_size: int) -> Outcome:
    requests = build_requests(n, max_new_tokens)
    started = time.perf_counter()
    backend = make_backend(config, model, batch_size)
    list(backend.generate(build_requests(1, 4)))  # loads the model and warms up
    loaded = time.perf_counter()
    results = {result.key: result for result in backend.generate(requests)}
    finished = time.perf_counter()
    ordered = [results[request.key] for request in requests]
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    backend.close()
    return Outcome(
        config=config,
        load_s=loaded - started,
        generate_s=finished - loaded,
        items=len(ordered),
        errors=sum(result.text is None for result in ordered),
        tokens=sum(result.completion_tokens or 0 for result in ordered),
        peak_rss_mib=peak_kib / 1024,
        texts=tuple(result.text for result in ordered),
    )


def run_isolated(config: str, model: str, n: int, max_new_tokens: int, batch_size: int, log_dir: str) -> Outcome:
    """:func:`run_config` in a fresh spawned process."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(run_config, (config, model, n, max_new_tokens, batch_size, log_dir))


def available(config: str) -> bool:
    """Whether the plugin (and library) behind ``config`` is installed."""
    import importlib.util

    if config == "vllm":  # the vllm package and a CUDA GPU (needs a model folder or hub id, not a GGUF file)
        if importlib.util.find_spec("trust_vllm") is None:
            return False
        from trust_vllm import missing_requirements

        return not missing_requirements()
    needed = ("trust_llamacpp", "llama_cpp") if config.startswith("llamacpp") else ("trust_hf", "transformers")
    return all(importlib.util.find_spec(name) is not None for name in needed)


def print_table(outcomes: list[Outcome], batch_size: int) -> None:
    """The results table, the batched/one-at-a-time ratio and the greedy agreement."""
    header = (
        f"{'config':<12}{'load s':>8}{'gen s':>9}{'items/s':>9}{'tokens':>8}{'tokens/s':>10}{'errors':>8}"
        f"{'peak RSS MiB':>14}"
    )
    print(header)
    print("-" * len(header))
    for o in outcomes:
        label = f"hf-b{batch_size}" if o.config == "hf-batched" else o.config
        print(
            f"{label:<12}{o.load_s:>8.1f}{o.generate_s:>9.1f}{o.items_per_s:>9.2f}{o.tokens:>8}"
            f"{o.tokens_per_s:>10.1f}{o.errors:>8}{o.peak_rss_mib:>14.0f}"
        )
    by_name = {o.config: o for o in outcomes}
    pairs = (("hf-1", "hf-batched"), ("llamacpp-1", "llamacpp"))
    for one_name, batched_name in pairs:
        if one_name in by_name and batched_name in by_name:
            one, batched = by_name[one_name], by_name[batched_name]
            same = sum(a == b for a, b in zip(one.texts, batched.texts, strict=True))
            print(f"\n{batched_name}/{one_name} items/s: {batched.items_per_s / one.items_per_s:.2f}x")
            print(f"greedy outputs identical between {one_name} and {batched_name}: {same}/{len(one.texts)}")
    others = [name for name in ("hf-batched", "llamacpp-1", "llamacpp", "vllm") if name in by_name]
    if "hf-1" in by_name and others:
        print("\nitems/s relative to hf-1 (one prompt at a time with transformers):")
        for fast in others:
            print(f"  {fast:<12}{by_name[fast].items_per_s / by_name['hf-1'].items_per_s:.2f}x")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="GGUF file, model folder or hub id (default: the smollm2 alias path)")
    parser.add_argument("--n", type=int, default=16, help="number of prompts (default 16)")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="tokens per response (default 64)")
    parser.add_argument("--batch-size", type=int, default=8, help="batch size of hf-batched (default 8)")
    parser.add_argument(
        "--parallel", type=int, default=4, help="sequences llamacpp decodes together (default 4, its own default)"
    )
    parser.add_argument(
        "--backends", default=",".join(CONFIGS), help=f"comma-separated subset of {','.join(CONFIGS)} (default: all)"
    )
    parser.add_argument(
        "--log-dir", help="folder for trust.log, what the libraries print (default: a new temporary folder)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configs = [name.strip() for name in args.backends.split(",") if name.strip()]
    if unknown := sorted(set(configs) - set(CONFIGS)):
        print(f"unknown backends: {', '.join(unknown)} (choose from {', '.join(CONFIGS)})", file=sys.stderr)
        return 2
    model = args.model or default_model()
    log_dir = args.log_dir or tempfile.mkdtemp(prefix="trust-bench-")
    print(f"model: {model}\nprompts: {args.n}, max_new_tokens: {args.max_new_tokens}, temperature 0 (greedy)\n")
    outcomes = []
    for config in configs:
        if not available(config):
            print(f"skipping {config}: its plugin or library is not installed", file=sys.stderr)
            continue
        width = args.parallel if config.startswith("llamacpp") else args.batch_size
        outcomes.append(run_isolated(config, model, args.n, args.max_new_tokens, width, log_dir))
    print_table(outcomes, args.batch_size)
    if (log := Path(log_dir) / "trust.log").is_file():
        print(f"\nmessages of third-party libraries: {log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
