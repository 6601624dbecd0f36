"""Where a build leaves the libraries a wheel needs, found without a ``--libdir``.

A Pyodide build puts its libraries in places the build itself announces: pyodide-build's
recipes install them under ``$WASM_LIBRARY_DIR`` (and projects built by cibuildwheel set the
same variable by hand), ``pkg-config`` files name their ``libdir``, and ``emcmake cmake &&
make install`` lands in the Emscripten sysroot.  These are searched, in that order, after the
directories the user names; each found library says which of them it came from.

The host's own library directories (``/usr/lib``, ``LD_LIBRARY_PATH``, …) are never searched:
they hold native code, which cannot be a side module (a candidate that is not one is passed
over in any case, but a host directory is not even looked in).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from .libsearch import LibraryDir

WASM_LIBRARY_DIR = "WASM_LIBRARY_DIR"
# pkg-config reads PKG_CONFIG_PATH before PKG_CONFIG_LIBDIR; emscripten's wrapper sets
# PKG_CONFIG_PATH from EM_PKG_CONFIG_PATH, so that one comes first.
PKG_CONFIG_VARIABLES = ("EM_PKG_CONFIG_PATH", "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR")
EM_CONFIG_TIMEOUT = 20.0
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

_PC_VARIABLE = re.compile(r"([A-Za-z0-9_.]+)\s*=\s*(.*)")
_PC_REFERENCE = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")
# Longer chains of ${...} than this are not expanded further (a .pc file may refer to itself).
_PC_MAX_EXPANSIONS = 64


def discover(environ: Mapping[str, str]) -> tuple[list[LibraryDir], list[str]]:
    """The directories a build announces, in search order, and notes (``-v``) on what was
    passed over and why."""
    notes: list[str] = []
    found: list[LibraryDir] = []
    seen: set[str] = set()
    host = _host_library_dirs(environ)
    for directory in _announced(environ, notes):
        key = os.path.normpath(str(directory.path))
        if key in seen:
            continue
        seen.add(key)
        if not directory.path.is_dir():
            notes.append(f"{directory.path} ({directory.source}): not searched, it is not a directory")
        elif _resolved(directory.path) in host:
            notes.append(f"{directory.path} ({directory.source}): not searched, it holds the host's own libraries")
        else:
            found.append(directory)
    return found, notes


def _announced(environ: Mapping[str, str], notes: list[str]) -> Iterator[LibraryDir]:
    wasm_library_dir = environ.get(WASM_LIBRARY_DIR)
    if wasm_library_dir:
        yield LibraryDir(Path(wasm_library_dir), WASM_LIBRARY_DIR, explicit=False)
    for pc_file in _pc_files(environ):
        libdir = pc_libdir(pc_file)
        if libdir is not None:
            yield LibraryDir(Path(libdir), f"pkg-config {pc_file.name}", explicit=False)
    sysroot = emscripten_sysroot(environ, notes)
    if sysroot is not None:
        yield LibraryDir(sysroot, "emscripten sysroot", explicit=False)


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
                path = Path(item, name)
                if name.endswith(".pc") and path.is_file():
                    yield path


def pc_libdir(path: Path) -> str | None:
    """The ``libdir`` a pkg-config file defines, its ``${...}`` references expanded as
    pkg-config does (``${pcfiledir}`` is the file's own directory); None if it defines none or
    cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    variables = {"pcfiledir": str(path.parent)}
    for line in text.splitlines():
        match = _PC_VARIABLE.fullmatch(line.strip())
        if match:
            variables[match.group(1)] = match.group(2).strip()
    if "libdir" not in variables:
        return None
    value = variables["libdir"]
    for _ in range(_PC_MAX_EXPANSIONS):
        expanded = _PC_REFERENCE.sub(lambda reference: variables.get(reference.group(1), ""), value)
        if expanded == value:
            break
        value = expanded
    return value if os.path.isabs(value) else None


def emscripten_sysroot(environ: Mapping[str, str], notes: list[str]) -> Path | None:
    """The sysroot of the Emscripten that builds here: ``$EM_CACHE/sysroot``, else what
    ``em-config CACHE`` answers (the emsdk's, or pyodide-build's own)."""
    cache = environ.get("EM_CACHE")
    if not cache:
        em_config = shutil.which("em-config", path=environ.get("PATH"))
        if em_config is None:
            return None
        cache, problem = _em_config_cache(em_config)
        if problem:
            notes.append(f"em-config ({em_config}) {problem}: the emscripten sysroot is not searched")
            return None
    return Path(cache, "sysroot")


@functools.lru_cache(maxsize=8)
def _em_config_cache(em_config: str) -> tuple[str, str]:
    """(cache directory, problem): asked once per process (em-config is itself a Python
    program, slow to start)."""
    try:
        answer = subprocess.run(
            [em_config, "CACHE"],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=EM_CONFIG_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return "", f"did not answer within {EM_CONFIG_TIMEOUT:.0f} s"
    except OSError as error:
        return "", f"could not be run ({error.strerror or error})"
    lines = answer.stdout.strip().splitlines()
    if answer.returncode != 0 or not lines or not os.path.isabs(lines[-1].strip()):
        return "", f"gave no cache directory (exit {answer.returncode})"
    return lines[-1].strip(), ""


def _host_library_dirs(environ: Mapping[str, str]) -> set[Path]:
    listed = [*HOST_LIBRARY_DIRS]
    for variable in HOST_LIBRARY_PATH_VARIABLES:
        listed += [item for item in environ.get(variable, "").split(os.pathsep) if item]
    host = {_resolved(Path(item)) for item in listed}
    # The per-architecture directories under them (/usr/lib/x86_64-linux-gnu, /lib/aarch64-...).
    for base in HOST_LIBRARY_DIRS:
        host.update(_resolved(child) for child in _children(Path(base)) if "-linux-" in child.name)
    return host


def _children(directory: Path) -> Iterable[Path]:
    try:
        return [directory / name for name in os.listdir(directory)]
    except OSError:
        return []


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path
