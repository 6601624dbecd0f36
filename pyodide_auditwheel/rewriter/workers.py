"""Worker processes for repairing several wheels at once, one per core.

Each wheel is repaired whole by one worker, with the same atomic output as in this process:
a worker interrupted mid-write leaves its input as it was and no temporary file.  Ctrl-C
reaches the workers by itself (a terminal sends SIGINT to its whole foreground process
group); a terminating signal sent to this process alone (SIGTERM from a CI runner's timeout,
SIGHUP) is passed on to every worker before this process ends by it, so no worker goes on
writing after the command is gone; on Linux a worker also gets SIGTERM when the command dies
of a signal nothing can catch (``kill -9``).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from types import FrameType
from typing import TypeVar

from ..errors import InternalError

T = TypeVar("T")

# How long a broken pool waits for the interrupt that may have broken it: Ctrl-C reaches the
# command and its workers at once, and a worker may die of it before the command hears it.
INTERRUPT_GRACE = 0.5

FORWARDED_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1") if hasattr(signal, name)
)


def _context() -> multiprocessing.context.BaseContext:
    """fork on Linux (nothing to re-import; the pool starts its processes before its own
    thread, so no thread is forked), forkserver or spawn elsewhere (fork is unsafe on macOS)."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


_interrupted = False
# Set in the command when Ctrl-C reaches it while its workers run: the signal may land on one
# of the pool's threads, so that the main thread wakes first to the pool broken by the
# workers' own deaths, and the KeyboardInterrupt comes, if at all, where it is not seen.
_command_interrupted = False


def _note_interrupt(signum: int, frame: FrameType | None) -> None:
    global _command_interrupted
    _command_interrupted = True
    signal.default_int_handler(signum, frame)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _end_with_parent(parent: int) -> None:
    """On Linux, SIGTERM this worker when the command dies, whatever kills it (``kill -9``
    included, which no handler sees): a worker must not outlive the command, writing on or
    waiting forever for work that will not come."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # no libc to ask: the forwarding above still applies
        return
    if os.getppid() != parent:  # the command died before the request was made
        os._exit(128 + signal.SIGTERM)


def _worker_start(parent: int) -> None:
    # The workers take the default dispositions: the parent's handler below is not theirs.  A
    # signal the command was started ignoring (nohup, a script's background job) stays ignored.
    for signum in FORWARDED_SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
    # A worker that got Ctrl-C starts no further wheel (the pool may have queued it one).
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _interrupt)
    _end_with_parent(parent)


def _guarded(function: Callable[..., T], *args: object) -> T:
    """The task, in a worker that ends once a signal interrupted it: the write's own cleanup
    has run by the time the exception gets here, and a worker left waiting for more work
    would keep the command (which waits for its workers) from ending."""
    if _interrupted:
        raise KeyboardInterrupt
    try:
        return function(*args)
    except SystemExit as stop:  # a terminating signal, as atomic output turns it into one
        os._exit(stop.code if isinstance(stop.code, int) else 1)
    except KeyboardInterrupt:
        os._exit(128 + signal.SIGINT)


class WorkerPool:
    """The pool's one use: a function mapped over inputs, the results in input order."""

    def __init__(self, executor: ProcessPoolExecutor) -> None:
        self.executor = executor

    def map(self, function: Callable[..., T], *iterables: Iterable[object]) -> Iterator[T]:
        """The results in input order.  A worker that ends without a result (Ctrl-C reached it
        first, or something killed it) breaks the pool: an interrupt on its way to this process
        is let arrive (it is the answer: exit 130), else that is one sentence, not a traceback."""
        columns = [list(iterable) for iterable in iterables]
        try:
            yield from self.executor.map(_guarded, [function] * len(columns[0]), *columns)
        except BrokenProcessPool:
            time.sleep(INTERRUPT_GRACE)  # a SIGINT sent to the process group arrives here
            if _command_interrupted:  # it came, and was lost on the way out of the pool
                raise KeyboardInterrupt from None
            raise InternalError(
                "a worker process ended before it finished its wheel (killed, or out of memory); "
                "each wheel is as it was or repaired whole."
            ) from None


@contextmanager
def worker_pool(jobs: int) -> Iterator[WorkerPool]:
    """A pool of ``jobs`` processes; a terminating signal to this process while it exists is
    sent on to each worker, then ends this process as it would have."""
    pool = ProcessPoolExecutor(
        max_workers=jobs, mp_context=_context(), initializer=_worker_start, initargs=(os.getpid(),)
    )
    previous: dict[int, object] = {}

    def forward(signum: int, _frame: FrameType | None) -> None:
        for process in multiprocessing.active_children():
            if process.pid is not None:
                try:
                    os.kill(process.pid, signum)
                except ProcessLookupError:
                    pass
        for worker in multiprocessing.active_children():
            worker.join(timeout=10)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    try:
        for signum in FORWARDED_SIGNALS:
            if signal.getsignal(signum) is not signal.SIG_IGN:  # ignored (nohup): not ours to end by
                previous[signum] = signal.signal(signum, forward)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            previous[signal.SIGINT] = signal.signal(signal.SIGINT, _note_interrupt)
        yield WorkerPool(pool)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
