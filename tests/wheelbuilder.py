"""Builds real side modules (ziglang's clang + wasm-ld) and real wheels for tests, the demo and
the benchmark.  Nothing here is mocked: the modules are what ``emcc -sSIDE_MODULE`` would give
for the same C sources, with NEEDED and RUNTIME_PATH written by wasm-ld."""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

CSRC = Path(__file__).parent / "csrc"

PLATFORM_TAGS = {
    "emscripten_3_1_14": "cp310-cp310-emscripten_3_1_14_wasm32",
    "emscripten_3_1_27": "cp310-cp310-emscripten_3_1_27_wasm32",
    "emscripten_3_1_32": "cp311-cp311-emscripten_3_1_32_wasm32",
    "emscripten_3_1_45": "cp311-cp311-emscripten_3_1_45_wasm32",
    "emscripten_3_1_46": "cp311-cp311-emscripten_3_1_46_wasm32",
    "pyodide_2024_0": "cp312-cp312-pyodide_2024_0_wasm32",
    "pyodide_2025_0": "cp313-cp313-pyodide_2025_0_wasm32",
    "pyemscripten_2026_0": "cp314-cp314-pyemscripten_2026_0_wasm32",
    "pyemscripten_2026_5": "cp315-cp315-pyemscripten_2026_5_wasm32",
    # no data covers it: an emscripten tag no Pyodide release installs
    "legacy": "cp310-cp310-emscripten_3_1_20_wasm32",
}


class ToolchainMissing(RuntimeError):
    pass


