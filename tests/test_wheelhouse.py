"""Several wheels in one call: planned first (a refusal writes nothing), then written as
planned, on several processes; the same bytes as one process writes, in input order."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import wheelbuilder
from bigwheel import build_big_wheel
from clirun import cli
from processes import holds_temp_file_in
from wheelcheck import check_wheel_valid

import pyodide_auditwheel as paw
from pyodide_auditwheel.api import RepairRequest, apply_each, repair_each, repair_jobs
from pyodide_auditwheel.errors import AuditwheelError, MissingLibrariesError
from pyodide_auditwheel.rewriter.single import PARALLEL_MIN_BYTES

pytestmark = pytest.mark.toolchain


def wheelhouse(libs: wheelbuilder.FixtureLibs, where: Path, count: int) -> list[Path]:
    return [wheelbuilder.build_chain_wheel(libs, where, "pyodide_2025_0", dist=f"pkg{index}") for index in range(count)]


def test_several_processes_write_what_one_writes_in_input_order(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    wheels = wheelhouse(fixture_libs, tmp_path / "dist", 4)
    outputs = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"out-{jobs}"
        result = cli("repair", *map(str, wheels), "--libdir", str(fixture_libs.libdir), "-w", str(out), "-j", jobs)
        assert result.returncode == 0, result.stdout + result.stderr
        order = [line.split(" → ")[0] for line in result.stdout.splitlines() if " → " in line and ": vendored" in line]
        assert order == [str(wheel) for wheel in wheels]
        outputs[jobs] = {path.name: path.read_bytes() for path in sorted(out.iterdir())}
        for path in out.iterdir():
            check_wheel_valid(path)
    assert outputs["1"] == outputs["2"] and len(outputs["2"]) == 4


def test_a_refusal_among_several_writes_nothing_on_several_processes(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    wheels = wheelhouse(fixture_libs, tmp_path / "dist", 3)
    before = {wheel: wheel.read_bytes() for wheel in wheels}
    # No --libdir: every wheel misses its libraries; in place, so a write would show.
    result = cli("repair", *map(str, wheels), "-j", "2", "--no-discovery")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "nothing was written: 3 of 3 inputs cannot be repaired." in " ".join(result.stderr.split())
    assert {wheel: wheel.read_bytes() for wheel in wheels} == before


def test_the_results_come_back_from_the_workers_whole(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """A refusal is returned by its worker as the error it is (a MissingLibrariesError keeps
    its list across the process boundary); a plan is applied as it was made."""
    wheels = wheelhouse(fixture_libs, tmp_path / "dist", 2)
    missing = list(repair_each(wheels, RepairRequest(discover=False), dry_run=True, jobs=2))
    assert all(isinstance(outcome, MissingLibrariesError) for outcome in missing)
    assert [sorted(outcome.missing) for outcome in missing if isinstance(outcome, MissingLibrariesError)] == [
        ["libouter.so"],
        ["libouter.so"],
    ]
    request = RepairRequest(libdirs=(str(fixture_libs.libdir),), output_dir=str(tmp_path / "out"), discover=False)
    plans = [outcome for outcome in repair_each(wheels, request, dry_run=True, jobs=2)]
    assert all(isinstance(plan, paw.PlannedRepair) and plan.output is None for plan in plans)
    written = list(apply_each([plan for plan in plans if isinstance(plan, paw.PlannedRepair)], request, jobs=2))
    assert [outcome.output for outcome in written if isinstance(outcome, paw.api.RepairResult)] == [
        tmp_path / "out" / wheel.name for wheel in wheels
    ]


def test_a_plan_is_not_applied_to_a_changed_input(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    (wheel,) = wheelhouse(fixture_libs, tmp_path / "dist", 1)
    planned = paw.repair(wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], discover=False), dry_run=True)
    os.utime(wheel, ns=(time.time_ns(), time.time_ns() + 10**9))
    with pytest.raises(AuditwheelError, match="changed after its repair was planned; run the repair again"):
        paw.api.apply_plan(planned, paw.RepairRequest(output_dir=tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_how_many_processes(tmp_path: Path) -> None:
    small = [tmp_path / f"{index}.whl" for index in range(3)]
    for path in small:
        path.write_bytes(b"x" * 1024)
    assert repair_jobs(small) == 1  # a small wheelhouse stays in this process
    assert repair_jobs(small[:1], jobs=8) == 1 and repair_jobs(small, jobs=2) == 2
    big = tmp_path / "big.whl"
    big.write_bytes(b"\0" * (PARALLEL_MIN_BYTES + 1))
    cores = len(os.sched_getaffinity(0))
    assert repair_jobs([*small, big]) == min(cores, 4)


def _dispositions(ignore_interrupt: bool) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, signal.SIG_DFL)
    if ignore_interrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.realworld
@pytest.mark.parametrize(
    "how",
    [
        "SIGTERM to the command",
        "Ctrl-C to its process group",
        "kill -9 of the command",
        "kill -9 of a worker",
        "Ctrl-C to a command started ignoring it",
    ],
)
def test_an_interrupted_wheelhouse_repair_stops_every_worker(realworld: Path, tmp_path: Path, how: str) -> None:
    """A CI runner's timeout kills the command, not its workers (SIGTERM): they must stop too;
    Ctrl-C reaches them all. Each input is left as it was or repaired whole, no temporary
    file is left anywhere, and no worker goes on."""
    libdir = tmp_path / "libs"
    libdir.mkdir()
    for name in ("libgeos_c.so", "libgeos.so.3.10.3"):
        (libdir / name).write_bytes((realworld / name).read_bytes())
    # Large enough (≈90 MB, about two seconds each) to be mid-write when the signal comes.
    wheels = [build_big_wheel(tmp_path / f"in{index}", 30) for index in range(2)]
    originals = {wheel: wheel.read_bytes() for wheel in wheels}
    script = Path(sys.executable).parent / "pyodide-auditwheel"
    # stderr into a file, not a pipe: a worker that outlived the command would hold a pipe open
    # and hang the test instead of failing it.
    stderr_file = (tmp_path / "stderr").open("wb")
    process = subprocess.Popen(
        [str(script), "repair", *map(str, wheels), "--libdir", str(libdir), "-j", "2"],
        stdout=subprocess.DEVNULL,
        stderr=stderr_file,
        start_new_session=True,  # its own process group, as a terminal's foreground job
        # The dispositions a terminal's job starts with, whatever this test run inherited (a
        # script's background job ignores SIGINT): or ignored, as such a job's.
        preexec_fn=functools.partial(_dispositions, ignore_interrupt=how.endswith("ignoring it")),
    )
    stderr_file.close()
    # The plan phase's two workers, then the write phase's two: the signal comes mid-write.
    seen: set[int] = set()
    deadline = time.monotonic() + 60
    while len(seen) < 4 and time.monotonic() < deadline and process.poll() is None:
        seen.update(int(pid) for pid in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split())
        time.sleep(0.01)
    assert len(seen) == 4, f"the workers did not start: {seen}"
    # ...and hold the new archives open: the signal comes while they are being written.
    while process.poll() is None and time.monotonic() < deadline:
        if any(holds_temp_file_in(pid, wheel.parent) for pid in seen for wheel in wheels):
            break
        time.sleep(0.01)
    assert process.poll() is None, "the repair finished before it could be interrupted"
    if how.startswith("SIGTERM"):
        process.send_signal(signal.SIGTERM)
        expected = -signal.SIGTERM
    elif how == "kill -9 of a worker":
        victim = next(pid for pid in seen for wheel in wheels if holds_temp_file_in(pid, wheel.parent))
        os.kill(victim, signal.SIGKILL)
        expected = 4  # one sentence: the command cannot finish that wheel
    elif how.startswith("kill -9"):
        process.send_signal(signal.SIGKILL)
        expected = -signal.SIGKILL
    else:
        os.killpg(process.pid, signal.SIGINT)
        expected = 0 if how.endswith("ignoring it") else 130  # ignored: the repair goes on
    process.wait(timeout=60)
    stderr = (tmp_path / "stderr").read_bytes()
    assert process.returncode == expected, stderr
    assert b"Traceback" not in stderr
    if how == "kill -9 of a worker":
        said = stderr.decode()
        assert (
            "a worker process ended before it finished its wheel (killed, or out of memory); "
            "each wheel is as it was or repaired whole." in said
        ), said
        assert said.strip().splitlines()[-1].startswith("error: not every wheel was repaired"), said

    # The workers end too (after a kill -9 of the command, of the SIGTERM its death sends them).
    def running(pid: int) -> bool:
        try:
            return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 15
    while any(map(running, seen)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(running, seen)), [pid for pid in seen if running(pid)]
    for wheel in wheels:
        assert sorted(path.name for path in wheel.parent.iterdir()) == [wheel.name]
        if wheel.read_bytes() != originals[wheel]:
            check_wheel_valid(wheel)
