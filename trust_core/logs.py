"""Third-party output kept off the screen: what libraries print goes to ``RUN_DIR/trust.log``.

A trust command's standard output carries its own output only (the results table, JSON, paths); standard
error carries its own messages and progress bars. What the libraries it drives emit — their logging, Python
warnings, progress bars and prints, at the Python level and from C/C++ code — is appended to the run
directory's ``trust.log`` instead, and a command that fails names that file (when anything was written to it)
so that no library's explanation of an error is lost.

* :func:`command_log` is entered once per command (``run``, ``generate``, ``evaluate``, ``judge-check``): it
  routes the ``logging`` module and :mod:`warnings` to the log and turns the Hugging Face progress bars off.
* :func:`library_output` is entered around each call into library code that may print (loading a model,
  generating, judging, embedding, quantizing): inside it file descriptors 1 and 2 and ``sys.stdout`` /
  ``sys.stderr`` point at the log. Progress bars made by :func:`trust_core.progress.progress` keep writing to
  the terminal meanwhile (:data:`terminal_stderr`). Outside a command it changes nothing.

The log file (and the run directory) is created when library code first runs; a command that leaves nothing in
it takes it back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

LOG_FILE = "trust.log"

LOG_PREAMBLE = (
    "# Messages of third-party libraries (logging, warnings, progress bars, prints) during trust commands.\n"
    "# trust's own output is on the terminal. Advice printed here (for example 'pip install kernels') is the\n"
    "# library's own and is not needed by trust unless a trust error message says so.\n"
)

QUIET_ENVIRONMENT = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # huggingface_hub's and transformers' bars ("Loading weights", downloads)
    "TQDM_DISABLE": "1",  # bars of libraries calling tqdm directly ("Converting and de-quantizing GGUF tensors")
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TOKENIZERS_PARALLELISM": "false",  # the tokenizers fork warning
}
"""Environment defaults set for the duration of a command (a value the user set is kept). trust's own bars pass
``disable`` explicitly, so ``TQDM_DISABLE`` does not touch them."""


class CommandLog:
    """``trust.log`` of one command: opened (append, with a header naming the command) when library output may
    start; a header with nothing after it is taken back when the command ends, so a quiet command leaves no log."""

    def __init__(self, path: Path, command: str) -> None:
        self.path = path
        self.command = command
        self._file: IO[bytes] | None = None
        self._made_folder = False
        self._size_before = 0
        self._size_after_header = 0
        self.closed = False

    @property
    def written(self) -> bool:
        """Whether anything was written to the log by this command (or, appending, by another at the same time)."""
        return self._file is not None and os.fstat(self._file.fileno()).st_size > self._size_after_header

    def binary(self) -> IO[bytes] | None:
        """The open log file (created with its folder on first use); a file in the temporary folder when the run
        directory cannot take it (the command then fails, or not, on its own terms); None when neither can."""
        if self._file is None:
            self._file = self._open(self.path) or self._open_temporary()
            if self._file is None:
                return None
            self._size_before = os.fstat(self._file.fileno()).st_size
            started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
            preamble = LOG_PREAMBLE if self._size_before == 0 else ""
            self._file.write(f"{preamble}\n==== trust {self.command}, {started}, pid {os.getpid()}\n".encode())
            self._size_after_header = os.fstat(self._file.fileno()).st_size
        return self._file

    def _open(self, path: Path) -> IO[bytes] | None:
        made_folder = not path.parent.exists()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            opened = path.open("ab", buffering=0)
        except OSError:
            if made_folder:
                with contextlib.suppress(OSError):
                    path.parent.rmdir()
            return None
        self.path, self._made_folder = path, made_folder
        return opened

    def _open_temporary(self) -> IO[bytes] | None:
        try:
            handle, name = tempfile.mkstemp(prefix="trust-", suffix=".log")
        except OSError:
            return None
        self.path, self._made_folder = Path(name), False
        return os.fdopen(handle, "ab", buffering=0)

    def write(self, text: str) -> None:
        """Append ``text`` (nothing once the command has ended)."""
        target = self.binary() if not self.closed and text else None
        if target is not None:
            target.write(text.encode("utf-8", errors="replace"))

    def close(self) -> None:
        """End the command's log, taking back a header nothing followed; later writes (a library thread still
        running) are dropped."""
        self.closed = True
        if self._file is None:
            return
        quiet = os.fstat(self._file.fileno()).st_size == self._size_after_header
        if quiet:
            os.ftruncate(self._file.fileno(), self._size_before)
        self._file.close()
        if quiet and self._size_before == 0:
            self.path.unlink(missing_ok=True)
            if self._made_folder:
                with contextlib.suppress(OSError):
                    self.path.parent.rmdir()  # only if nothing else was left in it


class _LogWriter(io.TextIOBase):
    """A text stream onto a :class:`CommandLog`: what ``sys.stdout`` / ``sys.stderr`` are inside
    :func:`library_output` (libraries may keep a reference to it past the command: writes are then dropped)."""

    def __init__(self, log: CommandLog) -> None:
        self._log = log

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._log.write(text)
        return len(text)

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        target = None if self._log.closed else self._log.binary()
        if target is None:
            raise io.UnsupportedOperation("the command's log is closed")
        return target.fileno()


class _LogHandler(logging.Handler):
    """Every ``logging`` record (and, through ``logging.captureWarnings``, every Python warning) of a command."""

    def __init__(self, log: CommandLog) -> None:
        super().__init__(logging.DEBUG)
        self._log = log
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._log.write(self.format(record) + "\n")
        except Exception:  # a log that cannot be written must not break the command
            self.handleError(record)


class _State:
    """The command's log and, inside :func:`library_output`, where the terminal's standard error went."""

    log: CommandLog | None = None
    depth = 0
    terminal: Any = None


_state = _State()


class _TerminalStderr:
    """Standard error as the terminal sees it, also inside :func:`library_output` (for trust's progress bars)."""

    def _stream(self) -> Any:
        return _state.terminal or sys.stderr

    def write(self, text: str) -> int:
        return int(self._stream().write(text) or 0)

    def flush(self) -> None:
        self._stream().flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream(), name)


