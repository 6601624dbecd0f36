"""Every user-facing error: the sentence a user sees and the exit code, one case each.

Each case builds a broken input (a module, a wheel, an archive with one field wrong, a bad
option...) and runs the real command line.  ``test_every_error_message_has_a_case`` reads the
package's source and fails when a ``raise`` has a message no case (or other test) checks, so
a new error cannot land without its test.
"""

from __future__ import annotations

import ast
import ctypes
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import wheelbuilder
from typer.testing import CliRunner
from wheelbuilder import zip_bytes

from pyodide_auditwheel.cli import app
from pyodide_auditwheel.rewriter import plan as plan_module
from pyodide_auditwheel.rewriter import sources
from pyodide_auditwheel.wasm.dylink import MAX_HEAD
from pyodide_auditwheel.wasm.sections import HEADER, encode_uleb

PACKAGE = Path(__file__).resolve().parents[1] / "pyodide_auditwheel"
TESTS = Path(__file__).resolve().parent
TAG = "cp313-cp313-pyodide_2025_0_wasm32"
PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE = 1
CAP_DAC_READ_SEARCH = 2


# -- building blocks ------------------------------------------------------------------------


def section(section_id: int, payload: bytes) -> bytes:
    return bytes([section_id]) + encode_uleb(len(payload)) + payload


def name(text: bytes) -> bytes:
    return encode_uleb(len(text)) + text


def dylink0(*subsections: tuple[int, bytes], raw: bytes | None = None) -> bytes:
    body = (
        raw
        if raw is not None
        else b"".join(bytes([kind]) + encode_uleb(len(payload)) + payload for kind, payload in subsections)
    )
    return section(0, name(b"dylink.0") + body)


MEM_INFO = (1, b"\x00\x00\x00\x00")
GOOD_MODULE = HEADER + dylink0(MEM_INFO, (2, b"\x01" + name(b"libfoo.so")))


def needed(payload: bytes) -> bytes:
    """A module whose NEEDED subsection holds ``payload``."""
    return HEADER + dylink0(MEM_INFO, (2, payload))


BASE_ENTRIES: list[tuple[zipfile.ZipInfo | str, bytes]] = [
    ("pkg/__init__.py", b"# init\n" * 20),
    ("pkg/_mod.so", GOOD_MODULE * 1),
]


def eocd_at(data: bytes | bytearray) -> int:
    return bytes(data).rfind(b"PK\x05\x06")


def patched(data: bytes, signature: bytes, offset: int, fmt: str, value: int, occurrence: int = 0) -> bytes:
    """Overwrite one field of the ``occurrence``-th record with ``signature``."""
    out = bytearray(data)
    pos = -1
    for _ in range(occurrence + 1):
        pos = out.find(signature, pos + 1)
    struct.pack_into(fmt, out, pos + offset, value)
    return bytes(out)


def central(data: bytes, offset: int, fmt: str, value: int, occurrence: int = 0) -> bytes:
    return patched(data, b"PK\x01\x02", offset, fmt, value, occurrence)


def local(data: bytes, offset: int, fmt: str, value: int, occurrence: int = 0) -> bytes:
    return patched(data, b"PK\x03\x04", offset, fmt, value, occurrence)


def eocd(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, eocd_at(out) + offset, value)
    return bytes(out)


def central_field(data: bytes, offset: int, fmt: str, occurrence: int = 0) -> int:
    pos = -1
    for _ in range(occurrence + 1):
        pos = data.find(b"PK\x01\x02", pos + 1)
    value: int = struct.unpack_from(fmt, data, pos + offset)[0]
    return value


def with_zip64_locator(data: bytes, z64_offset: int) -> bytes:
    """Claim ZIP64 (counts of 0xFFFF) and put a locator pointing at ``z64_offset`` before the
    end record."""
    data = eocd(eocd(data, 8, "<H", 0xFFFF), 10, "<H", 0xFFFF)
    at = eocd_at(data)
    locator = struct.pack("<IIQI", 0x07064B50, 0, z64_offset, 1)
    return data[:at] + locator + data[at:]


def symlink_entry() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("pkg/link.so")
    info.external_attr = (0o120777) << 16
    return info


def long_names_zip() -> bytes:
    return zip_bytes([(f"pkg/{'x' * 120}{i}.py", b"") for i in range(2)])


def utf8_flag_lie() -> bytes:
    data = zip_bytes([*BASE_ENTRIES, ("pkg/\u00d8.txt", b"x")])  # zipfile sets the UTF-8 flag
    return data.replace("\u00d8".encode(), b"\xff\xfe")


def stored_size_lie() -> bytes:
    data = zip_bytes(BASE_ENTRIES, zipfile.ZIP_STORED)
    return central(data, 24, "<I", central_field(data, 24, "<I") + 1)


def bomb() -> bytes:
    data = zip_bytes(BASE_ENTRIES)
    return central(data, 24, "<I", central_field(data, 20, "<I") * 2000)


