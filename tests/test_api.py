"""The Python API's shape: requests by keyword, and a lone path or glob taken as one item,
never as a list of its characters."""

from __future__ import annotations

from pathlib import Path

import pytest
import wheelbuilder

import pyodide_auditwheel as paw


def test_one_directory_given_alone_is_one_directory(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    assert paw.show(wheel, discover=False).missing
    alone = str(fixture_libs.libdir)
    assert not paw.show(wheel, libdirs=alone, discover=False).missing
    assert not paw.show(wheel, libdirs=fixture_libs.libdir, discover=False).missing
    assert paw.audit(wheel, libdirs=alone, discover=False, check_symbols=False).loads
    assert paw.RepairRequest(libdirs=alone, exclude="libGL*").libdirs == (alone,)
    assert paw.RepairRequest(libdirs=alone, exclude="libGL*").exclude == ("libGL*",)
    # one glob alone excludes what it names, not what its letters would
    excluded = paw.show(wheel, exclude="lib*", discover=False)
    assert not excluded.missing and excluded.dependencies_with("excluded")


def test_what_is_not_a_path_is_a_type_error(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    with pytest.raises(TypeError, match=r"libdirs: give str or os\.PathLike items, not bytes"):
        paw.show(wheel, libdirs=b"/usr/lib", discover=False)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"libdirs: give str or os\.PathLike items, not int"):
        paw.RepairRequest(libdirs=[1])  # type: ignore[list-item]


def test_requests_are_made_by_keyword(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    with pytest.raises(TypeError):
        paw.RepairRequest([fixture_libs.libdir])  # type: ignore[misc]
    with pytest.raises(TypeError):
        paw.show(wheel, [fixture_libs.libdir])  # type: ignore[misc]
    with pytest.raises(TypeError):
        paw.audit(wheel, [fixture_libs.libdir])  # type: ignore[misc]


def test_the_show_command_prints_what_show_returns(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """The ``show`` command's table is ``paw.show``'s analysis (the tag's, or ``--plat``'s
    runtime's) and its verdict is ``paw.audit(check_symbols=False)``'s, made from that same
    analysis: a script gets what the command prints."""
    chain = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2024_0")
    for platform in (None, "pyemscripten_2026_0_wasm32", "emscripten_3_1_32_wasm32"):
        for libdirs in ((), (fixture_libs.libdir,)):
            shown = paw.show(chain, libdirs=libdirs, discover=False, platform=platform)
            report = paw.audit(chain, libdirs=libdirs, discover=False, platform=platform, check_symbols=False)
            assert report.analysis == shown
            assert shown.abi.name == (report.abi.name if report.abi else None)
    assert paw.show(chain, platform="emscripten_3_1_32_wasm32").abi.name != paw.show(chain).abi.name
