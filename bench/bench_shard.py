"""A sharded run's speedup: the same ``trust generate`` as one process, then as N shards (``--shard I/N``) running
at once on this machine, merged with ``trust merge``; checks that the merged store holds the unsharded run's
responses key for key.

Run ``python bench/bench_shard.py -h``. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generate(args: list[str], run_dir: Path, shard: str | None = None) -> subprocess.Popen[bytes]:
    """Start ``trust generate ARGS`` (one shard of it) in a process of its own."""
    command = [sys.executable, "-m", "trust_core", "generate", *args, "--run-dir", str(run_dir)]
    if shard is not None:
        command += ["--shard", shard]
    env = {**os.environ, "TRUST_PROGRESS": "0"}
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def responses(run_dir: Path) -> dict[str, str | None]:
    """Key -> text of every stored response."""
    with contextlib.closing(sqlite3.connect(run_dir / "store.sqlite")) as db:
        return dict(db.execute("SELECT key, text FROM responses"))


def timed(processes: list[subprocess.Popen[bytes]]) -> float:
    """Seconds until every process has exited (each must succeed)."""
    started = time.perf_counter()
    for process in processes:
        if process.wait() != 0:
            raise SystemExit(f"{process.args} exited {process.returncode}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="truthfulness/hallucination")
    parser.add_argument("--limit", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--shards", type=int, default=2, help="shards run at once (default 2)")
    parser.add_argument("--backend", help="default: the backend trust picks for the embedded model")
    args = parser.parse_args()
    common = ["--tasks", args.tasks, "--limit", str(args.limit), "--max-new-tokens", str(args.max_new_tokens)]
    if args.backend:
        common += ["--backend", args.backend]
    workdir = Path(tempfile.mkdtemp(prefix="bench-shard-"))
    try:
        whole = timed([generate(common, workdir / "whole")])
        shard_dirs = [workdir / f"shard{index}" for index in range(1, args.shards + 1)]
        sharded = timed([generate(common, d, f"{i}/{args.shards}") for i, d in enumerate(shard_dirs, start=1)])
        started = time.perf_counter()
        merge = [sys.executable, "-m", "trust_core", "merge", *map(str, shard_dirs), "--into", str(workdir / "merged")]
        subprocess.run(merge, check=True, capture_output=True)
        merge_seconds = time.perf_counter() - started
        same = responses(workdir / "merged") == responses(workdir / "whole")
        count = len(responses(workdir / "whole"))
        print(f"{count} responses ({args.tasks}, limit {args.limit}, {args.max_new_tokens} new tokens)")
        print(f"one process: {whole:.1f} s; {args.shards} shards at once: {sharded:.1f} s "
              f"({whole / sharded:.2f}x); merge: {merge_seconds:.1f} s; merged == unsharded: {same}")  # fmt: skip
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
