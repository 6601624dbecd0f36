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
import functools
import hashlib
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import AuditwheelError, LibdirError, WasmError
from ..wasm.dylink import ModuleHead, read_module_head
from ..wheel.inputs import PathLike, WheelArchive, open_input_file
from .discovery import HostLibraries, discover

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
    """Every source a run looks for libraries in, in order, decided once per run.

    ``dirs``: the directories the user named.  ``environ``: with discovery on, the environment
    whose announced directories (see :mod:`.discovery`) come next, asked only when a library is
    looked for; the modules' absolute RUNTIME_PATH entries follow them.  ``wheels``: the other
    wheels of the call, last.  ``environ`` None: only ``dirs`` (and ``wheels``)."""

    dirs: tuple[LibraryDir, ...] = ()
    environ: Mapping[str, str] | None = None
    wheels: tuple[LibraryDir, ...] = ()

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
    every directory a library was found in.

    Every directory it would open, of every source, passes the host rule
    (:class:`.discovery.HostLibraries`) first: only a directory the user named is searched as
    named, its sysroot subdirectories still pass the rule."""

    def __init__(self, search: SearchPath) -> None:
        self._explicit = list(search.dirs)
        self._environ = search.environ
        self._discovered: list[LibraryDir] | None = None if search.environ is not None else []
        self._runtime_paths: list[LibraryDir] = []
        self._wheels = list(search.wheels)
        self._search_path: list[tuple[Path, LibraryDir]] | None = None
        self._passed_over: set[Path] = set()
        self.skipped: list[str] = []
        self.sources: dict[Path, str] = {}
        self._cache: dict[str, tuple[Path, ModuleHead] | None] = {}
        # A wheel of the call → its modules by base name (a vendored one also by the name it
        # had before a repair mangled it).
        self._wheel_modules: dict[Path, dict[str, list[str]]] = {}
        for libdir in self._explicit:
            if libdir.explicit:
                _check_libdir(libdir)

    @property
    def dirs(self) -> list[LibraryDir]:
        """The sources in search order (discovery is run, once, on first use)."""
        if self._discovered is None:
            assert self._environ is not None
            found, notes = discover(self._environ)
            self._discovered = [LibraryDir(path, source, explicit=False) for path, source in found]
            self.skipped.extend(notes)
        return [*self._explicit, *self._discovered, *self._runtime_paths, *self._wheels]

    def add_runtime_paths(self, entries: Iterable[str]) -> None:
        """Search these RUNTIME_PATH entries too, those that are absolute (after the announced
        directories, before the other wheels of the call: docs/libraries.md's order)."""
        if self._environ is None:
            return
        known = {libdir.path for libdir in self._runtime_paths}
        for entry in entries:
            path = Path(entry)
            if path.is_absolute() and path not in known:
                known.add(path)
                self._runtime_paths.append(LibraryDir(path, "RUNTIME_PATH", explicit=False))
        self._search_path = None

    def search_path(self) -> list[tuple[Path, LibraryDir]]:
        """Every directory searched, in order, with the source it is in or under (a wheel of
        the call is one place: its members); those the host rule or their absence passes
        over are left out, and noted once."""
        if self._search_path is None:
            host = HostLibraries(self._environ if self._environ is not None else os.environ)
            self._search_path = []
            for libdir in self.dirs:
                if libdir.wheel:
                    self._search_path.append((libdir.path, libdir))
                    continue
                for sub in SYSROOT_SUBDIRS:
                    directory = libdir.path / sub if sub else libdir.path
                    if self._may_open(directory, libdir, bool(sub), host):
                        self._search_path.append((directory, libdir))
                    elif not sub:
                        break  # nothing under a directory passed over is searched either
        return self._search_path

    def _may_open(self, directory: Path, libdir: LibraryDir, under: bool, host: HostLibraries) -> bool:
        reason = None if libdir.explicit and not under else host.reason(directory)
        if reason is None and not under and not libdir.explicit and not directory.is_dir():
            reason = "it is not a directory"
        if reason is None:
            return True
        if directory not in self._passed_over and (not under or directory.is_dir()):
            self._passed_over.add(directory)
            self.skipped.append(f"{directory} ({libdir.source}): not searched, {reason}")
        return False

    def searched_sources(self) -> list[LibraryDir]:
        """The sources at least one of whose directories is searched."""
        kept = {id(libdir) for _, libdir in self.search_path()}
        return [libdir for libdir in self.dirs if id(libdir) in kept]

    def _candidate(self, directory: Path, libdir: LibraryDir, base: str) -> Path | None:
        """The file (or wheel member) of that base name to try in ``directory``; None for a
        wheel of the call that holds no module of that name (it is not opened again)."""
        if not libdir.wheel:
            return directory / base
        if directory not in self._wheel_modules:
            self._wheel_modules[directory] = _modules_of(directory, self.skipped)
        members = self._wheel_modules[directory].get(base, [])
        # A library the wheel vendored (in its .libs directory) before any other copy of it.
        members = sorted(members, key=lambda member: (".libs/" not in member, member))
        return directory / members[0] if members else None

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
                if candidate is None:
                    continue
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


# The wheels of a call indexed once for all of them (each wheel's analysis searches the
# others: indexing them again per wheel made `show dist/` quadratic), by the file's identity
# (device, inode, size, mtime), so a wheel replaced since is read again.
_WHEEL_INDEX: dict[tuple[int, int, int, int], dict[str, list[str]]] = {}


def _modules_of(wheel: Path, notes: list[str]) -> dict[str, list[str]]:
    """A wheel's modules by base name; a name as a repair mangles it (``libfoo-1a2b3c4d.so``,
    this tool's and auditwheel-emscripten's) also under the name it had (``libfoo.so``)."""
    try:
        status = os.stat(wheel)
    except OSError:
        status = None
    identity = (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns) if status else None
    if identity in _WHEEL_INDEX:
        return _WHEEL_INDEX[identity]
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
        if identity is not None:
            _WHEEL_INDEX[identity] = by_base
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


def search_path_for(
    libdirs: Sequence[PathLike], discover: bool = True, companions: Sequence[PathLike] = (), this: PathLike = ""
) -> SearchPath:
    """The run's search path: the ``--libdir``s, then ``$PYODIDE_AUDITWHEEL_LIBDIR``, then (with
    ``discover``) the directories the build announces (see :mod:`.discovery`), the modules'
    absolute RUNTIME_PATH entries, and the other wheels of the call (``companions`` but
    ``this``), which may hold a library this one needs."""
    explicit = [LibraryDir(Path(item)) for item in libdirs] + libdirs_from_env()
    if not discover:
        return SearchPath(tuple(explicit))
    mine = os.path.abspath(this) if this else None
    wheels = tuple(
        libdir
        for where, libdir in _companion_dirs(tuple(str(os.fspath(wheel)) for wheel in companions))
        if where != mine
    )
    return SearchPath(tuple(explicit), environ=os.environ, wheels=wheels)


@functools.lru_cache(maxsize=4)
def _companion_dirs(companions: tuple[str, ...]) -> tuple[tuple[str, LibraryDir], ...]:
    """The wheels of a call as search sources, with their absolute paths: made once per call,
    not once per wheel of it (a wheelhouse of N wheels would make N**2)."""
    return tuple(
        (os.path.abspath(wheel), LibraryDir(Path(wheel), f"wheel {Path(wheel).name}", explicit=False, wheel=True))
        for wheel in companions
        if wheel.endswith(".whl")
    )
