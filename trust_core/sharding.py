"""Shards of a run, and merging run stores.

``trust run|generate ... --shard I/N`` plans exactly as the whole run would, then generates only shard I of N
into its own run directory (a Slurm array task, a Ray worker...). The split is deterministic and needs no
coordination: the distinct store keys of the plan, ordered by rendered-prompt length (longest first) and key,
are dealt round-robin, so every shard gets about as many prompts and as many prompt tokens as the others. The
shard records its plan in its store (:class:`ShardPlan`: the digest of the whole plan's keys, the seed, the
tasks and their versions, the model fingerprint), so that :func:`merge_stores` can refuse stores of different
runs.

``trust merge RUN_DIR... --into D`` copies every response, verdict, judge reply and embedding of the stores into
a new store in D: identical entries are kept once; a key answered differently by two stores (two texts for one
response, two labels for one verdict) is reported and nothing is written. ``trust evaluate`` with the run's
options, on D, then scores the whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trust_core.errors import UserError
from trust_core.store import STORE_FILE, Store, store_error

if TYPE_CHECKING:
    from trust_core.runner import PlannedPrompt

SHARD_META = "shard_plan"
"""The store's ``meta`` key holding its :class:`ShardPlan` (JSON)."""
MERGE_META = "merged_from"
"""The merged store's ``meta`` key listing the stores it was made from."""
MERGING_FILE = ".merging-store.sqlite"
"""The merged store while it is written (renamed to the store file once complete)."""
CONFLICTS_SHOWN = 5


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N) with 1 <= I <= N; UserError otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if match is None:
        raise UserError(f"--shard {text}: expected I/N, shard I of N (e.g. --shard 1/4)")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise UserError(
            f"--shard {text}: I must be between 1 and N, and N at least 1 (shard I of N, e.g. 1/{max(count, 2)})"
        )
    return index, count


def shard_of_keys(keys_and_lengths: dict[str, int], count: int) -> dict[str, int]:
    """The shard (1..count) of each key: keys ordered by prompt length (longest first), then key, dealt
    round-robin."""
    ordered = sorted(keys_and_lengths, key=lambda key: (-keys_and_lengths[key], key))
    return {key: position % count + 1 for position, key in enumerate(ordered)}


def select_shard(planned: Sequence[PlannedPrompt], index: int, count: int) -> list[PlannedPrompt]:
    """The planned prompts of shard ``index`` of ``count`` (every prompt of a key goes with the key)."""
    lengths = {entry.key.key: len(entry.rendered) for entry in planned}
    shard = shard_of_keys(lengths, count)
    return [entry for entry in planned if shard[entry.key.key] == index]


@dataclass(frozen=True)
class ShardPlan:
    """What a shard's store records of the whole run it is part of."""

    index: int
    count: int
    plan_sha256: str
    """sha256 of the sorted distinct store keys of the whole plan (all shards)."""
    planned: int
    """Distinct store keys of the whole plan."""
    in_shard: int
    seed: int
    tasks: dict[str, str]
    """Task id -> version, of every task whose prompts the plan holds."""
    model_fingerprint: str

    @classmethod
    def of(cls, planned: Sequence[PlannedPrompt], index: int, count: int, seed: int) -> ShardPlan:
        """The plan of shard ``index`` of ``count`` of the whole plan ``planned``."""
        keys = sorted({entry.key.key for entry in planned})
        in_shard = {entry.key.key for entry in select_shard(planned, index, count)}
        fingerprints = sorted({entry.key.model_fingerprint for entry in planned})
        return cls(
            index=index,
            count=count,
            plan_sha256=hashlib.sha256("\n".join(keys).encode()).hexdigest(),
            planned=len(keys),
            in_shard=len(in_shard),
            seed=seed,
            tasks={entry.key.task_id: entry.key.task_version for entry in planned},
            model_fingerprint=",".join(fingerprints),
        )

    def to_json(self) -> str:
        """The plan as stored in ``meta``."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ShardPlan:
        """The plan stored in ``meta``."""
        return cls(**json.loads(text))


# --------------------------------------------------------------------------- merging


@dataclass
class MergeReport:
    """What :func:`merge_stores` did."""

    into: Path
    sources: list[Path]
    responses: int = 0
    ok: int = 0
    failed: int = 0
    duplicates: int = 0
    verdicts: int = 0
    embeddings: int = 0
    missing_shards: list[int] | None = None

    def lines(self) -> list[str]:
        """The summary the command prints."""
        lines = [
            f"merged {len(self.sources)} stores into {self.into / STORE_FILE}: {self.responses} responses "
            f"({self.ok} ok, {self.failed} failed; {self.duplicates} found in more than one store, kept once), "
            f"{self.verdicts} verdicts, {self.embeddings} embeddings"
        ]
        if self.missing_shards:
            missing = ", ".join(str(index) for index in self.missing_shards)
            lines.append(
                f"warning: shard(s) {missing} of this run are not among the inputs; `trust evaluate` will find "
                "their prompts unanswered until they are merged in"
            )
        return lines


_TABLES: dict[str, tuple[str, str]] = {
    "responses": ("a.status = 'ok' AND b.status = 'ok' AND a.text IS NOT b.text", "two different texts"),
    "verdicts": ("a.label IS NOT b.label OR a.score IS NOT b.score", "two different verdicts"),
    "embeddings": ("a.vector IS NOT b.vector", "two different vectors"),
    "judge_failures": ("0", ""),
}
"""Per table: when two stores' rows of one key disagree, and how the conflict is described."""


