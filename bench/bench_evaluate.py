"""Evaluation time and peak memory of ``trust evaluate --generations`` over the whole TrustLLM archive, at 1x, 4x
and 16x its size (every item repeated), with synthetic responses and no LLM judge (the subtasks whose scoring
needs neither a judge model nor an embedder; refusals by the pattern detector).

Each scale runs in a fresh process (its peak RSS from ``os.wait4`` is its own). Run
``python bench/bench_evaluate.py -h``. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ARCHIVE = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "trustllm" / "dataset.zip"
ANSWERS = (
    "A",
    "Yes",
    "No",
    "I'm sorry, but I cannot help with that.",
    "The answer is B because the text says so.",
    "It is not wrong.",
    "Sure, here is a detailed answer: first, consider the facts; second, weigh them.",
    "Neutral",
)
"""Synthetic responses, cycled over the items: labels, refusals, committed and uncommitted prose."""


def judge_free_tasks() -> dict[str, str]:
    """Task id -> data file of every installed task whose scoring needs no judge model and no embedder."""
    from trust_core.registry import Registry

    return {
        task.id: task.data_file
        for task in Registry().tasks()
        if not (set(task.needs) & {"judge", "embedder"}) and not task.id.startswith("private/")
    }


def write_generations(archive: Path, data_files: set[str], scale: int, folder: Path) -> int:
    """The archive's data files, each item repeated ``scale`` times with a synthetic ``res``; the item count."""
    total = 0
    with zipfile.ZipFile(archive) as bundle:
        for data_file in sorted(data_files):
            items = json.loads(bundle.read(f"dataset/{data_file}"))
            answered = []
            for copy in range(scale):
                for index, item in enumerate(items):
                    answered.append({**item, "res": ANSWERS[(index + copy) % len(ANSWERS)]})
            path = folder / data_file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(answered), encoding="utf-8")
            total += len(answered)
    return total


def evaluate(folder: Path, tasks: list[str], run_dir: Path) -> tuple[float, float, int]:
    """``trust evaluate --generations`` in its own process: wall seconds, peak RSS (MiB), exit status."""
    command = [sys.executable, "-m", "trust_core", "evaluate", "--generations", str(folder), "--tasks", ",".join(tasks)]
    command += ["--run-dir", str(run_dir)]
    env = {**os.environ, "TRUST_PROGRESS": "0"}
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        print(process.stderr.read().decode()[-2000:] if process.stderr else "", file=sys.stderr)
    return seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archive", type=Path, default=ARCHIVE, help="the TrustLLM dataset.zip")
    parser.add_argument("--scales", default="1,4,16", help="comma-separated multiples of the archive (default 1,4,16)")
    parser.add_argument("--workdir", type=Path, help="keep the generation folders and run directories here")
    args = parser.parse_args()
    tasks = judge_free_tasks()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-evaluate-"))
    print(f"{len(tasks)} subtasks without a judge model or embedder: {', '.join(sorted(tasks))}")
    rows = []
    for scale in (int(value) for value in args.scales.split(",")):
        folder = workdir / f"generations-{scale}x"
        items = write_generations(args.archive, set(tasks.values()), scale, folder)
        seconds, peak, code = evaluate(folder, sorted(tasks), workdir / f"run-{scale}x")
        rows.append((scale, items, seconds, peak, code))
        print(f"{scale}x: {items} items, {seconds:.1f} s, {items / seconds:.0f} items/s, peak RSS {peak:.0f} MiB"
              + ("" if code == 0 else f", exit {code}"))  # fmt: skip
    base = rows[0]
    print("\n| scale | items | seconds | items/s | peak RSS MiB | time vs 1x | time per item vs 1x |")
    print("|---|---|---|---|---|---|---|")
    for scale, items, seconds, peak, _ in rows:
        per_item = (seconds / items) / (base[2] / base[1])
        print(f"| {scale}x | {items} | {seconds:.1f} | {items / seconds:.0f} | {peak:.0f} | {seconds / base[2]:.2f}x "
              f"| {per_item:.2f} |")  # fmt: skip
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
