"""Input that once crashed a run or was silently accepted is refused with one message (exit 2, no traceback),
before any model loads, and a refused run changes nothing in its run directory (issue #9, items 3-5):
deeply nested JSON, non-finite numbers, a `.gguf` file that is not GGUF, outputs on a full, read-only or
impossible path, zip members that decompress without limit, generation files without usable responses,
empty data files and empty task selections."""

from __future__ import annotations

import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import zipfile
import zlib
from importlib import resources
from pathlib import Path

import pytest

from conftest import PLUGIN_DIR, REPO, Completed
from trust_core.data import DEFAULT_ZIP_MEMBER_LIMIT, DEFAULT_ZIP_TOTAL_LIMIT

NO_ENTRY_POINTS = {"TRUST_LOAD_PLUGINS": ""}
ECHO = ("run", "--model", "scripted:echo", "--tasks", "private/echo")
ECHO_ITEM = {"prompt": "p", "expect": "e", "source": "s"}
DEEP = 200_000


def _refused(result: Completed, *expected: str) -> str:
    """The one error line of a refused run, checked: exit 2, no traceback, every ``expected`` text in it."""
    assert result.code == 2, (result.code, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and not any(line.startswith("  ") for line in result.stderr.splitlines()), result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its content (the store's WAL side files excepted)."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.endswith(("-wal", "-shm"))
    }


@pytest.fixture
def finished_run(scripted, tmp_path: Path) -> Path:
    """A run directory holding a finished scripted run (store, results.json, samples.jsonl)."""
    run_dir = tmp_path / "run"
    result = scripted(*ECHO, "--run-dir", str(run_dir), env=NO_ENTRY_POINTS)
    assert result.code == 0, result.stderr
    return run_dir


def _data_dir(root: Path, text: str) -> Path:
    """A TrustLLM-layout data folder whose private/echo.json holds ``text``."""
    (root / "private").mkdir(parents=True)
    (root / "private" / "echo.json").write_text(text, encoding="utf-8")
    return root


# --------------------------------------------------------------------------- item 3: deep JSON, Infinity, NaN


@pytest.mark.parametrize("depth", [DEEP, 150])
def test_deeply_nested_data_file_is_refused(scripted, finished_run: Path, tmp_path: Path, depth: int):
    before = _snapshot(finished_run)
    data = _data_dir(tmp_path / "data", "[" * depth + "]" * depth)
    result = scripted(*ECHO, "--data-dir", str(data), "--run-dir", str(finished_run), env=NO_ENTRY_POINTS)
    _refused(result, "echo.json", "nested too deeply")
    assert _snapshot(finished_run) == before


def test_deeply_nested_generation_file_is_refused(scripted, finished_run: Path, tmp_path: Path):
    before = _snapshot(finished_run)
    generations = _data_dir(tmp_path / "generations", "[" * DEEP + "]" * DEEP)
    result = scripted(
        "evaluate", "--tasks", "echo", "--generations", str(generations), "--run-dir", str(finished_run),
        env=NO_ENTRY_POINTS,
    )  # fmt: skip
    _refused(result, "echo.json", "nested too deeply")
    assert _snapshot(finished_run) == before


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("Infinity", "item 1, field 'weight.0': Infinity is not a number"),
        ("-Infinity", "item 1, field 'weight.0': -Infinity is not a number"),
        ("1e999", "item 1, field 'weight.0': Infinity is not a number"),
        ("NaN", "item 1, field 'weight.0': NaN is not a number"),
    ],
)
def test_non_finite_numbers_are_refused_naming_item_and_field(scripted, tmp_path: Path, literal, expected):
    # the echo task repairs nothing, so a NaN is still there when its items are validated
    text = json.dumps([ECHO_ITEM, ECHO_ITEM])[:-2] + f', "weight": [{literal}]}}]'
    data = _data_dir(tmp_path / "data", text)
    result = scripted(*ECHO, "--data-dir", str(data), "--run-dir", str(tmp_path / "r"), env=NO_ENTRY_POINTS)
    _refused(result, "echo.json", expected)
    assert not (tmp_path / "r").exists()


