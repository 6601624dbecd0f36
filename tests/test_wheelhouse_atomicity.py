"""A wheelhouse is all or nothing: inputs taken by identity, a library one wheel takes from
another read before either is replaced, a pure-Python wheel passed over, an in-place retag
that replaces its input.  The modules are generated side modules (no toolchain)."""

from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import wheelbuilder
from clirun import cli
from conformance import side_module, strings, subsection

import pyodide_auditwheel as paw
from pyodide_auditwheel.rewriter.wheelhouse import repair_wheelhouse

TAG = wheelbuilder.PLATFORM_TAGS["pyemscripten_2026_0"]
PYODIDE = Path(sys.executable).parent / "pyodide"


def module(needed: list[str], runtime_paths: list[str] | None = None, cid: str = "m") -> bytes:
    body = subsection(1, b"\0\0\0\0") + subsection(2, strings(needed))
    if runtime_paths is not None:
        body += subsection(5, strings(runtime_paths))
    return side_module(body, cid)


def alpha_and_beta(dist: Path) -> tuple[Path, Path]:
    """``alpha`` holds two identical copies of libstate.so (its repair merges them into
    alpha.libs/); ``beta`` needs libstate.so and holds none: it takes alpha's."""
    alpha = wheelbuilder.write_wheel(
        dist,
        "alpha",
        "1.0",
        TAG,
        {
            "alpha/_a.so": module(["libstate.so"], ["$ORIGIN"], "a"),
            "alpha/sub/_b.so": module(["libstate.so"], ["$ORIGIN"], "b"),
            "alpha/libstate.so": module([], None, "state"),
            "alpha/sub/libstate.so": module([], None, "state"),
        },
    )
    beta = wheelbuilder.write_wheel(dist, "beta", "1.0", TAG, {"beta/_c.so": module(["libstate.so"], None, "c")})
    return alpha, beta


