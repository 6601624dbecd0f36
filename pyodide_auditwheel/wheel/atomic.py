"""Writing a file so that it appears complete or not at all, whatever happens to the process.

A repair often replaces the user's wheel in place.  The new archive is written beside it and
renamed over it only once it is complete and checked; until then the original is untouched.
On Linux the new file is created with ``O_TMPFILE``: it has no name while it is written, so
even ``kill -9`` leaves nothing behind; it is linked under a hidden name only for the instant
before the rename.  Elsewhere (or on file systems without ``O_TMPFILE``) a hidden named
temporary file is used and removed on every failure Python can see.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any, BinaryIO

PROC_FD = Path("/proc/self/fd")
# Set to 1, the Linux-only paths (O_TMPFILE here, copy_file_range in zipio) are left out, as
# on macOS: how the tests run the portable paths on Linux.
PORTABLE_IO_ENV = "PYODIDE_AUDITWHEEL_PORTABLE_IO"


def portable_io() -> bool:
    return os.environ.get(PORTABLE_IO_ENV) == "1"


@contextlib.contextmanager
def atomic_output(target: Path, mode: int, *, durable: bool) -> Iterator[BinaryIO]:
    """A file to write ``target``'s new content into; it replaces ``target`` when the block
    ends normally, and vanishes when it raises.

    ``durable`` flushes the data to disk before the rename (and the rename after it), so that
    a power cut cannot leave an empty file where a user's file was.
    """
    # SIGTERM becomes an exception from before the file exists until after the rename, so
    # that the cleanup below runs whenever it arrives; while a name is being made and
    # remembered it waits, so that no name is made that the cleanup does not know of.
    with _terminate_as_exception() as termination:
        directory = target.parent
        temp: Path | None = None
        handle: BinaryIO | None = None
        try:
            with termination.deferred():
                fd = _anonymous_file(directory)
                if fd is None:
                    fd, temp_name = tempfile.mkstemp(dir=directory, prefix=_hidden_prefix(target.name), suffix=".tmp")
                    temp = Path(temp_name)
                handle = os.fdopen(fd, "w+b")
            with handle:
                yield handle
                handle.flush()
                if durable:
                    os.fsync(handle.fileno())
                os.fchmod(handle.fileno(), mode)
                if temp is None:
                    with termination.deferred():
                        temp = _give_name(handle.fileno(), directory, target.name)
            with termination.deferred():
                os.replace(temp, target)
                temp = None
            if durable:
                _fsync_directory(directory)
        finally:
            if temp is not None:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()


# A file name may hold 255 bytes; a temporary name adds a dot, a random part and ".tmp".
TEMP_STEM_BYTES = 200


def _hidden_prefix(target_name: str) -> str:
    """The start of a temporary name beside ``target_name``: hidden, recognisably its, and
    short enough that the whole name fits a file system's limit even when the target's own
    name is 253 bytes long."""
    stem = target_name.encode()[:TEMP_STEM_BYTES].decode("utf-8", "ignore")
    return f".{stem}."


def _anonymous_file(directory: Path) -> int | None:
    """An unnamed file in ``directory`` (Linux ``O_TMPFILE``), or None where that is not
    available and a named temporary file must do."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not PROC_FD.is_dir() or portable_io():
        return None
    try:
        return os.open(directory, flag | os.O_RDWR, 0o600)
    except OSError as error:
        if error.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            return None
        raise


def _give_name(fd: int, directory: Path, target_name: str) -> Path:
    """Link an ``O_TMPFILE`` file into ``directory`` under a fresh hidden name (through
    ``/proc/self/fd``, the one way to name such a file without privileges).  Should the link
    be refused, the content is copied into a named temporary file instead."""
    proc = os.open(PROC_FD, os.O_RDONLY | os.O_DIRECTORY)
    try:
        while True:
            temp = directory / f"{_hidden_prefix(target_name)}{secrets.token_hex(6)}.tmp"
            try:
                os.link(str(fd), temp, src_dir_fd=proc, follow_symlinks=True)
                return temp
            except FileExistsError:
                continue
            except OSError:
                return _copy_to_named(fd, directory, target_name)
    finally:
        os.close(proc)


def _copy_to_named(fd: int, directory: Path, target_name: str) -> Path:
    out, temp_name = tempfile.mkstemp(dir=directory, prefix=_hidden_prefix(target_name), suffix=".tmp")
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        while chunk := os.read(fd, 1 << 20):
            os.write(out, chunk)
        os.fchmod(out, os.fstat(fd).st_mode & 0o7777)
    except BaseException:
        os.unlink(temp_name)
        raise
    finally:
        os.close(out)
    return Path(temp_name)


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def make_directories(directory: Path) -> list[Path]:
    """Create ``directory`` and its missing parents; the ones created, deepest first, so that a
    failed write can take them away again (:func:`remove_directories`)."""
    missing: list[Path] = []
    current = directory
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        # The error names the directory it could not make; the user needs the one that refused.
        if missing:
            error.strerror = f"cannot make {missing[-1].name} in {current}: {error.strerror}"
            error.filename = None
        raise
    return missing


def remove_directories(created: list[Path]) -> None:
    """Remove directories :func:`make_directories` created, where they are still empty."""
    for directory in created:
        with contextlib.suppress(OSError):
            directory.rmdir()


class _Termination:
    """A terminating signal as SystemExit, or, inside :meth:`deferred`, as soon as the block
    ends."""

    def __init__(self) -> None:
        self.deferring = False
        self.pending: int | None = None

    def handler(self, signum: int, frame: FrameType | None) -> None:
        if self.deferring:
            self.pending = signum
            return
        raise SystemExit(128 + signum)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False
            if self.pending is not None:
                raise SystemExit(128 + self.pending)


# The signals whose default action ends the process, and which may be caught: each becomes
# SystemExit while a file is written, so that its temporary file is removed (SIGINT already
# raises KeyboardInterrupt; SIGKILL cannot be caught).
TERMINATING_SIGNALS = tuple(
    getattr(signal, name)
    for name in ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM")
    if hasattr(signal, name)
)


@contextlib.contextmanager
def _terminate_as_exception() -> Iterator[_Termination]:
    """Turn the terminating signals into SystemExit while writing, so that the cleanup above
    runs; a signal some other code handles (its handler is not the default) is left to it."""
    termination = _Termination()
    previous: dict[int, Any] = {}
    try:
        for signum in TERMINATING_SIGNALS:
            if signal.getsignal(signum) == signal.SIG_DFL:
                previous[signum] = signal.signal(signum, termination.handler)
    except ValueError:  # not in the main thread
        yield termination
        return
    try:
        yield termination
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the system says, else all)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