terminal_stderr = _TerminalStderr()
"""Where trust's progress bars write: ``sys.stderr``, or the terminal behind it while library output is
redirected."""


def log_path(run_dir: Path) -> Path:
    """The log file of ``run_dir``."""
    return run_dir / LOG_FILE


@contextlib.contextmanager
def command_log(run_dir: Path, command: str) -> Iterator[CommandLog]:
    """Route library logging and warnings to ``RUN_DIR/trust.log`` for one command (see the module docstring).

    When the command fails and the log holds something, its path is printed on standard error.
    """
    if _state.log is not None:  # a command inside a command (an API user's nesting): one log
        yield _state.log
        return
    log = CommandLog(log_path(run_dir), command)
    previous_env = {name: os.environ.get(name) for name in QUIET_ENVIRONMENT}
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    handler = _LogHandler(log)
    root = logging.getLogger()
    root_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    _adopt_library_logging()
    _state.log = log
    try:
        yield log
    except BaseException:
        if log.written:
            _tell(f"messages of third-party libraries during this command: {log.path}")
        raise
    finally:
        _state.log = None
        logging.captureWarnings(False)
        root.removeHandler(handler)
        root.setLevel(root_level)
        log.close()
        for variable, previous in previous_env.items():
            if previous is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = previous


@contextlib.contextmanager
def library_output() -> Iterator[None]:
    """Send what library code prints while inside this block to the command's log (see the module docstring).

    Both levels are redirected: ``sys.stdout``/``sys.stderr`` (Python's ``print``, tqdm, logging handlers) and
    file descriptors 1 and 2 (C and C++ code). Outside a command, or nested, it does nothing.
    """
    log = _state.log
    target = log.binary() if log is not None and _state.depth == 0 else None
    if log is None or target is None:
        yield
        return
    _state.depth += 1
    writer = _LogWriter(log)
    original_stderr = sys.stderr
    _flush_all()
    saved = _redirect_descriptors(target.fileno())
    terminal = _terminal_stream(original_stderr, saved.get(2))
    _state.terminal = terminal
    try:
        with contextlib.redirect_stdout(writer), contextlib.redirect_stderr(writer):
            yield
    finally:
        _flush_all()
        _state.terminal = None
        if terminal is not original_stderr:
            terminal.close()  # the wrapper only: its descriptor is restored below
        for fd, duplicate in saved.items():
            os.dup2(duplicate, fd)
            os.close(duplicate)
        _state.depth -= 1
        _adopt_library_logging()


def _redirect_descriptors(target: int) -> dict[int, int]:
    """Point fds 1 and 2 at ``target``; return the duplicates of the originals (an fd that is closed is skipped)."""
    saved: dict[int, int] = {}
    for fd in (1, 2):
        try:
            saved[fd] = os.dup(fd)
        except OSError:
            continue
        os.dup2(target, fd)
    return saved


def _terminal_stream(original: Any, saved_stderr: int | None) -> Any:
    """What writes to the terminal's standard error while fd 2 points at the log: a stream on the saved
    descriptor when ``original`` wrote to fd 2; ``original`` itself when it wrote elsewhere (a test's capture)."""
    try:
        writes_to_fd2 = original.fileno() == 2
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        writes_to_fd2 = False
    if writes_to_fd2 and saved_stderr is not None:
        encoding = getattr(original, "encoding", None) or "utf-8"
        return open(saved_stderr, "w", encoding=encoding, errors="replace", closefd=False, buffering=1)
    return original


def _flush_all() -> None:
    """Flush Python's standard streams and C's stdio buffers, so output lands where it was written."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if _state.terminal is not None:
        with contextlib.suppress(Exception):
            _state.terminal.flush()
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).fflush(None)


def _adopt_library_logging() -> None:
    """Libraries that print their logs and bars by themselves, once imported: route their logs through
    ``logging`` (hence to the log) and turn their progress bars off."""
    if "huggingface_hub" in sys.modules:
        with contextlib.suppress(Exception):
            from huggingface_hub.utils import disable_progress_bars  # type: ignore[attr-defined]  # public, not re-exported

            disable_progress_bars()
    if "transformers" in sys.modules:
        with contextlib.suppress(Exception):
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # untyped in transformers
            transformers_logging.disable_default_handler()
            transformers_logging.enable_propagation()


def _tell(message: str) -> None:
    import click

    click.echo(message, err=True)