def members(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_library_from_another_wheel_of_the_call_survives_that_wheels_repair(tmp_path: Path, jobs: str) -> None:
    alpha, beta = alpha_and_beta(tmp_path / "dist")
    result = cli("repair", str(tmp_path / "dist"), "-j", jobs)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not {"alpha/libstate.so", "alpha/sub/libstate.so"} & set(members(alpha))
    assert any(name.startswith("beta.libs/libstate-") for name in members(beta))
    for wheel in (alpha, beta):
        report = paw.audit(wheel, discover=False)
        assert report.loads and not report.findings, (wheel.name, report.findings)


def test_the_api_offers_the_same_guarantee(tmp_path: Path) -> None:
    alpha, beta = alpha_and_beta(tmp_path / "dist")
    before = {wheel: digest(wheel) for wheel in (alpha, beta)}
    refused = repair_wheelhouse([alpha, beta], paw.RepairRequest(discover=False))
    assert not refused.written and [r.input for r in refused.refusals] == [beta]
    assert refused.refusals[0].missing == {"libstate.so": ["beta/_c.so"]} and refused.not_written == (alpha,)
    assert {wheel: digest(wheel) for wheel in (alpha, beta)} == before
    done = repair_wheelhouse([alpha, beta])
    assert done.written and [r.input for r in done.repaired] == [alpha, beta]


@pytest.mark.parametrize("how", ["twice", "symlink", "hardlink"])
def test_one_wheel_named_twice_is_repaired_once_or_refused_before_writing(tmp_path: Path, how: str) -> None:
    alpha, _beta = alpha_and_beta(tmp_path / "dist")
    second = alpha
    if how != "twice":
        second = tmp_path / "other" / "alpha-1.0-cp314-cp314-pyemscripten_2026_0_wasm32.whl"
        second.parent.mkdir()
        (second.symlink_to if how == "symlink" else second.hardlink_to)(alpha)
    before = digest(alpha)
    result = cli("repair", str(alpha), str(second))
    if how == "twice":
        assert result.returncode == 0, result.stdout + result.stderr
        assert digest(alpha) != before and "changed after" not in result.stderr
        return
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"not repaired: {second} is the same file as {alpha}; name it once." in " ".join(result.stderr.split())
    assert digest(alpha) == before


def test_a_pure_python_wheel_in_a_folder_is_passed_over(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    alpha, beta = alpha_and_beta(dist)
    pure = wheelbuilder.write_wheel(dist, "purepkg", "1.0", "py3-none-any", {"purepkg/__init__.py": b"x = 1\n"})
    out = tmp_path / "out"
    result = cli("repair", str(dist), "-w", str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    text = " ".join(result.stdout.split())
    assert f"{pure}: a pure-Python wheel (tagged any, no module): it needs no repair, passed over; copied to" in text
    assert sorted(path.name for path in out.iterdir()) == sorted([alpha.name, beta.name, pure.name])
    assert (out / pure.name).read_bytes() == pure.read_bytes()
    # Alone, it is still a refusal.
    alone = cli("repair", str(pure), "-w", str(tmp_path / "alone"))
    assert alone.returncode == 2 and pure.name in alone.stderr and not (tmp_path / "alone").exists()


def test_a_pure_wheel_that_cannot_be_copied_is_one_sentence(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    alpha_and_beta(dist)
    pure = wheelbuilder.write_wheel(dist, "purepkg", "1.0", "py3-none-any", {"purepkg/__init__.py": b"x = 1\n"})
    out = tmp_path / "out"
    (out / pure.name).mkdir(parents=True)  # where the copy would go
    result = cli("repair", str(dist), "-w", str(out))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"cannot copy {pure} to {out / pure.name}" in " ".join(result.stderr.split())


def test_an_in_place_retag_replaces_the_input(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    wheel = wheelbuilder.write_wheel(
        dist, "beta", "1.0", wheelbuilder.PLATFORM_TAGS["pyodide_2025_0"], {"beta/_c.so": module([], None, "c")}
    )
    result = cli("repair", str(wheel), "--plat", "pyemscripten_2025_0_wasm32")
    assert result.returncode == 0, result.stdout + result.stderr
    new = dist / "beta-1.0-cp313-cp313-pyemscripten_2025_0_wasm32.whl"
    assert sorted(dist.iterdir()) == [new]
    assert f"removed {wheel} (its old tag)" in " ".join(result.stdout.split())


def drop_capabilities(*capabilities: int) -> None:
    """Drop these capabilities from the bounding set of the child, before it executes."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in capabilities:
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs a file owned by another user (root makes one)")
def test_an_old_tag_that_cannot_be_removed_is_said(tmp_path: Path) -> None:
    """A sticky directory and an input owned by another user: the new wheel can be written
    beside it, the input cannot be removed; the run says so, and both wheels are whole."""
    dist = tmp_path / "dist"
    wheel = wheelbuilder.write_wheel(
        dist, "beta", "1.0", wheelbuilder.PLATFORM_TAGS["pyodide_2025_0"], {"beta/_c.so": module([], None, "c")}
    )
    dist.chmod(0o1777)
    os.chown(dist, 65534, 65534)  # neither the directory nor the input is the caller's
    os.chown(wheel, 65534, 65534)
    result = subprocess.run(
        [str(PYODIDE), "auditwheel", "repair", str(wheel), "--plat", "pyemscripten_2025_0_wasm32"],
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=lambda: drop_capabilities(1, 2, 3),  # DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER
    )
    assert result.returncode == 2, result.stdout + result.stderr
    text = " ".join(result.stderr.split())
    assert (
        "but cannot remove" in text and "the wheel under its old tag" in text and "remove it before uploading" in text
    )
    new = dist / "beta-1.0-cp313-cp313-pyemscripten_2025_0_wasm32.whl"
    assert paw.audit(new).loads and paw.audit(wheel).loads


def chain_wheel(libs: wheelbuilder.FixtureLibs, where: Path) -> Path:
    return wheelbuilder.build_chain_wheel(libs, where, "pyodide_2025_0")


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
