from __future__ import annotations

import dataclasses
import hashlib
import itertools
import os
import signal
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import bigwheel
import pytest
import wheelbuilder
from clirun import cli
from processes import holds_temp_file_in
from runtime_driver import run_in_pyodide
from test_runtime import CODE
from wheelcheck import check_wheel_valid

import pyodide_auditwheel as paw
from pyodide_auditwheel.errors import InternalError, MissingLibrariesError, RecordError, UnsafePathError
from pyodide_auditwheel.graph import libsearch
from pyodide_auditwheel.rewriter import apply, sources
from pyodide_auditwheel.rewriter.plan import RepairOptions, mangled_name
from pyodide_auditwheel.wasm.dylink import read_head
from pyodide_auditwheel.wasm.sections import HEADER
from pyodide_auditwheel.wheel.atomic import PORTABLE_IO_ENV
from pyodide_auditwheel.wheel.record import Record
from pyodide_auditwheel.wheel.zipio import Deflater, ZipReader, ZipWriter


def test_repair_shapely_structure(shapely: Path, geos_libdir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = paw.repair(shapely, paw.RepairRequest(libdirs=[geos_libdir], output_dir=out))
    assert result.output == out / shapely.name and result.changed
    contents = check_wheel_valid(result.output)
    geos_c_digest = hashlib.sha256((geos_libdir / "libgeos_c.so").read_bytes()).hexdigest()
    geos_digest = hashlib.sha256((geos_libdir / "libgeos.so.3.10.3").read_bytes()).hexdigest()
    geos_c_name = f"Shapely.libs/libgeos_c-{geos_c_digest[:8]}.so"
    # emscripten_3_1_14 is Pyodide 0.21's ABI, which loads at install only names ending in .so
    geos_name = f"Shapely.libs/libgeos-{geos_digest[:8]}-3.10.3.so"
    assert geos_c_name in contents and geos_name in contents
    speedups = read_head(contents["shapely/speedups/_speedups.cpython-310-wasm32-emscripten.so"]).dylink
    assert speedups.needed == (geos_c_name.split("/")[1],)
    # 0.21 reads no RUNTIME_PATH; what is written serves a later loader, as for every ABI
    libs = "/lib/python3.10/site-packages/Shapely.libs"
    assert speedups.runtime_paths == (libs, "$ORIGIN/../../Shapely.libs")
    vectorized = read_head(contents["shapely/vectorized/_vectorized.cpython-310-wasm32-emscripten.so"]).dylink
    assert vectorized.runtime_paths == (libs, "$ORIGIN/../../Shapely.libs")
    vendored_c = read_head(contents[geos_c_name]).dylink
    assert vendored_c.needed == (geos_name.split("/")[1],)
    assert vendored_c.runtime_paths == (libs, "$ORIGIN")
    # unchanged members: same bytes; the input is untouched
    with zipfile.ZipFile(shapely) as original:
        for name in original.namelist():
            if not name.endswith((".so", "RECORD")):
                assert original.read(name) == contents[name]
    assert paw.show(result.output).missing == {}


def test_second_repair_changes_nothing_and_output_is_reproducible(
    shapely: Path, geos_libdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = paw.repair(shapely, paw.RepairRequest(libdirs=[geos_libdir], output_dir=tmp_path / "a")).output
    assert first is not None
    again = paw.repair(first, paw.RepairRequest(libdirs=[geos_libdir], output_dir=tmp_path / "b"))
    assert again.plan.is_noop and not again.changed
    assert again.output is not None and again.output.read_bytes() == first.read_bytes()
    before = first.read_bytes()
    in_place = paw.repair(first, paw.RepairRequest(libdirs=[geos_libdir]))
    assert not in_place.changed and first.read_bytes() == before
    # same inputs -> byte-identical output, with or without SOURCE_DATE_EPOCH
    second = paw.repair(shapely, paw.RepairRequest(libdirs=[geos_libdir], output_dir=tmp_path / "c")).output
    assert second is not None and second.read_bytes() == before
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    x = paw.repair(shapely, paw.RepairRequest(libdirs=[geos_libdir], output_dir=tmp_path / "x")).output
    y = paw.repair(shapely, paw.RepairRequest(libdirs=[geos_libdir], output_dir=tmp_path / "y")).output
    assert x is not None and y is not None and x.read_bytes() == y.read_bytes()


def test_streamed_members_give_the_same_wheel_as_members_compressed_ahead(
    shapely: Path, geos_libdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Members over AHEAD_MAX_MEMBER, vendored libraries and patched modules alike, are
    streamed from their source when the writer reaches them, so none is held whole, and
    their blocks are compressed on the worker pool's threads; the wheel is the same, byte
    for byte.  The library files are read in small chunks here, so the dylink head of a
    vendored library is patched across chunk boundaries."""
    ahead = paw.repair(shapely, paw.RepairRequest(libdirs=[geos_libdir], output_dir=tmp_path / "ahead")).output
    monkeypatch.setattr(sources, "AHEAD_MAX_MEMBER", -1)
    monkeypatch.setattr(libsearch, "LIBRARY_CHUNK", 7)

    def nothing_ahead(*_args: object) -> None:
        raise AssertionError("a member was compressed ahead")

    monkeypatch.setattr(Deflater, "deflate_all", nothing_ahead)
    pools_asked = []
    real_pool = apply.DeflatePool.__call__
    monkeypatch.setattr(apply.DeflatePool, "__call__", lambda self: pools_asked.append(1) or real_pool(self))
    streamed = paw.repair(shapely, paw.RepairRequest(libdirs=[geos_libdir], output_dir=tmp_path / "streamed")).output
    assert ahead is not None and streamed is not None
    assert streamed.read_bytes() == ahead.read_bytes()
    assert len(pools_asked) == 5  # two modules, two libraries, and the CRC check of unchanged members
    check_wheel_valid(streamed)


def test_file_modes_survive(shapely: Path, geos_libdir: Path, tmp_path: Path) -> None:
    output = paw.repair(shapely, paw.RepairRequest(libdirs=[geos_libdir], output_dir=tmp_path / "o")).output
    assert output is not None
    with zipfile.ZipFile(shapely) as a, zipfile.ZipFile(output) as b:
        for info in a.infolist():
            assert b.getinfo(info.filename).external_attr == info.external_attr, info.filename
        assert [i.filename for i in b.infolist() if i.filename in a.namelist()] == a.namelist()


@pytest.mark.parametrize("io_path", ["linux", "portable"])
def test_in_place_repair_is_atomic_under_injected_failures(
    io_path: str, shapely: Path, geos_libdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if io_path == "portable":
        monkeypatch.setenv(PORTABLE_IO_ENV, "1")
    original = shapely.read_bytes()
    real_add_chunks = ZipWriter.add_chunks

    def disk_full_midway(self: ZipWriter, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.count >= 10:  # the archive half made: members copied, some written
            raise OSError(28, "No space left on device")
        return real_add_chunks(self, *args, **kwargs)

    monkeypatch.setattr(ZipWriter, "add_chunks", disk_full_midway)
    with pytest.raises(paw.AuditwheelError, match="No space left on device; nothing was changed"):
        paw.repair(shapely, paw.RepairRequest(libdirs=[geos_libdir]))
    assert shapely.read_bytes() == original
    assert sorted(p.name for p in shapely.parent.iterdir()) == [shapely.name]
    monkeypatch.setattr(ZipWriter, "add_chunks", real_add_chunks)
    monkeypatch.setattr(ZipWriter, "close", lambda self: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        paw.repair(shapely, paw.RepairRequest(libdirs=[geos_libdir]))
    assert shapely.read_bytes() == original
    assert sorted(p.name for p in shapely.parent.iterdir()) == [shapely.name]


def _drop_one_copied_member(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ZipReader.raw_entries

    def skipping_one(self: ZipReader):  # type: ignore[no-untyped-def]
        # The entries the writer copies, one of them never reaching the output.
        for index, entry in enumerate(real(self)):
            if index != 3:
                yield entry

    monkeypatch.setattr(ZipReader, "raw_entries", skipping_one)


def _vendor_last(monkeypatch: pytest.MonkeyPatch) -> None:
    # The archive puts the libraries last while RECORD still lists them first.
    monkeypatch.setattr(apply, "vendored_first", lambda items, inserted: itertools.chain(items, inserted))


def _corrupt_compressed_members(monkeypatch: pytest.MonkeyPatch) -> None:
    real = Deflater.deflate_all

    def corrupting(self: Deflater, chunks):  # type: ignore[no-untyped-def]
        deflated = real(self, chunks)
        return dataclasses.replace(deflated, crc=deflated.crc ^ 1)

    monkeypatch.setattr(Deflater, "deflate_all", corrupting)


def _drop_a_record_row(monkeypatch: pytest.MonkeyPatch) -> None:
    real = Record.rewritten

    def dropping(self: Record, replaced, added, removed):  # type: ignore[no-untyped-def]
        text = b"".join(real(self, replaced, added, removed))
        yield text.replace(text.split(b"\n")[0] + b"\n", b"", 1)

    monkeypatch.setattr(Record, "rewritten", dropping)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (_drop_one_copied_member, "does not hold the expected members"),
        (_vendor_last, "does not hold the expected members in their places"),
        (_corrupt_compressed_members, "fails its CRC check"),
        (_drop_a_record_row, "file.s. in the wheel are not listed in it"),
    ],
)
def test_the_output_check_catches_writer_faults(
    shapely: Path,
    geos_libdir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fault,
    message,  # type: ignore[no-untyped-def]
) -> None:
    """The check of the written wheel is our net against our own bugs: each injected fault in
    the writer is caught before the output gets its name."""
    fault(monkeypatch)
    with pytest.raises(InternalError, match=message):
        paw.repair(shapely, paw.RepairRequest(libdirs=[geos_libdir], output_dir=tmp_path / "out"))
    assert not (tmp_path / "out" / shapely.name).exists()
    # the CLI tells a bug of ours from an unusable input: exit 4, not 2
    if fault is _vendor_last:
        from pyodide_auditwheel.cli import app, contract

        with pytest.raises(SystemExit) as ended:
            app(["repair", str(shapely), "--libdir", str(geos_libdir), "-o", str(tmp_path / "o")])
        assert ended.value.code == contract.EXIT_INTERNAL


def test_all_missing_reported_at_once_nothing_written(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    libdir = tmp_path / "only-outer"
    libdir.mkdir()
    (libdir / "libouter.so").write_bytes(fixture_libs.outer.read_bytes())
    with pytest.raises(MissingLibrariesError) as info:
        paw.repair(wheel, paw.RepairRequest(libdirs=[libdir], output_dir=tmp_path / "out"))
    assert set(info.value.missing) == {"libcounter.so"}
    assert not (tmp_path / "out").exists()
    result = cli("repair", str(wheel), "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "libouter.so (needed by chainpkg/_ext.so, chainpkg/sub/deep/libuser.so)" in " ".join(result.stderr.split())
    assert not (tmp_path / "out").exists()


def test_dry_run_and_json(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    before = wheel.read_bytes()
    dry = cli("repair", str(wheel), "--libdir", str(fixture_libs.libdir), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would vendor" in dry.stdout and "RUNTIME_PATH += /lib/python3.13/site-packages/chainpkg.libs" in dry.stdout
    assert wheel.read_bytes() == before
    import json

    done = cli("repair", str(wheel), "--libdir", str(fixture_libs.libdir), "--json", "-o", str(tmp_path / "o"))
    data = json.loads(done.stdout)["inputs"][0]
    assert data["changed"] and data["abi"] == "pyodide_2025_0"
    assert sorted(v["name"] for v in data["vendored"]) == ["libcounter.so", "libouter.so"]


def test_cibuildwheel_style_command_line(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "built", "pyemscripten_2026_0")
    dest_dir = tmp_path / "repaired" / "nested"
    result = cli("repair", "--libdir", str(fixture_libs.libdir), "--output-dir", str(dest_dir), str(wheel))
    assert result.returncode == 0, result.stderr
    check_wheel_valid(dest_dir / wheel.name)
    assert paw.show(dest_dir / wheel.name).missing == {}


def test_no_mangle_exclude_strip_and_lib_sdir(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    result = paw.repair(
        wheel,
        paw.RepairRequest(
            libdirs=[fixture_libs.libdir],
            output_dir=tmp_path / "o",
            options=RepairOptions(lib_sdir="_vendor", no_mangle=("libcounter*",), strip=True),
        ),
    )
    dests = sorted(lib.dest for lib in result.plan.vendored)
    assert dests[0] == "_vendor/libcounter.so" and dests[1].startswith("_vendor/libouter-")
    assert result.output is not None
    check_wheel_valid(result.output)
    excluded = paw.repair(
        wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "e", exclude=["libcounter.so"])
    )
    assert [lib.original_name for lib in excluded.plan.vendored] == ["libouter.so"]
    assert "libcounter.so" in excluded.plan.excluded
    for bad in ("../escape", "a/b", "/abs", ".."):
        with pytest.raises(UnsafePathError):
            paw.repair(
                wheel,
                paw.RepairRequest(libdirs=[fixture_libs.libdir], options=RepairOptions(lib_sdir=bad)),
                dry_run=True,
            )
    # as pypa/auditwheel reads it: a value starting with "." is a suffix to the dist name
    for suffix, libs in ((".libs", "chainpkg.libs"), ("._vendor", "chainpkg._vendor")):
        planned = paw.repair(
            wheel,
            paw.RepairRequest(libdirs=[fixture_libs.libdir], options=RepairOptions(lib_sdir=suffix)),
            dry_run=True,
        )
        assert {lib.dest.split("/")[0] for lib in planned.plan.vendored} == {libs}


def test_mangled_names() -> None:
    assert mangled_name("libgeos.so.3.10.3", "abcdef0123") == "libgeos-abcdef01.so.3.10.3"
    assert mangled_name("libgeos.so.3.10.3", "abcdef0123", so_last=True) == "libgeos-abcdef01-3.10.3.so"
    assert mangled_name("libgeos_c.so", "abcdef0123", so_last=True) == "libgeos_c-abcdef01.so"
    assert mangled_name("libfoo.so", "12345678ff") == "libfoo-12345678.so"
    assert mangled_name("thing.wasm", "12345678ff") == "thing-12345678.wasm"


def test_bad_record_is_refused(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    files = {"pkg/_ext.so": fixture_libs.ext.read_bytes()}
    rows = [
        ("pkg/_ext.so", "sha256=AAAA", "1"),
        ("pkg-1.0.dist-info/METADATA", "", ""),
        ("pkg-1.0.dist-info/WHEEL", "", ""),
    ]
    wheel = wheelbuilder.write_wheel(
        tmp_path, "pkg", "1.0", wheelbuilder.PLATFORM_TAGS["pyodide_2025_0"], files, record_rows=rows
    )
    with pytest.raises(RecordError, match="does not match its RECORD hash"):
        paw.repair(wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "o"))
    ok = paw.repair(
        wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "o", allow_bad_record=True)
    )
    assert ok.record_problems
    missing_row = wheelbuilder.write_wheel(
        tmp_path / "m", "pkg", "1.0", wheelbuilder.PLATFORM_TAGS["pyodide_2025_0"], files, record_rows=rows[1:]
    )
    result = cli("repair", str(missing_row), "--libdir", str(fixture_libs.libdir), "-o", str(tmp_path / "o2"))
    assert result.returncode == 2 and "not listed" in result.stderr


@pytest.mark.parametrize("seed", ["random", "0", "12345"])
def test_names_are_compared_under_a_secret_key_whatever_pythonhashseed(
    seed: str, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    """RECORD and the archive are compared by digests of their names; with PYTHONHASHSEED set,
    Python's own hash is public, so the digests switch to keyed BLAKE2b (and still work)."""
    env = {**os.environ, "PYTHONHASHSEED": seed}
    probe = subprocess.run(
        [sys.executable, "-c", "from pyodide_auditwheel.wheel import zipio; print(zipio.name_hash is hash)"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert probe.stdout.strip() == str(seed == "random")
    files = {"pkg/_ext.so": fixture_libs.ext.read_bytes(), "pkg/__init__.py": b""}
    tags = wheelbuilder.PLATFORM_TAGS["pyodide_2025_0"]
    good = wheelbuilder.write_wheel(tmp_path / "good", "pkg", "1.0", tags, files)
    result = cli("repair", str(good), "--libdir", str(fixture_libs.libdir), "-o", str(tmp_path / "out"), env=env)
    assert result.returncode == 0, result.stderr
    check_wheel_valid(tmp_path / "out" / good.name)
    rows = [
        ("pkg/_ext.so", "", ""),
        ("pkg/other.py", "", ""),
        ("pkg-1.0.dist-info/METADATA", "", ""),
        ("pkg-1.0.dist-info/WHEEL", "", ""),
    ]
    swapped = wheelbuilder.write_wheel(tmp_path / "bad", "pkg", "1.0", tags, files, record_rows=rows)
    result = cli("repair", str(swapped), "--libdir", str(fixture_libs.libdir), "-o", str(tmp_path / "out2"), env=env)
    assert result.returncode == 2 and "lists 1 file(s) not in the wheel, e.g. 'pkg/other.py'" in result.stderr


def test_strip_removes_debug_sections_and_reports_savings(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    from pyodide_auditwheel.wasm.sections import iter_sections

    def custom_names(data: bytes) -> set[str | None]:
        return {s.custom_name for s in iter_sections(data) if s.id == 0}

    assert "name" in custom_names(fixture_libs.outer.read_bytes())  # wasm-ld writes one
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    result = paw.repair(
        wheel,
        paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "o", options=RepairOptions(strip=True)),
    )
    assert result.output is not None and result.stripped_bytes > 0
    contents = check_wheel_valid(result.output)
    vendored_outer = next(v for k, v in contents.items() if "libouter-" in k)
    assert "name" not in custom_names(vendored_outer)
    assert "name" in custom_names(contents["chainpkg/_ext.so"])  # the wheel's own: only with --strip-wheel-modules
    both = paw.repair(
        wheel,
        paw.RepairRequest(
            libdirs=[fixture_libs.libdir],
            output_dir=tmp_path / "b",
            options=RepairOptions(strip=True, strip_wheel_modules=True),
        ),
    )
    assert both.output is not None
    assert "name" not in custom_names(check_wheel_valid(both.output)["chainpkg/_ext.so"])


def test_sysroot_layout_env_var_and_several_wheels(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sysroot = tmp_path / "sysroot"
    pic = sysroot / "lib" / "wasm32-emscripten" / "pic"
    plain = sysroot / "lib" / "wasm32-emscripten"
    pic.mkdir(parents=True)
    (pic / "libouter.so").write_bytes(fixture_libs.outer.read_bytes())
    (plain / "libouter.so").write_bytes(b"\x7fELF not a side module")
    (sysroot / "lib" / "libcounter.so").write_bytes(fixture_libs.counter.read_bytes())
    analysis = paw.show(fixture_libs.ext, libdirs=[sysroot])
    assert analysis.missing == {}
    assert analysis.modules[0].dependencies[0].location == str(pic / "libouter.so")
    monkeypatch.setenv("PYODIDE_AUDITWHEEL_LIBDIR", str(sysroot))
    assert paw.show(fixture_libs.ext).missing == {}
    monkeypatch.delenv("PYODIDE_AUDITWHEEL_LIBDIR")
    one = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "w", "pyodide_2025_0")
    two = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "w", "pyodide_2024_0")
    result = cli("repair", str(one), str(two), "--libdir", str(sysroot), "-o", str(tmp_path / "o"))
    assert result.returncode == 0, result.stderr
    for wheel in (one, two):
        check_wheel_valid(tmp_path / "o" / wheel.name)


def test_bad_libdir_is_one_sentence(tmp_path: Path, fixture_libs: wheelbuilder.FixtureLibs) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    for libdir, message in ((loop, "symbolic link loop"), (tmp_path / "absent", "does not exist")):
        result = cli("show", str(fixture_libs.ext), "--libdir", str(libdir))
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_verify_record_is_opt_in(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """A tampered member that repair never reads passes by default (RECORD of unchanged members
    is kept as it is); --verify-record refuses it; --allow-bad-record repairs with a warning."""
    files = {"pkg/__init__.py": b"print('hi')\n", "pkg/_ext.so": fixture_libs.ext.read_bytes()}
    good = wheelbuilder.write_wheel(
        tmp_path / "good", "pkg", "1.0", wheelbuilder.PLATFORM_TAGS["pyodide_2025_0"], files
    )
    with zipfile.ZipFile(good) as archive:
        record_name = next(n for n in archive.namelist() if n.endswith("RECORD"))
        rows = [
            tuple(line.split(","))
            for line in archive.read(record_name).decode().splitlines()
            if not line.startswith(record_name)
        ]
    tampered_rows = [(p, "sha256=" + "A" * 43 if p == "pkg/__init__.py" else h, s) for p, h, s in rows]
    wheel = wheelbuilder.write_wheel(
        tmp_path / "bad", "pkg", "1.0", wheelbuilder.PLATFORM_TAGS["pyodide_2025_0"], files, record_rows=tampered_rows
    )
    args = [str(wheel), "--libdir", str(fixture_libs.libdir)]
    assert cli("repair", *args, "-o", str(tmp_path / "default")).returncode == 0
    refused = cli("repair", *args, "-o", str(tmp_path / "verified"), "--verify-record")
    assert refused.returncode == 2 and "'pkg/__init__.py' does not match its RECORD hash" in refused.stderr
    assert not (tmp_path / "verified" / wheel.name).exists()
    allowed = cli("repair", *args, "-o", str(tmp_path / "allowed"), "--verify-record", "--allow-bad-record")
    assert allowed.returncode == 0 and "warning" in allowed.stdout and "pkg/__init__.py" in allowed.stdout
    assert (tmp_path / "allowed" / wheel.name).exists()


def test_record_with_quoted_rows_and_crlf_is_kept(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """Unchanged RECORD lines stay byte for byte (CRLF too); a quoted path (a comma in a
    file name) is read with csv rules and written back quoted."""
    files = {"pkg/a,b.py": b"x = 1\n", "pkg/plain.py": b"y = 2\n", "pkg/_ext.so": fixture_libs.ext.read_bytes()}
    wheel = wheelbuilder.write_wheel(tmp_path, "pkg", "1.0", wheelbuilder.PLATFORM_TAGS["pyodide_2025_0"], files)
    # rewrite RECORD with CRLF line ends and csv quoting for the comma
    with zipfile.ZipFile(wheel) as archive:
        contents = {info.filename: archive.read(info) for info in archive.infolist()}
    record_name = next(n for n in contents if n.endswith("RECORD"))
    lines = contents[record_name].decode().splitlines()
    fixed = [
        f'"{line.split(",sha256")[0]}",sha256{line.split(",sha256")[1]}' if line.startswith("pkg/a,b.py") else line
        for line in lines
    ]
    plain_line = next(line for line in fixed if line.startswith("pkg/plain.py"))
    contents[record_name] = ("\r\n".join(fixed) + "\r\n").encode()
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name_, data in contents.items():
            archive.writestr(name_, data)
    paw.repair(wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "out"))
    repaired = check_wheel_valid(tmp_path / "out" / wheel.name)
    record = repaired[record_name]
    assert (plain_line + "\r\n").encode() in record
    assert b'"pkg/a,b.py",sha256=' in record


def test_benchmark_wheel_small_instance_repairs_validly(realworld: Path, geos_libdir: Path, tmp_path: Path) -> None:
    """The benchmark's wheel (numpy's members replicated, Shapely's modules in ten packages),
    two copies instead of thirty: the repaired output's central directory, CRCs and RECORD
    hashes all check out; every unchanged member's compressed bytes are the input's, byte for
    byte; and a patched module differs from the input's only in its first section."""
    wheel = bigwheel.build_big_wheel(tmp_path / "in", copies=2)
    result = paw.repair(wheel, paw.RepairRequest(libdirs=[geos_libdir], output_dir=tmp_path / "out"))
    assert result.changed and len(result.plan.patches) == 21  # 20 modules + libgeos_c
    repaired = check_wheel_valid(tmp_path / "out" / wheel.name)
    with open(wheel, "rb") as before, open(tmp_path / "out" / wheel.name, "rb") as after:
        original, output = ZipReader(before), ZipReader(after)
        new_members = {member.name: member for member in output}
        for member in original:
            if member.name in result.plan.patches:
                old_head, new_head = read_head(original.read(member)), read_head(repaired[member.name])
                assert (
                    repaired[member.name][new_head.first_section_end :]
                    == original.read(member)[old_head.first_section_end :]
                )
            elif not member.name.endswith("RECORD"):
                copied = new_members[member.name]
                assert (copied.crc, copied.method) == (member.crc, member.method), member.name
                assert b"".join(output.raw_chunks(copied)) == b"".join(original.raw_chunks(member)), member.name


# O_TMPFILE and copy_file_range, or the portable paths macOS takes (PORTABLE_IO_ENV).
IO_PATHS = {"linux": {}, "portable": {PORTABLE_IO_ENV: "1"}}


def _default_dispositions() -> None:
    """The repair leaves a signal its parent ignored ignored (as ``nohup`` asks); a test run
    started under ``nohup`` would otherwise never see SIGHUP arrive."""
    for _, signum in SIGNALS_BY_PATH:
        signal.signal(signum, signal.SIG_DFL)


def _start_repair(wheel: Path, libdir: Path, io_path: str) -> subprocess.Popen[bytes]:
    script = Path(sys.executable).parent / "pyodide-auditwheel"
    return subprocess.Popen(
        [str(script), "repair", str(wheel), "--libdir", str(libdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **IO_PATHS[io_path]},
        preexec_fn=_default_dispositions,
    )


def _signal_mid_write(process: subprocess.Popen[bytes], directory: Path, signum: int) -> bool:
    """Send ``signum`` once the new archive is open in ``directory``; whether it was sent
    while the repair was still running."""
    while process.poll() is None and not holds_temp_file_in(process.pid, directory):
        pass
    if process.poll() is not None:
        return False
    os.kill(process.pid, signum)
    return True


@pytest.mark.parametrize("io_path", list(IO_PATHS))
def test_kill_9_mid_write_leaves_input_intact(io_path: str, realworld: Path, geos_libdir: Path, tmp_path: Path) -> None:
    """SIGKILL cannot be caught.  With O_TMPFILE the half-written archive has no name, so the
    kernel reclaims it and the directory holds only the input; on the portable path a hidden
    ``.NAME.*.tmp`` file is all that can remain."""
    wheel = bigwheel.build_big_wheel(tmp_path / "in", copies=12)
    original = hashlib.sha256(wheel.read_bytes()).hexdigest()
    for _attempt in range(5):
        process = _start_repair(wheel, geos_libdir, io_path)
        killed = _signal_mid_write(process, wheel.parent, signal.SIGKILL)
        process.wait()
        assert hashlib.sha256(wheel.read_bytes()).hexdigest() == original
        left = sorted(p.name for p in wheel.parent.iterdir() if p.name != wheel.name)
        if io_path == "linux":
            assert left == []
        else:
            assert len(left) <= 1 and all(name.startswith(f".{wheel.name}.") and name.endswith(".tmp") for name in left)
            for name in left:
                (wheel.parent / name).unlink()
        if killed:
            assert process.returncode == -signal.SIGKILL
            return
    pytest.fail("the repair always finished before it could be killed")


SIGNALS_BY_PATH = [(io_path, signal.SIGTERM) for io_path in IO_PATHS] + [
    ("portable", signum) for signum in (signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1)
]


@pytest.mark.parametrize(("io_path", "signum"), SIGNALS_BY_PATH, ids=lambda v: getattr(v, "name", v))
def test_a_terminating_signal_mid_write_cleans_up(
    io_path: str, signum: signal.Signals, realworld: Path, geos_libdir: Path, tmp_path: Path
) -> None:
    """SIGTERM (and on the portable path, whose temporary file has a name, SIGHUP, SIGQUIT and
    SIGUSR1) arriving while the archive is written (asserted, not assumed): the input is
    intact and nothing is left beside it."""
    wheel = bigwheel.build_big_wheel(tmp_path / "in", copies=12)
    original = wheel.read_bytes()
    for _attempt in range(5):
        process = _start_repair(wheel, geos_libdir, io_path)
        sent = _signal_mid_write(process, wheel.parent, signum)
        process.wait()
        assert sorted(p.name for p in wheel.parent.iterdir()) == [wheel.name]
        if sent and process.returncode == 128 + signum:
            assert wheel.read_bytes() == original
            return
        # Finished first (or between the check and the signal): the repaired wheel replaced
        # the input; start again from the original.
        wheel.write_bytes(original)
    pytest.fail(f"{signal.Signals(signum).name} never arrived while the archive was being written")


def _repair_with_stderr_on_a_terminal(wheel: Path, libdir: Path, out: Path, delay: str | None) -> tuple[int, bytes]:
    """Run a repair whose stderr is a pseudo-terminal; its exit code and what reached the
    terminal."""
    import pty
    import select

    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120"}
    env.pop("PYODIDE_AUDITWHEEL_PROGRESS_DELAY", None)
    if delay is not None:
        env["PYODIDE_AUDITWHEEL_PROGRESS_DELAY"] = delay
    master, slave = pty.openpty()
    pyodide = Path(sys.executable).parent / "pyodide"
    process = subprocess.Popen(
        [str(pyodide), "auditwheel", "repair", str(wheel), "--libdir", str(libdir), "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                piece = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                piece = b""
            seen += piece
            if not piece and process.poll() is not None:
                break
        elif process.poll() is not None:
            break
    os.close(master)
    return process.wait(), seen


def test_progress_bar_only_on_a_terminal_and_only_for_a_long_repair(
    shapely: Path, geos_libdir: Path, tmp_path: Path
) -> None:
    # A repair that has run longer than the delay (here: none) shows a bar on the terminal.
    code, seen = _repair_with_stderr_on_a_terminal(shapely, geos_libdir, tmp_path / "a", delay="0")
    assert code == 0 and shapely.name.encode() in seen and b"\x1b[" in seen
    # A quick repair (under the default second) shows none.
    code, seen = _repair_with_stderr_on_a_terminal(shapely, geos_libdir, tmp_path / "b", delay=None)
    assert code == 0 and shapely.name.encode() not in seen
    # Without a terminal, nothing but the result, whatever the delay.
    env = {**os.environ, "PYODIDE_AUDITWHEEL_PROGRESS_DELAY": "0"}
    result = cli("repair", str(shapely), "--libdir", str(geos_libdir), "-o", str(tmp_path / "c"), env=env)
    assert result.returncode == 0 and result.stderr == ""


def test_a_directory_where_a_vendored_library_goes_is_refused_before_writing(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    files = {"chainpkg/_ext.so": fixture_libs.ext.read_bytes(), "chainpkg.libs/libouter.so/README": b"x"}
    wheel = wheelbuilder.write_wheel(tmp_path / "in", "chainpkg", "1.0", "cp313-cp313-pyodide_2025_0_wasm32", files)
    result = cli("repair", str(wheel), "--libdir", str(fixture_libs.libdir), "--no-mangle", "-o", str(tmp_path / "out"))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert (
        "cannot vendor libouter.so as chainpkg.libs/libouter.so: the wheel has a directory of that name (it holds "
        in result.stderr
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not hasattr(os, "copy_file_range"), reason="copy_file_range is Linux's")
def test_unchanged_members_go_through_copy_file_range_on_linux(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fast path is taken where it exists (and not with PYODIDE_AUDITWHEEL_PORTABLE_IO),
    and its output is the same wheel the portable path writes."""
    monkeypatch.delenv("PYODIDE_AUDITWHEEL_PORTABLE_IO", raising=False)
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    copied: list[int] = []
    real = os.copy_file_range

    def counting(*args: int) -> int:
        done = real(*args)
        copied.append(done)
        return done

    monkeypatch.setattr(os, "copy_file_range", counting)
    fast = paw.repair(wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "fast")).output
    assert fast is not None and sum(copied) > 0
    monkeypatch.setenv("PYODIDE_AUDITWHEEL_PORTABLE_IO", "1")
    copied.clear()
    portable = paw.repair(
        wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "portable")
    ).output
    assert portable is not None and copied == []
    assert fast.read_bytes() == portable.read_bytes()


@pytest.mark.parametrize("member", ["pkg/_ext.so", "pkg/__init__.py"])
def test_a_row_with_an_empty_hash_is_bad_record(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path, member: str
) -> None:
    """Only RECORD itself may be listed without a hash (pypa/installer reports any other): the
    module a repair rewrites, or with --verify-record any member."""
    files = {"pkg/__init__.py": b"print('hi')\n", "pkg/_ext.so": fixture_libs.ext.read_bytes()}
    rows = [
        (path, "" if path == member else wheelbuilder.record_hash(data), str(len(data))) for path, data in files.items()
    ]
    info = "pkg-1.0.dist-info"
    metadata = b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n"
    tag = wheelbuilder.PLATFORM_TAGS["pyodide_2025_0"]
    wheel_file = f"Wheel-Version: 1.0\nGenerator: pyodide-auditwheel-tests\nRoot-Is-Purelib: false\nTag: {tag}\n"
    rows += [(f"{info}/METADATA", wheelbuilder.record_hash(metadata), str(len(metadata)))]
    rows += [(f"{info}/WHEEL", wheelbuilder.record_hash(wheel_file.encode()), str(len(wheel_file)))]
    wheel = wheelbuilder.write_wheel(tmp_path / "bad", "pkg", "1.0", tag, files, record_rows=rows)
    args = [str(wheel), "--libdir", str(fixture_libs.libdir)]
    if not member.endswith(".so"):  # a member the repair does not read is checked on demand
        args.append("--verify-record")
    refused = cli("repair", *args, "-o", str(tmp_path / "out"))
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"bad RECORD: '{member}' has no hash in RECORD" in " ".join(refused.stderr.split())
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


TAG_2025 = "cp313-cp313-pyodide_2025_0_wasm32"


def with_needed(module: bytes, needed: list[str]) -> bytes:
    """The module with its NEEDED entries replaced (the rest of it byte for byte)."""
    head = read_head(module)
    return HEADER + head.dylink.with_needed(needed).encode() + module[head.first_section_end :]


def test_one_library_under_two_names_is_vendored_once(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    libdir = tmp_path / "sysroot"
    libdir.mkdir()
    (libdir / "libouter.so.1").write_bytes(fixture_libs.outer.read_bytes())
    (libdir / "libouter.so").symlink_to("libouter.so.1")
    (libdir / "libcounter.so").write_bytes(fixture_libs.counter.read_bytes())
    wheel = _two_names_wheel(fixture_libs, tmp_path / "in")
    result = paw.repair(wheel, paw.RepairRequest(libdirs=[libdir], output_dir=tmp_path / "out"))
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
        _two_names_wheel(fixture_libs, tmp_path / "in"),
        paw.RepairRequest(libdirs=[libdir], output_dir=tmp_path / "out"),
    ).output
    assert repaired is not None
    assert run_in_pyodide("pyodide-0.29", CODE, repaired)["result"] == "[1, 2, 3, 4]"


def _two_names_wheel(fixture_libs: wheelbuilder.FixtureLibs, out: Path) -> Path:
    """The chain wheel, its ctypes module needing libouter by its versioned name."""
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, out / "plain", "pyodide_2025_0")
    with zipfile.ZipFile(wheel) as archive:
        files = {name: archive.read(name) for name in archive.namelist() if ".dist-info/" not in name}
    files["chainpkg/sub/deep/libuser.so"] = with_needed(files["chainpkg/sub/deep/libuser.so"], ["libouter.so.1"])
    return wheelbuilder.write_wheel(out, "chainpkg", "1.0", TAG_2025, files)


def test_a_failed_repair_leaves_no_output_directory(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyodide_auditwheel.wheel.zipio import ZipWriter

    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    monkeypatch.setattr(ZipWriter, "close", lambda self: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(paw.AuditwheelError, match="nothing was changed"):
        paw.repair(wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "new" / "deeper"))
    assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    with pytest.raises(paw.AuditwheelError):
        paw.repair(wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "kept"))
    assert (tmp_path / "kept").is_dir()  # a directory the user had stays


def test_platlib_modules_get_the_runtime_path_of_where_they_are_installed(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    wheel = wheelbuilder.write_wheel(
        tmp_path, "pkg", "1.0", TAG_2025, {"pkg-1.0.data/platlib/pkg/_ext.so": fixture_libs.ext.read_bytes()}
    )
    result = paw.repair(wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "out"))
    patch = result.plan.patches["pkg-1.0.data/platlib/pkg/_ext.so"]
    # Installed where it is in the archive: Pyodide does not move .data (test_runtime.py).
    assert patch.added_runtime_paths == ("/lib/python3.13/site-packages/pkg.libs", "$ORIGIN/../../../pkg.libs")
    assert paw.audit(result.output).loads


def test_non_ascii_project_names_get_their_libs_directory(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    wheel = wheelbuilder.write_wheel(tmp_path, "café", "1.0", TAG_2025, {"café/_ext.so": fixture_libs.ext.read_bytes()})
    result = paw.repair(wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "out"))
    assert result.plan.libs_dir == "café.libs" and result.output is not None
    assert any(name.startswith("café.libs/libouter-") for name in check_wheel_valid(result.output))


def test_portable_paths_give_the_same_wheel(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyodide_auditwheel.wheel import atomic, zipio

    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    fast = paw.repair(wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "fast")).output
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
    portable = paw.repair(
        wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "portable")
    ).output
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


@pytest.mark.parametrize("portable", [False, True], ids=["o_tmpfile", "portable-io"])
def test_a_wheel_with_a_253_byte_name_is_repaired_in_place(
    portable: bool, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temporary name beside the target (a dot, the name, a random part, ``.tmp``) must
    fit in 255 bytes even when the target's own name takes 253."""
    dist = "p" * (253 - len("-1.0-cp313-cp313-pyodide_2025_0_wasm32.whl"))
    files = {f"{dist}/_ext.so": fixture_libs.ext.read_bytes()}
    wheel = wheelbuilder.write_wheel(tmp_path, dist, "1.0", "cp313-cp313-pyodide_2025_0_wasm32", files)
    assert len(wheel.name.encode()) == 253
    if portable:
        monkeypatch.setenv("PYODIDE_AUDITWHEEL_PORTABLE_IO", "1")
    result = paw.repair(wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir]))
    assert result.output == wheel and result.changed
    check_wheel_valid(wheel)
    assert sorted(path.name for path in tmp_path.iterdir()) == [wheel.name]


def test_each_loader_resolves_the_wheel_once_per_repair(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 2024_0 wheel must load right on 0.26's loader as well as 0.27's: the repair resolves
    it once by each (the moves it needs, and, when it changes nothing, the copies it cannot
    fix, both ask the one sweep), and once more only to retag (the audit of the result)."""
    from pyodide_auditwheel.graph import analysis as analysis_module
    from pyodide_auditwheel.policy import other_loaders
    from pyodide_auditwheel.wheel.inputs import open_input

    resolved: list[str] = []
    real = analysis_module.Resolver.__init__

    def counting(self: analysis_module.Resolver, *args: Any, **kwargs: Any) -> None:
        real(self, *args, **kwargs)
        resolved.append(self.abi.name)

    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2024_0")
    tree = open_input(wheel)
    loaders = 1 + len(other_loaders(tree, tree.abi))
    tree.close()
    assert loaders == 2
    request = paw.RepairRequest(libdirs=fixture_libs.libdir, output_dir=tmp_path / "out", discover=False)
    repaired = paw.repair(wheel, request).output
    assert repaired is not None
    monkeypatch.setattr(analysis_module.Resolver, "__init__", counting)
    planned = paw.repair(wheel, request, dry_run=True)
    assert not planned.plan.is_noop and len(resolved) == loaders
    resolved.clear()
    again = paw.repair(repaired, paw.RepairRequest(discover=False), dry_run=True)
    assert again.plan.is_noop and len(resolved) == loaders
