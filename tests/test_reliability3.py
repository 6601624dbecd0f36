"""Reliability, round 3 (issue 17): each class that broke a rule gets a test here (the one-sentence
errors are cases in test_errors.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import wheelbuilder
from clirun import cli

TAG = "cp313-cp313-pyodide_2025_0_wasm32"


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


def test_several_inputs_one_refused_writes_nothing(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """`repair A.whl typo.whl` repaired A in place and then exited 2 for typo.whl."""
    wheel = chain_wheel(fixture_libs, tmp_path / "in")
    before = digest(wheel)
    result = cli("repair", str(wheel), str(tmp_path / "typo.whl"), "--libdir", str(fixture_libs.libdir))
    assert result.returncode == 2
    assert digest(wheel) == before
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == "error: nothing was written: 1 of 2 inputs cannot be repaired."
    assert sorted(path.name for path in (tmp_path / "in").iterdir()) == [wheel.name]


def test_several_inputs_one_missing_a_library_writes_nothing_and_exits_1(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    good = chain_wheel(fixture_libs, tmp_path / "good")
    needy = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "needy", "pyodide_2025_0", dist="needypkg")
    out = tmp_path / "out"
    # libouter.so is found for the first through --libdir; the second is repaired against an
    # empty directory, so both use one: the good wheel alone is repairable with it.
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("repair", str(good), str(needy), "--libdir", str(empty), "-o", str(out))
    assert result.returncode == 1
    assert not out.exists() or not any(out.iterdir())
    assert "nothing was written: 2 of 2 inputs cannot be repaired." in result.stderr
    both = cli("repair", str(good), str(needy), "--libdir", str(fixture_libs.libdir), "-o", str(out))
    assert both.returncode == 0, both.stderr
    assert sorted(path.name for path in out.iterdir()) == sorted([good.name, needy.name])