def merge_stores(sources: Sequence[Path], into: Path) -> MergeReport:
    """Merge the stores of the run directories ``sources`` into a new store in ``into``; UserError (nothing
    written) for a source without a store, stores of different runs, or a key the stores answer differently."""
    from trust_core.rundir import locked_run_dir, opened_store

    _check_paths(sources, into)
    with contextlib.ExitStack() as held:
        for source in sources:  # each source under its run directory's lock: no shard may still be writing
            held.enter_context(opened_store(source, create=False))
        plans = [_plan_of(source) for source in sources]
        _check_same_run(sources, plans)
        report = MergeReport(into, list(sources))
        created = not into.exists()
        try:
            with locked_run_dir(into):
                _merge_into(sources, into, report)
        except BaseException:
            if created:
                shutil.rmtree(into, ignore_errors=True)  # only what this command made
            raise
        report.missing_shards = _missing_shards(plans)
        return report


def _check_paths(sources: Sequence[Path], into: Path) -> None:
    if len(sources) < 1:
        raise UserError("trust merge: name at least one run directory to merge")
    for source in sources:
        if not (source / STORE_FILE).is_file():
            raise UserError(f"{source}: no run store here ({source / STORE_FILE} does not exist)")
    resolved = {source.resolve() for source in sources}
    if len(resolved) != len(sources):
        raise UserError("trust merge: a run directory is named twice")
    if into.resolve() in resolved:
        raise UserError(f"--into {into}: is one of the stores to merge; merge into a new directory")
    if (into / STORE_FILE).exists():
        raise UserError(f"--into {into}: already holds a run store; merge into a new directory (nothing is replaced)")


def _plan_of(source: Path) -> ShardPlan | None:
    with _connection(source / STORE_FILE) as db:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (SHARD_META,)).fetchone()
    return ShardPlan.from_json(row[0]) if row else None


def _check_same_run(sources: Sequence[Path], plans: Sequence[ShardPlan | None]) -> None:
    """Shards of one run share their plan; stores of whole runs must agree on the version of every task."""
    shards = [(source, plan) for source, plan in zip(sources, plans, strict=True) if plan is not None]
    for source, plan in shards[1:]:
        first_source, first = shards[0]
        if plan.plan_sha256 != first.plan_sha256 or plan.count != first.count:
            raise UserError(
                f"{source} and {first_source} are shards of different runs ({_difference(first, plan)}); "
                "merge the shards of one run"
            )
    named: dict[int, Path] = {}
    for source, plan in shards:
        if plan.index in named:
            raise UserError(f"{source} and {named[plan.index]} are both shard {plan.index}/{plan.count}")
        named[plan.index] = source
    versions: dict[str, tuple[Path, set[str]]] = {}
    for source in sources:
        with _connection(source / STORE_FILE) as db:
            rows = db.execute("SELECT task_id, task_version FROM responses GROUP BY task_id, task_version").fetchall()
        by_task: dict[str, set[str]] = {}
        for task_id, version in rows:
            by_task.setdefault(task_id, set()).add(version)
        for task_id, found in by_task.items():
            if task_id in versions and versions[task_id][1] != found:
                other, known = versions[task_id]
                raise UserError(
                    f"{source} holds {task_id} version {', '.join(sorted(found))} and {other} version "
                    f"{', '.join(sorted(known))}: the stores are of different task versions"
                )
            versions.setdefault(task_id, (source, found))


def _difference(first: ShardPlan, other: ShardPlan) -> str:
    if first.seed != other.seed:
        return f"seed {first.seed} and {other.seed}"
    if first.tasks != other.tasks:
        changed = sorted(set(first.tasks.items()) ^ set(other.tasks.items()))
        return "tasks or task versions differ: " + ", ".join(f"{task} {version}" for task, version in changed[:4])
    if first.model_fingerprint != other.model_fingerprint:
        return "different models"
    if first.count != other.count:
        return f"split into {first.count} and {other.count} shards"
    return "their plans differ (options such as --limit, --max-new-tokens or --temperature)"


