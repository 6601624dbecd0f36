"""Finding libraries a wheel does not contain in the directories the user names.

A ``--libdir`` may be a plain directory of ``.so`` files or the root of an Emscripten sysroot;
in the latter, relocatable (``pic``) builds are preferred, because only they can be side
modules.  A candidate that is not a wasm side module (a host ELF library of the same name, for
instance) is passed over rather than vendored.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from .dylink import ModuleHead, read_module_head
from .errors import AuditwheelError, LibdirError, WasmError
from .inputs import open_input_file

LIBDIR_ENV = "PYODIDE_AUDITWHEEL_LIBDIR"
SYSROOT_SUBDIRS = ("", "lib/wasm32-emscripten/pic", "lib/wasm32-emscripten", "lib")
LIBRARY_CHUNK = 1 << 20


def libdirs_from_env() -> list[Path]:
    """Extra search directories from ``PYODIDE_AUDITWHEEL_LIBDIR`` (``os.pathsep``-separated),
    searched after the ones on the command line."""
    value = os.environ.get(LIBDIR_ENV, "")
    return [Path(item) for item in value.split(os.pathsep) if item]


def _check_libdir(path: Path) -> None:
    try:
        path.stat()
        if not path.is_dir():
            raise LibdirError(f"--libdir {path} is not a directory.")
        os.listdir(path)
    except FileNotFoundError:
        raise LibdirError(f"--libdir {path} does not exist.") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise LibdirError(f"--libdir {path} is a symbolic link loop.") from None
        raise LibdirError(f"--libdir {path} cannot be read: {error.strerror or error}.") from None


@dataclass
class LibrarySearch:
    libdirs: list[Path]
    skipped: list[str] = field(default_factory=list)
    _cache: dict[str, tuple[Path, ModuleHead] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for libdir in self.libdirs:
            _check_libdir(libdir)

    def search_path(self) -> list[Path]:
        """Every directory searched, in order."""
        return [libdir / sub if sub else libdir for libdir in self.libdirs for sub in SYSROOT_SUBDIRS]

    def find(self, name: str) -> tuple[Path, ModuleHead] | None:
        """The first side module with the base name of ``name`` on the search path, with its
        dylink head.  A NEEDED entry spelt as a path (the build machine's, as a linker given
        ``/build/lib/libfoo.so`` records it) is looked for by its base name: the repair then
        renames the entry to the vendored file."""
        if name in self._cache:
            return self._cache[name]
        result = None
        base = name.rsplit("/", 1)[-1]
        if base not in ("", ".", ".."):
            for directory in self.search_path():
                candidate = directory / base
                head = self._side_module_head(candidate)
                if head is not None:
                    result = (candidate, head)
                    break
        self._cache[name] = result
        return result

    def _side_module_head(self, candidate: Path) -> ModuleHead | None:
        """The candidate's dylink head; None, noting why in ``skipped`` when a file of that
        name exists (``-v`` shows the notes), when it cannot be the library."""
        try:
            if not candidate.is_file():
                if candidate.exists():
                    kind = "a directory" if candidate.is_dir() else "not a regular file"
                    self.skipped.append(f"{candidate}: passed over, {kind}")
                return None
            return library_head(candidate)
        except WasmError as error:
            self.skipped.append(f"{candidate}: passed over, {error}")
            return None
        except AuditwheelError as error:  # not a regular file (any more), or unreadable
            self.skipped.append(f"{candidate}: passed over, {str(error).rstrip('.')}")
            return None
        except OSError as error:
            self.skipped.append(f"{candidate}: passed over, {error.strerror or error}")
            return None


def library_head(path: Path) -> ModuleHead:
    """A library file's dylink head, reading no more of it than that."""
    with open_input_file(path) as handle:
        return read_module_head(lambda size: _prefix(handle, size), f"library {path}")


def _prefix(handle: BinaryIO, size: int) -> bytes:
    handle.seek(0)
    return handle.read(size)


def library_chunks(path: Path) -> Iterator[bytes]:
    """A library file's bytes a chunk at a time: vendoring a library of any size holds one
    chunk of it, not the file."""
    # Opened without blocking and checked on the descriptor: a library swapped for a FIFO after
    # the plan is refused, not waited on.
    try:
        handle = open_input_file(path)
    except AuditwheelError as error:  # gone, unreadable, or not a regular file (any more)
        reason = "it no longer exists" if not os.path.exists(path) else str(error).rstrip(".").rsplit(": ", 1)[-1]
        raise LibdirError(f"cannot read library {path}: {reason}.") from None
    try:
        with handle:
            while chunk := handle.read(LIBRARY_CHUNK):
                yield chunk
    except OSError as error:
        raise LibdirError(f"cannot read library {path}: {error.strerror or error}.") from None


def library_digest(path: Path) -> tuple[str, int]:
    """The SHA-256 (hex) and size of a library file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    for chunk in library_chunks(path):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size
