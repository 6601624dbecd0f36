"""Proof in the real runtimes: unrepaired wheels fail with the runtime's own error; repaired
ones import, compute, and share ONE copy of the stateful library across modules in different
directories (an extension module at depth 1, a ctypes module at depth 3)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import wheelbuilder
from runtime_driver import RUNTIMES, run_in_pyodide

import pyodide_auditwheel as paw
from pyodide_auditwheel import plan as plan_module

CODE = "import chainpkg; chainpkg.values()"
# The runtime's own words when a library is absent: 0.27's loader asks the file packager for
# it and fails so; 0.28+ say which library was not found.
UNREPAIRED_ERROR = {
    "pyodide-0.27": "Didn't expect to load any more file_packager files!",
    "pyodide-0.29": 'Failed to find dynamic library "libouter.so"',
    "pyodide-314": 'Failed to find dynamic library "libouter.so"',
}


@pytest.mark.parametrize("runtime", list(RUNTIMES))
def test_unrepaired_fails_repaired_works_with_one_copy(
    runtime: str, runtimes: None, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", RUNTIMES[runtime])
    broken = run_in_pyodide(runtime, CODE, wheel)
    assert not broken["ok"]
    assert UNREPAIRED_ERROR[runtime] in "\n".join(broken["messages"])
    repaired = paw.repair(wheel, [fixture_libs.libdir], output_dir=tmp_path / "out").output
    assert repaired is not None
    result = run_in_pyodide(runtime, CODE, repaired)
    assert result == {"ok": True, "result": "[1, 2, 3, 4]", "messages": ["Loading chainpkg", "Loaded chainpkg"]}


def test_relative_only_rpath_double_loads_on_0_29(
    runtimes: None, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pitfall our scheme avoids, shown in the real runtime: with $ORIGIN-relative entries
    only, 0.29 loads libcounter twice and each copy counts on its own."""
    original = plan_module.runtime_path_entries
    monkeypatch.setattr(
        plan_module, "runtime_path_entries",
        lambda abi, module_dir, libs_dir: original(replace(abi, runtime_path_scheme="origin"), module_dir, libs_dir),
    )
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    repaired = paw.repair(wheel, [fixture_libs.libdir], output_dir=tmp_path / "out").output
    assert repaired is not None
    assert run_in_pyodide("pyodide-0.29", CODE, repaired)["result"] == "[1, 1, 2, 2]"
