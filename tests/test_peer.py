"""Wheels repaired by the peer, auditwheel-emscripten 0.3.0 (the version pyodide-build pins),
in the real runtimes: its $ORIGIN-only paths from modules at two depths give two copies of each
library on 0.29; our audit says so in advance, and our repair of its output gives one copy."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import wheelbuilder
from runtime_driver import instances_made, run_in_pyodide
from test_ecosystem import _python_312_or_newer

import pyodide_auditwheel as paw

CODE = "import chainpkg; chainpkg.values()"
PEER = "auditwheel-emscripten==0.3.0"


@pytest.fixture(scope="module")
def peer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("peer") / "venv"
    subprocess.run([_python_312_or_newer(), "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", PEER], capture_output=True, text=True, check=False
    )
    if install.returncode != 0:
        pytest.fail(f"pip could not install {PEER}:\n{install.stderr[-3000:]}")
    return venv / "bin"


def peer_repair(peer: Path, wheel: Path, libdir: Path, out: Path) -> Path:
    out.mkdir(parents=True)
    env = {**os.environ, "PATH": f"{peer}{os.pathsep}{os.environ['PATH']}"}  # it runs `wheel pack`
    done = subprocess.run(
        [str(peer / "pyodide"), "auditwheel", "repair", "--libdir", str(libdir), "--output-dir", str(out), str(wheel)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (repaired,) = out.glob("*.whl")
    return repaired


def test_peer_repaired_wheel_loads_twice_on_0_29_and_ours_once(
    runtimes: None, peer: Path, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    theirs = peer_repair(peer, wheel, fixture_libs.libdir, tmp_path / "theirs")
    # The runtime: each depth's spelling is another copy, each counting on its own.
    assert run_in_pyodide("pyodide-0.29", CODE, theirs)["result"] == "[1, 1, 2, 2]"
    report = paw.audit(theirs)
    assert sorted((f.kind, f.subject.split("-")[0]) for f in report.findings) == [
        ("duplicate-load", "libcounter"),
        ("duplicate-load", "libouter"),
    ]
    assert "more than one copy of" in report.verdict
    names = instances_made("pyodide-0.29", theirs, tmp_path)
    spelled = [finding.reason.split(", as ", 1)[1].split(";", 1)[0] for finding in report.findings]
    for spellings in spelled:  # the spellings the audit names are the runtime's
        assert all([name] in names for name in spellings.split(", "))
    ours = paw.repair(theirs, paw.RepairRequest(output_dir=tmp_path / "ours"))
    assert ours.changed and ours.output is not None
    assert paw.audit(ours.output).loads
    assert run_in_pyodide("pyodide-0.29", CODE, ours.output)["result"] == "[1, 2, 3, 4]"
    assert len(instances_made("pyodide-0.29", ours.output, tmp_path / "ours")) == 5


def test_peer_repaired_wheel_makes_two_instances_on_0_27_as_the_audit_says(
    runtimes: None, peer: Path, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    """0.27 keys a NEEDED library by its name and a wheel's .so by its path: a vendored library
    after its users in the archive is instantiated twice (the modules use the first).  Our
    repair moves the libraries ahead of their users: one instance each."""
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2024_0")
    theirs = peer_repair(peer, wheel, fixture_libs.libdir, tmp_path / "theirs")
    names = instances_made("pyodide-0.27", theirs, tmp_path)
    counters = [instance for instance in names if any("libcounter" in name for name in instance)]
    assert len(counters) == 2
    report = paw.audit(theirs)
    assert sorted((f.kind, f.subject.split("-")[0]) for f in report.findings) == [
        ("duplicate-load", "libcounter"),
        ("duplicate-load", "libouter"),
    ]
    ours = paw.repair(theirs, paw.RepairRequest(output_dir=tmp_path / "ours"))
    assert ours.output is not None and paw.audit(ours.output).loads
    names = instances_made("pyodide-0.27", ours.output, tmp_path / "ours")
    assert len([instance for instance in names if any("libcounter" in name for name in instance)]) == 1
    assert len(names) == 5
    assert run_in_pyodide("pyodide-0.27", CODE, ours.output)["result"] == "[1, 2, 3, 4]"


def test_what_the_migration_page_says_of_0_3_0(
    peer: Path, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    """docs/migration.md's claims about the peer, run: `show` lists NEEDED and exits 0 without
    looking for the libraries; `repair` stops at a missing library with a traceback, exit 1,
    writing nothing; `exports` takes a wheel and prints `FUNC\\tname` lines."""
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    env = {**os.environ, "PATH": f"{peer}{os.pathsep}{os.environ['PATH']}"}

    def theirs(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(peer / "pyodide"), "auditwheel", *args], capture_output=True, text=True, check=False, env=env
        )

    shown = theirs("show", str(wheel))
    assert shown.returncode == 0 and "chainpkg/_ext.so:\n\tlibouter.so" in shown.stdout, shown.stdout
    out = tmp_path / "out"
    repaired = theirs("repair", "--output-dir", str(out), str(wheel))
    assert repaired.returncode == 1
    assert "RuntimeError: Cannot find a library: libouter.so (required by chainpkg/_ext.so)" in repaired.stderr
    assert not out.exists() or not list(out.glob("*.whl"))
    exports = theirs("exports", str(wheel))
    assert exports.returncode == 0 and "      FUNC\tPyInit__ext" in exports.stdout, exports.stdout
    page = (Path(__file__).parents[1] / "docs" / "migration.md").read_text()
    assert "RuntimeError: Cannot find a library: libouter.so (required by chainpkg/_ext.so)" in page
