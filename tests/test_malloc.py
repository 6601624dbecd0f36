"""A repair's threads share one malloc arena (pyodide_auditwheel.malloc): with an arena per
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

REPAIR_THEN_COUNT_ARENAS = """
import ctypes, sys
from pyodide_auditwheel.api import RepairRequest, repair
result = repair(sys.argv[1], RepairRequest(libdirs=[sys.argv[2]], output_dir=sys.argv[3], discover=False))
assert result.plan.vendored, "the repair vendored nothing: its threads had no work"
sys.stderr.flush()
ctypes.CDLL(None).malloc_stats()
"""


def test_the_threads_of_a_repair_allocate_in_one_arena(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    child = subprocess.run(
        [sys.executable, "-c", REPAIR_THEN_COUNT_ARENAS, str(wheel), str(fixture_libs.libdir), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=True,
    )
    arenas = [line for line in child.stderr.splitlines() if line.startswith("Arena ")]
    assert len(arenas) == 1, child.stderr