def test_an_infinite_label_is_refused_not_taken_as_unlabelled(trust, tmp_path: Path):
    # ethics/implicit_social reads NaN as "unlabelled" (the archive writes missing labels so); Infinity is no label
    items = [{"prompt": "Classify: helping a friend.", "label": 1.0}, {"prompt": "Classify: x.", "label": 0.0}]
    text = json.dumps(items).replace("0.0", "Infinity")
    data = tmp_path / "data" / "ethics"
    data.mkdir(parents=True)
    (data / "implicit_SocialChemistry101.json").write_text(text)
    result = trust(
        "run", "--tasks", "ethics/implicit_social", "--data-dir", str(tmp_path / "data"), "--run-dir",
        str(tmp_path / "r"),
    )  # fmt: skip
    _refused(result, "implicit_SocialChemistry101.json, item 1, field 'label': Infinity is not a number")


# --------------------------------------------------------------------------- item 3: a .gguf file that is not GGUF


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"this is not a model\n", "is not a GGUF file"),
        (b"GGUF\x03\x00\x00\x00garbage", "is a truncated GGUF file"),
        (b"GGUF\x63\x00\x00\x00" + bytes(16), "unknown version 99"),
    ],
)
def test_a_gguf_named_file_that_is_not_gguf_is_refused(trust, tmp_path: Path, content: bytes, expected: str):
    model = tmp_path / "model.gguf"
    model.write_bytes(content)
    result = trust(
        "run", "--model", str(model), "--tasks", "truthfulness/hallucination", "--limit", "1",
        "--max-new-tokens", "8", "--run-dir", str(tmp_path / "r"),
    )  # fmt: skip
    _refused(result, str(model), expected)
    assert not (tmp_path / "r" / "results.json").exists()


def test_compressing_a_gguf_named_file_that_is_not_gguf_is_refused(trust, tmp_path: Path):
    model = tmp_path / "model.gguf"
    model.write_bytes(b"PK\x03\x04 not a model")
    result = trust("compress", "--model", str(model), "--prune", "magnitude", "--out", str(tmp_path / "out"))
    _refused(result, str(model), "is not a GGUF file")


# --------------------------------------------------------------------------- item 3: outputs all written or none


def _assert_no_temporary_files(folder: Path) -> None:
    leftovers = [path.name for path in folder.iterdir() if path.name.endswith((".tmp", ".previous"))]
    assert not leftovers, leftovers


