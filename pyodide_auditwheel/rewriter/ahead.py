"""Running a known sequence of jobs on a worker thread, ahead of the code that needs them.

A repair rewrites a few members (patched modules, vendored libraries) among thousands it copies
unchanged.  Compressing them is most of the CPU a repair spends, and zlib releases the GIL, so
they are compressed on a second core while the main thread copies the rest.

Kept rather than a ThreadPoolExecutor: importing concurrent.futures costs about 30 ms (a tenth
of a repair), and an executor cannot let the waiting consumer run jobs from the queue's far end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class AheadOfTime(Generic[T]):
    """Runs jobs on one worker thread, in the order given, for a consumer that asks for their
    results in an order of its own.

    The consumer ``take``s each result when it gets there: it runs a job the worker has not
    reached itself, so a wrong guess about the order costs time, never a deadlock, and while
    the worker finishes the job it asked for, it runs jobs from the far end of the queue.
    Results not yet taken are held within ``budget`` bytes; past it the worker waits.  Errors
    raised by a job are raised again by ``take``.
    """

    def __init__(
        self, jobs: dict[str, Callable[[], T]], budget: int, weigh: Callable[[T], int], *, threaded: bool
    ) -> None:
        self._jobs = jobs
        self._budget = budget
        self._weigh = weigh
        self._state = dict.fromkeys(jobs, "pending")
        self._results: dict[str, tuple[T | None, BaseException | None, int]] = {}
        self._held = 0
        self._stopping = False
        # Taken as `with self._lock`, never `with self._changed`: Condition.__enter__ is Python
        # code, and a signal turned into SystemExit (atomic output) on its return left the lock
        # taken with no `with` to give it back; the worker then waited for it forever, and this
        # thread for the worker (a repair hung on SIGUSR1 mid-write).  A C lock's __enter__
        # leaves no such gap.
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._thread = (
            threading.Thread(target=self._work, name="compress-ahead", daemon=True) if threaded and jobs else None
        )

    def __enter__(self) -> AheadOfTime[T]:
        if self._thread is not None:
            self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, traceback: object) -> None:
        if isinstance(value, (SystemExit, KeyboardInterrupt)):
            # Raised by a signal, at any point of this thread: the process is ending, and the
            # worker (a daemon thread) is told to stop but not waited for.
            self._stopping = True
            return
        with self._lock:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join()

    def _work(self) -> None:
        for key in self._jobs:
            with self._lock:
                while self._held > self._budget and not self._stopping:
                    self._changed.wait()
                if self._stopping:
                    return
                if self._state[key] != "pending":
                    continue
                self._state[key] = "running"
            self._run(key)

    def _run(self, key: str) -> None:
        """Run a job marked running (outside the lock) and file its result for ``take``."""
        result: T | None = None
        error: BaseException | None = None
        try:
            result = self._jobs[key]()
        except BaseException as raised:  # handed to the consumer by take()
            error = raised
        weight = self._weigh(result) if result is not None else 0
        with self._lock:
            self._results[key] = (result, error, weight)
            self._held += weight
            self._state[key] = "done"
            self._changed.notify_all()

    def _last_pending(self) -> str | None:
        """The job the worker would reach last, if it is still waiting and the budget allows
        one more result (called with the lock held)."""
        if self._held > self._budget:
            return None
        return next((key for key in reversed(self._jobs) if self._state[key] == "pending"), None)

    def take(self, key: str) -> T | None:
        """The job's result (None when there is no such job).

        While the worker is still running the job asked for, the consumer does not sit idle:
        it runs the last job still pending (the one the worker would reach last), so the tail
        of the work is shared by both cores.
        """
        with self._lock:
            state = self._state.get(key)
            if state is None or state == "taken":
                return None
            if state == "pending":
                self._state[key] = "taken"
                job = self._jobs[key]
            else:
                while key not in self._results:
                    helped = self._last_pending()
                    if helped is None:
                        self._changed.wait()
                        continue
                    self._state[helped] = "running"
                    self._lock.release()
                    try:
                        self._run(helped)
                    finally:
                        self._lock.acquire()
                self._state[key] = "taken"
                result, error, weight = self._results.pop(key)
                self._held -= weight
                self._changed.notify_all()
                if error is not None:
                    raise error
                return result
        return job()
