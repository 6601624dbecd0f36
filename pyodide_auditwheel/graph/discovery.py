"""Where a build leaves the libraries a wheel needs, found without a ``--libdir``.

A Pyodide build puts its libraries in places the build itself announces: pyodide-build's
recipes install them under ``$WASM_LIBRARY_DIR`` (and projects built by cibuildwheel set the
same variable by hand), ``pkg-config`` files name their ``libdir``, and ``emcmake cmake &&
make install`` lands in the Emscripten sysroot.  These are searched, in that order, after the
directories the user names; each found library says which of them it came from.

The host's own library directories (``/usr/lib``, ``LD_LIBRARY_PATH``, …) are never searched:
they hold native code, which cannot be a side module.  :class:`HostLibraries` is the one rule;
the library search applies it to every directory it would open, whichever source named it.

The build environment is not trusted either: a ``.pc`` file or an ``em-config`` may be broken
or hostile, so each is read with bounds (size, expansion, time) and passed over with a note
when it exceeds them.  Discovery runs only when a library is looked for.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from .emscripten import emscripten_sysroot
from .untrusted import read_small_file

WASM_LIBRARY_DIR = "WASM_LIBRARY_DIR"
# pkg-config reads PKG_CONFIG_PATH before PKG_CONFIG_LIBDIR; emscripten's wrapper sets
# PKG_CONFIG_PATH from EM_PKG_CONFIG_PATH, so that one comes first.
PKG_CONFIG_VARIABLES = ("EM_PKG_CONFIG_PATH", "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR")
# Where an operating system keeps its native libraries (and a per-architecture directory
# under them, such as /usr/lib/x86_64-linux-gnu): never a source of side modules.
HOST_LIBRARY_DIRS = (
    "/lib",
    "/lib32",
    "/lib64",
    "/usr/lib",
    "/usr/lib32",
    "/usr/lib64",
    "/usr/local/lib",
    "/opt/homebrew/lib",
)
HOST_LIBRARY_PATH_VARIABLES = ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "LIBRARY_PATH")
HOST_REASON = "it holds the host's own libraries"

# A .pc file is a few hundred bytes; a path no longer than PATH_MAX.
PC_FILE_MAX_BYTES = 1 << 20
PC_VALUE_MAX_BYTES = 4096
_PC_VARIABLE = re.compile(rb"([A-Za-z0-9_.]+)\s*=\s*(.*)")
_PC_REFERENCE = re.compile(rb"\$\{([A-Za-z0-9_.]+)\}")


class HostLibraries:
    """The host's own library directories, as this process sees them: the operating system's,
    their per-architecture children, and those the dynamic linker is pointed at."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        listed = [*HOST_LIBRARY_DIRS]
        for variable in HOST_LIBRARY_PATH_VARIABLES:
            listed += [item for item in environ.get(variable, "").split(os.pathsep) if item]
        self._dirs = {_resolved(Path(item)) for item in listed}
        for base in HOST_LIBRARY_DIRS:
            self._dirs.update(_resolved(child) for child in _children(Path(base)) if "-linux-" in child.name)

    def reason(self, directory: Path) -> str | None:
        """Why ``directory`` is not searched (it is, or links to, one of the host's), or None."""
        return HOST_REASON if _resolved(directory) in self._dirs else None


def discover(environ: Mapping[str, str]) -> tuple[list[tuple[Path, str]], list[str]]:
    """The directories a build announces with the source of each, in search order (repeats
    dropped), and notes (``-v``) on the sources that were passed over and why.  Whether a
    directory is searched is the search's to decide, by :class:`HostLibraries`."""
    notes: list[str] = []
    found: list[tuple[Path, str]] = []
    seen: set[str] = set()
    for directory, source in _announced(environ, notes):
        key = os.path.normpath(directory)
        if key not in seen:
            seen.add(key)
            found.append((directory, source))
    return found, notes


def _announced(environ: Mapping[str, str], notes: list[str]) -> Iterator[tuple[Path, str]]:
    wasm_library_dir = environ.get(WASM_LIBRARY_DIR)
    if wasm_library_dir:
        yield Path(wasm_library_dir), WASM_LIBRARY_DIR
    for pc_file in _pc_files(environ):
        libdir, problem = pc_libdir(pc_file)
        if problem:
            notes.append(f"{pc_file} (pkg-config): passed over, {problem}")
        elif libdir is not None:
            yield Path(os.fsdecode(libdir)), f"pkg-config {pc_file.name}"
    sysroot = emscripten_sysroot(environ, notes)
    if sysroot is not None:
        yield sysroot, "emscripten sysroot"


def _pc_files(environ: Mapping[str, str]) -> Iterator[Path]:
    for variable in PKG_CONFIG_VARIABLES:
        for item in environ.get(variable, "").split(os.pathsep):
            if not item:
                continue
            try:
                names = sorted(os.listdir(item))
            except OSError:
                continue
            for name in names:
                if name.endswith(".pc"):
                    yield Path(item, name)


def pc_libdir(path: Path) -> tuple[bytes | None, str]:
    """(``libdir``, problem) of a pkg-config file, as ``pkg-config --variable=libdir`` prints
    it: the exact bytes (a path need not be UTF-8), each ``${...}`` expanded when its line is
    read from the variables defined above it (``${pcfiledir}`` is the file's directory).  Like
    pkg-config, a reference to a variable not yet defined makes the file unusable; so does a
    value longer than any path, which a chain of self-doubling variables would otherwise build
    for 2**64 bytes.  (None, "") for a file with no ``libdir`` or one that is not a regular
    file."""
    data = read_small_file(path, PC_FILE_MAX_BYTES)
    if data is None:
        return None, ""
    if len(data) > PC_FILE_MAX_BYTES:
        return None, f"it is larger than {PC_FILE_MAX_BYTES // 1024} KiB"
    variables = {b"pcfiledir": os.fsencode(path.parent)}
    for raw_line in data.splitlines():
        match = _PC_VARIABLE.fullmatch(raw_line.split(b"#", 1)[0].strip())
        if not match:
            continue
        name, value = match.group(1), match.group(2).strip()
        problem = _pc_expand_into(variables, name, value)
        if problem:
            return None, problem
    libdir = variables.get(b"libdir")
    return (libdir if libdir is not None and os.path.isabs(libdir) else None), ""


def _pc_expand_into(variables: dict[bytes, bytes], name: bytes, value: bytes) -> str:
    """Define ``name`` as ``value`` with its references expanded; the problem, if any."""
    too_long = f"variable '{name.decode('ascii')}' expands to more than {PC_VALUE_MAX_BYTES} bytes"
    if len(value) > PC_VALUE_MAX_BYTES:
        return too_long
    parts: list[bytes] = []
    end = 0
    for reference in _PC_REFERENCE.finditer(value):
        referred = reference.group(1)
        if referred not in variables:
            return f"variable '{referred.decode('ascii')}' is used before it is defined"
        parts += [value[end : reference.start()], variables[referred]]
        end = reference.end()
        if sum(map(len, parts)) > PC_VALUE_MAX_BYTES:
            return too_long
    expanded = b"".join([*parts, value[end:]])
    if len(expanded) > PC_VALUE_MAX_BYTES:
        return too_long
    variables[name] = expanded
    return ""


def _children(directory: Path) -> list[Path]:
    try:
        return [directory / name for name in os.listdir(directory)]
    except OSError:
        return []


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path
