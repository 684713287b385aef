"""The SQLite run store: content keys, commit-per-response, failures, caches."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from trust_core.contracts import GenerationResult, Verdict
from trust_core.store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    STORE_FILE,
    ResponseKey,
    Store,
    embedding_key,
    verdict_key,
)


def _key(sample: str = "0", **changes) -> ResponseKey:
    fields = dict(
        model_fingerprint="fp",
        backend="b/1",
        task_id="t/x",
        task_version="1",
        sample_id=sample,
        variant="",
        prompt_hash="ph",
        settings={"temperature": 0.0, "max_new_tokens": 8, "seed": 1},
    )
    fields.update(changes)
    return ResponseKey(**fields)


def test_key_depends_on_every_field_but_not_on_dict_order():
    base = _key()
    assert _key().key == base.key
    assert _key(settings={"seed": 1, "max_new_tokens": 8, "temperature": 0.0}).key == base.key
    for change in (
        {"model_fingerprint": "other"},
        {"backend": "c/1"},
        {"task_version": "2"},
        {"sample": "1"},
        {"variant": "v"},
        {"prompt_hash": "p2"},
        {"settings": {"temperature": 1.0, "max_new_tokens": 8, "seed": 1}},
    ):
        assert _key(**change).key != base.key, change


def test_response_survives_reopening(tmp_path: Path):
    store = Store.in_run_dir(tmp_path)
    key = _key()
    store.put_response(key, "rendered", GenerationResult(key.key, "hello"))
    store.close()
    again = Store.in_run_dir(tmp_path)
    stored = again.responses([key.key])[key.key]
    assert (stored.status, stored.text, stored.attempts) == ("ok", "hello", 1)


def test_failure_is_retried_and_success_is_never_overwritten(tmp_path: Path):
    store = Store.in_run_dir(tmp_path)
    key = _key()
    store.put_response(key, "r", GenerationResult(key.key, None, error="timeout"))
    assert store.responses([key.key])[key.key].status == "failed"
    store.put_response(key, "r", GenerationResult(key.key, "done"))
    stored = store.responses([key.key])[key.key]
    assert (stored.status, stored.text, stored.attempts) == ("ok", "done", 2)
    store.put_response(key, "r", GenerationResult(key.key, None, error="later failure"))
    stored = store.responses([key.key])[key.key]
    assert (stored.status, stored.text, stored.error) == ("ok", "done", None)
    assert store.count_responses() == {"ok": 1}


def test_verdict_cache_keeps_successes_and_replies_without_a_label(tmp_path: Path):
    store = Store.in_run_dir(tmp_path)
    good = verdict_key("judge/1", "q1", ("YES", "NO"))
    down = verdict_key("judge/1", "q2", ("YES", "NO"))
    mumble = verdict_key("judge/1", "q3", ("YES", "NO"))
    assert verdict_key("judge/2", "q1", ("YES", "NO")) != good
    store.put_verdict(good, "judge/1", Verdict("YES", raw="Yes."))
    store.put_verdict(down, "judge/1", Verdict(None, error="HTTP 503: overloaded"))  # no reply: ask again
    store.put_verdict(mumble, "judge/1", Verdict(None, raw="Maybe?", error="reply names no allowed label"))
    assert store.verdicts([good, down, mumble]) == {
        good: Verdict("YES", raw="Yes."),
        mumble: Verdict(None, raw="Maybe?", error="reply names no allowed label"),
    }
    store.put_verdict(mumble, "judge/1", Verdict("NO", raw="No."))  # a later success replaces the failure
    assert store.verdicts([mumble]) == {mumble: Verdict("NO", raw="No.")}
    store.close()
    assert Store.in_run_dir(tmp_path).verdicts([mumble, down]) == {mumble: Verdict("NO", raw="No.")}


def test_embeddings_round_trip(tmp_path: Path):
    store = Store.in_run_dir(tmp_path)
    key = embedding_key("emb/1", "text")
    store.put_embeddings("emb/1", [(key, [0.5, -1.25, 3.0])])
    assert store.embeddings([key, "missing"]) == {key: [0.5, -1.25, 3.0]}


def test_a_new_store_records_its_schema_version(tmp_path: Path):
    Store.in_run_dir(tmp_path).close()
    with contextlib.closing(sqlite3.connect(tmp_path / STORE_FILE)) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_wrote_turns_true_with_the_first_committed_work_only(tmp_path: Path):
    store = Store.in_run_dir(tmp_path)
    calls: list[str] = []
    store.on_first_write = lambda: calls.append("first")
    store.responses(["nothing"])
    store.put_verdict("k", "judge/1", Verdict(None, error="HTTP 503"))  # not cached: no work
    store.put_response(_key("2"), "r", GenerationResult(_key("2").key, None, error="timeout"))  # asked again later
    assert (store.wrote, calls) == (False, [])
    key = _key()
    store.put_response(key, "r", GenerationResult(key.key, "x"))
    store.put_response(_key("1"), "r", GenerationResult(_key("1").key, "y"))
    assert (store.wrote, calls) == (True, ["first"])
