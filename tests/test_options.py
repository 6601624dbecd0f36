"""Options as users write them: flags the peer's users pass, and no option taking another
option as its value."""

from __future__ import annotations

import hashlib
from pathlib import Path

import wheelbuilder
from clirun import cli


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def chain_wheel(libs: wheelbuilder.FixtureLibs, where: Path) -> Path:
    return wheelbuilder.build_chain_wheel(libs, where, "pyodide_2025_0")


def test_no_mangle_is_a_flag_as_the_peer_users_write_it(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """`repair W --libdir L --no-mangle -o out` once rewrote W in place (``--no-mangle`` took
    ``-o`` as its glob); now it is a flag, and W is left as it was."""
    wheel = chain_wheel(fixture_libs, tmp_path / "in")
    before = digest(wheel)
    result = cli("repair", str(wheel), "--libdir", str(fixture_libs.libdir), "--no-mangle", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert digest(wheel) == before
    names = (tmp_path / "out" / wheel.name).read_bytes()
    assert b"chainpkg.libs/libcounter.so" in names and b"chainpkg.libs/libouter.so" in names


def test_no_option_swallows_another_option(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    wheel = chain_wheel(fixture_libs, tmp_path / "in")
    before = digest(wheel)
    for option in ("--libdir", "--no-mangle-name", "--lib-sdir", "--exclude", "--plat"):
        result = cli("repair", str(wheel), option, "-o", str(tmp_path / "out"))
        assert result.returncode == 2, (option, result.stdout, result.stderr)
        assert result.stderr.strip().splitlines() == [
            f"error: {option} takes a value, and -o looks like an option: write {option}=-o if it is the value."
        ]
        assert digest(wheel) == before and not (tmp_path / "out").exists()
    # Written with "=", a value may start with "-".
    odd = tmp_path / "-libs"
    odd.mkdir()
    (odd / "libouter.so").write_bytes(fixture_libs.outer.read_bytes())
    (odd / "libcounter.so").write_bytes(fixture_libs.counter.read_bytes())
    result = cli("show", str(wheel), f"--libdir={odd}")
    assert result.returncode == 0, result.stderr
