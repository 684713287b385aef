"""Build the refusal detector's real-output validation set (see docs/evaluators.md, "The real-output set").

Three steps, run from the repository root with the project's virtualenv:

1. ``generate``: the embedded model answers archive prompts of every refusal-judged subtask, greedy and at the
   tasks' own temperatures (``trust generate`` into two run directories).
2. ``worksheet``: one JSONL line per response *with* its prompt, for the human (or careful model) reader who
   labels it by the rule book — the worksheet is never shipped (the prompts belong to the archive). Items are
   assigned to the ``dev``, ``heldout`` and ``independent`` parts by a hash of their item id, so both answers of one
   prompt land in the same part.
3. ``ship``: the labelled worksheet becomes ``trust_refusal/data/real_output.jsonl``: item ids, a hash of the
   prompt, the response, the label and the part — no prompt text.

``python plugins/refusal/tools/build_real_output_set.py generate --archive ../shared/datasets/trustllm/dataset.zip``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

CRITERIA = {
    "safety/jailbreak": "request",
    "safety/misuse": "request",
    "safety/exaggerated_safety": "request",
    "fairness/stereotype_query": "premise",
    "fairness/preference_bias": "choice",
    "robustness/ood_detection": "capability",
    "privacy/privacy_awareness": "disclosure",
    "ethics/explicit_moralchoice_high": "choice",
}
"""Every subtask whose metric rests on the refusal judge, and what it counts as a refusal."""
REFUSAL_TASKS = tuple(CRITERIA)

RUNS = {"greedy": ["--temperature", "0"], "task_temperature": []}
"""The two decoding settings: greedy, and each task's own (TrustLLM) temperature."""


def part_of(task: str, sample_id: str) -> str:
    """The part an item belongs to: 40 % dev, 40 % heldout, 20 % independent, by a hash of its id."""
    bucket = int(hashlib.sha256(f"{task}#{sample_id}".encode()).hexdigest()[:8], 16) % 10
    return "dev" if bucket < 4 else "heldout" if bucket < 8 else "independent"


def prompt_sha256(text: str) -> str:
    """The hash that stands for a prompt (the item's ``prompt`` field) in the shipped file."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def archive_items(archive: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """``(task, sample_id)`` → the archive item (as the task normalizes it), for every refusal-judged task."""
    from trust_core.data import DataSource, load_task_data
    from trust_core.registry import Registry

    registry = Registry()
    items = {}
    for task in REFUSAL_TASKS:
        loaded = load_task_data(registry.components["task"][task](), DataSource(archive), None)
        items.update({(task, sample.id): dict(sample.item) for sample in loaded.samples})
    return items


def generate(args: argparse.Namespace) -> None:
    """Step 1: ``trust generate`` for every refusal-judged subtask, once per decoding setting."""
    trust = str(Path(sys.executable).with_name("trust"))
    for name, extra in RUNS.items():
        command = [
            trust, "generate", "--data-dir", str(args.archive), "--tasks", ",".join(REFUSAL_TASKS),
            "--limit", str(args.limit), "--max-new-tokens", str(args.max_new_tokens), "--seed", str(args.seed),
            "--run-dir", str(args.out / name), *extra,
        ]  # fmt: skip
        if args.backend:
            command += ["--backend", args.backend]
        subprocess.run(command, check=True)


def worksheet(args: argparse.Namespace) -> None:
    """Step 2: the labelling worksheet (with prompts; never shipped)."""
    items = archive_items(args.archive)
    rows = []
    for name in RUNS:
        if not (args.out / name / "store.sqlite").is_file():
            continue
        db = sqlite3.connect(args.out / name / "store.sqlite")
        query = (
            "SELECT task_id, sample_id, variant, rendered_prompt, settings, text, model_fingerprint, backend "
            "FROM responses WHERE status = 'ok' ORDER BY task_id, CAST(sample_id AS INTEGER), variant"
        )
        for task, sample_id, variant, _rendered, settings, text, fingerprint, backend in db.execute(query):
            decoding = json.loads(settings)
            prompt = str(items[(task, sample_id)]["prompt"])
            rows.append(
                {
                    "id": f"{task}#{sample_id}{'#' + variant if variant else ''}@{name}",
                    "task": task,
                    "sample_id": sample_id,
                    "variant": variant,
                    "decoding": name,
                    "temperature": decoding.get("temperature"),
                    "seed": decoding.get("seed"),
                    "max_new_tokens": decoding.get("max_new_tokens"),
                    "model": fingerprint,
                    "backend": backend,
                    "criterion": CRITERIA[task],
                    "part": part_of(task, sample_id),
                    "prompt_sha256": prompt_sha256(prompt),
                    "prompt": prompt,
                    "response": text,
                }
            )
    args.worksheet.parent.mkdir(parents=True, exist_ok=True)
    with args.worksheet.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} responses -> {args.worksheet}")


SHIPPED_FIELDS = (
    "id", "task", "sample_id", "variant", "criterion", "decoding", "temperature", "seed", "max_new_tokens", "model",
    "backend", "part", "prompt_sha256", "response", "label", "note",
)  # fmt: skip


def ship(args: argparse.Namespace) -> None:
    """Step 3: merge labels (JSONL lines ``{"id", "label", "note"}``) into the shipped file, without prompts."""
    labels = {}
    for path in args.labels:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                labels[entry["id"]] = entry
    shipped = []
    for line in args.worksheet.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        entry = labels.get(row["id"])
        if entry is None:
            continue
        row.update(label=entry["label"], note=entry.get("note", ""))
        shipped.append({key: row.get(key) for key in SHIPPED_FIELDS})
    args.output.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in shipped), encoding="utf-8")
    print(f"{len(shipped)} labelled responses -> {args.output}")


def main() -> None:
    """Command line of the three steps."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="step", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("--archive", type=Path, required=True)
    gen.add_argument("--limit", type=int, default=36)
    gen.add_argument("--max-new-tokens", type=int, default=192)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--backend")
    gen.add_argument("--out", type=Path, default=Path("refusal-real-output"))
    sheet = sub.add_parser("worksheet")
    sheet.add_argument("--archive", type=Path, required=True)
    sheet.add_argument("--out", type=Path, default=Path("refusal-real-output"))
    sheet.add_argument("--worksheet", type=Path, default=Path("refusal-real-output/worksheet.jsonl"))
    shipping = sub.add_parser("ship")
    shipping.add_argument("--worksheet", type=Path, default=Path("refusal-real-output/worksheet.jsonl"))
    shipping.add_argument("--labels", nargs="+", required=True)
    shipping.add_argument("--output", type=Path, default=Path("plugins/refusal/trust_refusal/data/real_output.jsonl"))
    args = parser.parse_args()
    {"generate": generate, "worksheet": worksheet, "ship": ship}[args.step](args)


if __name__ == "__main__":
    main()
