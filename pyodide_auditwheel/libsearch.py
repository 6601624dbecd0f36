"""Finding libraries a wheel does not contain in the directories the user names, and in
those a build announces (see :mod:`.discovery`).

A directory may be a plain directory of ``.so`` files or the root of an Emscripten sysroot or
install prefix; in the latter, relocatable (``pic``) builds are preferred, because only they
can be side modules.  A candidate that is not a wasm side module (a host ELF library of the
same name, for instance) is passed over rather than vendored.  Every found library keeps the
source of its directory (``--libdir``, ``WASM_LIBRARY_DIR``, …), which the reports show.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .dylink import ModuleHead, read_module_head
from .errors import AuditwheelError, LibdirError, WasmError
from .inputs import WheelArchive, open_input_file

LIBDIR_ENV = "PYODIDE_AUDITWHEEL_LIBDIR"
SYSROOT_SUBDIRS = ("", "lib/wasm32-emscripten/pic", "lib/wasm32-emscripten", "lib", "local/lib")
LIBRARY_CHUNK = 1 << 20


@dataclass(frozen=True)
class LibraryDir:
    """A directory to look for libraries in, and where it came from (what ``found (...)``
    says).  A directory the user named must exist; a discovered one is only searched."""

    path: Path
    source: str = "--libdir"
    explicit: bool = True
    # A wheel of the same call, whose modules are searched (see wheel_member) instead of files.
    wheel: bool = False


@dataclass(frozen=True)
class SearchPath:
    """Every directory a run looks for libraries in, in order, decided once per run.

    ``runtime_paths``: also search each module's absolute RUNTIME_PATH entries that exist on
    this machine (where the linker was told the libraries are), after the directories.
    ``notes``: what discovery passed over, for ``-v``."""

    dirs: tuple[LibraryDir, ...] = ()
    runtime_paths: bool = False
    notes: tuple[str, ...] = ()

    @classmethod
    def of(cls, libdirs: Iterable[Path | LibraryDir]) -> SearchPath:
        return cls(tuple(d if isinstance(d, LibraryDir) else LibraryDir(Path(d)) for d in libdirs))


def libdirs_from_env() -> list[LibraryDir]:
    """Extra search directories from ``PYODIDE_AUDITWHEEL_LIBDIR`` (``os.pathsep``-separated),
    searched after the ones on the command line."""
    value = os.environ.get(LIBDIR_ENV, "")
    return [LibraryDir(Path(item), LIBDIR_ENV) for item in value.split(os.pathsep) if item]


def _check_libdir(libdir: LibraryDir) -> None:
    path = libdir.path
    try:
        path.stat()
        if not path.is_dir():
            raise LibdirError(f"{libdir.source} {path} is not a directory.")
        os.listdir(path)
    except FileNotFoundError:
        raise LibdirError(f"{libdir.source} {path} does not exist.") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise LibdirError(f"{libdir.source} {path} is a symbolic link loop.") from None
        raise LibdirError(f"{libdir.source} {path} cannot be read: {error.strerror or error}.") from None


class LibrarySearch:
    """Looks libraries up on a :class:`SearchPath`, remembering each answer and the source of
    every directory a library was found in."""

    def __init__(self, search: SearchPath) -> None:
        self.dirs = list(search.dirs)
        self.follow_runtime_paths = search.runtime_paths
        self.skipped: list[str] = [*search.notes]
        self.sources: dict[Path, str] = {}
        self._cache: dict[str, tuple[Path, ModuleHead] | None] = {}
        # A wheel of the call → its modules by base name (a vendored one also by the name it
        # had before a repair mangled it).
        self._wheel_modules: dict[Path, dict[str, list[str]]] = {}
        for libdir in self.dirs:
            if libdir.explicit:
                _check_libdir(libdir)

    def add_runtime_paths(self, entries: Iterable[str]) -> None:
        """Search these RUNTIME_PATH entries too, those that are absolute directories here."""
        if not self.follow_runtime_paths:
            return
        known = {libdir.path for libdir in self.dirs}
        # Before the other wheels of the call, which come last (docs/libraries.md's order).
        at = next((index for index, libdir in enumerate(self.dirs) if libdir.wheel), len(self.dirs))
        for entry in entries:
            path = Path(entry)
            if path.is_absolute() and path not in known and path.is_dir():
                known.add(path)
                self.dirs.insert(at, LibraryDir(path, "RUNTIME_PATH", explicit=False))
                at += 1

    def search_path(self) -> list[tuple[Path, LibraryDir]]:
        """Every directory searched, in order, with the one it is in or under (a wheel of the
        call is one place: its members)."""
        return [
            (libdir.path / sub if sub else libdir.path, libdir)
            for libdir in self.dirs
            for sub in ([""] if libdir.wheel else SYSROOT_SUBDIRS)
        ]

    def _candidate(self, directory: Path, libdir: LibraryDir, base: str) -> Path:
        if not libdir.wheel:
            return directory / base
        if directory not in self._wheel_modules:
            self._wheel_modules[directory] = _modules_of(directory, self.skipped)
        members = self._wheel_modules[directory].get(base, [])
        # A library the wheel vendored (in its .libs directory) before any other copy of it.
        members = sorted(members, key=lambda member: (".libs/" not in member, member))
        return directory / members[0] if members else directory / base

    def find(self, name: str) -> tuple[Path, ModuleHead] | None:
        """The first side module with the base name of ``name`` on the search path, with its
        dylink head.  A NEEDED entry spelt as a path (the build machine's, as a linker given
        ``/build/lib/libfoo.so`` records it) is looked for by its base name: the repair then
        renames the entry to the vendored file.  A side module of that name with other
        contents further along the path is noted (``-v``): the order decided."""
        if name in self._cache:
            return self._cache[name]
        result = None
        base = name.rsplit("/", 1)[-1]
        if base not in ("", ".", ".."):
            search_path = self.search_path()
            for index, (directory, libdir) in enumerate(search_path):
                candidate = self._candidate(directory, libdir, base)
                head = self._side_module_head(candidate)
                if head is not None:
                    result = (candidate, head)
                    self.sources[candidate] = libdir.source
                    self._note_other_builds(candidate, libdir, search_path[index + 1 :])
                    break
        self._cache[name] = result
        return result

    def source_of(self, path: Path) -> str:
        return self.sources.get(path, "--libdir")

    def _note_other_builds(self, chosen: Path, libdir: LibraryDir, rest: list[tuple[Path, LibraryDir]]) -> None:
        seen = {_real(chosen)}
        for directory, other in rest:
            if other.wheel:
                # The other wheels of the call are read only for a library found nowhere else
                # (they come last): opening each to compare would cost a wheelhouse a scan of
                # every wheel per wheel.
                continue
            candidate = directory / chosen.name
            if not candidate.is_file() or _real(candidate) in seen:
                continue
            seen.add(_real(candidate))
            if self._side_module_head(candidate) is not None and not _same_bytes(chosen, candidate):
                self.skipped.append(
                    f"{chosen.name}: taken from {chosen} ({libdir.source}); {candidate} ({other.source}) "
                    "has other contents and comes later in the search order"
                )

    def _side_module_head(self, candidate: Path) -> ModuleHead | None:
        """The candidate's dylink head; None, noting why in ``skipped`` when a file of that
        name exists (``-v`` shows the notes), when it cannot be the library."""
        try:
            if wheel_member(candidate) is not None:
                return library_head(candidate)
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


_MANGLED = re.compile(r"(?P<stem>.+)-[0-9a-f]{8}(?P<suffix>\.so(?:\.\d+)*)")


def _unmangled(base: str) -> str | None:
    """``libfoo-1a2b3c4d.so`` → ``libfoo.so``: the name a repair's mangling replaced."""
    mangled = _MANGLED.fullmatch(base)
    return mangled["stem"] + mangled["suffix"] if mangled else None


