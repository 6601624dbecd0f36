from __future__ import annotations

import json
import os
import shutil
import sys
import tracemalloc
from pathlib import Path

import bigwheel
import pytest
import wheelbuilder
from clirun import cli
from conformance import side_module, subsection
from jsonschemas import validate
from wheelcheck import check_wheel_valid

import pyodide_auditwheel as paw
from pyodide_auditwheel.wasm.dylink import HEAD_PROBE
from pyodide_auditwheel.wasm.sections import HEADER
from pyodide_auditwheel.wheel.names import is_module_name
from pyodide_auditwheel.wheel.zipio import HEAD_READ_SLACK, MAX_COMMENT_SEARCH, ZipReader

SHAPELY = "Shapely-1.8.2-cp310-cp310-emscripten_3_1_14_wasm32.whl"
NUMPY = "numpy-1.22.4-cp310-cp310-emscripten_3_1_14_wasm32.whl"


def test_shapely_needs_libgeos_c(realworld: Path) -> None:
    analysis = paw.show(realworld / SHAPELY)
    assert len(analysis.wheel_modules) == 2
    assert set(analysis.missing) == {"libgeos_c.so"}
    assert len(analysis.missing["libgeos_c.so"]) == 2


def test_shapely_with_libdir_finds_transitive_geos(realworld: Path, geos_libdir: Path) -> None:
    analysis = paw.show(realworld / SHAPELY, libdirs=[geos_libdir])
    assert analysis.missing == {}
    found = analysis.dependencies_with("found")
    assert set(found) == {"libgeos_c.so", "libgeos.so.3.10.3"}
    assert found["libgeos.so.3.10.3"] == [str(geos_libdir / "libgeos_c.so")]


def test_exclude_glob(realworld: Path) -> None:
    analysis = paw.show(realworld / SHAPELY, exclude=["libgeos*"])
    assert analysis.missing == {}
    assert set(analysis.dependencies_with("excluded")) == {"libgeos_c.so"}


def test_numpy_needs_nothing(realworld: Path) -> None:
    analysis = paw.show(realworld / NUMPY)
    assert len(analysis.wheel_modules) > 15
    assert analysis.missing == {}


def test_cli_show_exit_codes_and_text(realworld: Path, geos_libdir: Path) -> None:
    missing = cli("show", str(realworld / SHAPELY))
    assert missing.returncode == 1
    assert "libgeos_c.so" in missing.stdout and "missing" in missing.stdout
    assert "2 module(s), 1 missing library" in missing.stdout
    fine = cli("show", str(realworld / SHAPELY), "--libdir", str(geos_libdir), "-r")
    assert fine.returncode == 0, fine.stdout + fine.stderr
    assert "libgeos.so.3.10.3" in fine.stdout and "found" in fine.stdout
    # modules that need nothing are counted, not listed, unless --all
    quiet = cli("show", str(realworld / NUMPY))
    assert quiet.returncode == 0
    assert "19 module(s) need no shared library (--all lists them)" in quiet.stdout
    assert "_multiarray_umath" not in quiet.stdout
    listed = cli("show", "--all", str(realworld / NUMPY))
    assert listed.returncode == 0
    assert "_multiarray_umath" in listed.stdout and "no needs" in listed.stdout
    assert "need no shared library" not in listed.stdout


def test_cli_json_is_valid_against_schema(realworld: Path, geos_libdir: Path) -> None:
    result = cli("show", "--json", str(realworld / SHAPELY), str(realworld / NUMPY), str(realworld / "elf"))
    assert result.returncode == 2
    data = json.loads(result.stdout)
    validate(data, "show")
    shapely, numpy, elf = data["inputs"]
    assert shapely["audit"]["abi"] == "emscripten_3_1_14" and not shapely["audit"]["loads"]
    assert [finding["kind"] for finding in shapely["audit"]["findings"]] == ["missing-library", "missing-library"]
    assert shapely["summary"]["missing"] == ["libgeos_c.so"]
    assert shapely["abi"] == "emscripten_3_1_14"
    assert numpy["summary"]["missing"] == []
    assert "not a wasm module" in elf["error"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d, rw: rw / "elf", "not a wasm module"),
        (lambda d, rw: d / "absent.whl", "no such file"),
        (
            lambda d, rw: _write(d / "x-1.0-cp313-cp313-pyodide_2025_0_wasm32.whl", b"PK\x03\x04garbage"),
            "not a zip archive",
        ),
        (lambda d, rw: _write(d / "notawheel.whl", b""), "not a wheel"),
        (lambda d, rw: _copy(rw / SHAPELY, d / "Shapely-1.8.2-cp310-cp310-linux_x86_64.whl"), "unsupported platform"),
        (lambda d, rw: _write(d / "trunc.so", (rw / "libgeos_c.so").read_bytes()[:30]), "truncated section"),
        (lambda d, rw: _write(d / "notes.txt", b"hi"), "unsupported input"),
    ],
)
def test_unusable_input_is_one_sentence_and_exit_2(realworld: Path, tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path, realworld)
    result = cli("show", str(path))
    assert result.returncode == 2
    assert message in result.stderr.lower()
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # the rule for every error: one line


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _copy(source: Path, target: Path) -> Path:
    shutil.copy(source, target)
    return target


