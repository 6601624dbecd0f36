"""The threads of the repair command share one malloc arena (pyodide_auditwheel.malloc): with an arena per
thread, the peak memory of a repair grew with the number of members well past issue 22's
+10 % when the bench wheel doubled.  glibc's own ``malloc_stats`` counts the arenas."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest
import wheelbuilder

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc arenas are glibc's")

# The repair command, then glibc's count of the arenas, in one process.
REPAIR_THEN_COUNT_ARENAS = """
import atexit, ctypes, sys
atexit.register(lambda: (sys.stderr.flush(), ctypes.CDLL(None).malloc_stats()))
from pyodide_auditwheel.cli import app
app(["repair", *sys.argv[1:]])
"""


def test_the_threads_of_a_repair_allocate_in_one_arena(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    repair_args = [str(wheel), "--libdir", str(fixture_libs.libdir), "--no-discovery", "-o", str(tmp_path / "out")]
    child = subprocess.run(
        [sys.executable, "-c", REPAIR_THEN_COUNT_ARENAS, *repair_args],
        capture_output=True,
        text=True,
        check=True,
    )
    assert len(list((tmp_path / "out").glob("*.whl"))) == 1, child.stdout  # the threads had work
    arenas = [line for line in child.stderr.splitlines() if line.startswith("Arena ")]
    assert len(arenas) == 1, child.stderr