def zig(*args: str) -> None:
    try:
        subprocess.run([sys.executable, "-m", "ziglang", *args], check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as error:
        if "No module named ziglang" in error.stderr:
            raise ToolchainMissing("ziglang is not installed (pip install ziglang)") from None
        raise RuntimeError(f"zig {' '.join(args)} failed:\n{error.stderr}") from None


def compile_object(source: Path, out: Path, flags: Sequence[str] = ()) -> Path:
    # zig's default CPU for this target (lime1) enables extended-const, which the V8 in Node 20
    # (and so the Pyodide runtimes tested here) rejects; emcc does not enable it either.
    target = ("-target", "wasm32-emscripten", "-fPIC", "-O2", "-mno-extended-const")
    zig("cc", *target, *flags, "-c", str(source), "-o", str(out))
    return out


def link_side_module(
    objects: Sequence[Path],
    out: Path,
    needs: Sequence[Path] = (),
    rpaths: Sequence[str] = (),
    link_flags: Sequence[str] = (),
) -> Path:
    """Link a side module; each library in ``needs`` becomes a NEEDED entry (its basename)."""
    # Symbols the main module provides (CPython, libc) stay imports, as with emcc -sSIDE_MODULE.
    args = [
        "wasm-ld",
        "--experimental-pic",
        "-shared",
        "--unresolved-symbols=import-dynamic",
        *link_flags,
        *map(str, objects),
        *map(str, needs),
    ]
    for rpath in rpaths:
        args += ["-rpath", rpath]
    zig(*args, "-o", str(out))
    return out


def build_c(
    name: str,
    workdir: Path,
    out_name: str,
    needs: Sequence[Path] = (),
    rpaths: Sequence[str] = (),
    flags: Sequence[str] = (),
    link_flags: Sequence[str] = (),
) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    obj = compile_object(CSRC / f"{name}.c", workdir / f"{out_name}.o", flags)
    return link_side_module([obj], workdir / out_name, needs, rpaths, link_flags)


@dataclass(frozen=True)
class FixtureLibs:
    """The library chain ``libouter.so -> libcounter.so`` in a libdir, and the modules that need it."""

    libdir: Path
    counter: Path
    outer: Path
    ext: Path
    user: Path
    standalone: Path


def build_fixture_libs(workdir: Path) -> FixtureLibs:
    libdir = workdir / "libdir"
    objdir = workdir / "obj"
    libdir.mkdir(parents=True, exist_ok=True)
    counter = build_c("counter", objdir, "libcounter.so")
    counter_in_libdir = libdir / "libcounter.so"
    counter_in_libdir.write_bytes(counter.read_bytes())
    outer = build_c("outer", objdir, "libouter.so", needs=[counter])
    (libdir / "libouter.so").write_bytes(outer.read_bytes())
    ext = build_c("ext", objdir, "_ext.so", needs=[outer])
    user = build_c("user", objdir, "libuser.so", needs=[outer])
    standalone = build_c("standalone", objdir, "libstandalone.so")
    return FixtureLibs(libdir, counter_in_libdir, libdir / "libouter.so", ext, user, standalone)


def zip_bytes(entries: list[tuple[zipfile.ZipInfo | str, bytes]], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """An archive (not necessarily a wheel) of these entries, in memory; zipfile's warnings
    about duplicate names are silenced, since hostile archives are made on purpose."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w", compression) as archive:
        warnings.simplefilter("ignore")
        for info, data in entries:
            archive.writestr(info, data)
    return buffer.getvalue()


def record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def write_wheel(
    out_dir: Path,
    dist: str,
    version: str,
    tag: str,
    files: Mapping[str, bytes],
    *,
    record_rows: Iterable[tuple[str, str, str]] | None = None,
) -> Path:
    """A wheel with METADATA, WHEEL and a correct RECORD (or the rows given, for bad ones)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    info = f"{dist}-{version}.dist-info"
    contents = dict(files)
    contents[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode()
    tags = tag.split("-")
    contents[f"{info}/WHEEL"] = (
        "Wheel-Version: 1.0\nGenerator: pyodide-auditwheel-tests\nRoot-Is-Purelib: false\n"
        f"Tag: {tags[0]}-{tags[1]}-{tags[2]}\n"
    ).encode()
    rows = (
        list(record_rows)
        if record_rows is not None
        else [(path, record_hash(data), str(len(data))) for path, data in contents.items()]
    )
    record = "".join(f"{p},{h},{s}\n" for p, h, s in rows) + f"{info}/RECORD,,\n"
    path = out_dir / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
            entry = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            entry.external_attr = (0o100755 if name.endswith(".so") else 0o100644) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
        entry = zipfile.ZipInfo(f"{info}/RECORD", date_time=(2024, 1, 1, 0, 0, 0))
        entry.external_attr = 0o100644 << 16
        archive.writestr(entry, record)
    return path


INIT_PY = b'''import ctypes
import os

from . import _ext

_here = os.path.dirname(__file__)
_user = ctypes.CDLL(os.path.join(_here, "sub", "deep", "libuser.so"))


def values():
    """Alternate between the extension module and the ctypes module: with one copy of
    libcounter in the process the sequence is 1, 2, 3, 4."""
    return [_ext.next(), _user.user_next(), _ext.next(), _user.user_next()]
'''


def build_chain_wheel(libs: FixtureLibs, out_dir: Path, abi: str, dist: str = "chainpkg") -> Path:
    """The runtime-test wheel: an extension module at depth 1 and a ctypes module at depth 3,
    both needing libouter.so -> libcounter.so, none of which is in the wheel."""
    files = {
        f"{dist}/__init__.py": INIT_PY,
        f"{dist}/_ext.so": libs.ext.read_bytes(),
        f"{dist}/sub/__init__.py": b"",
        f"{dist}/sub/deep/__init__.py": b"",
        f"{dist}/sub/deep/libuser.so": libs.user.read_bytes(),
        f"{dist}/standalone/libstandalone.so": libs.standalone.read_bytes(),
    }
    return write_wheel(out_dir, dist, "1.0", PLATFORM_TAGS[abi], files)


@dataclass(frozen=True)
class SymbolModules:
    """Side modules whose imports the audit judges: ``calls`` calls and ``address`` takes the
    address of PyBytes_Join (CPython 3.14 only); ``intern`` that of _PyUnicode_InternImmortal
    (Pyodide 0.27.8, not 0.26.4, of one ABI); ``weak`` has a weak undefined function;
    ``emjs`` calls its own EM_JS function; ``oldtime`` imports ``time`` with a 32-bit result;
    ``narrow`` was linked against an older ``libwide.so`` (``wide`` as (i32)->i32) and ships
    beside ``wide``, the newer one ((i32)->i64)."""

    calls: Path
    address: Path
    intern: Path
    weak: Path
    emjs: Path
    oldtime: Path
    wide: Path
    narrow: Path


def build_symbol_modules(workdir: Path) -> SymbolModules:
    older_wide = build_c("wideold", workdir / "old", "libwide.so")
    return SymbolModules(
        calls=build_c("calls314", workdir, "libcalls314.so"),
        address=build_c("address314", workdir, "libaddress314.so"),
        intern=build_c("intern3127", workdir, "libintern3127.so"),
        weak=build_c("weak", workdir, "libweak.so"),
        emjs=build_c("emjs", workdir, "libemjs.so"),
        oldtime=build_c("oldtime", workdir, "liboldtime.so"),
        wide=build_c("wide", workdir, "libwide.so"),
        narrow=build_c("narrow", workdir, "libnarrow.so", needs=[older_wide], rpaths=["$ORIGIN"]),
    )


def build_module_wheel(
    module: Path, out_dir: Path, platform: str, dist: str = "symbols", beside: Sequence[Path] = ()
) -> Path:
    """A ``py3-none`` wheel (fits every Python) holding one module (and the libraries
    ``beside`` it) and an ``__init__`` that opens it with ctypes (keeping the GIL, so it may
    call the C API)."""
    init = f'import ctypes, os\nlib = ctypes.PyDLL(os.path.join(os.path.dirname(__file__), "{module.name}"))\n'
    # the libraries first: Pyodide 0.26/0.27 load a library that comes after its user twice
    files = {f"{dist}/__init__.py": init.encode()}
    files |= {f"{dist}/{library.name}": library.read_bytes() for library in beside}
    files[f"{dist}/{module.name}"] = module.read_bytes()
    return write_wheel(out_dir, dist, "1.0", f"py3-none-{platform}", files)


def build_examples(libs: FixtureLibs, symbols: SymbolModules, where: Path) -> Path:
    """The directory the docs' examples run in (``nox -s demo`` leaves it in
    ``demo-out/examples``): ``dist/`` with the chain wheel and the symbols wheel for Pyodide 0.29,
    ``libs/`` with the libraries they were linked against."""
    build_chain_wheel(libs, where / "dist", "pyodide_2025_0")
    build_module_wheel(symbols.calls, where / "dist", "pyodide_2025_0_wasm32")
    (where / "libs").mkdir(parents=True, exist_ok=True)
    for library in sorted(libs.libdir.iterdir()):
        (where / "libs" / library.name).write_bytes(library.read_bytes())
    return where