def deflate_garbage() -> bytes:
    """The module's compressed bytes replaced by an invalid deflate block type."""
    data = bytearray(zip_bytes(BASE_ENTRIES))
    pos = data.find(b"PK\x03\x04", data.find(b"pkg/_mod.so") - 40)
    name_len, extra_len = struct.unpack_from("<HH", data, pos + 26)
    start = pos + 30 + name_len + extra_len
    csize = struct.unpack_from("<I", data, pos + 18)[0]
    data[start : start + csize] = b"\xff" * csize
    return bytes(data)


def module_size_understated() -> bytes:
    data = zip_bytes([("pkg/_mod.so", GOOD_MODULE + b"\0" * 300)])
    return central(data, 24, "<I", 50)


def module_stream_cut() -> bytes:
    data = zip_bytes([("pkg/_mod.so", GOOD_MODULE + bytes(range(256)) * 4)])
    return central(data, 20, "<I", central_field(data, 20, "<I") - 8)


# -- running --------------------------------------------------------------------------------


@dataclass
class Run:
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    permissions_apply: bool = False


def _drop_permission_override() -> None:
    """Root reads files whatever their mode: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH
    from the bounding set, so that the command, run as root, meets permissions like anyone."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run_cli(run: Run) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "pyodide-auditwheel"
    env = {**os.environ, **run.env}
    preexec = _drop_permission_override if run.permissions_apply and os.geteuid() == 0 else None
    return subprocess.run(
        [str(script), *run.args], capture_output=True, text=True, check=False, env=env, preexec_fn=preexec
    )


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """tmp_path, with permissions restored afterwards so that it can be removed."""
    yield tmp_path
    for child in tmp_path.rglob("*"):
        if not child.is_symlink():
            child.chmod(0o755)


@dataclass(frozen=True)
class Case:
    make: Callable[[Path, Context], Run]
    message: str
    code: int = 2


@dataclass
class Context:
    fixture_libs: wheelbuilder.FixtureLibs


def wheel_file(tmp: Path, data: bytes, filename: str = f"pkg-1.0-{TAG}.whl") -> Path:
    path = tmp / filename
    path.write_bytes(data)
    path.chmod(0o644)
    return path


def show_module(data: bytes, command: str = "show") -> Callable[[Path, Context], Run]:
    def make(tmp: Path, ctx: Context) -> Run:
        path = tmp / "_mod.so"
        path.write_bytes(data)
        return Run([command, str(path), *(["--plat", "pyodide_2025_0_wasm32"] if command == "audit" else [])])

    return make


def interface_of(data: bytes) -> Callable[[Path, Context], Run]:
    def make(tmp: Path, ctx: Context) -> Run:
        path = tmp / "_mod.so"
        path.write_bytes(HEADER + dylink0(MEM_INFO) + data)
        return Run(["imports", str(path)])

    return make


def show_wheel(make_bytes: Callable[[], bytes], filename: str = f"pkg-1.0-{TAG}.whl") -> Callable[[Path, Context], Run]:
    def make(tmp: Path, ctx: Context) -> Run:
        return Run(["show", str(wheel_file(tmp, make_bytes(), filename))])

    return make


def chain_wheel(tmp: Path, ctx: Context, **record: list[tuple[str, str, str]]) -> Path:
    """A wheel whose module needs libouter.so (in the fixture libdir), RECORD optionally given."""
    files = {"pkg/__init__.py": b"", "pkg/_ext.so": ctx.fixture_libs.ext.read_bytes()}
    return wheelbuilder.write_wheel(tmp, "pkg", "1.0", TAG, files, record_rows=record.get("rows"))


def correct_rows(ctx: Context) -> list[tuple[str, str, str]]:
    files = {"pkg/__init__.py": b"", "pkg/_ext.so": ctx.fixture_libs.ext.read_bytes()}
    info = "pkg-1.0.dist-info"
    meta = {
        f"{info}/METADATA": b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n",
        f"{info}/WHEEL": (
            f"Wheel-Version: 1.0\nGenerator: pyodide-auditwheel-tests\nRoot-Is-Purelib: false\nTag: {TAG}\n"
        ).encode(),
    }
    return [(path, wheelbuilder.record_hash(data), str(len(data))) for path, data in {**files, **meta}.items()]


def repair_chain(
    change_rows: Callable[[list[tuple[str, str, str]]], list[tuple[str, str, str]]] | None = None, *extra: str
) -> Callable[[Path, Context], Run]:
    def make(tmp: Path, ctx: Context) -> Run:
        rows = change_rows(correct_rows(ctx)) if change_rows else None
        wheel = chain_wheel(tmp, ctx, **({"rows": rows} if rows is not None else {}))
        return Run(["repair", str(wheel), "--libdir", str(ctx.fixture_libs.libdir), "-o", str(tmp / "out"), *extra])

    return make


def raw_wheel(entries: dict[str, bytes], record: bytes | None) -> bytes:
    items: list[tuple[zipfile.ZipInfo | str, bytes]] = list(entries.items())
    if record is not None:
        items.append(("pkg-1.0.dist-info/RECORD", record))
    return zip_bytes(items)


def repair_raw(entries: dict[str, bytes], record: bytes | None) -> Callable[[Path, Context], Run]:
    def make(tmp: Path, ctx: Context) -> Run:
        return Run(["repair", str(wheel_file(tmp, raw_wheel(entries, record))), "-o", str(tmp / "out")])

    return make


def needs_zip_version(version: int) -> Callable[[Path, Context], Run]:
    """A wheel one of whose members says it needs a zip version newer than any there is."""

    def make(tmp: Path, ctx: Context) -> Run:
        info = zipfile.ZipInfo("pkg/__init__.py", date_time=(2024, 1, 1, 0, 0, 0))
        info.extract_version = version
        data = zip_bytes([(info, b""), ("pkg-1.0.dist-info/RECORD", b"pkg/__init__.py,,\n")])
        return Run(["repair", str(wheel_file(tmp, data)), "-o", str(tmp / "out")])

    return make


def rows_twice(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [*rows, rows[0]]


def rows_absent(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [*rows, ("pkg/gone.py", "", "")]


def rows_unlisted(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [row for row in rows if row[0] != "pkg/__init__.py"]


def rows_bad_module_hash(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [(p, "sha256=" + "A" * 43 if p.endswith(".so") else h, s) for p, h, s in rows]


def rows_bad_module_size(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [(p, h, str(int(s) + 1) if p.endswith(".so") else s) for p, h, s in rows]


def rows_bad_init_hash(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [(p, "sha256=" + "A" * 43 if p.endswith("__init__.py") else h, s) for p, h, s in rows]


def crc_broken(member_ends: str) -> Callable[[Path, Context], Run]:
    """The CRC of the first member whose name ends with ``member_ends`` broken (in both its
    headers, so that only inflating it tells): a patched module, or one a repair copies
    unchanged (which it would pass through into an invalid wheel)."""

    def make(tmp: Path, ctx: Context) -> Run:
        wheel = chain_wheel(tmp, ctx)
        data = wheel.read_bytes()
        index = next(i for i, n in enumerate(zipfile.ZipFile(wheel).namelist()) if n.endswith(member_ends))
        crc = central_field(data, 16, "<I", index) ^ 0xFFFF
        wheel.write_bytes(local(central(data, 16, "<I", crc, index), 14, "<I", crc, index))
        return Run(["repair", str(wheel), "--libdir", str(ctx.fixture_libs.libdir), "-o", str(tmp / "out")])

    return make


def libdir_case(kind: str) -> Callable[[Path, Context], Run]:
    def make(tmp: Path, ctx: Context) -> Run:
        libdir = tmp / "libs"
        if kind == "file":
            libdir.write_bytes(b"")
        elif kind == "loop":
            libdir.symlink_to(libdir)
        elif kind == "unreadable":
            libdir.mkdir()
            libdir.chmod(0)
        wheel = chain_wheel(tmp, ctx)
        wheel.chmod(0o644)
        return Run(["show", str(wheel), "--libdir", str(libdir)], permissions_apply=kind == "unreadable")

    return make


def unreadable_wheel(tmp: Path, ctx: Context) -> Run:
    wheel = wheel_file(tmp, zip_bytes(BASE_ENTRIES))
    wheel.chmod(0)
    return Run(["show", str(wheel)], permissions_apply=True)


def unreadable_subdir(tmp: Path, ctx: Context) -> Run:
    tree = tmp / "unpacked"
    (tree / "pkg" / "private").mkdir(parents=True)
    (tree / "pkg" / "_mod.so").write_bytes(GOOD_MODULE)
    for path in (tree, tree / "pkg"):
        path.chmod(0o755)
    (tree / "pkg" / "_mod.so").chmod(0o644)
    (tree / "pkg" / "private").chmod(0)
    return Run(["show", str(tree)], permissions_apply=True)


def unreadable_wheel_file_of_a_directory(tmp: Path, ctx: Context) -> Run:
    tree = tmp / "unpacked"
    (tree / "pkg-1.0.dist-info").mkdir(parents=True)
    (tree / "pkg-1.0.dist-info" / "WHEEL").write_text("Wheel-Version: 1.0\nTag: cp313-cp313-pyodide_2025_0_wasm32\n")
    (tree / "pkg-1.0.dist-info" / "WHEEL").chmod(0)
    return Run(["show", str(tree)], permissions_apply=True)


def clash_in_libs_dir(tmp: Path, ctx: Context) -> Run:
    files = {
        "pkg/_ext.so": ctx.fixture_libs.ext.read_bytes(),
        "pkg.libs/libouter.so": ctx.fixture_libs.standalone.read_bytes(),
    }
    wheel = wheelbuilder.write_wheel(tmp, "pkg", "1.0", TAG, files)
    return Run(
        ["repair", str(wheel), "--libdir", str(ctx.fixture_libs.libdir), "--no-mangle-all", "-o", str(tmp / "out")]
    )


def case_collision(tmp: Path, ctx: Context) -> Run:
    libdir = tmp / "caselibs"
    upper = wheelbuilder.build_c("standalone", tmp / "obj1", "libA.so")
    lower = wheelbuilder.build_c("counter", tmp / "obj2", "liba.so")
    libdir.mkdir()
    shutil.copy(upper, libdir / "libA.so")
    shutil.copy(lower, libdir / "liba.so")
    module = wheelbuilder.build_c("standalone", tmp / "obj3", "_two.so", needs=[upper, lower])
    wheel = wheelbuilder.write_wheel(tmp, "pkg", "1.0", TAG, {"pkg/_two.so": module.read_bytes()})
    return Run(["repair", str(wheel), "--libdir", str(libdir), "--no-mangle-all", "-o", str(tmp / "out")])


def legacy_dylink_wheel(tag: str) -> Callable[[Path, Context], Run]:
    def make(tmp: Path, ctx: Context) -> Run:
        legacy = HEADER + section(0, name(b"dylink") + b"\x00\x00\x00\x00" + b"\x01" + name(b"libouter.so"))
        wheel = wheelbuilder.write_wheel(tmp, "pkg", "1.0", tag, {"pkg/_old.so": legacy})
        return Run(["repair", str(wheel), "--libdir", str(ctx.fixture_libs.libdir), "-o", str(tmp / "out")])

    return make


def output_is_a_file(tmp: Path, ctx: Context) -> Run:
    (tmp / "out").write_bytes(b"")
    return repair_chain()(tmp, ctx)


def with_env(make: Callable[[Path, Context], Run], **env: str) -> Callable[[Path, Context], Run]:
    def wrapped(tmp: Path, ctx: Context) -> Run:
        run = make(tmp, ctx)
        run.env.update(env)
        return run

    return wrapped


def plain(args: list[str]) -> Callable[[Path, Context], Run]:
    def make(tmp: Path, ctx: Context) -> Run:
        return Run([arg.replace("{tmp}", str(tmp)) for arg in args])

    return make


def text_file(tmp: Path, ctx: Context) -> Run:
    (tmp / "notes.txt").write_text("hello")
    return Run(["show", str(tmp / "notes.txt")])


def repair_module(tmp: Path, ctx: Context) -> Run:
    (tmp / "_mod.so").write_bytes(GOOD_MODULE)
    return Run(["repair", str(tmp / "_mod.so")])


def fifo_named(filename: str, command: str = "show", in_directory: bool = False) -> Callable[[Path, Context], Run]:
    """A FIFO where a wheel or a module should be: refused at once, never waited on."""

    def make(tmp: Path, ctx: Context) -> Run:
        where = tmp / "tree" if in_directory else tmp
        where.mkdir(exist_ok=True)
        os.mkfifo(where / filename)
        return Run([command, str(tmp / "tree" if in_directory else where / filename)])

    return make


def more_entries_than_counted() -> bytes:
    """The end record counts one member less than the central directory holds."""
    data = zip_bytes([*BASE_ENTRIES, ("pkg/hidden.py", b"x")])
    return eocd(eocd(data, 8, "<H", 2), 10, "<H", 2)


def directory_gap() -> bytes:
    """Sixteen bytes between the central directory and the end record, which still says the
    directory ends before them."""
    data = zip_bytes(BASE_ENTRIES)
    at = eocd_at(data)
    return data[:at] + b"\0" * 16 + data[at:]


def repair_chain_with(files: dict[str, bytes], *extra: str, filename: str = "pkg") -> Callable[[Path, Context], Run]:
    """The chain wheel with more files, repaired with ``extra`` options."""

    def make(tmp: Path, ctx: Context) -> Run:
        contents = {"pkg/__init__.py": b"", "pkg/_ext.so": ctx.fixture_libs.ext.read_bytes(), **files}
        wheel = wheelbuilder.write_wheel(tmp, filename, "1.0", TAG, contents)
        return Run(["repair", str(wheel), "--libdir", str(ctx.fixture_libs.libdir), "-o", str(tmp / "out"), *extra])

    return make


def renamed_chain(filename: str) -> Callable[[Path, Context], Run]:
    """The chain wheel under another file name than its .dist-info says."""

    def make(tmp: Path, ctx: Context) -> Run:
        wheel = chain_wheel(tmp, ctx)
        renamed = wheel.rename(wheel.with_name(filename))
        return Run(["repair", str(renamed), "--libdir", str(ctx.fixture_libs.libdir), "-o", str(tmp / "out")])

    return make


# -- the cases ------------------------------------------------------------------------------

CASES: dict[str, Case] = {
    # modules
    "not wasm": Case(show_module(b"GIF89a" + b"\0" * 60), "does not start with the wasm magic number"),
    "a native library": Case(show_module(b"\x7fELF" + b"\0" * 60), "is a native (ELF) library, built for the host"),
    # once read, and written again with a fresh hash (RECORD laundering)
    "tampered WHEEL retagged": Case(
        repair_chain(
            lambda rows: [(p, "sha256=tampered" if p.endswith("/WHEEL") else h, n) for p, h, n in rows],
            "--plat",
            "pyemscripten_2025_0_wasm32",
        ),
        "bad record: 'pkg-1.0.dist-info/wheel' does not match its record hash, and a repair would write it again "
        "with a valid hash.",
    ),
    # once copied through as if valid
    "zip version 12.8": Case(
        needs_zip_version(128), "member 'pkg/__init__.py' needs zip version 12.8 to be extracted, newer than any"
    ),
    # a repair never writes a wheel installers refuse
    "two dist-info": Case(
        repair_chain_with({"other-2.0.dist-info/METADATA": b"Name: other\n"}),
        "has 2 .dist-info directories (other-2.0.dist-info, pkg-1.0.dist-info); a wheel has exactly one",
    ),
    "dist-info of another project": Case(
        renamed_chain("pkgx-1.0-" + TAG + ".whl"),
        "bad wheel: its metadata directory pkg-1.0.dist-info is not for pkgx 1.0, which its file name",
    ),
    # the audit reads the types of imports: a function import naming a type that is not there
    "import type index": Case(
        show_module(
            HEADER
            + section(0, name(b"dylink.0") + bytes([1, 4, 0, 0, 0, 0]))
            + section(2, b"\x01" + name(b"env") + name(b"f") + b"\x00\x05"),
            "audit",
        ),
        "malformed module: type index 5 is out of range",
    ),
    "short header": Case(show_module(b"\0asm\1\0"), "ends inside the wasm header"),
    "wasm version": Case(show_module(b"\0asm\2\0\0\0"), "has wasm version 02000000, not 1"),
    "section past end": Case(
        show_module(HEADER + b"\x00\x10abc"),
        "truncated section: section 0 at offset 8 declares 16 bytes where only 3 remain",
    ),
    "not a side module": Case(show_module(HEADER + section(1, b"\x00")), "so it is not an emscripten side module"),
    "leb over 5 bytes": Case(show_module(needed(b"\x80\x80\x80\x80\x80\x01")), "a leb128 value is longer than 5 bytes"),
    "leb over 32 bits": Case(show_module(needed(b"\xff\xff\xff\xff\x7f")), "a leb128 value does not fit in 32 bits"),
    "field cut": Case(show_module(needed(b"\x80")), "ends in the middle of a field"),
    "name past end": Case(show_module(needed(b"\x01\x05ab")), "declares 5 bytes where only 2 remain"),
    "count past payload": Case(
        show_module(needed(b"\x64")), "declares 100 entries, more than its 0 remaining bytes can hold"
    ),
    "subsection past end": Case(
        show_module(HEADER + dylink0(raw=b"\x02\x32abc")), "declares 50 bytes where only 3 remain"
    ),
    "name not utf-8": Case(show_module(needed(b"\x01\x02\xff\xfe")), "a name is not valid utf-8"),
    "huge first section": Case(
        show_module(HEADER + b"\x00" + encode_uleb(MAX_HEAD + 1) + b"\x08dylink.0"), "its first section claims"
    ),
    "type form": Case(
        interface_of(section(1, b"\x01\x61\x00\x00")), "malformed type section: unsupported type form 0x61"
    ),
    "value type": Case(interface_of(section(1, b"\x01\x60\x01\x11\x00")), "unknown value type 0x11"),
    "type index": Case(
        interface_of(section(2, b"\x01" + name(b"m") + name(b"f") + b"\x00\x05")), "type index 5 is out of range"
    ),
    "import kind": Case(
        interface_of(section(2, b"\x01" + name(b"m") + name(b"f") + b"\x09")),
        "malformed import section: unknown import kind 9",
    ),
    # archives
    "unsafe name": Case(
        show_wheel(lambda: zip_bytes([*BASE_ENTRIES, ("../evil.so", b"x")])),
        "unsafe member name '../evil.so' in the wheel: it contains a '..' or '.' component",
    ),
    "symlink member": Case(
        show_wheel(lambda: zip_bytes([*BASE_ENTRIES, (symlink_entry(), b"/etc/passwd")])),
        "unsafe member 'pkg/link.so' in the wheel: it is a symbolic link",
    ),
    "too short": Case(show_wheel(lambda: b"PK\x05"), "is too short to be one"),
    "no end record": Case(show_wheel(lambda: b"\0" * 100), "has no end-of-central-directory record"),
    "several disks": Case(show_wheel(lambda: eocd(zip_bytes(BASE_ENTRIES), 4, "<H", 1)), "it spans several disks"),
    "directory past end": Case(
        show_wheel(lambda: eocd(zip_bytes(BASE_ENTRIES), 16, "<I", 10**6)),
        "its central directory runs past the end of the file",
    ),
    "count lie": Case(
        show_wheel(lambda: eocd(eocd(zip_bytes(BASE_ENTRIES), 8, "<H", 1000), 10, "<H", 1000)),
        "announces 1000 members, more than the central directory can hold",
    ),
    "bad central signature": Case(
        show_wheel(lambda: zip_bytes(BASE_ENTRIES).replace(b"PK\x01\x02", b"PK\x01\x09", 1)),
        "a central directory entry has a bad signature",
    ),
    "directory truncated": Case(
        show_wheel(lambda: eocd(eocd(long_names_zip(), 8, "<H", 3), 10, "<H", 3)), "the central directory is truncated"
    ),
    "zip64 locator past": Case(
        show_wheel(lambda: with_zip64_locator(zip_bytes(BASE_ENTRIES), 10**6)),
        "the zip64 end record points past its locator",
    ),
    "zip64 record missing": Case(
        show_wheel(lambda: with_zip64_locator(zip_bytes(BASE_ENTRIES), 0)), "the zip64 end record is missing"
    ),
    "utf-8 flag lie": Case(show_wheel(utf8_flag_lie), "is flagged utf-8 but is not"),
    "bzip2 member": Case(
        show_wheel(lambda: zip_bytes(BASE_ENTRIES, zipfile.ZIP_BZIP2)),
        "uses compression method 12; wheels use stored or deflate",
    ),
    "stored size lie": Case(show_wheel(stored_size_lie), "bytes but holds"),
    "bomb ratio": Case(
        show_wheel(bomb), "declares a compression ratio no deflate stream can reach (a decompression bomb)"
    ),
    "starts past directory": Case(
        show_wheel(
            lambda: central(zip_bytes(BASE_ENTRIES), 42, "<I", zip_bytes(BASE_ENTRIES).find(b"PK\x01\x02") - 10)
        ),
        "starts past the central directory",
    ),
    "local header missing": Case(
        show_wheel(lambda: central(zip_bytes(BASE_ENTRIES), 42, "<I", 1)),
        "the local header of 'pkg/__init__.py' is missing",
    ),
    "local name differs": Case(
        show_wheel(lambda: zip_bytes(BASE_ENTRIES).replace(b"pkg/_mod.so", b"pkg/_evil.s", 1)),
        "the central directory names 'pkg/_mod.so' but its local header names 'pkg/_evil.s'",
    ),
    "local method differs": Case(
        show_wheel(lambda: local(zip_bytes(BASE_ENTRIES), 8, "<H", 0)), "disagrees with the central directory"
    ),
    "more data than archive": Case(
        show_wheel(lambda: central(zip_bytes(BASE_ENTRIES), 20, "<I", 10**6)),
        "declares more data than the archive holds",
    ),
    "invalid deflate": Case(show_wheel(deflate_garbage), "has invalid compressed data"),
    "more than declared": Case(show_wheel(module_size_understated), "holds more data than its declared 50 bytes"),
    "encrypted": Case(
        show_wheel(lambda: local(central(zip_bytes(BASE_ENTRIES), 8, "<H", 1), 6, "<H", 1)),
        "member 'pkg/__init__.py' is encrypted",
    ),
    "fewer than declared": Case(
        show_wheel(lambda: central(zip_bytes(BASE_ENTRIES), 24, "<I", len(GOOD_MODULE) + 5, 1)),
        f"holds {len(GOOD_MODULE)} bytes, not its declared {len(GOOD_MODULE) + 5}",
    ),
    "stream cut": Case(show_wheel(module_stream_cut), "has a truncated compressed stream"),
    "crc": Case(crc_broken(".so"), "fails its crc check"),
    "crc of unchanged metadata": Case(crc_broken("METADATA"), "fails its crc check"),
    "crc of an unchanged member": Case(crc_broken("__init__.py"), "fails its crc check"),
    # wheels and RECORD
    "wheel name": Case(show_wheel(lambda: zip_bytes(BASE_ENTRIES), "notawheel.whl"), "is not a valid wheel file name"),
    "foreign platform": Case(
        show_wheel(lambda: zip_bytes(BASE_ENTRIES), "pkg-1.0-cp313-cp313-manylinux_2_17_x86_64.whl"),
        "unsupported platform: the wheel is tagged manylinux_2_17_x86_64, not for emscripten/pyodide",
    ),
    "no record": Case(repair_raw({"pkg/a.py": b""}, None), "it has no .dist-info/record"),
    "record fields": Case(repair_raw({"pkg/a.py": b""}, b"pkg/a.py,sha256=x\n"), "does not have 3 fields"),
    "record not text": Case(repair_raw({"pkg/a.py": b""}, b"pkg/\xff.py,,\n"), "cannot be read as csv"),
    "record twice": Case(repair_chain(rows_twice), "is listed twice"),
    "record absent file": Case(repair_chain(rows_absent), "it lists 1 file(s) not in the wheel, e.g. 'pkg/gone.py'"),
    "record unlisted file": Case(
        repair_chain(rows_unlisted), "1 file(s) in the wheel are not listed in it, e.g. 'pkg/__init__.py'"
    ),
    "record hash": Case(
        repair_chain(rows_bad_module_hash),
        "does not match its record hash; the wheel was modified after it was built (use --allow-bad-record to "
        "repair it anyway).",
    ),
    "record size": Case(repair_chain(rows_bad_module_size), "bytes but record says"),
    "verify-record": Case(
        repair_chain(rows_bad_init_hash, "--verify-record"), "'pkg/__init__.py' does not match its record hash"
    ),
    # inputs, options, environment
    "no such file": Case(plain(["show", "{tmp}/absent.whl"]), "no such file"),
    "unsupported input": Case(text_file, "give a .whl wheel, a .so/.wasm module or an unpacked wheel directory"),
    "repair a module": Case(repair_module, "repair takes .whl files"),
    "libdir is a file": Case(libdir_case("file"), "is not a directory"),
    "libdir absent": Case(libdir_case("absent"), "does not exist"),
    "libdir loop": Case(libdir_case("loop"), "is a symbolic link loop"),
    "libdir unreadable": Case(libdir_case("unreadable"), "cannot be read: permission denied"),
    "wheel unreadable": Case(unreadable_wheel, "cannot read"),
    "directory unreadable": Case(unreadable_subdir, "cannot read directory"),
    "WHEEL of a directory unreadable": Case(
        unreadable_wheel_file_of_a_directory, "dist-info/WHEEL: Permission denied."
    ),
    "lib-sdir escape": Case(
        repair_chain(None, "--lib-sdir", "../up"),
        "unsafe --lib-sdir '../up': give a single directory name of letters, digits, '.', '_', '+' or '-'.",
    ),
    "vendored name taken": Case(clash_in_libs_dir, "the wheel already has a different file at pkg.libs/libouter.so"),
    "vendored names collide": Case(
        case_collision, "cannot vendor: two libraries would get the same name in the libs directory; use mangling"
    ),
    # 0.26/0.27 read the legacy section (but repair cannot give it a RUNTIME_PATH); 0.28 and
    # later do not read it at all.
    "legacy dylink on 0.27": Case(
        legacy_dylink_wheel("cp312-cp312-pyodide_2024_0_wasm32"),
        "the legacy 'dylink' section has no runtime_path; rebuild the module with emscripten >= 2.0.30",
    ),
    "legacy dylink": Case(
        legacy_dylink_wheel(TAG),
        "the legacy 'dylink' section (emscripten < 2.0.30) is not read by this runtime's loader, which fails with "
        "'need dylink section'; rebuild the module with emscripten >= 2.0.30 "
        "(the loader's reading of module pkg/_old.so)",
    ),
    "missing library": Case(
        lambda tmp, ctx: Run(["repair", str(chain_wheel(tmp, ctx)), "-o", str(tmp / "out")]), "libouter.so", code=1
    ),
    "source date epoch": Case(
        with_env(repair_chain(), SOURCE_DATE_EPOCH="yesterday"),
        "source_date_epoch='yesterday' is not a whole number of seconds",
    ),
    # once an OverflowError traceback
    "source date epoch out of range": Case(
        with_env(repair_chain(), SOURCE_DATE_EPOCH="999999999999999999999"),
        "source_date_epoch='999999999999999999999' is out of range: a time this system cannot convert",
    ),
    # once "the wheel is tagged garbage"
    "plat not a tag": Case(
        repair_chain(None, "--plat", "garbage"),
        "--plat garbage is not an emscripten platform tag (expected emscripten_*_wasm32, pyodide_*_wasm32 or "
        "pyemscripten_*_wasm32).",
    ),
    "cannot write": Case(output_is_a_file, "it exists and is not a directory; the output location must be a directory"),
    # not what the name says (issue 12)
    "fifo wheel": Case(fifo_named(f"pkg-1.0-{TAG}.whl"), "it is a fifo, not a regular file"),
    "fifo module": Case(fifo_named("_mod.so"), "it is a fifo, not a regular file"),
    "fifo in a directory": Case(fifo_named("_mod.so", in_directory=True), "_mod.so: it is a fifo, not a regular file"),
    "fifo repaired": Case(fifo_named(f"pkg-1.0-{TAG}.whl", "repair"), "it is a fifo, not a regular file"),
    "directory named .whl": Case(
        lambda tmp, ctx: (tmp / f"pkg-1.0-{TAG}.whl").mkdir() or Run(["repair", str(tmp / f"pkg-1.0-{TAG}.whl")]),
        "it is not a wheel file",
    ),
    # data that would be lost or refused later (issue 12)
    "members past the count": Case(
        show_wheel(more_entries_than_counted), "the end record counts 2 members, but its central directory holds more"
    ),
    "directory gap": Case(show_wheel(directory_gap), "its central directory does not end where the end record begins"),
    "file where libs go": Case(
        repair_chain_with({"pkg.libs": b"a file"}), "cannot vendor into pkg.libs/: the wheel has a file named pkg.libs"
    ),
    "name but for case": Case(
        repair_chain_with({"pkg.libs/LIBOUTER.SO": b"x"}, "--no-mangle-all"),
        "the same name but for case, which a case-insensitive file system cannot hold",
    ),
    "lib-sdir dist-info": Case(
        repair_chain(None, "-L", "pkg-1.0.dist-info"),
        "the wheel's .dist-info and .data directories are not for libraries",
    ),
    "lib-sdir data": Case(
        repair_chain(None, "-L", "pkg-1.0.data"), "the wheel's .dist-info and .data directories are not for libraries"
    ),
}

# Messages checked by tests of this file outside CASES.
LIBRARY_CHANGED = "libouter.so changed while the wheel was being repaired"

# Raise sites a user cannot reach from outside, with the reason; everything else needs a case.
UNREACHABLE = {
    "has no attribute": "module __getattr__ for a name that does not exist (a programming error)",
    "LEB128 values are unsigned here": "guard in the LEB128 encoder against a caller's bug",
    "not {DYLINK_SECTION!r}": "decode_payload's own guard; read_head refuses other first sections before",
    "internal error": "checks against our own bugs in the writer",
    "grew past 4 GiB while being written": "a vendored or patched member of more than 4 GiB",
    "it is truncated": "a file that shrinks while it is read (earlier checks bound every read)",
    "has no member": "lookup of a name the archive itself listed",
}


@pytest.mark.parametrize("case", list(CASES))
def test_error_message_and_exit_code(case: str, fixture_libs: wheelbuilder.FixtureLibs, scratch: Path) -> None:
    spec = CASES[case]
    run = spec.make(scratch, Context(fixture_libs))
    result = run_cli(run)
    stderr = " ".join(result.stderr.lower().split())
    assert result.returncode == spec.code, result.stdout + result.stderr
    assert spec.message.lower() in stderr, result.stderr
    assert "traceback" not in stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (scratch / "out").is_dir() or not any((scratch / "out").iterdir())


def _append_a_byte(library: Path) -> None:
    library.write_bytes(library.read_bytes() + b"\0")


# What can happen to a library between the plan and the copy, and the sentence it gets.
LIBRARY_MISHAPS: dict[str, tuple[Callable[[Path], None], str]] = {
    "changed": (_append_a_byte, LIBRARY_CHANGED),
    "deleted": (Path.unlink, "cannot read library"),
}


@pytest.mark.parametrize("compressed_ahead", [True, False], ids=["compressed-ahead", "streamed"])
@pytest.mark.parametrize("mishap", list(LIBRARY_MISHAPS))
def test_library_changed_during_repair(
    mishap: str,
    compressed_ahead: bool,
    fixture_libs: wheelbuilder.FixtureLibs,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The library is hashed when the plan is made and again when it is copied, whether it
    is compressed ahead or streamed into the archive when the writer reaches it."""
    libdir = tmp_path / "libs"
    shutil.copytree(fixture_libs.libdir, libdir)
    wheel = chain_wheel(tmp_path, Context(fixture_libs))
    real_make_plan = plan_module.make_plan
    mutate, message = LIBRARY_MISHAPS[mishap]

    def plan_then_change(*args, **kwargs):  # type: ignore[no-untyped-def]
        plan = real_make_plan(*args, **kwargs)
        mutate(libdir / "libouter.so")
        return plan

    monkeypatch.setattr(plan_module, "make_plan", plan_then_change)
    if not compressed_ahead:
        monkeypatch.setattr(sources, "AHEAD_MAX_MEMBER", -1)
    result = CliRunner().invoke(app, ["repair", str(wheel), "--libdir", str(libdir), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert message.lower() in " ".join(result.output.lower().split())
    assert "libouter.so" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out" / wheel.name).exists()


def _raise_sites() -> Iterator[tuple[str, list[str]]]:
    """(where, literal pieces of the message, lower-cased) of every raise with a message."""
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
                message = node.exc.args[0]
                if isinstance(message, ast.Constant) and isinstance(message.value, str):
                    pieces = [message.value]
                elif isinstance(message, ast.JoinedStr):
                    pieces = [
                        v.value for v in message.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
                    ]
                else:
                    continue
                cleaned = [" ".join(piece.lower().split()).strip(" .,:;'\"()") for piece in pieces]
                where = f"{path.name}:{node.lineno} {ast.get_source_segment(source, message) or ''}"
                yield where, [piece for piece in cleaned if len(piece) >= 6]


def test_every_error_message_has_a_case() -> None:
    """Each raise's message, in every module of the package (zipio's too), must be checked by
    a case here or by another test: at least one of its literal pieces that no other message
    shares must appear there whole (a piece is the text between two placeholders)."""
    checked = " ".join(
        " ".join(message.lower().split())
        for message in [
            *(case.message for case in CASES.values()),
            *(message for _, message in LIBRARY_MISHAPS.values()),
        ]
    )
    # The string constants of the other tests (a message split over lines is one constant);
    # regular expressions (pytest.raises' match) quote a message with its parentheses escaped.
    other_tests = " ".join(
        " ".join(node.value.lower().replace("\\", "").split())
        for path in TESTS.glob("test_*.py")
        if path.name != Path(__file__).name
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    )
    sites = [(where, pieces) for where, pieces in _raise_sites() if pieces]
    untested = []
    for where, pieces in sites:
        if any(marker.lower() in where.lower() for marker in UNREACHABLE):
            continue
        others = [piece for other, other_pieces in sites if other != where for piece in other_pieces]
        distinctive = [piece for piece in pieces if not any(piece in other for other in others)] or pieces
        if not any(piece in checked or piece in other_tests for piece in distinctive):
            untested.append(f"{where[:90]}: {distinctive!r}")
    assert not untested, "error messages without a test:\n" + "\n".join(untested)


def test_two_inputs_of_one_name_into_one_output(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """The second is refused (exit 2), not written over the first; and so nothing is written."""
    first = chain_wheel(tmp_path / "a", Context(fixture_libs))
    second = wheelbuilder.write_wheel(tmp_path / "b", "pkg", "1.0", TAG, {"pkg/__init__.py": b"# other\n"})
    result = run_cli(
        Run(["repair", str(first), str(second), "--libdir", str(fixture_libs.libdir), "-o", str(tmp_path / "out")])
    )
    assert result.returncode == 2
    assert f"{second}: not repaired: {first} is written to {tmp_path / 'out' / first.name} too" in " ".join(
        result.stderr.split()
    )
    # With several inputs, one refused means nothing written.
    assert result.stderr.strip().splitlines()[1:] == ["error: nothing was written: 1 of 2 inputs cannot be repaired."]
    assert not (tmp_path / "out" / first.name).exists()