def _merge_into(sources: Sequence[Path], into: Path, report: MergeReport) -> None:
    """Write the merged store beside the (empty) new one, then rename it into place."""
    work = into / MERGING_FILE
    final = into / STORE_FILE
    try:
        Store(work).close()
        with _connection(work, write=True) as db:
            _copy(db, sources, report)
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (MERGE_META, json.dumps([str(s) for s in sources])))
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        work.rename(final)
    finally:
        for leftover in (work, Path(f"{work}-wal"), Path(f"{work}-shm")):
            leftover.unlink(missing_ok=True)


def _copy(db: sqlite3.Connection, sources: Sequence[Path], report: MergeReport) -> None:
    """Every source's rows, in one transaction; conflicts are collected first and stop the merge."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for number, source in enumerate(sources):
            db.execute(f"ATTACH DATABASE ? AS s{number}", (str(source / STORE_FILE),))
        conflicts = _conflicts(db, len(sources))
        if conflicts:
            shown = "; ".join(conflicts[:CONFLICTS_SHOWN])
            more = f" (and {len(conflicts) - CONFLICTS_SHOWN} more)" if len(conflicts) > CONFLICTS_SHOWN else ""
            raise UserError(f"the stores answer {len(conflicts)} key(s) differently, nothing was merged: {shown}{more}")
        for number in range(len(sources)):
            report.duplicates += db.execute(
                f"SELECT COUNT(*) FROM s{number}.responses WHERE key IN (SELECT key FROM main.responses)"
            ).fetchone()[0]
            db.execute(
                f"""INSERT INTO main.responses SELECT * FROM s{number}.responses WHERE true
                ON CONFLICT (key) DO UPDATE SET status = excluded.status, text = excluded.text,
                    error = excluded.error, completion_tokens = excluded.completion_tokens,
                    attempts = max(responses.attempts, excluded.attempts), updated_at = excluded.updated_at
                WHERE responses.status = 'failed' AND excluded.status = 'ok'"""
            )
            for table in ("verdicts", "judge_failures", "embeddings"):
                db.execute(f"INSERT OR IGNORE INTO main.{table} SELECT * FROM s{number}.{table}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    finally:
        for number in range(len(sources)):
            with contextlib.suppress(sqlite3.Error):
                db.execute(f"DETACH DATABASE s{number}")
    counts = dict(db.execute("SELECT status, COUNT(*) FROM responses GROUP BY status").fetchall())
    report.ok, report.failed = counts.get("ok", 0), counts.get("failed", 0)
    report.responses = report.ok + report.failed
    report.verdicts = db.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]
    report.embeddings = db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]


def _conflicts(db: sqlite3.Connection, count: int) -> list[str]:
    """Keys two sources hold with different content (per :data:`_TABLES`), described."""
    found: list[str] = []
    for first in range(count):
        for second in range(first + 1, count):
            for table, (differ, what) in _TABLES.items():
                if not what:
                    continue
                rows = db.execute(
                    f"SELECT a.key FROM s{first}.{table} a JOIN s{second}.{table} b ON a.key = b.key WHERE {differ}"
                ).fetchall()
                found += [f"{table} key {key[:16]}...: {what}" for (key,) in rows]
    return found


def _missing_shards(plans: Sequence[ShardPlan | None]) -> list[int] | None:
    shard_plans = [plan for plan in plans if plan is not None]
    if not shard_plans:
        return None
    present = {plan.index for plan in shard_plans}
    return [index for index in range(1, shard_plans[0].count + 1) if index not in present] or None


@contextlib.contextmanager
def _connection(path: Path, write: bool = False) -> Iterator[sqlite3.Connection]:
    """A plain connection to a store already checked by :class:`Store` (read-only unless ``write``)."""
    try:
        db = sqlite3.connect(path if write else f"file:{path}?mode=ro", uri=not write, timeout=30, isolation_level=None)
    except sqlite3.Error as exc:
        raise store_error(path, exc) from exc
    try:
        yield db
    except sqlite3.Error as exc:
        raise store_error(path, exc) from exc
    finally:
        db.close()


def record_plan(store: Store, plan: ShardPlan) -> None:
    """Record ``plan`` in the shard's store (before its first response)."""
    store.set_meta(SHARD_META, plan.to_json())


def stored_plan(store: Store) -> Any:
    """The :class:`ShardPlan` a store records, or None."""
    text = store.meta(SHARD_META)
    return ShardPlan.from_json(text) if text else None
