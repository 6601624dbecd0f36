"""Reading what a build environment offers, with bounds.

A ``.pc`` file, an Emscripten config file and the output of an ``em-config`` are written by
whoever set up the machine, not by us: any of them may be huge, a FIFO, or (a program) may
flood, hang, or leave a child holding its output.  Each is read here within a size and a
time limit; the caller turns an exceeded limit into a note, never a traceback or a stall.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess

# After a program exits, how long a pipe still held open (by a child it left running) is read.
EXIT_GRACE = 0.2


def read_small_file(path: Path, limit: int) -> bytes | None:
    """Up to ``limit + 1`` bytes of a regular file (opened without blocking, so a FIFO named
    ``x.pc`` is not waited on); None for anything else or an unreadable file.  The extra byte
    lets the caller tell a file of exactly ``limit`` bytes from a larger one."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(limit + 1)
    except OSError:
        return None
    finally:
        os.close(fd)


def bounded_output(
    command: Sequence[str], *, timeout: float, limit: int, lap: bytes = b""
) -> tuple[bytes, int | None, str]:
    """(stdout, exit status, problem) of ``command`` run with no input: at most ``limit``
    bytes, for at most ``timeout`` seconds, and no longer than a moment after it exits, since
    a child it left running may hold the pipe.  A program still running when a bound is hit
    is killed with its whole process group; its status is then None.  With ``lap``, the
    ``timeout`` counts again from each time ``lap`` appears in the output: a program that does
    several jobs in turn (verify's driver, one wheel after another) says when each starts, and
    each gets the whole time."""
    import subprocess  # only a run that asks a program imports it

    try:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as error:
        return b"", None, f"could not be run ({error.strerror or error})"
    assert process.stdout is not None
    answer, problem = _read_answer(process, timeout, limit, lap)
    process.stdout.close()
    if process.poll() is None:
        _kill_group(process)
        return bytes(answer), None, problem or f"did not exit within {timeout:g} s"
    return bytes(answer), process.returncode, problem


def _read_answer(process: subprocess.Popen[bytes], timeout: float, limit: int, lap: bytes) -> tuple[bytearray, str]:
    import selectors
    import subprocess

    assert process.stdout is not None
    fd = process.stdout.fileno()
    answer = bytearray()
    deadline = time.monotonic() + timeout
    exited_at: float | None = None
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            now = time.monotonic()
            if exited_at is None and process.poll() is not None:
                exited_at = now
            until = deadline if exited_at is None else min(deadline, exited_at + EXIT_GRACE)
            if now >= until:
                if exited_at is None:
                    return answer, f"did not answer within {timeout:g} s"
                return answer, ""  # exited; whatever still holds the pipe is not the program
            if not selector.select(min(until - now, 0.05)):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:  # end of the answer; the program is left its time to exit
                try:
                    process.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    return answer, f"did not exit within {timeout:g} s"
                return answer, ""
            seen = max(0, len(answer) - len(lap) + 1)
            answer += chunk
            if lap and answer.find(lap, seen) >= 0:
                deadline = time.monotonic() + timeout
            if len(answer) > limit:
                return answer, f"answered with more than {limit // 1024} KiB"


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, 9)
    except OSError:
        process.kill()
    process.wait()
