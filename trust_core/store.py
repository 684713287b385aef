"""The run store: one SQLite file (WAL) per run directory, keyed by content.

Responses are keyed by (model variant fingerprint, backend, task id and
version, sample id, prompt variant, rendered-prompt hash, generation
settings); verdicts by (judge identity, query); embeddings by (embedder
identity, text). No key depends on worker count or order, so a resumed or
re-sharded run reuses every finished item. Each write is its own committed
transaction: a response survives ``kill -9`` the moment ``put_response`` returns.

The store carries its schema version (``meta.schema_version``, mirrored in SQLite's ``user_version``, with
``application_id`` marking the file as a trust store). Opening a store checks it before anything is written:
a damaged file, another program's database, tables of another layout, or a newer or unknown schema version
is refused with a :class:`StoreError`; an older version is migrated in one transaction. Every SQLite failure
later on (a full disk, a read-only file) is a :class:`StoreError` too: one message naming the store and what
to do, exit status 2. The run directory's lifecycle (lock, ``--restart``) is :mod:`trust_core.rundir`.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from trust_core.contracts import GenerationResult, Verdict, content_hash
from trust_core.errors import UserError

STORE_FILE = "store.sqlite"
STORE_FILES = (STORE_FILE, f"{STORE_FILE}-wal", f"{STORE_FILE}-shm")
"""The store and its SQLite companions (write-ahead log, shared memory): they move and go together."""

SCHEMA_VERSION = 2
"""1: trust 0.1.0. 2: ``application_id`` and ``user_version`` set (the tables are those of 1)."""

APPLICATION_ID = 0x54525354
"""SQLite ``application_id`` of a trust store ("TRST")."""

_WORK_QUERIES = (
    "SELECT EXISTS (SELECT 1 FROM responses WHERE status = 'ok')",
    "SELECT EXISTS (SELECT 1 FROM verdicts)",
    "SELECT EXISTS (SELECT 1 FROM judge_failures)",
    "SELECT EXISTS (SELECT 1 FROM embeddings)",
)
"""Whether a store holds work worth keeping: a successful response, a judge's reply, an embedding."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    model_fingerprint TEXT NOT NULL,
    backend TEXT NOT NULL,
    task_id TEXT NOT NULL,
    task_version TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    variant TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    settings TEXT NOT NULL,
    rendered_prompt TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    text TEXT,
    error TEXT,
    completion_tokens INTEGER,
    attempts INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_task ON responses (task_id, sample_id);