def _modules_of(wheel: Path, notes: list[str]) -> dict[str, list[str]]:
    """A wheel's modules by base name; a name as a repair mangles it (``libfoo-1a2b3c4d.so``,
    this tool's and auditwheel-emscripten's) also under the name it had (``libfoo.so``)."""
    try:
        archive = WheelArchive(wheel)
    except AuditwheelError as error:
        notes.append(f"{wheel}: not searched for libraries, {str(error).rstrip('.')}")
        return {}
    try:
        by_base: dict[str, list[str]] = {}
        for member in archive.module_paths():
            base = member.rsplit("/", 1)[-1]
            by_base.setdefault(base, []).append(member)
            original = _unmangled(base)
            if original:
                by_base.setdefault(original, []).append(member)
        return by_base
    finally:
        archive.close()


def wheel_member(path: Path) -> tuple[Path, str] | None:
    """(wheel, member) when ``path`` names a member inside a wheel file
    (``dist/a-1.0-….whl/a.libs/libfoo-1a2b3c4d.so``): a library another wheel of the call
    holds, which is read from that wheel, checked against its RECORD."""
    parts = Path(path).parts  # (a caller may hold it as a string)
    for index in range(len(parts) - 1, 0, -1):
        if parts[index - 1].endswith(".whl"):
            wheel = Path(*parts[:index])
            if wheel.is_file():
                return wheel, "/".join(parts[index:])
    return None


def library_name(path: Path) -> str:
    """The name a found library is vendored by: its file's, or for a member of another wheel
    the name it had before that wheel's repair mangled it (its hash is taken again)."""
    original = _unmangled(path.name) if wheel_member(path) is not None else None
    return original or path.name


def _member_bytes(path: Path) -> bytes | None:
    """The bytes of a wheel member named as :func:`wheel_member` names it; None for a file."""
    located = wheel_member(path)
    if located is None:
        return None
    wheel, member = located
    archive = WheelArchive(wheel)
    try:
        return archive.read_recorded(member)
    finally:
        archive.close()


def library_head(path: Path) -> ModuleHead:
    """A library file's dylink head, reading no more of it than that."""
    data = _member_bytes(path)
    if data is not None:
        return read_module_head(lambda size: data[:size], f"library {path}")
    with open_input_file(path) as handle:
        return read_module_head(lambda size: _prefix(handle, size), f"library {path}")


def _prefix(handle: BinaryIO, size: int) -> bytes:
    handle.seek(0)
    return handle.read(size)


def library_chunks(path: Path) -> Iterator[bytes]:
    """A library file's bytes a chunk at a time: vendoring a library of any size holds one
    chunk of it, not the file."""
    data = _member_bytes(path)
    if data is not None:
        for start in range(0, len(data), LIBRARY_CHUNK):
            yield data[start : start + LIBRARY_CHUNK]
        return
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


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path


def _same_bytes(first: Path, second: Path) -> bool:
    """Two library files (never wheel members: those are not compared) with one content."""
    try:
        if first.stat().st_size != second.stat().st_size:
            return False
        return library_digest(first) == library_digest(second)
    except (OSError, LibdirError):
        return False