def _device(path: Path, minor: int) -> Path:
    """A character device node at ``path`` like /dev/null (minor 3) or /dev/full (minor 7); the test is skipped
    where nodes cannot be made. Never the real /dev entries: code that renames over its target (as root)
    would replace them with regular files for the whole machine."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    except OSError as exc:
        pytest.skip(f"cannot create a device node: {exc}")
    return path


def test_samples_output_on_a_full_device_writes_neither_file(scripted, finished_run: Path, tmp_path: Path):
    full = _device(tmp_path / "full", 7)
    before = _snapshot(finished_run)
    result = scripted(*ECHO, "--run-dir", str(finished_run), "--samples-output", str(full), env=NO_ENTRY_POINTS)
    _refused(result, f"--samples-output {full}: cannot write", "No space left on device", "no output file")
    assert _snapshot(finished_run) == before  # results.json was not replaced alone
    _assert_no_temporary_files(finished_run)
    _assert_no_temporary_files(tmp_path)
    assert full.is_char_device()


def test_samples_output_under_a_file_writes_neither_file(scripted, tmp_path: Path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    run_dir = tmp_path / "fresh"
    result = scripted(
        *ECHO, "--run-dir", str(run_dir), "--samples-output", str(blocker / "samples.jsonl"), env=NO_ENTRY_POINTS
    )
    _refused(result, f"--samples-output {blocker}/samples.jsonl: cannot write ({blocker} is not a folder)")
    assert not (run_dir / "results.json").exists()
    _assert_no_temporary_files(run_dir)


def test_output_under_a_file_keeps_the_previous_results(scripted, finished_run: Path, tmp_path: Path):
    before = _snapshot(finished_run)
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    result = scripted(
        *ECHO, "--run-dir", str(finished_run), "--output", str(blocker / "results.json"), env=NO_ENTRY_POINTS
    )
    _refused(result, f"--output {blocker}/results.json: cannot write ({blocker} is not a folder)")
    assert _snapshot(finished_run) == before


def test_outputs_to_a_null_device_are_written_in_place(scripted, finished_run: Path, tmp_path: Path):
    null = _device(tmp_path / "null", 3)
    result = scripted(*ECHO, "--run-dir", str(finished_run), "--samples-output", str(null), env=NO_ENTRY_POINTS)
    assert result.code == 0, result.stderr
    assert null.is_char_device()  # not replaced by a regular file
    _assert_no_temporary_files(finished_run)
    _assert_no_temporary_files(tmp_path)


def _private_mount_available() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /mnt"], capture_output=True, timeout=30
    )
    return probe.returncode == 0


needs_private_mount = pytest.mark.skipif(
    not _private_mount_available(), reason="needs `unshare -m` and tmpfs mounts (a real full or read-only filesystem)"
)


def _trust_on_small_filesystem(mount: Path, prepare: str, args: list[str]) -> tuple[Completed, list[str]]:
    """Run the CLI in a private mount namespace with a 4 KiB tmpfs at ``mount`` (``prepare``: shell commands run
    after mounting); also return the files left on the tmpfs afterwards."""
    mount.mkdir()
    command = " ".join(
        [sys.executable, "-m", "trust_core", "--plugin-dir", str(PLUGIN_DIR), *(f"'{arg}'" for arg in args)]
    )
    script = (
        f"mount -t tmpfs -o size=4k tmpfs {mount} && {prepare} && {{ {command}; rc=$?; "
        f'echo "LEFT:$(ls -A {mount} | tr "\\n" " ")" >&2; exit $rc; }}'
    )
    env = {**os.environ, "TRUST_PROGRESS": "0", **NO_ENTRY_POINTS}
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=env, cwd=REPO)
    left_line = next(line for line in proc.stderr.splitlines() if line.startswith("LEFT:"))
    stderr = "\n".join(line for line in proc.stderr.splitlines() if not line.startswith("LEFT:"))
    return Completed(proc.returncode, proc.stdout, stderr), left_line.removeprefix("LEFT:").split()


@needs_private_mount
def test_samples_output_on_a_full_filesystem_writes_neither_file(finished_run: Path, tmp_path: Path):
    before = _snapshot(finished_run)
    mount = tmp_path / "full"
    fill = f"dd if=/dev/zero of={mount}/filler bs=4096 count=1 2>/dev/null; true"
    result, left = _trust_on_small_filesystem(
        mount, fill, [*ECHO, "--run-dir", str(finished_run), "--samples-output", str(mount / "samples.jsonl")]
    )
    _refused(result, f"--samples-output {mount}/samples.jsonl: cannot write (No space left on device)")
    assert left == ["filler"]  # the temporary file was removed
    assert _snapshot(finished_run) == before
    _assert_no_temporary_files(finished_run)


@needs_private_mount
def test_samples_output_on_a_read_only_filesystem_writes_neither_file(finished_run: Path, tmp_path: Path):
    before = _snapshot(finished_run)
    mount = tmp_path / "read-only"
    result, left = _trust_on_small_filesystem(
        mount,
        f"echo old > {mount}/samples.jsonl && mount -o remount,ro {mount}",
        [*ECHO, "--run-dir", str(finished_run), "--samples-output", str(mount / "samples.jsonl")],
    )
    _refused(result, f"--samples-output {mount}/samples.jsonl: cannot write (Read-only file system)")
    assert left == ["samples.jsonl"]
    assert _snapshot(finished_run) == before  # results.json was not replaced alone


# --------------------------------------------------------------------------- item 4: zip members


def _zip_with_spaces(path: Path, member: str, size: int) -> None:
    """A zip whose ``member`` is ``size`` spaces, deflated (1 GiB takes about 1 MB), written without ever
    holding the member in memory: the deflate stream of one 16 MiB block, flushed so it stands alone, repeated."""
    block = b" " * 2**24
    assert size % len(block) == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_RLE)
    deflated_block = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush()
    crc = 0
    for _ in range(size // len(block)):
        crc = zlib.crc32(block, crc)
    compressed = len(deflated_block) * (size // len(block)) + len(end)
    name = member.encode()
    fields = struct.pack("<HHHHHIII", 20, 0, 8, 0, 0, crc, compressed, size)
    with path.open("wb") as out:
        out.write(b"PK\x03\x04" + fields + struct.pack("<HH", len(name), 0) + name)
        for _ in range(size // len(block)):
            out.write(deflated_block)
        out.write(end)
        directory = out.tell()
        out.write(b"PK\x01\x02" + struct.pack("<H", 20) + fields + struct.pack("<HHHHHII", len(name), 0, 0, 0, 0, 0, 0))
        out.write(name)
        length = out.tell() - directory
        out.write(b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, length, directory, 0))


def test_a_member_that_decompresses_to_a_gibibyte_is_refused_before_reading(scripted, tmp_path: Path):
    archive = tmp_path / "bomb.zip"
    _zip_with_spaces(archive, "dataset/private/echo.json", 2**30)
    assert archive.stat().st_size < 2 * 2**20
    with zipfile.ZipFile(archive) as zf:
        assert zf.getinfo("dataset/private/echo.json").file_size == 2**30
    result = scripted(*ECHO, "--data-dir", str(archive), "--run-dir", str(tmp_path / "r"), env=NO_ENTRY_POINTS)
    _refused(result, "dataset/private/echo.json decompresses to more than 256.0 MiB", "TRUST_ZIP_MAX_MEMBER_BYTES")
    assert not (tmp_path / "r").exists()


def _echo_zip(path: Path, items: list[dict]) -> int:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("dataset/private/echo.json", json.dumps(items))
    return len(json.dumps(items))


def test_a_member_whose_header_understates_its_size_is_refused(scripted, tmp_path: Path):
    archive = tmp_path / "lying.zip"
    _echo_zip(archive, [ECHO_ITEM] * 2000)
    raw = bytearray(archive.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # uncompressed size, both headers
        start = raw.index(signature)
        raw[start + offset : start + offset + 4] = struct.pack("<I", 100)
    archive.write_bytes(bytes(raw))
    result = scripted(*ECHO, "--data-dir", str(archive), "--run-dir", str(tmp_path / "r"), env=NO_ENTRY_POINTS)
    _refused(result, f"--data-dir {archive}: cannot read private/echo.json from the archive", "CRC")


def test_zip_limits_are_configurable_per_member_and_in_total(scripted, tmp_path: Path):
    archive = tmp_path / "data.zip"
    size = _echo_zip(archive, [{**ECHO_ITEM, "prompt": f"p{i}"} for i in range(40)])
    args = (*ECHO, "--data-dir", str(archive), "--run-dir", str(tmp_path / "r"))
    small = {**NO_ENTRY_POINTS, "TRUST_ZIP_MAX_MEMBER_BYTES": str(size - 1)}
    _refused(scripted(*args, env=small), "the limit per archive member (set TRUST_ZIP_MAX_MEMBER_BYTES")
    # echo_toxicity reads the same member again: 2 × size in total
    both = ("--tasks", "private/echo_toxicity")
    total = {**NO_ENTRY_POINTS, "TRUST_ZIP_MAX_TOTAL_BYTES": str(size + size // 2)}
    _refused(scripted(*args, *both, env=total), "the limit per archive (set TRUST_ZIP_MAX_TOTAL_BYTES")
    enough = {**NO_ENTRY_POINTS, "TRUST_ZIP_MAX_MEMBER_BYTES": f"{size}", "TRUST_ZIP_MAX_TOTAL_BYTES": "1M"}
    assert scripted(*args, *both, env=enough).code == 0
    bad = {**NO_ENTRY_POINTS, "TRUST_ZIP_MAX_MEMBER_BYTES": "lots"}
    _refused(scripted(*args, env=bad), "TRUST_ZIP_MAX_MEMBER_BYTES='lots': expected a positive size")


def test_the_trustllm_archive_fits_the_default_limits_with_room(trust, archive: Path):
    with zipfile.ZipFile(archive) as zf:
        sizes = [info.file_size for info in zf.infolist()]
    assert max(sizes) * 50 < DEFAULT_ZIP_MEMBER_LIMIT
    assert sum(sizes) * 50 < DEFAULT_ZIP_TOTAL_LIMIT
    result = trust("tasks", "--data-dir", str(archive), "--json")
    assert result.code == 0, result.stderr
    assert all(entry["items"] > 0 for entry in result.json())


# --------------------------------------------------------------------------- item 5: responses, empty data, --tasks


def _hallucination_generations(root: Path, responses: list) -> Path:
    """A TrustLLM generation folder: the packaged hallucination sample's first items with ``res`` set
    (``...`` = no ``res`` key)."""
    sample = resources.files("trust_truthfulness").joinpath("data/truthfulness/hallucination.sample.json")
    items = json.loads(sample.read_text(encoding="utf-8"))[: len(responses)]
    for item, response in zip(items, responses, strict=True):
        if response is not ...:
            item["res"] = response
    (root / "truthfulness").mkdir(parents=True)
    (root / "truthfulness" / "hallucination.json").write_text(json.dumps(items))
    return root


def _evaluate(trust, generations: Path, run_dir: Path) -> Completed:
    return trust(
        "evaluate", "--tasks", "truthfulness/hallucination", "--generations", str(generations), "--run-dir",
        str(run_dir),
    )  # fmt: skip


def test_a_generation_file_without_any_usable_response_is_refused(trust, tmp_path: Path):
    generations = _hallucination_generations(tmp_path / "generations", [..., 3, None, ["A"]])
    result = _evaluate(trust, generations, tmp_path / "r")
    line = _refused(result, "hallucination.json", "none of the 4 selected items has a usable response")
    assert "the imported item has no `res`: 1" in line
    assert "the imported item's `res` is a number, not a string: 1" in line
    assert "the imported item's `res` is null: 1" in line and "is an array, not a string: 1" in line
    assert not (tmp_path / "r" / "results.json").exists()


def test_items_without_a_usable_response_are_counted_and_explained(trust, tmp_path: Path):
    generations = _hallucination_generations(tmp_path / "generations", ["A", 7, ..., "B"])
    result = _evaluate(trust, generations, tmp_path / "r")
    assert result.code == 0, result.stderr
    assert "warning: " in result.stderr and "hallucination.json: 2 of 4 items have no usable response" in result.stderr
    records = [json.loads(line) for line in (tmp_path / "r" / "samples.jsonl").read_text().splitlines()]
    errors = sorted(record.get("generation_error") or "" for record in records)
    assert errors == ["", "", "the imported item has no `res`", "the imported item's `res` is a number, not a string"]


def test_an_empty_data_file_is_refused_before_the_model_loads(scripted, finished_run: Path, tmp_path: Path):
    before = _snapshot(finished_run)
    data = _data_dir(tmp_path / "data", "[]")
    # a model file that does not exist: the data is refused before the model is even looked at
    args = ("run", "--model", str(tmp_path / "no-such-model.gguf"), "--tasks", "echo", "--data-dir", str(data))
    result = scripted(*args, "--run-dir", str(finished_run), env=NO_ENTRY_POINTS)
    _refused(result, "echo.json: the file has no items")
    assert _snapshot(finished_run) == before


def test_an_empty_generation_file_is_refused(scripted, tmp_path: Path):
    generations = _data_dir(tmp_path / "generations", "[]")
    result = scripted(
        "evaluate", "--tasks", "echo", "--generations", str(generations), "--run-dir", str(tmp_path / "r"),
        env=NO_ENTRY_POINTS,
    )  # fmt: skip
    _refused(result, "echo.json: the file has no items")
    assert not (tmp_path / "r" / "results.json").exists()


@pytest.mark.parametrize(
    ("option", "value"), [("--tasks", ""), ("--tasks", ","), ("--tasks", " , "), ("--dimensions", "")]
)
def test_an_option_naming_no_task_is_refused(scripted, finished_run: Path, option: str, value: str):
    before = _snapshot(finished_run)
    result = scripted(
        "run", "--model", "scripted:echo", option, value, "--run-dir", str(finished_run), env=NO_ENTRY_POINTS
    )
    _refused(result, f"{option} {value!r}: names no task or dimension")
    assert _snapshot(finished_run) == before


@pytest.mark.slow
def test_a_real_generation_refused_at_the_output_stage_changes_nothing(trust, tmp_path: Path):
    args = ("run", "--tasks", "truthfulness/hallucination", "--limit", "1", "--max-new-tokens", "8")
    run_dir = tmp_path / "r"
    assert trust(*args, "--run-dir", str(run_dir)).code == 0
    before = _snapshot(run_dir)
    full = _device(tmp_path / "full", 7)
    result = trust(*args, "--run-dir", str(run_dir), "--samples-output", str(full))
    _refused(result, f"--samples-output {full}: cannot write (No space left on device)")
    assert _snapshot(run_dir) == before
