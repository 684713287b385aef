"""The run directory's lifecycle: one trust command at a time, and a store that is never lost.

:func:`opened_store` is how a command gets its store, once everything that can fail before work has passed:

* **Lock.** The command takes an exclusive advisory lock (``fcntl.flock``) on ``RUN_DIR/trust.lock``; a second
  command on the same run directory exits 2 at once, naming the lock, instead of generating (or judging) the
  same items again. The kernel drops the lock when its process ends, however it ends, so a killed run never
  blocks the next one; the lock file is removed when the command finishes. Without ``fcntl`` (Windows) no lock
  is taken: run one command per run directory at a time there.
* **Restart.** ``--restart`` moves the store aside (``RUN_DIR/previous-store/``) and opens a new one; the old
  store is deleted once the new run has begun (its first response, verdict or embedding is committed, or the
  command finished). A run that fails before that puts the old store back.
* **Recovery.** A command killed in the middle of a restart leaves the state on disk; the next command on the
  run directory completes it (see :func:`recover_interrupted_restart`) before it opens the store.
* **Nothing left behind.** A command that fails before doing any work removes the store it created, the lock
  file, and the run directory if it created it and it is empty again.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from trust_core.errors import UserError
from trust_core.store import STORE_FILE, STORE_FILES, Store, StoreError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks (documented in docs/user-guide.md)
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = "trust.lock"
PREVIOUS_STORE = "previous-store"
"""A restart's old store, complete, until the new run has begun."""
MOVING_BACK = "previous-store.partial"
"""Store files on their way between the run directory and ``previous-store`` (a move that may be cut short)."""
DISCARDED = "previous-store.discard"
"""A restart's old store being deleted."""


class RunDirBusyError(UserError):
    """Another trust command holds the run directory."""


@contextlib.contextmanager
def opened_store(run_dir: Path, *, restart: bool = False, create: bool = True) -> Iterator[Store]:
    """The store of ``run_dir``, opened under the run directory's lock (see the module docstring).

    ``restart`` sets the existing store aside first; ``create=False`` refuses a run directory without a store
    (``evaluate`` scores responses that must already be there).
    """
    created_dir = not run_dir.exists()
    try:
        with _locked(run_dir):
            recover_interrupted_restart(run_dir)
            if not create and not restart and not (run_dir / STORE_FILE).exists():
                raise UserError(
                    f"the responses to score are not in the store of this run directory ({run_dir / STORE_FILE} "
                    "does not exist); run `trust generate` (or `trust run`) with the same options first"
                )
            with _store_session(run_dir, restart) as store:
                yield store
    finally:
        if created_dir:
            with contextlib.suppress(OSError):
                run_dir.rmdir()  # only if nothing was left in it


@contextlib.contextmanager
def _store_session(run_dir: Path, restart: bool) -> Iterator[Store]:
    """Open the store (setting the old one aside on ``restart``); on a failure before any work, undo both."""
    previous = _set_aside(run_dir) if restart else None
    made_store = not any((run_dir / name).exists() for name in STORE_FILES)
    try:
        store = Store.in_run_dir(run_dir)
    except BaseException:
        _undo(run_dir, previous, made_store)
        raise
    if previous is not None:
        store.on_first_write = lambda: _discard(previous)  # the new run has begun
    try:
        yield store
    except BaseException:
        with contextlib.suppress(StoreError):
            store.close()
        if not store.wrote:
            _undo(run_dir, previous, made_store)
        raise
    store.close()
    if previous is not None and previous.exists():
        _discard(previous)  # finished without writing anything: it has begun, and ended, all the same


def _undo(run_dir: Path, previous: Path | None, made_store: bool) -> None:
    """Put the run directory back as it was: remove the store this command made, move the old one back."""
    if made_store:
        _remove_store_files(run_dir)
    if previous is not None:
        _move_back(_renamed(previous, run_dir / MOVING_BACK), run_dir)


# --------------------------------------------------------------------------- restart


def _set_aside(run_dir: Path) -> Path | None:
    """Move the store and its companions to ``previous-store/``; None when there is no store."""
    present = [run_dir / name for name in STORE_FILES if (run_dir / name).exists()]
    if not present:
        return None
    if (run_dir / STORE_FILE).is_dir():
        raise StoreError(
            run_dir / STORE_FILE,
            "it is a directory, not a store file",
            "move it out of the run directory, or choose another --run-dir (--restart does not delete directories)",
        )
    moving = run_dir / MOVING_BACK
    try:
        moving.mkdir()
        for path in present:
            path.rename(moving / path.name)
    except OSError as exc:
        raise _run_dir_error(run_dir, "cannot set the old store aside", exc) from exc
    return _renamed(moving, run_dir / PREVIOUS_STORE)


