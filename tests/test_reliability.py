"""Reliability, round 2 (issue 12): classes of input that crashed, hung or lost data, each
with a test of the class (the one-sentence errors are cases in test_errors.py)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import wheelbuilder
from clirun import cli
from runtime_driver import run_in_pyodide
from test_runtime import CODE
from wheelcheck import check_wheel_valid

import pyodide_auditwheel as paw
from pyodide_auditwheel.wasm.dylink import read_head
from pyodide_auditwheel.wasm.sections import HEADER
from pyodide_auditwheel.wheel.names import is_module_name

TAG = "cp313-cp313-pyodide_2025_0_wasm32"


def with_needed(module: bytes, needed: list[str]) -> bytes:
    """The module with its NEEDED entries replaced (the rest of it byte for byte)."""
    head = read_head(module)
    return HEADER + head.dylink.with_needed(needed).encode() + module[head.first_section_end :]


# --- 1. untrusted text is inert ---------------------------------------------------------------

HOSTILE_NEEDED = "lib\x1b]0;owned\x07\x1b[2J[bold]x[/bold].so"


@pytest.mark.parametrize("command", ["show", "audit", "repair"])
def test_markup_and_escapes_from_a_wheel_reach_the_terminal_inert(
    command: str, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    module = with_needed(fixture_libs.standalone.read_bytes(), [HOSTILE_NEEDED])
    wheel = wheelbuilder.write_wheel(
        tmp_path, "pkg", "1.0", TAG, {"pkg/a[/b]/_m.so": module, "pkg/\x1b[31mred.so": module}
    )
    result = cli(command, str(wheel), *(["-o", str(tmp_path / "out")] if command == "repair" else []))
    assert result.returncode == 1, result.stderr
    said = result.stdout + result.stderr
    assert "Traceback" not in said and "\x1b" not in said and "\x07" not in said
    assert "\\x1b]0;owned\\x07\\x1b[2J[bold]x[/bold].so" in said
    if command != "repair":
        assert "pkg/a[/b]/_m.so" in said and "pkg/\\x1b[31mred.so" in said


def test_exports_and_imports_listing_is_inert(tmp_path: Path) -> None:
    from pyodide_auditwheel.wasm.sections import encode_name, encode_uleb

    imports = encode_uleb(1) + encode_name("env") + encode_name("evil\x1b[2J") + bytes([3, 0x7F, 0])
    module = (
        HEADER
        + b"\x00"
        + encode_uleb(len(encode_name("dylink.0")))
        + encode_name("dylink.0")
        + bytes([2])
        + encode_uleb(len(imports))
        + imports
    )
    (tmp_path / "_m.so").write_bytes(module)
    result = cli("imports", str(tmp_path / "_m.so"))
    assert result.returncode == 0 and "env.evil\\x1b[2J" in result.stdout and "\x1b" not in result.stdout


# --- 5. good wheels are accepted ----------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["sha384", "sha512"])
def test_record_hashed_with_a_stronger_algorithm(
    algorithm: str, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    files = {"pkg/__init__.py": b"", "pkg/_ext.so": fixture_libs.ext.read_bytes()}
    contents = dict(files)
    wheel = wheelbuilder.write_wheel(tmp_path / "ok", "pkg", "1.0", TAG, files)
    with zipfile.ZipFile(wheel) as archive:
        contents = {name: archive.read(name) for name in archive.namelist() if not name.endswith("RECORD")}

    def rows(digest_of: str) -> list[tuple[str, str, str]]:
        import base64

        return [
            (
                path,
                f"{digest_of}=" + base64.urlsafe_b64encode(hashlib.new(digest_of, data).digest()).rstrip(b"=").decode(),
                str(len(data)),
            )
            for path, data in contents.items()
        ]

    strong = wheelbuilder.write_wheel(tmp_path / "strong", "pkg", "1.0", TAG, files, record_rows=rows(algorithm))
    for extra in ([], ["--verify-record"]):
        result = cli(
            "repair",
            str(strong),
            "--libdir",
            str(fixture_libs.libdir),
            "-o",
            str(tmp_path / f"out{len(extra)}"),
            *extra,
        )
        assert result.returncode == 0, result.stderr
    weak = wheelbuilder.write_wheel(tmp_path / "weak", "pkg", "1.0", TAG, files, record_rows=rows("md5"))
    refused = cli("repair", str(weak), "--libdir", str(fixture_libs.libdir), "-o", str(tmp_path / "out-md5"))
    assert refused.returncode == 2 and "has a RECORD hash of unsupported type 'md5'" in refused.stderr


def test_only_side_modules_are_modules(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    assert is_module_name("a/libx.so") and is_module_name("a/libx.so.1.2") and is_module_name("a/x.wasm")
    assert not is_module_name("a/notes.so.txt") and not is_module_name("a/libx.so.bak")
    files = {
        "pkg/_ext.so": fixture_libs.ext.read_bytes(),
        "pkg/data.wasm": HEADER + bytes([1, 4, 1, 0x60, 0, 0]),  # a plain wasm asset: a type section only
        "pkg/broken.wasm": b"not wasm at all",
        "pkg/notes.so.txt": b"release notes",
    }
    wheel = wheelbuilder.write_wheel(tmp_path, "pkg", "1.0", TAG, files)
    shown = paw.show(wheel, [fixture_libs.libdir])
    assert [module.path for module in shown.wheel_modules] == ["pkg/_ext.so"]
    assert any("pkg/data.wasm" in note for note in shown.notes)
    result = paw.repair(wheel, paw.RepairRequest([fixture_libs.libdir], output_dir=tmp_path / "out"))
    assert result.output is not None and check_wheel_valid(result.output)["pkg/data.wasm"] == files["pkg/data.wasm"]
    # Given on its own, a .wasm file is meant as a module: what is wrong with it is said.
    (tmp_path / "lone.wasm").write_bytes(files["pkg/data.wasm"])
    assert cli("show", str(tmp_path / "lone.wasm")).returncode == 2


# --- 7. one library under two names is vendored once -----------------------------------------


def test_one_library_under_two_names_is_vendored_once(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    libdir = tmp_path / "sysroot"
    libdir.mkdir()
    (libdir / "libouter.so.1").write_bytes(fixture_libs.outer.read_bytes())
    (libdir / "libouter.so").symlink_to("libouter.so.1")
    (libdir / "libcounter.so").write_bytes(fixture_libs.counter.read_bytes())
    wheel = _two_names_wheel(fixture_libs, tmp_path / "in")
    result = paw.repair(wheel, paw.RepairRequest([libdir], output_dir=tmp_path / "out"))
    assert sorted(lib.original_name for lib in result.plan.vendored) == ["libcounter.so", "libouter.so"]
    outer = next(lib.dest for lib in result.plan.vendored if lib.original_name == "libouter.so").rsplit("/", 1)[1]
    renames = {path: patch.renames for path, patch in result.plan.patches.items() if patch.renames}
    assert renames["chainpkg/_ext.so"] == {"libouter.so": outer}
    assert renames["chainpkg/sub/deep/libuser.so"] == {"libouter.so.1": outer}
    assert paw.audit(result.output).loads


@pytest.mark.runtime
def test_one_library_under_two_names_is_one_copy_at_run_time(
    runtimes: None, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    libdir = tmp_path / "sysroot"
    libdir.mkdir()
    (libdir / "libouter.so.1").write_bytes(fixture_libs.outer.read_bytes())
    (libdir / "libouter.so").symlink_to("libouter.so.1")
    (libdir / "libcounter.so").write_bytes(fixture_libs.counter.read_bytes())
    repaired = paw.repair(
        _two_names_wheel(fixture_libs, tmp_path / "in"), paw.RepairRequest([libdir], output_dir=tmp_path / "out")
    ).output
    assert repaired is not None
    assert run_in_pyodide("pyodide-0.29", CODE, repaired)["result"] == "[1, 2, 3, 4]"


def _two_names_wheel(fixture_libs: wheelbuilder.FixtureLibs, out: Path) -> Path:
    """The chain wheel, its ctypes module needing libouter by its versioned name."""
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, out / "plain", "pyodide_2025_0")
    with zipfile.ZipFile(wheel) as archive:
        files = {name: archive.read(name) for name in archive.namelist() if ".dist-info/" not in name}
    files["chainpkg/sub/deep/libuser.so"] = with_needed(files["chainpkg/sub/deep/libuser.so"], ["libouter.so.1"])
    return wheelbuilder.write_wheel(out, "chainpkg", "1.0", TAG, files)


# --- 8. small ones -------------------------------------------------------------------------------


def test_utf8_name_without_the_flag_gets_it(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """The stdlib reads an unflagged name as cp437: the repaired wheel must carry the flag."""
    wheel = wheelbuilder.write_wheel(
        tmp_path / "in", "pkg", "1.0", TAG, {"pkg/_ext.so": fixture_libs.ext.read_bytes(), "pkg/café.py": b"x = 1\n"}
    )
    data = bytearray(wheel.read_bytes())
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = data.find(signature)
        while pos >= 0:
            name_len = int.from_bytes(data[pos + (26 if signature == b"PK\x03\x04" else 28) :][:2], "little")
            name_at = pos + (30 if signature == b"PK\x03\x04" else 46)
            if not bytes(data[name_at : name_at + name_len]).isascii():
                flags = int.from_bytes(data[pos + flag_offset : pos + flag_offset + 2], "little") & ~0x800
                data[pos + flag_offset : pos + flag_offset + 2] = flags.to_bytes(2, "little")
            pos = data.find(signature, pos + 1)
    wheel.write_bytes(bytes(data))
    with zipfile.ZipFile(wheel) as archive:
        assert "pkg/café.py" not in archive.namelist()  # what the stdlib makes of it
    result = paw.repair(wheel, paw.RepairRequest([fixture_libs.libdir], output_dir=tmp_path / "out"))
    assert result.output is not None
    assert check_wheel_valid(result.output)["pkg/café.py"] == b"x = 1\n"


def test_a_failed_repair_leaves_no_output_directory(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyodide_auditwheel.wheel.zipio import ZipWriter

    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    monkeypatch.setattr(ZipWriter, "close", lambda self: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(paw.AuditwheelError, match="nothing was changed"):
        paw.repair(wheel, paw.RepairRequest([fixture_libs.libdir], output_dir=tmp_path / "new" / "deeper"))
    assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    with pytest.raises(paw.AuditwheelError):
        paw.repair(wheel, paw.RepairRequest([fixture_libs.libdir], output_dir=tmp_path / "kept"))
    assert (tmp_path / "kept").is_dir()  # a directory the user had stays


def test_platlib_modules_get_the_runtime_path_of_where_they_are_installed(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    wheel = wheelbuilder.write_wheel(
        tmp_path, "pkg", "1.0", TAG, {"pkg-1.0.data/platlib/pkg/_ext.so": fixture_libs.ext.read_bytes()}
    )
    result = paw.repair(wheel, paw.RepairRequest([fixture_libs.libdir], output_dir=tmp_path / "out"))
    patch = result.plan.patches["pkg-1.0.data/platlib/pkg/_ext.so"]
    # Installed where it is in the archive: Pyodide does not move .data (test_runtime.py).
    assert patch.added_runtime_paths == ("/lib/python3.13/site-packages/pkg.libs", "$ORIGIN/../../../pkg.libs")
    assert paw.audit(result.output).loads


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


def test_non_ascii_project_names_get_their_libs_directory(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    wheel = wheelbuilder.write_wheel(tmp_path, "café", "1.0", TAG, {"café/_ext.so": fixture_libs.ext.read_bytes()})
    result = paw.repair(wheel, paw.RepairRequest([fixture_libs.libdir], output_dir=tmp_path / "out"))
    assert result.plan.libs_dir == "café.libs" and result.output is not None
    assert any(name.startswith("café.libs/libouter-") for name in check_wheel_valid(result.output))


# --- 8. the portable paths (macOS has neither O_TMPFILE nor copy_file_range) ---------------------


def test_portable_paths_give_the_same_wheel(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyodide_auditwheel.wheel import atomic, zipio

    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    fast = paw.repair(wheel, paw.RepairRequest([fixture_libs.libdir], output_dir=tmp_path / "fast")).output
    calls = {"copy_file_range": 0, "O_TMPFILE": 0}
    real_copy, real_open = os.copy_file_range, os.open

    def counting_copy(*args):  # type: ignore[no-untyped-def]
        calls["copy_file_range"] += 1
        return real_copy(*args)

    def counting_open(path, flags, *rest):  # type: ignore[no-untyped-def]
        if flags & getattr(os, "O_TMPFILE", 0) == getattr(os, "O_TMPFILE", -1):
            calls["O_TMPFILE"] += 1
        return real_open(path, flags, *rest)

    monkeypatch.setattr(os, "copy_file_range", counting_copy)
    monkeypatch.setattr(os, "open", counting_open)
    monkeypatch.setenv(atomic.PORTABLE_IO_ENV, "1")
    assert zipio.portable_io()
    portable = paw.repair(wheel, paw.RepairRequest([fixture_libs.libdir], output_dir=tmp_path / "portable")).output
    assert calls == {"copy_file_range": 0, "O_TMPFILE": 0}
    assert fast is not None and portable is not None and fast.read_bytes() == portable.read_bytes()


@pytest.mark.parametrize("io_path", ["linux", "portable"])
def test_sigterm_while_the_temporary_name_is_made_leaves_nothing(
    io_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window the SIGTERM test once hit on the portable path: the signal arrives just as
    the temporary file gets its name, before the cleanup knows the name."""
    import signal
    import tempfile

    from pyodide_auditwheel.wheel import atomic

    if io_path == "portable":
        monkeypatch.setenv(atomic.PORTABLE_IO_ENV, "1")
    real_mkstemp, real_link = tempfile.mkstemp, os.link

    def signalled(make):  # type: ignore[no-untyped-def]
        def made_then_signalled(*args, **kwargs):  # type: ignore[no-untyped-def]
            made = make(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGTERM)
            return made

        return made_then_signalled

    monkeypatch.setattr(tempfile, "mkstemp", signalled(real_mkstemp))
    monkeypatch.setattr(os, "link", signalled(real_link))  # how an O_TMPFILE file gets its name
    target = tmp_path / "out.whl"
    with pytest.raises(SystemExit) as stopped, atomic.atomic_output(target, 0o644, durable=False) as handle:
        handle.write(b"data")
    assert stopped.value.code == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []
