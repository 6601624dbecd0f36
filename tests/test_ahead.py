"""The compress-ahead worker: results in any order, errors passed on, memory budget kept."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from pyodide_auditwheel.rewriter.ahead import AheadOfTime


def jobs(log: list[str], gate: threading.Event | None = None) -> dict[str, object]:
    def job(key: str) -> object:
        def run() -> str:
            if gate is not None and key == "a":
                gate.wait(5)
            log.append(f"{threading.current_thread().name}:{key}")
            return key * 3

        return run

    return {key: job(key) for key in "abcd"}


@pytest.mark.parametrize("threaded", [True, False])
def test_results_whatever_the_order_asked(threaded: bool) -> None:
    log: list[str] = []
    with AheadOfTime(jobs(log), budget=1 << 20, weigh=len, threaded=threaded) as ahead:  # type: ignore[arg-type]
        assert [ahead.take(k) for k in "dbca"] == ["ddd", "bbb", "ccc", "aaa"]
        assert ahead.take("a") is None and ahead.take("zzz") is None
    assert sorted(entry.split(":")[1] for entry in log) == list("abcd")  # each job ran once
    if not threaded:
        assert all(entry.startswith("MainThread") for entry in log)


def test_a_job_the_worker_has_not_reached_runs_in_the_consumer() -> None:
    log: list[str] = []
    gate = threading.Event()
    with AheadOfTime(jobs(log, gate), budget=1 << 20, weigh=len, threaded=True) as ahead:  # type: ignore[arg-type]
        assert ahead.take("c") == "ccc"  # the worker is stuck on "a"
        gate.set()
        assert [ahead.take(k) for k in "abd"] == ["aaa", "bbb", "ddd"]
    assert "MainThread:c" in log


def test_errors_are_raised_by_take() -> None:
    def fail() -> str:
        raise ValueError("bad module")

    with AheadOfTime({"x": fail}, budget=10, weigh=len, threaded=True) as ahead:
        with pytest.raises(ValueError, match="bad module"):
            ahead.take("x")


def test_budget_makes_the_worker_wait() -> None:
    done: list[str] = []

    def job(key: str) -> object:
        def run() -> str:
            done.append(key)
            return key * 100

        return run

    with AheadOfTime({k: job(k) for k in "abc"}, budget=50, weigh=len, threaded=True) as ahead:  # type: ignore[arg-type]
        for _ in range(200):
            if done:
                break
            threading.Event().wait(0.01)
        threading.Event().wait(0.1)
        assert done == ["a"]  # 100 bytes held > 50: the worker waits for take()
        assert ahead.take("a") == "a" * 100
        assert [ahead.take(k) for k in "bc"] == ["b" * 100, "c" * 100]


def test_the_consumer_helps_from_the_far_end_while_it_waits() -> None:
    log: list[str] = []
    gate = threading.Event()
    work = jobs(log, gate)
    last = work["d"]

    def opens_the_gate() -> object:
        gate.set()  # "a" (held by the worker) can only finish once "d" has run
        return last()  # type: ignore[operator]

    work["d"] = opens_the_gate
    with AheadOfTime(work, budget=1 << 20, weigh=len, threaded=True) as ahead:  # type: ignore[arg-type]
        started = threading.Event()
        for _ in range(500):
            if ahead._state["a"] == "running":  # the worker holds "a"
                started.set()
                break
            threading.Event().wait(0.01)
        assert started.is_set()
        assert ahead.take("a") == "aaa"
        assert [ahead.take(k) for k in "bcd"] == ["bbb", "ccc", "ddd"]
    assert "MainThread:d" in log  # run by the consumer while the worker was busy with "a"
    assert sorted(entry.split(":")[1] for entry in log) == list("abcd")


# A consumer leaving by a signal's SystemExit while its lock is taken and never given back (a
# signal turned into SystemExit can land between a lock's acquire and the `with` that would
# release it: a repair hung on SIGUSR1 mid-write that way).  Run in a child: a hang fails it.
LEAVE_BY_SIGNAL_WITH_THE_LOCK_TAKEN = """
import threading
from pyodide_auditwheel.rewriter.ahead import AheadOfTime
started = threading.Event()
def job():
    started.set()
    return b"x"
ahead = AheadOfTime({"a": job, "b": job}, 1 << 20, len, threaded=True)
ahead.__enter__()
started.wait()
ahead._lock.acquire()
ahead.__exit__(SystemExit, SystemExit(138), None)
print("left")
"""


def test_leaving_by_a_signal_does_not_wait_for_the_worker() -> None:
    child = subprocess.run(
        [sys.executable, "-c", LEAVE_BY_SIGNAL_WITH_THE_LOCK_TAKEN], capture_output=True, text=True, timeout=60
    )
    assert child.stdout == "left\n", child.stderr
