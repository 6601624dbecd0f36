"""Exit codes a CI script can rely on: a reader that stops early is not a finding, no wheel is
not success, and every error names its input."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

import pytest
import wheelbuilder
from clirun import cli

PYODIDE = Path(sys.executable).parent / "pyodide"


def run_into_closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    """The command with its stdout a pipe whose reader is gone before it writes (``| true``;
    ``| head -1`` is the same once the reader has its line): every write gets EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [str(PYODIDE), "auditwheel", *args], stdout=write_end, stderr=subprocess.PIPE, text=True, check=False
        )
    finally:
        os.close(write_end)


@pytest.fixture
def healthy_wheel(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> Path:
    """A wheel whose one module needs no library: it loads."""
    return wheelbuilder.build_module_wheel(
        fixture_libs.standalone, tmp_path / "dist", "pyodide_2025_0_wasm32", dist="standalone"
    )


@pytest.mark.parametrize("command", ["show", "audit", "exports", "imports"])
def test_a_reader_that_stops_early_gets_the_commands_own_code(healthy_wheel: Path, command: str) -> None:
    assert cli(command, str(healthy_wheel)).returncode == 0
    result = run_into_closed_pipe(command, str(healthy_wheel))
    assert (result.returncode, result.stderr) == (0, ""), result.stderr


def test_a_reader_that_stops_early_keeps_a_finding(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    needy = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "dist", "pyodide_2025_0")
    result = run_into_closed_pipe("show", str(needy), "--no-discovery")
    assert (result.returncode, result.stderr) == (1, ""), result.stderr


@pytest.mark.parametrize("command", ["show", "audit", "repair", "exports", "imports"])
def test_an_empty_directory_is_no_wheels_and_exit_2(tmp_path: Path, command: str) -> None:
    empty = tmp_path / "dist"
    empty.mkdir()
    args = [command, str(empty)] + (["-o", str(tmp_path / "out")] if command == "repair" else [])
    result = cli(*args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"no wheels in {empty}" in " ".join(result.stderr.split()), result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["exports", "imports"])
def test_exports_and_imports_take_directories_and_several_inputs(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path, command: str
) -> None:
    dist = tmp_path / "dist"
    one = wheelbuilder.build_module_wheel(fixture_libs.standalone, dist, "pyodide_2025_0_wasm32", dist="one")
    two = wheelbuilder.build_module_wheel(fixture_libs.user, dist, "pyodide_2025_0_wasm32", dist="two")
    from_dir = cli(command, str(dist))
    assert from_dir.returncode == 0, from_dir.stderr
    headers = [line for line in from_dir.stdout.splitlines() if line.startswith("# ")]
    assert headers == [f"# {one}", f"# {two}"]
    assert cli(command, str(one), str(two)).stdout == from_dir.stdout
    alone = cli(command, str(two)).stdout
    assert alone and alone in from_dir.stdout
    # An input that cannot be read is one line naming it; the others are listed.
    broken = cli(command, str(one), str(tmp_path / "absent.whl"))
    assert broken.returncode == 2 and str(tmp_path / "absent.whl") in broken.stderr
    assert broken.stdout.startswith(f"# {one}\n") and "Traceback" not in broken.stderr


def test_every_error_names_its_input(tmp_path: Path) -> None:
    """A wheel tagged ``any`` in a folder: the sentence says which file it is about."""
    bad = tmp_path / "bad"
    wheel = wheelbuilder.write_wheel(bad, "purepkg", "1.0", "py3-none-any", {"purepkg/__init__.py": b""})
    for command in ("show", "audit"):
        result = cli(command, str(wheel))
        assert result.returncode == 2 and wheel.name in result.stderr, (command, result.stderr)


def drop_permission_override() -> None:
    """As root, lose the capabilities that read past file modes (CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH) from the bounding set: the program this child executes then meets
    permissions as an unprivileged user does."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_an_unpacked_wheel_whose_wheel_file_cannot_be_read(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    root = tmp_path / "unpacked"
    info = root / "pkg-1.0.dist-info"
    info.mkdir(parents=True)
    (root / "pkg").mkdir()
    (root / "pkg" / "_ext.so").write_bytes(fixture_libs.standalone.read_bytes())
    (info / "WHEEL").write_text("Wheel-Version: 1.0\nTag: cp313-cp313-pyodide_2025_0_wasm32\n")
    try:
        for locked, mode in ((info / "WHEEL", 0o000), (info, 0o600)):
            locked.chmod(mode)
            result = subprocess.run(
                [str(PYODIDE), "auditwheel", "show", str(root)],
                capture_output=True,
                text=True,
                check=False,
                preexec_fn=drop_permission_override if os.geteuid() == 0 else None,
            )
            assert result.returncode == 2, (mode, result.stdout, result.stderr)
            assert "Traceback" not in result.stderr and str(info / "WHEEL") in result.stderr, result.stderr
            locked.chmod(0o755)
    finally:
        info.chmod(0o755)
        (info / "WHEEL").chmod(0o644)


def test_an_output_name_that_is_a_link_loop_is_one_sentence(tmp_path: Path) -> None:
    """`RuntimeError: Symlink loop` on 3.11, something else on each other Python: now one
    sentence at plan time, so a wheelhouse writes nothing."""
    from conformance import side_module, strings, subsection

    body = subsection(1, b"\0\0\0\0") + subsection(2, strings([]))
    tag = wheelbuilder.PLATFORM_TAGS["pyemscripten_2026_0"]
    wheel = wheelbuilder.write_wheel(tmp_path / "dist", "alone", "1.0", tag, {"alone/_m.so": side_module(body, "m")})
    other = wheelbuilder.write_wheel(tmp_path / "dist", "other", "1.0", tag, {"other/_m.so": side_module(body, "o")})
    out = tmp_path / "out"
    out.mkdir()
    (out / wheel.name).symlink_to(wheel.name)  # a link to itself
    result = cli("repair", str(wheel), str(other), "-w", str(out))
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"cannot write {out / wheel.name}: it is a symbolic link loop." in " ".join(result.stderr.split())
    assert sorted(path.name for path in out.iterdir()) == [wheel.name]  # nothing written, the link untouched


def test_an_output_folder_that_cannot_be_made_names_the_folder_that_refused(tmp_path: Path) -> None:
    """`-o rotest/out` where rotest is read-only blamed rotest/out, which does not exist."""
    from conformance import side_module, strings, subsection

    body = subsection(1, b"\0\0\0\0") + subsection(2, strings([]))
    tag = wheelbuilder.PLATFORM_TAGS["pyemscripten_2026_0"]
    wheel = wheelbuilder.write_wheel(tmp_path / "dist", "alone", "1.0", tag, {"alone/_m.so": side_module(body, "m")})
    readonly = tmp_path / "rotest"
    readonly.mkdir()
    readonly.chmod(0o555)
    try:
        result = subprocess.run(
            [str(PYODIDE), "auditwheel", "repair", str(wheel), "-o", str(readonly / "out")],
            capture_output=True,
            text=True,
            check=False,
            preexec_fn=drop_permission_override if os.geteuid() == 0 else None,
        )
    finally:
        readonly.chmod(0o755)
    assert result.returncode == 2, result.stderr
    assert f"cannot make out in {readonly}: Permission denied" in " ".join(result.stderr.split()), result.stderr


def test_ctrl_c_while_starting_is_one_line() -> None:
    """Ctrl-C while the CLI's imports run (here: when rich is imported) is one line; once they
    are done, the excepthook is the one it was, for the other plugins pyodide-cli runs."""
    code = (
        "import builtins, sys\n"
        "real = builtins.__import__\n"
        "def importing(name, *args, **kwargs):\n"
        "    if name == 'rich.console':\n"
        "        raise KeyboardInterrupt\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = importing\n"
        "import pyodide_auditwheel.cli\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.stderr == "interrupted\n"
    assert result.returncode == -2  # killed by SIGINT, as the shell expects of an interrupted program
    kept = "import sys; before = sys.excepthook; import pyodide_auditwheel.cli; assert sys.excepthook is before"
    assert subprocess.run([sys.executable, "-c", kept], check=False).returncode == 0
