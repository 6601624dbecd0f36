"""Links and FIFOs among a wheel's inputs: a linked wheel is repaired in place through its
link, an unpacked wheel's linked modules are seen, a FIFO is refused rather than waited on."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import wheelbuilder
from clirun import cli
from wheelcheck import check_wheel_valid

import pyodide_auditwheel as paw


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def chain_wheel(libs: wheelbuilder.FixtureLibs, where: Path) -> Path:
    return wheelbuilder.build_chain_wheel(libs, where, "pyodide_2025_0")


def test_in_place_repair_of_a_linked_wheel_repairs_its_target(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    """The link was replaced by a file, and the wheel it pointed at left as it was."""
    wheel = chain_wheel(fixture_libs, tmp_path / "store")
    before = digest(wheel)
    link = tmp_path / "dist" / wheel.name
    link.parent.mkdir()
    link.symlink_to(wheel)
    result = cli("repair", str(link), "--libdir", str(fixture_libs.libdir))
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and link.resolve() == wheel
    assert digest(wheel) != before
    check_wheel_valid(wheel)


def test_linked_modules_of_an_unpacked_wheel_are_seen(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """A link to a module inside the directory is that module (it was skipped without a word);
    a link out of the directory is refused."""
    root = tmp_path / "unpacked"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "_real.so").write_bytes(fixture_libs.ext.read_bytes())
    (root / "pkg" / "_linked.so").symlink_to("_real.so")
    shown = paw.show(root)
    assert sorted(module.path for module in shown.wheel_modules) == ["pkg/_linked.so", "pkg/_real.so"]
    (root / "pkg" / "_out.so").symlink_to(fixture_libs.ext)
    result = cli("show", str(root))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {root / 'pkg' / '_out.so'} is a symbolic link out of {root}."
    ]


def test_a_library_swapped_for_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "libswapped.so"
    os.mkfifo(fifo)
    code = f"from pyodide_auditwheel.graph.libsearch import library_chunks; list(library_chunks({str(fifo)!r}))"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("reading a library that is a FIFO blocked")
    assert done.returncode != 0 and "cannot read library" in done.stderr and "not a regular file" in done.stderr