def test_toolchain_fixtures(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """Module with NEEDED, module whose RUNTIME_PATH resolves inside the wheel, a chain of two
    libraries, a module with no needs."""
    inner = wheelbuilder.build_c(
        "user", tmp_path / "obj", "libinner.so", needs=[fixture_libs.outer], rpaths=["$ORIGIN/../vendored"]
    )
    wheel = wheelbuilder.write_wheel(
        tmp_path / "w",
        "fix",
        "1.0",
        wheelbuilder.PLATFORM_TAGS["pyodide_2025_0"],
        {
            "fix/_ext.so": fixture_libs.ext.read_bytes(),
            "fix/sub/libinner.so": inner.read_bytes(),
            "fix/vendored/libouter.so": fixture_libs.outer.read_bytes(),
            "fix/libstandalone.so": fixture_libs.standalone.read_bytes(),
        },
    )
    analysis = paw.show(wheel, libdirs=[fixture_libs.libdir])
    by_path = {m.path: m for m in analysis.modules}
    assert analysis.abi.name == "pyodide_2025_0"
    assert by_path["fix/_ext.so"].dependencies[0].status == "found"
    assert by_path["fix/sub/libinner.so"].runtime_paths == ("$ORIGIN/../vendored",)
    assert by_path["fix/sub/libinner.so"].dependencies[0].status == "included"
    assert by_path["fix/sub/libinner.so"].dependencies[0].location == "fix/vendored/libouter.so"
    assert by_path["fix/libstandalone.so"].dependencies == ()
    # the chain: libouter.so (in the wheel, but not on fix/libouter's own search path) needs libcounter.so
    assert by_path["fix/vendored/libouter.so"].dependencies[0].name == "libcounter.so"
    assert by_path["fix/vendored/libouter.so"].dependencies[0].status == "found"
    # without the libdir, the chain's end is missing, and the ext module's need is missing
    # with a hint that a file of that name is elsewhere in the wheel
    bare = paw.show(wheel)
    assert set(bare.missing) == {"libouter.so", "libcounter.so"}
    ext_dep = next(m for m in bare.modules if m.path == "fix/_ext.so").dependencies[0]
    assert ext_dep.location == "fix/vendored/libouter.so"


def test_single_module_and_directory_inputs(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    assert set(paw.show(fixture_libs.ext).missing) == {"libouter.so"}
    assert paw.show(fixture_libs.ext, libdirs=[fixture_libs.libdir]).missing == {}
    unpacked = tmp_path / "unpacked"
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path, "pyodide_2025_0")
    shutil.unpack_archive(wheel, unpacked, "zip")
    analysis = paw.show(unpacked)
    assert analysis.kind == "directory" and analysis.abi.name == "pyodide_2025_0"
    assert set(analysis.missing) == {"libouter.so"}


def test_exports_and_imports(fixture_libs: wheelbuilder.FixtureLibs) -> None:
    exports = cli("exports", "--show-type", str(fixture_libs.ext))
    assert exports.returncode == 0
    assert "PyInit__ext () -> i32" in exports.stdout
    imports = cli("imports", "--show-type", str(fixture_libs.ext))
    assert "env.outer_next () -> i32" in imports.stdout
    assert "env.PyLong_FromLong (i32) -> i32" in imports.stdout
    assert cli("exports", "/nonexistent.so").returncode == 2


WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
WRITE_EVENTS = {
    "os.mkdir",
    "os.rename",
    "os.remove",
    "os.rmdir",
    "os.link",
    "os.symlink",
    "os.truncate",
    "shutil.copyfile",
    "tempfile.mkstemp",
    "tempfile.mkdtemp",
}


def test_show_reads_only_the_directory_and_module_heads_and_writes_nothing(
    realworld: Path, geos_libdir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every byte ``show`` reads from the wheel is in the central directory, a local header or
    the head of a module (never a whole module, never another member), and nothing is written
    anywhere: no extraction to disk."""
    wheel = bigwheel.build_big_wheel(tmp_path / "in", copies=2)
    with open(wheel, "rb") as handle:
        members = list(ZipReader(handle))
    file_size = wheel.stat().st_size
    directory_start = max(member.data_offset + member.compressed_size for member in members)
    tail = (file_size - min(file_size, MAX_COMMENT_SEARCH), file_size)  # the end-record search
    metadata = [(directory_start, file_size), tail, *((m.header_offset, m.data_offset) for m in members)]
    module_data = {
        m.name: (m.data_offset, m.data_offset + m.compressed_size) for m in members if m.name.endswith(".so")
    }
    paw.show(wheel, libdirs=[geos_libdir])  # imports everything first: compiling them may write .pyc files

    reads: list[tuple[int, int]] = []
    real_pread = os.pread
    wheel_path = str(wheel.resolve())

    def counting(fd: int, size: int, offset: int) -> bytes:
        if os.path.realpath(f"/proc/self/fd/{fd}") == wheel_path:
            reads.append((offset, size))
        return real_pread(fd, size, offset)

    writes: list[str] = []
    watching = True

    def audit(event: str, args: tuple[object, ...]) -> None:
        if not watching:
            return
        flags = args[2] if event == "open" and len(args) > 2 and isinstance(args[2], int) else 0
        if event in WRITE_EVENTS or flags & WRITE_FLAGS:
            writes.append(f"{event} {args[0]!r}")

    monkeypatch.setattr(os, "pread", counting)  # every read of a wheel on disk is a pread
    sys.addaudithook(audit)  # audit hooks cannot be removed: it stops watching below
    try:
        analysis = paw.show(wheel, libdirs=[geos_libdir])
    finally:
        watching = False
    assert not writes
    assert len(reads) > len(module_data), "the wheel was not read through pread: this test would see nothing"
    assert len(analysis.modules) == len(module_data) + 2  # and the two libraries found
    head_bytes = dict.fromkeys(module_data, 0)
    for offset, size in reads:
        if any(start <= offset and offset + size <= end for start, end in metadata):
            continue
        inside = [name for name, (start, end) in module_data.items() if start <= offset and offset + size <= end]
        assert inside, f"show read {size} bytes at {offset}, outside the directory, the local headers and the modules"
        head_bytes[inside[0]] += size
    assert max(head_bytes.values()) <= HEAD_PROBE + HEAD_READ_SLACK
    assert sum(head_bytes.values()) < sum(end - start for start, end in module_data.values()) / 10


def test_the_counts_count_one_thing_each(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """`show --libdir` counted a libdir library among "module(s) need no shared library" next
    to a summary of the wheel's modules, and the JSON's summary.modules left them out of
    modules[] silently; show's verdict and audit's gave different finding counts unexplained."""
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path, "pyodide_2025_0")
    data = json.loads(cli("show", "--json", "--libdir", str(fixture_libs.libdir), str(wheel)).stdout)
    (entry,) = data["inputs"]
    origins = [module["origin"] for module in entry["modules"]]
    assert entry["summary"]["modules"] == origins.count("wheel") == 3
    assert entry["summary"]["libdir_libraries"] == origins.count("libdir") == 2
    text = cli("show", "--libdir", str(fixture_libs.libdir), str(wheel)).stdout
    assert "1 module(s) need no shared library" in text  # libstandalone.so, of the wheel's 3
    assert "3 module(s), 2 libraries found outside the wheel, 0 missing libraries" in text
    shown = cli("show", str(wheel)).stdout
    audited = cli("audit", str(wheel)).stdout
    # one cause each: libouter.so, missing for both modules that need it (and, in the audit,
    # the imports it would have provided)
    assert "1 finding in tags and libraries (`pyodide auditwheel audit` also checks the symbols)" in " ".join(
        shown.split()
    )
    assert "will not load on pyodide_2025_0 (Pyodide 0.29.5): 1 finding" in audited


def test_no_known_abi_is_null_in_show_and_audit_alike(realworld: Path, tmp_path: Path) -> None:
    numpy = realworld / NUMPY
    unknown = tmp_path / numpy.name.replace("emscripten_3_1_14", "emscripten_3_1_20")
    unknown.write_bytes(numpy.read_bytes())
    (entry,) = json.loads(cli("show", "--json", str(unknown)).stdout)["inputs"]
    assert entry["abi"] is None and entry["audit"]["abi"] is None
    (known,) = json.loads(cli("show", "--json", str(numpy)).stdout)["inputs"]
    assert known["abi"] == known["audit"]["abi"] == "emscripten_3_1_14"


TAG_2025 = "cp313-cp313-pyodide_2025_0_wasm32"


def test_only_side_modules_are_modules(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    assert is_module_name("a/libx.so") and is_module_name("a/libx.so.1.2") and is_module_name("a/x.wasm")
    assert not is_module_name("a/notes.so.txt") and not is_module_name("a/libx.so.bak")
    files = {
        "pkg/_ext.so": fixture_libs.ext.read_bytes(),
        "pkg/data.wasm": HEADER + bytes([1, 4, 1, 0x60, 0, 0]),  # a plain wasm asset: a type section only
        "pkg/broken.wasm": b"not wasm at all",
        "pkg/notes.so.txt": b"release notes",
    }
    wheel = wheelbuilder.write_wheel(tmp_path, "pkg", "1.0", TAG_2025, files)
    shown = paw.show(wheel, libdirs=[fixture_libs.libdir])
    assert [module.path for module in shown.wheel_modules] == ["pkg/_ext.so"]
    assert any("pkg/data.wasm" in note for note in shown.notes)
    result = paw.repair(wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "out"))
    assert result.output is not None and check_wheel_valid(result.output)["pkg/data.wasm"] == files["pkg/data.wasm"]
    # Given on its own, a .wasm file is meant as a module: what is wrong with it is said.
    (tmp_path / "lone.wasm").write_bytes(files["pkg/data.wasm"])
    assert cli("show", str(tmp_path / "lone.wasm")).returncode == 2


def test_exports_and_imports_read_the_declarations_not_the_code(tmp_path: Path) -> None:
    """A module with a 3 GiB code section (a sparse file: no disk) lists its imports and
    exports in the memory of its declarations (2.9 GB for a 1.5 GB module before)."""
    from conformance import function_type, section

    from pyodide_auditwheel.wasm.sections import encode_name, encode_uleb

    declarations = (
        side_module(subsection(1, b"\0\0\0\0"))
        + section(1, b"\x01" + function_type("i32->i64"))
        + section(2, b"\x01" + encode_name("env") + encode_name("time") + b"\x00\x00")
        + section(3, b"\x01\x00")
        + section(7, b"\x01" + encode_name("wide") + b"\x00\x01")
    )
    code_size = 3 << 30
    code_head = bytes([10]) + encode_uleb(code_size)
    module = tmp_path / "libhuge.so"
    with open(module, "wb") as handle:
        handle.write(declarations + code_head)
        handle.truncate(handle.tell() + code_size)
    tracemalloc.start()
    try:
        ((path, interface),) = list(paw.interfaces(module))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert path == "libhuge.so"
    assert [(e.module, e.field, str(e.type)) for e in interface.imports] == [("env", "time", "(i32) -> i64")]
    assert [(e.name, e.kind, str(e.type)) for e in interface.exports] == [("wide", "func", "(i32) -> i64")]
    assert peak < 8 << 20, f"peak {peak} bytes"
    listed = cli("exports", str(module), "--show-type")
    assert listed.returncode == 0 and listed.stdout.splitlines()[1].split("\t")[1:] == ["func", "wide (i32) -> i64"]


def test_a_library_named_twice_in_needed_is_one_row(tmp_path: Path) -> None:
    """python-flint's modules list libflint, libmpfr and libgmp three times each: one row per
    library, and the repeat noted once."""
    from conformance import strings

    def module(needed: list[str], cid: str) -> bytes:
        return side_module(
            subsection(1, b"\0\0\0\0") + subsection(2, strings(needed)) + subsection(5, strings(["$ORIGIN"])), cid
        )

    files = {
        "pkg/_a.so": module(["libflint.so", "libgmp.so", "libflint.so", "libgmp.so", "libflint.so"], "a"),
        "pkg/_b.so": module(["libgmp.so"], "b"),
        "pkg/libflint.so": module([], "flint"),
        "pkg/libgmp.so": module([], "gmp"),
    }
    wheel = wheelbuilder.write_wheel(
        tmp_path, "flinty", "1.0", wheelbuilder.PLATFORM_TAGS["pyemscripten_2026_0"], files
    )
    result = cli("show", str(wheel), env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "included" in line]
    assert len(rows) == 3, result.stdout  # _a: libflint, libgmp; _b: libgmp
    assert result.stdout.count("more than once in NEEDED") == 1
    assert "1 module(s) list a library more than once in NEEDED, shown once: libflint.so, libgmp.so" in result.stdout
    # the JSON keeps the module's NEEDED list as it is
    (document,) = json.loads(cli("show", str(wheel), "--json").stdout)["inputs"]
    (first,) = [module for module in document["modules"] if module["path"] == "pkg/_a.so"]
    assert first["needed"].count("libflint.so") == 3