CREATE TABLE IF NOT EXISTS verdicts (
    key TEXT PRIMARY KEY,
    judge TEXT NOT NULL,
    label TEXT NOT NULL,
    raw TEXT,
    score REAL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS judge_failures (
    key TEXT PRIMARY KEY,
    judge TEXT NOT NULL,
    raw TEXT NOT NULL,
    error TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS embeddings (
    key TEXT PRIMARY KEY,
    embedder TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    created_at REAL NOT NULL
);
"""

_VERSION_PRAGMAS = f"PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"

_MIGRATIONS: dict[int, str] = {
    1: f"{_VERSION_PRAGMAS} UPDATE meta SET value = '2' WHERE key = 'schema_version';",
}
"""Version N → N + 1, each run in one transaction."""

SET_IT_ASIDE = (
    "move it out of the run directory (to keep it) or choose another --run-dir; --restart replaces it with a new store"
)
MAKE_WRITABLE = "make the run directory and its store writable, or choose another --run-dir"
RESUME_LATER = "then run the same command again to resume (everything stored so far is kept)"

_SQLITE_PROBLEMS: tuple[tuple[tuple[str, ...], tuple[str, ...], str, str], ...] = (
    (("SQLITE_FULL",), ("disk is full",), "the disk is full", f"free space, {RESUME_LATER}"),
    (
        ("SQLITE_IOERR",),
        ("disk i/o error",),
        "writing or reading it failed (is the disk full, or a file size limit reached?)",
        f"free space or fix the disk, {RESUME_LATER}",
    ),
    (("SQLITE_CORRUPT", "SQLITE_NOTADB"), ("malformed", "not a database"), "it is damaged", SET_IT_ASIDE),
    (
        ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH"),
        ("readonly", "unable to open"),
        "it cannot be written (read-only file or directory?)",
        MAKE_WRITABLE,
    ),
    (
        ("SQLITE_BUSY", "SQLITE_LOCKED"),
        ("is locked",),
        "another process keeps it locked",
        "wait for that process to finish, or choose another --run-dir",
    ),
)
"""(SQLite error names, message fragments, problem, remedy) for the failures a user can meet."""


class StoreError(UserError):
    """The run store cannot be used: one message naming the store, the problem and what to do (exit 2)."""

    def __init__(self, path: Path, problem: str, remedy: str) -> None:
        self.path = path
        self.problem = problem
        self.remedy = remedy
        super().__init__(f"run store {path}: {problem}; {remedy}")


def store_error(path: Path, exc: sqlite3.Error) -> StoreError:
    """The :class:`StoreError` for an SQLite failure on the store at ``path``."""
    name = getattr(exc, "sqlite_errorname", "") or ""  # Python >= 3.11
    text = str(exc).lower()
    for names, fragments, problem, remedy in _SQLITE_PROBLEMS:
        if name.startswith(names) or any(fragment in text for fragment in fragments):
            return StoreError(path, f"{problem} (SQLite: {exc})", remedy)
    return StoreError(path, f"SQLite failed: {exc}", "check the disk and the file, or choose another --run-dir")


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _translated(method: _Method) -> _Method:
    """Turn the SQLite errors of a :class:`Store` method into :class:`StoreError`."""

    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise store_error(self.path, exc) from exc

    return wrapper  # type: ignore[return-value]


@functools.cache
def _expected_columns() -> dict[str, tuple[str, ...]]:
    """Column names of every table of the current schema."""
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(_SCHEMA)
        return {
            table: _columns(db, table) for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
    finally:
        db.close()


def _columns(db: sqlite3.Connection, table: str) -> tuple[str, ...]:
    return tuple(row[1] for row in db.execute(f"PRAGMA table_info({table})"))


@dataclass(frozen=True)
class ResponseKey:
    """Everything a stored response depends on; :attr:`key` is its content hash."""

    model_fingerprint: str
    backend: str
    task_id: str
    task_version: str
    sample_id: str
    variant: str
    prompt_hash: str
    settings: dict[str, Any]

    @property
    def key(self) -> str:
        """The store key (sha256 of every field)."""
        return content_hash(
            [
                self.model_fingerprint,
                self.backend,
                self.task_id,
                self.task_version,
                self.sample_id,
                self.variant,
                self.prompt_hash,
                self.settings,
            ]
        )


@dataclass(frozen=True)
class StoredResponse:
    """A response as stored: ``status`` is ``ok`` or ``failed`` (with ``error``)."""

    key: str
    status: str
    text: str | None
    error: str | None
    attempts: int
    created_at: float


def verdict_key(judge_identity: str, instruction: str, labels: Sequence[str]) -> str:
    """Cache key of a verdict."""
    return content_hash([judge_identity, instruction, list(labels)])


def embedding_key(embedder_identity: str, text: str) -> str:
    """Cache key of an embedding."""
    return content_hash([embedder_identity, text])


class Store:
    """The SQLite store of one run directory.

    Opening checks an existing store (integrity, layout, schema version) and migrates an older one; a new
    store is created in one transaction. ``wrote`` turns true with the first committed work (a successful
    response, a verdict or a judge's reply, embeddings), when ``on_first_write`` is called once (the lifecycle
    uses it to finish a restart); a failed response is not work, since the next run asks again anyway.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.wrote = False
        self.on_first_write: Callable[[], None] | None = None
        if path.is_dir():
            raise StoreError(path, "it is a directory, not a store file", SET_IT_ASIDE)
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            raise StoreError(path, "it cannot be written (a read-only file, or another user's)", MAKE_WRITABLE)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        except OSError as exc:
            raise StoreError(path, f"its directory cannot be created ({exc.strerror})", MAKE_WRITABLE) from exc
        except sqlite3.Error as exc:
            raise store_error(path, exc) from exc
        try:
            self._prepare()
        except BaseException as exc:
            self.db.close()
            if isinstance(exc, sqlite3.Error):
                raise store_error(path, exc) from exc
            raise

    @classmethod
    def in_run_dir(cls, run_dir: Path) -> Store:
        """Open (creating if needed) the store of ``run_dir``."""
        return cls(run_dir / STORE_FILE)

    @staticmethod
    def holds_work(path: Path) -> bool:
        """Whether the store file at ``path`` can be read and holds work: a successful response, a verdict (or
        a judge's reply naming no label), an embedding."""
        if not path.is_file():
            return False
        try:
            db = sqlite3.connect(path, timeout=30)
        except sqlite3.Error:
            return False
        try:
            return any(db.execute(query).fetchone()[0] for query in _WORK_QUERIES)
        except sqlite3.Error:
            return False
        finally:
            db.close()

    @_translated
    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    # ------------------------------------------------------------------ opening

    def _prepare(self) -> None:
        tables = {name for (name,) in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            self._create()
            return
        version = self._version(tables)
        self._check_layout(_expected_columns())
        self._check_integrity()
        for step in range(version, SCHEMA_VERSION):
            self.db.executescript(f"BEGIN IMMEDIATE; {_MIGRATIONS[step]} COMMIT;")
        self.db.execute("PRAGMA synchronous=FULL")

    def _create(self) -> None:
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(
            f"BEGIN IMMEDIATE; {_SCHEMA} {_VERSION_PRAGMAS} "
            f"INSERT OR IGNORE INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}'); COMMIT;"
        )

    def _version(self, tables: set[str]) -> int:
        """The schema version of an existing store; refuses another program's database and unknown versions."""
        application_id = self.db.execute("PRAGMA application_id").fetchone()[0]
        if application_id not in (0, APPLICATION_ID) or "meta" not in tables:
            listed = ", ".join(sorted(tables))
            raise StoreError(
                self.path, f"it is not a trust run store (an SQLite database with tables {listed})", SET_IT_ASIDE
            )
        self._check_layout(["meta"])
        row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        recorded = row[0] if row else None
        if recorded is None or not str(recorded).isdigit() or int(recorded) < 1:
            raise StoreError(self.path, f"unknown store schema version {recorded!r}", SET_IT_ASIDE)
        version = int(recorded)
        if version > SCHEMA_VERSION:
            raise StoreError(
                self.path,
                f"it was written by a newer trust (store schema {version}; this trust reads schema "
                f"{SCHEMA_VERSION} and older)",
                "upgrade trust to use it, or choose another --run-dir",
            )
        return version

    def _check_layout(self, tables: Iterable[str]) -> None:
        """Each of ``tables`` exists with exactly the columns of the current schema."""
        for table in tables:
            found = _columns(self.db, table)
            if found == _expected_columns()[table]:
                continue
            problem = f"table {table} has other columns ({', '.join(found)})" if found else f"no table {table}"
            raise StoreError(self.path, f"it is not a trust run store of this layout: {problem}", SET_IT_ASIDE)

    def _check_integrity(self) -> None:
        problem = self.db.execute("PRAGMA quick_check(1)").fetchone()[0]
        if problem != "ok":
            raise StoreError(self.path, f"it is damaged (SQLite quick_check: {problem})", SET_IT_ASIDE)

    def _written(self) -> None:
        if self.wrote:
            return
        self.wrote = True
        callback, self.on_first_write = self.on_first_write, None
        if callback is not None:
            callback()

    # ------------------------------------------------------------------ meta

    @_translated
    def meta(self, key: str) -> str | None:
        """The value the store records under ``key`` in its ``meta`` table, or None."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @_translated
    def set_meta(self, key: str, value: str) -> None:
        """Record ``value`` under ``key`` in the ``meta`` table (committed at once)."""
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # ------------------------------------------------------------------ responses

    @_translated
    def responses(self, keys: Iterable[str]) -> dict[str, StoredResponse]:
        """Stored responses among ``keys``, by key."""
        found: dict[str, StoredResponse] = {}
        key_list = list(keys)
        for start in range(0, len(key_list), 500):
            chunk = key_list[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT key, status, text, error, attempts, created_at FROM responses WHERE key IN ({marks})", chunk
            )
            for row in rows:
                found[row[0]] = StoredResponse(*row)
        return found

    @_translated
    def put_response(self, key: ResponseKey, rendered_prompt: str, result: GenerationResult) -> None:
        """Commit one response (or its failure). A success is never overwritten by a failure."""
        now = time.time()
        status = "ok" if result.text is not None and result.error is None else "failed"
        self.db.execute(
            """
            INSERT INTO responses (key, model_fingerprint, backend, task_id, task_version, sample_id, variant,
                prompt_hash, settings, rendered_prompt, status, text, error, completion_tokens, attempts,
                created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)
            ON CONFLICT (key) DO UPDATE SET
                status = excluded.status, text = excluded.text, error = excluded.error,
                completion_tokens = excluded.completion_tokens, attempts = responses.attempts + 1,
                updated_at = excluded.updated_at
            WHERE responses.status = 'failed'
            """,
            (
                key.key,
                key.model_fingerprint,
                key.backend,
                key.task_id,
                key.task_version,
                key.sample_id,
                key.variant,
                key.prompt_hash,
                json.dumps(key.settings, sort_keys=True),
                rendered_prompt,
                status,
                result.text if status == "ok" else None,
                result.error if status == "failed" else None,
                result.completion_tokens,
                now,
                now,
            ),
        )
        if status == "ok":
            self._written()

    @_translated
    def count_responses(self) -> dict[str, int]:
        """Number of stored responses by status."""
        return dict(self.db.execute("SELECT status, COUNT(*) FROM responses GROUP BY status").fetchall())

    # ------------------------------------------------------------------ verdicts

    @_translated
    def verdicts(self, keys: Sequence[str]) -> dict[str, Verdict]:
        """Cached verdicts among ``keys``: successes, and judge replies that named no label (as failures)."""
        found: dict[str, Verdict] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for key, raw, error in self.db.execute(
                f"SELECT key, raw, error FROM judge_failures WHERE key IN ({marks})", chunk
            ):
                found[key] = Verdict(label=None, raw=raw, error=error)
            for key, label, raw, score in self.db.execute(
                f"SELECT key, label, raw, score FROM verdicts WHERE key IN ({marks})", chunk
            ):
                found[key] = Verdict(label=label, raw=raw, score=score)
        return found

    @_translated
    def put_verdict(self, key: str, judge_identity: str, verdict: Verdict) -> None:
        """Cache a verdict the judge gave: a label, or a reply that named none (``raw`` without a label).

        A failure without a reply (timeout, HTTP error, no API key) is not cached: it is asked again next time.
        A reply that named no label is cached as a failure, since asking the same judge the same question with
        the same seeds gives the same reply; a later success replaces it.
        """
        self.put_verdicts(judge_identity, [(key, verdict)])

    @_translated
    def put_verdicts(self, judge_identity: str, verdicts: Sequence[tuple[str, Verdict]]) -> None:
        """Cache a batch of the judge's verdicts (as :meth:`put_verdict` each) in one transaction: one commit for a
        judge's whole batch, not one per verdict."""
        now = time.time()
        labelled = [(key, judge_identity, v.label, v.raw, v.score, now) for key, v in verdicts if v.label is not None]
        replies = [
            (key, judge_identity, v.raw, v.error or "reply names no allowed label", now)
            for key, v in verdicts
            if v.label is None and v.raw is not None
        ]
        if not labelled and not replies:
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?, ?)", labelled)
            self.db.executemany("DELETE FROM judge_failures WHERE key = ?", [(row[0],) for row in labelled])
            self.db.executemany("INSERT OR REPLACE INTO judge_failures VALUES (?, ?, ?, ?, ?)", replies)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self._written()

    # ------------------------------------------------------------------ embeddings

    @_translated
    def embeddings(self, keys: Sequence[str]) -> dict[str, list[float]]:
        """Cached embeddings among ``keys``."""
        found: dict[str, list[float]] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for key, blob in self.db.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", chunk):
                found[key] = np.frombuffer(blob, dtype=np.float32).astype(float).tolist()
        return found

    @_translated
    def put_embeddings(self, embedder_identity: str, items: Sequence[tuple[str, Sequence[float]]]) -> None:
        """Cache embeddings, in one transaction."""
        now = time.time()
        rows = [
            (key, embedder_identity, len(vector), np.asarray(vector, dtype=np.float32).tobytes(), now)
            for key, vector in items
        ]
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?, ?)", rows)
        if rows:
            self._written()
