"""Sharded runs and merged stores (issue #12, item 3): ``--shard I/N`` plans the whole run and generates one
deterministic, length-balanced part; ``trust merge`` unites the shards' stores (duplicates kept once, conflicts
refused with nothing written); the union equals the unsharded run key for key, and scores the same."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest

from conftest import PLUGIN_DIR
from trust_core.sharding import parse_shard, shard_of_keys
from trust_core.testing import CliResult, run_cli

TASKS = ("--tasks", "private/echo,private/echo_toxicity")
NO_ENTRY_POINTS = {"TRUST_LOAD_PLUGINS": ""}


def _trust(*args: str) -> CliResult:
    return run_cli("--plugin-dir", str(PLUGIN_DIR), *args, env=NO_ENTRY_POINTS)


def _responses(run_dir: Path) -> dict[str, tuple[str, str | None]]:
    with contextlib.closing(sqlite3.connect(run_dir / "store.sqlite")) as db:
        return {key: (status, text) for key, status, text in db.execute("SELECT key, status, text FROM responses")}


def _shards(folder: Path, count: int, *extra: str) -> list[Path]:
    dirs = []
    for index in range(1, count + 1):
        run_dir = folder / f"shard{index}"
        done = _trust("generate", "--model", "scripted:echo", *TASKS, "--shard", f"{index}/{count}", *extra,
                      "--run-dir", str(run_dir))  # fmt: skip
        assert done.code == 0, done.stderr
        assert f"shard {index}/{count}:" in done.stderr
        dirs.append(run_dir)
    return dirs


@pytest.mark.parametrize("count", [2, 3, 5])
def test_merged_shards_equal_the_unsharded_run_key_for_key_and_score_the_same(tmp_path: Path, count: int) -> None:
    whole = tmp_path / "whole"
    assert _trust("run", "--model", "scripted:echo", *TASKS, "--run-dir", str(whole)).code == 0
    shards = _shards(tmp_path, count)
    parts = [_responses(shard) for shard in shards]
    assert sum(len(part) for part in parts) == len(_responses(whole))  # each key in exactly one shard
    merged = tmp_path / "merged"
    done = _trust("merge", *map(str, shards), "--into", str(merged))
    assert done.code == 0, done.stderr
    assert _responses(merged) == _responses(whole)
    scored = _trust("evaluate", "--model", "scripted:echo", *TASKS, "--run-dir", str(merged))
    assert scored.code == 0, scored.stderr
    values = [
        [(m["task"], m["subset"], m["metric"], m["value"], m["n"]) for m in json.loads(path.read_text())["metrics"]]
        for path in (whole / "results.json", merged / "results.json")
    ]
    assert values[0] == values[1]


def test_a_run_with_shard_generates_and_does_not_score(tmp_path: Path) -> None:
    done = _trust("run", "--model", "scripted:echo", *TASKS, "--shard", "1/2", "--run-dir", str(tmp_path / "r"))
    assert done.code == 0, done.stderr
    assert "Nothing is scored here" in done.stderr and not (tmp_path / "r" / "results.json").exists()


def test_the_split_is_balanced_by_length_and_deterministic() -> None:
    lengths = {f"k{i}": length for i, length in enumerate([100, 90, 80, 70, 60, 50, 40, 30])}
    shards = shard_of_keys(lengths, 2)
    assert shards == shard_of_keys(dict(reversed(lengths.items())), 2)
    totals = [sum(lengths[key] for key, shard in shards.items() if shard == index) for index in (1, 2)]
    assert totals == [100 + 80 + 60 + 40, 90 + 70 + 50 + 30]


@pytest.mark.parametrize("text", ["3/2", "0/0", "0/2", "1/0", "x", "1/2/3", ""])
def test_a_bad_shard_is_one_message_and_nothing_is_written(tmp_path: Path, text: str) -> None:
    run_dir = tmp_path / "r"
    done = _trust("generate", "--model", "scripted:echo", *TASKS, "--shard", text, "--run-dir", str(run_dir))
    assert done.code == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"--shard {text}" in done.stderr
    assert not run_dir.exists()
    with pytest.raises(Exception, match="--shard"):
        parse_shard(text)


def test_identical_entries_are_kept_once(tmp_path: Path) -> None:
    first = _shards(tmp_path / "a", 2)
    again = tmp_path / "again"
    assert _trust("merge", str(first[0]), "--into", str(again)).code == 0
    merged = tmp_path / "merged"
    done = _trust("merge", str(first[0]), str(again), str(first[1]), "--into", str(merged))
    assert done.code == 0, done.stderr
    assert f"{len(_responses(first[0]))} found in more than one store, kept once" in done.stdout


def test_conflicting_texts_are_reported_and_nothing_is_written(tmp_path: Path) -> None:
    first, second = _shards(tmp_path / "a", 2)
    copy = tmp_path / "copy"
    assert _trust("merge", str(first), "--into", str(copy)).code == 0
    with contextlib.closing(sqlite3.connect(copy / "store.sqlite")) as db:
        key = db.execute("SELECT key FROM responses LIMIT 1").fetchone()[0]
        db.execute("UPDATE responses SET text = 'something else' WHERE key = ?", (key,))
        db.commit()
    merged = tmp_path / "merged"
    done = _trust("merge", str(first), str(copy), str(second), "--into", str(merged))
    assert done.code == 2 and "Traceback" not in done.stderr, done.stderr
    assert "answer 1 key(s) differently, nothing was merged" in done.stderr and key[:16] in done.stderr
    assert "two different texts" in done.stderr
    assert not merged.exists()


def test_shards_of_different_runs_are_refused(tmp_path: Path) -> None:
    ours = _shards(tmp_path / "a", 2)
    other_seed = _shards(tmp_path / "b", 2, "--seed", "7")
    done = _trust("merge", str(ours[0]), str(other_seed[1]), "--into", str(tmp_path / "m"))
    assert done.code == 2 and "are shards of different runs (seed 42 and 7)" in done.stderr, done.stderr
    other_split = _shards(tmp_path / "c", 3)
    done = _trust("merge", str(ours[0]), str(other_split[1]), "--into", str(tmp_path / "m"))
    assert done.code == 2 and "are shards of different runs (split into 2 and 3 shards)" in done.stderr, done.stderr
    done = _trust("merge", str(ours[0]), str(ours[0]), "--into", str(tmp_path / "m"))
    assert done.code == 2 and "named twice" in done.stderr
    assert not (tmp_path / "m").exists()


def test_stores_of_different_task_versions_are_refused(tmp_path: Path) -> None:
    first, second = _shards(tmp_path / "a", 2)
    with contextlib.closing(sqlite3.connect(second / "store.sqlite")) as db:
        db.execute("UPDATE responses SET task_version = '99'")
        db.execute("DELETE FROM meta WHERE key = 'shard_plan'")
        db.commit()
    done = _trust("merge", str(first), str(second), "--into", str(tmp_path / "m"))
    assert done.code == 2 and "the stores are of different task versions" in done.stderr, done.stderr
    assert not (tmp_path / "m").exists()


def test_merge_refuses_a_missing_store_and_an_occupied_target(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    done = _trust("merge", str(tmp_path / "empty"), "--into", str(tmp_path / "m"))
    assert done.code == 2 and "no run store here" in done.stderr
    first, _ = _shards(tmp_path / "a", 2)
    before = (first / "store.sqlite").read_bytes()
    done = _trust("merge", str(first), "--into", str(first))
    assert done.code == 2 and "is one of the stores to merge" in done.stderr
    occupied = tmp_path / "occupied"
    assert _trust("merge", str(first), "--into", str(occupied)).code == 0
    done = _trust("merge", str(first), "--into", str(occupied))
    assert done.code == 2 and "already holds a run store" in done.stderr
    assert (first / "store.sqlite").read_bytes() == before


def test_a_missing_shard_is_named_in_a_warning(tmp_path: Path) -> None:
    shards = _shards(tmp_path, 3)
    done = _trust("merge", str(shards[0]), str(shards[2]), "--into", str(tmp_path / "m"))
    assert done.code == 0 and "warning: shard(s) 2 of this run are not among the inputs" in done.stderr


def test_a_shard_directory_takes_only_its_own_shard(tmp_path: Path) -> None:
    (first,) = _shards(tmp_path, 1)
    again = _trust("generate", "--model", "scripted:echo", *TASKS, "--shard", "1/1", "--run-dir", str(first))
    assert again.code == 0 and "3 already stored" not in again.stderr  # resumes: everything is stored
    other = _trust("generate", "--model", "scripted:echo", *TASKS, "--shard", "1/2", "--run-dir", str(first))
    assert other.code == 2 and "holds shard 1/1 of this run; each shard goes into a run directory" in other.stderr
