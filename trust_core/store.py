"""The run store: one SQLite file (WAL) per run directory, keyed by content.

Responses are keyed by (model variant fingerprint, backend, task id and
version, sample id, prompt variant, rendered-prompt hash, generation
settings); verdicts by (judge identity, query); embeddings by (embedder
identity, text). No key depends on worker count or order, so a resumed or
re-sharded run reuses every finished item. Each write is its own committed
transaction: a response survives ``kill -9`` the moment ``put_response`` returns.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trust_core.contracts import GenerationResult, Verdict, content_hash

STORE_FILE = "store.sqlite"
SCHEMA_VERSION = 1

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
    """The SQLite store of one run directory."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(_SCHEMA)
        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    @classmethod
    def in_run_dir(cls, run_dir: Path) -> Store:
        """Open (creating if needed) the store of ``run_dir``."""
        return cls(run_dir / STORE_FILE)

    @staticmethod
    def remove(run_dir: Path) -> None:
        """Delete the store of ``run_dir`` (``--restart``)."""
        for suffix in ("", "-wal", "-shm"):
            (run_dir / (STORE_FILE + suffix)).unlink(missing_ok=True)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    # ------------------------------------------------------------------ responses

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

    def count_responses(self) -> dict[str, int]:
        """Number of stored responses by status."""
        return dict(self.db.execute("SELECT status, COUNT(*) FROM responses GROUP BY status").fetchall())

    # ------------------------------------------------------------------ verdicts

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

    def put_verdict(self, key: str, judge_identity: str, verdict: Verdict) -> None:
        """Cache a verdict the judge gave: a label, or a reply that named none (``raw`` without a label).

        A failure without a reply (timeout, HTTP error, no API key) is not cached: it is asked again next time.
        A reply that named no label is cached as a failure, since asking the same judge the same question with
        the same seeds gives the same reply; a later success replaces it.
        """
        now = time.time()
        if verdict.label is not None:
            self.db.execute(
                "INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?, ?, ?)",
                (key, judge_identity, verdict.label, verdict.raw, verdict.score, now),
            )
            self.db.execute("DELETE FROM judge_failures WHERE key = ?", (key,))
        elif verdict.raw is not None:
            self.db.execute(
                "INSERT OR REPLACE INTO judge_failures VALUES (?, ?, ?, ?, ?)",
                (key, judge_identity, verdict.raw, verdict.error or "reply names no allowed label", now),
            )

    # ------------------------------------------------------------------ embeddings

    def embeddings(self, keys: Sequence[str]) -> dict[str, list[float]]:
        """Cached embeddings among ``keys``."""
        found: dict[str, list[float]] = {}
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            marks = ",".join("?" * len(chunk))
            for key, blob in self.db.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", chunk):
                found[key] = np.frombuffer(blob, dtype=np.float32).astype(float).tolist()
        return found

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