def recover_interrupted_restart(run_dir: Path) -> None:
    """Complete what a command killed during a restart left on disk (call with the lock held).

    ``previous-store.discard/`` is deleted. ``previous-store.partial/`` holds store files on their way back
    into the run directory: they are moved there. ``previous-store/`` holds a complete old store: if the
    store now in the run directory holds work, the restart had begun and the old store is deleted; otherwise
    the restart's empty store is removed and the old one moved back.
    """
    if (run_dir / DISCARDED).exists():
        _delete_tree(run_dir / DISCARDED, run_dir)
    if (run_dir / MOVING_BACK).exists():
        _move_back(run_dir / MOVING_BACK, run_dir)
    previous = run_dir / PREVIOUS_STORE
    if previous.exists():
        if Store.holds_work(run_dir / STORE_FILE):
            _discard(previous)
        else:
            _undo(run_dir, previous, made_store=True)


def _discard(previous: Path) -> None:
    """Delete a restart's old store: renamed first, so that a cut-short deletion is never taken for a store."""
    run_dir = previous.parent
    _delete_tree(_renamed(previous, run_dir / DISCARDED), run_dir)


def _move_back(folder: Path, run_dir: Path) -> None:
    try:
        for path in sorted(folder.iterdir()):
            path.rename(run_dir / path.name)
        folder.rmdir()
    except OSError as exc:
        raise _run_dir_error(run_dir, f"cannot move the old store back from {folder}", exc) from exc


def _remove_store_files(run_dir: Path) -> None:
    try:
        for name in STORE_FILES:  # the store first: a cut-short removal never leaves a store without its log
            (run_dir / name).unlink(missing_ok=True)
    except OSError as exc:
        raise _run_dir_error(run_dir, "cannot remove the new store", exc) from exc


def _renamed(source: Path, target: Path) -> Path:
    try:
        source.rename(target)
    except OSError as exc:
        raise _run_dir_error(source.parent, f"cannot rename {source.name} to {target.name}", exc) from exc
    return target


def _delete_tree(folder: Path, run_dir: Path) -> None:
    try:
        shutil.rmtree(folder)
    except OSError as exc:
        raise _run_dir_error(run_dir, f"cannot delete the old store in {folder}", exc) from exc


def _run_dir_error(run_dir: Path, problem: str, exc: OSError) -> UserError:
    return UserError(
        f"run directory {run_dir}: {problem} ({exc.strerror or exc}); make it writable (and free space), "
        "then run the same command again"
    )


# --------------------------------------------------------------------------- lock


def locked_run_dir(run_dir: Path) -> contextlib.AbstractContextManager[None]:
    """Hold ``run_dir``'s lock (creating the folder) without opening its store: for commands that write the
    store file themselves (``trust merge``); :class:`RunDirBusyError` when another command holds it."""
    return _locked(run_dir)


@contextlib.contextmanager
def _locked(run_dir: Path) -> Iterator[None]:
    """Hold the run directory's lock (a no-op without ``fcntl``)."""
    if fcntl is None:
        yield
        return
    path = run_dir / LOCK_FILE
    descriptor = _acquire(run_dir, path)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # still ours: a process that opened it meanwhile sees another file and retries
        os.close(descriptor)


def _acquire(run_dir: Path, path: Path) -> int:
    """An open descriptor of ``path`` with the exclusive lock on it, or :class:`RunDirBusyError`."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _run_dir_error(run_dir, "cannot create it", exc) from exc
    while True:
        descriptor = _open_lock_file(run_dir, path)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise RunDirBusyError(
                f"run directory {run_dir} is in use by another trust command (it holds {path}); wait for it to "
                "finish, or choose another --run-dir"
            ) from None
        if _is_current(descriptor, path):
            return descriptor
        os.close(descriptor)  # its holder removed the file when it finished: lock the one there now


def _open_lock_file(run_dir: Path, path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        failure = exc
    if path.is_file():  # a read-only run directory: lock the file that is there
        with contextlib.suppress(OSError):
            return os.open(path, os.O_RDONLY)
    raise UserError(
        f"run directory {run_dir}: cannot create its lock file {LOCK_FILE} ({failure.strerror or failure}), so its "
        f"run store {run_dir / STORE_FILE} cannot be written either; make the directory writable, or choose "
        "another --run-dir"
    ) from failure


def _is_current(descriptor: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(descriptor).st_ino
    except FileNotFoundError:
        return False
