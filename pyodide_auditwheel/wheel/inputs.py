"""The three shapes an input may have, seen alike as a *tree*: the relative paths of its files,
and a way to read the head or the whole of any of them.  A wheel archive is read through its
central directory without extracting it, an unpacked wheel directory through the file
system, and a lone module is a tree of one file.  Only regular files are read, and never in a
way that can block.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Literal

from packaging.utils import InvalidWheelFilename, canonicalize_name, canonicalize_version, parse_wheel_filename

from ..errors import AuditwheelError, RecordError, UnsafePathError, WheelError
from ..runtime.abi import Abi, unknown_abi
from ..runtime.vfs import VirtualFS, js_dirname
from ..wasm.dylink import ModuleHead, read_module_head
from .names import WheelName, installed_at, is_module_name
from .record import RECORD_CHUNK, Record, find_record_path
from .zipio import Member, ZipReader, check_member_name, folded

InputKind = Literal["wheel", "directory", "module"]

PathLike = str | os.PathLike[str]


def as_tuple(value: str | PathLike | Iterable[str] | Iterable[PathLike], what: str) -> tuple[PathLike, ...]:
    """A list argument (``libdirs``, ``exclude``, ``companions``) as a tuple: one path or one
    glob given alone is one item, never a list of its characters; bytes are refused (a path
    here is text)."""
    if isinstance(value, bytes):
        raise TypeError(f"{what}: give str or os.PathLike items, not bytes")
    if isinstance(value, (str, os.PathLike)):
        return (value,)
    items = tuple(value)
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            raise TypeError(f"{what}: give str or os.PathLike items, not {type(item).__name__}")
    return items


def _looked_up_by_name(path: str) -> bool:
    """Members looked up by name: modules (for their heads) and the ``.dist-info`` files
    (RECORD, WHEEL; where vendored libraries go).  Everything else is only streamed past."""
    return is_module_name(path) or ".dist-info/" in path


class InputTree:
    """What analysis needs from an input: its files, and a way to read a module's head."""

    kind: InputKind
    display: str
    wheel: WheelName | None = None

    @property
    def abi(self) -> Abi:
        return self.wheel.abi if self.wheel else unknown_abi()

    def files(self) -> Iterable[str]:
        """The relative paths of the input's files (not directories), streamed."""
        raise NotImplementedError

    def read_prefix(self, path: str, size: int) -> bytes:
        raise NotImplementedError

    def read(self, path: str) -> bytes:
        raise NotImplementedError

    def size(self, path: str) -> int:
        """A file's size, without reading it where the input can say (to find identical copies)."""
        return len(self.read(path))

    def content_key(self, path: str) -> tuple[int, int] | None:
        """What the input says of a file's content without reading it, (CRC-32, size) in an
        archive's directory, to share what is worked out from a file among its copies; None
        where it cannot say."""
        return None

    def module_paths(self) -> list[str]:
        return [path for path in self.files() if is_module_name(path)]

    def installed(self, site_packages: str) -> tuple[VirtualFS, dict[str, str]]:
        """The input's files where the runtime installs them, the file system the loader model
        looks in, and the member each installed path is; built once per site-packages (an
        audit asks for it for every loader it checks)."""
        cache: dict[str, tuple[VirtualFS, dict[str, str]]] = self.__dict__.setdefault("_installed", {})
        if site_packages not in cache:
            cache[site_packages] = self._install(site_packages)
        return cache[site_packages]

    def _install(self, site_packages: str) -> tuple[VirtualFS, dict[str, str]]:
        """Every directory, in the order installing the files makes them, and the modules; any
        other file only once a lookup asks for its base name (``VirtualFS.complete``).  The
        member map grows with the files: of two members installed at one path, the first in
        archive order is the one there, as each pass goes in archive order."""
        members: dict[str, str] = {}
        base_hashes: set[int] = set()  # the base names of the other files: no pass for none of them
        asked: set[str] = set()

        def add(where: str, path: str) -> None:
            fs.add_file(where, None)
            members.setdefault(where, path)

        def complete(bases: Collection[str]) -> None:
            wanted = {base for base in bases if base not in asked and hash(base) in base_hashes}
            asked.update(bases)
            if not wanted:
                return
            for path in self.files():
                if path.rsplit("/", 1)[-1] in wanted and not is_module_name(path):
                    add(installed_at(site_packages, path), path)

        fs = VirtualFS(complete=complete)
        for directory in ("/usr/lib", site_packages):
            fs.add_dir(directory)
        for path in self.files():
            where = installed_at(site_packages, path)
            fs.add_dir(js_dirname(where))
            if is_module_name(path):
                add(where, path)
            else:
                base_hashes.add(hash(path.rsplit("/", 1)[-1]))
        return fs, members

    def holds_folded(self, path: str) -> str | None:
        """The input's path equal to ``path`` on a case-insensitive file system, if any."""
        key = folded(path)
        return next((name for name in self.files() if folded(name) == key), None)

    def holds_under(self, path: str) -> str | None:
        """A file of the input inside the directory ``path`` (compared folded), if any: where a
        repair would write a file, the input must not have a directory."""
        prefix = folded(path) + "/"
        return next((name for name in self.files() if folded(name).startswith(prefix)), None)

    def files_named(self, bases: Collection[str]) -> dict[str, list[str]]:
        """The paths of the files with each of these base names, sorted, in one pass."""
        found: dict[str, list[str]] = {base: [] for base in bases}
        for path in self.files():
            paths = found.get(path.rsplit("/", 1)[-1])
            if paths is not None:
                paths.append(path)
        for paths in found.values():
            paths.sort()
        return found

    def read_module_head(self, path: str) -> ModuleHead:
        """The dylink section of a module, reading no more of it than needed."""
        return read_module_head(lambda size: self.read_prefix(path, size), f"module {path}")

    def close(self) -> None:
        """Release the underlying file, if any."""


class WheelArchive(InputTree):
    kind: InputKind = "wheel"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.display = str(path)
        self.wheel = WheelName.parse(path.name)
        self.file: BinaryIO = open_input_file(path)
        try:
            self.zip = ZipReader(self.file, path.name, lookup=_looked_up_by_name)
        except BaseException:
            self.file.close()
            raise

    def files(self) -> Iterator[str]:
        return (name for name in self.zip.names() if not name.endswith("/"))

    def copy_to(self, handle: BinaryIO) -> None:
        """The wheel's bytes as they are (a repair with nothing to change)."""
        self.file.seek(0)
        shutil.copyfileobj(self.file, handle)

    def holds_folded(self, path: str) -> str | None:
        return self.zip.holds_folded(path)

    def holds_under(self, path: str) -> str | None:
        return self.zip.holds_under_folded(path)

    def holds_metadata(self, path: str) -> bool:
        """Whether the wheel has this ``.dist-info`` file (answered from the reader's index,
        which holds every ``.dist-info`` member)."""
        return path in self.zip.by_name

    def module_paths(self) -> list[str]:
        return [path for path in self.zip.by_name if is_module_name(path)]

    def files_named(self, bases: Collection[str]) -> dict[str, list[str]]:
        # Module-like base names are answered from the reader's index, which holds every
        # module: only other names cost a pass over the archive.
        others = [base for base in bases if not is_module_name(base)]
        found = super().files_named(others) if others else {}
        for base in bases:
            if is_module_name(base):
                found[base] = sorted(path for path in self.zip.by_name if path.rsplit("/", 1)[-1] == base)
        return found

    def _member(self, path: str) -> Member:
        member = self.zip.find(path)
        if member is None:
            raise AuditwheelError(f"{self.display} has no member {path!r}.")
        return member

    def read_prefix(self, path: str, size: int) -> bytes:
        return self.zip.read_head(self._member(path), size)

    def read(self, path: str) -> bytes:
        return self.zip.read(self._member(path))

    def size(self, path: str) -> int:
        return self._member(path).size

    def content_key(self, path: str) -> tuple[int, int] | None:
        member = self._member(path)
        return member.crc, member.size

    @property
    def dist_info(self) -> str:
        """The wheel's ``<name>-<version>.dist-info`` directory (where RECORD is)."""
        return self.record().path.rsplit("/", 1)[0]

    def check_dist_info(self) -> None:
        """A wheel has one ``.dist-info`` directory, named for the project and version its file
        name gives (as installers require): a repair never writes a wheel that breaks this."""
        directories = sorted({name.split("/", 1)[0] for name in self.zip.by_name if ".dist-info/" in name})
        directories = [directory for directory in directories if directory.endswith(".dist-info")]
        if not directories:
            self.record()  # says that there is no .dist-info/RECORD
        if len(directories) != 1:
            raise WheelError(
                f"bad wheel: {self.path.name} has {len(directories)} .dist-info directories"
                + (f" ({', '.join(directories)})" if directories else "")
                + "; a wheel has exactly one."
            )
        name, _, version = directories[0].removesuffix(".dist-info").rpartition("-")
        wheel = self.wheel
        if wheel is not None and (
            canonicalize_name(name) != canonicalize_name(wheel.dist)
            or canonicalize_version(version) != canonicalize_version(wheel.version)
        ):
            raise WheelError(
                f"bad wheel: its metadata directory {directories[0]} is not for {wheel.dist} {wheel.version}, "
                f"which its file name {self.path.name} says it is."
            )

    def read_recorded(self, path: str) -> bytes:
        """A member this tool reads to write again (WHEEL to retag it, an earlier SBOM to merge
        it), checked against its RECORD row first: tampered bytes must not come out with a
        fresh, valid hash."""
        data = self.read(path)
        row = next((row for row in self.record().rows() if row.path == path), None)
        problem = Record.check_digest(
            row, path, hashlib.sha256(data).digest(), len(data), lambda name: hashlib.new(name, data).digest()
        )
        if problem is not None:
            raise RecordError(f"bad RECORD: {problem}, and a repair would write it again with a valid hash.")
        return data

    def record(self) -> Record:
        path = find_record_path(list(self.zip.by_name))  # every .dist-info file is indexed
        member = self._member(path)
        return Record(path, lambda: self.zip.chunks(member, RECORD_CHUNK))

    def close(self) -> None:
        self.file.close()


class WheelDirectory(InputTree):
    """An unpacked wheel (or any directory of modules); symlinks are not followed out."""

    kind: InputKind = "directory"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.display = str(path)
        self.wheel = self._guess_wheel_name()
        self._files = sorted(self._walk())
        if self.wheel is None and not any(map(is_module_name, self._files)) and not self._dist_infos():
            # An empty dist/ (a CI step run before anything was built) is not a clean result.
            raise AuditwheelError(f"no wheels in {path}: it holds no .whl file, no unpacked wheel and no module.")

    def _dist_infos(self) -> list[Path]:
        try:
            return sorted(child for child in self.path.iterdir() if child.name.endswith(".dist-info"))
        except OSError as error:
            raise AuditwheelError(f"cannot read directory {self.path}: {error.strerror or error}.") from None

    def _guess_wheel_name(self) -> WheelName | None:
        """An unpacked wheel has its tags in ``*.dist-info/WHEEL``; read the platform from there."""
        for info in self._dist_infos():
            wheel_file = info / "WHEEL"
            try:
                if not stat.S_ISREG(wheel_file.stat().st_mode):
                    continue
            except FileNotFoundError:
                continue
            except OSError as error:
                raise AuditwheelError(f"cannot read {wheel_file}: {error.strerror or error}.") from None
            with open_input_file(wheel_file) as handle:  # one sentence if unreadable, never a FIFO wait
                text = handle.read().decode("utf-8", "replace")
            tags = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Tag:")]
            if tags:
                dist_version = info.name[: -len(".dist-info")]
                return WheelName.parse(f"{dist_version}-{tags[0]}.whl")
        return None

    def _walk(self) -> Iterator[str]:
        for root, dirs, names in os.walk(self.path, onerror=_raise_walk_error):
            dirs.sort()
            for name in names:
                full = Path(root) / name
                relative = full.relative_to(self.path).as_posix()
                try:
                    mode = full.lstat().st_mode
                except OSError as error:
                    raise AuditwheelError(f"cannot read {full}: {error.strerror or error}.") from None
                if stat.S_ISLNK(mode):
                    # An unpacked wheel's link to a file inside it is that file (a zip holds
                    # no links, so its wheel would hold a copy); a link out of it is refused.
                    target = full.resolve()
                    if not target.is_relative_to(self.path.resolve()):
                        raise UnsafePathError(f"{full} is a symbolic link out of {self.path}.")
                    try:
                        mode = target.stat().st_mode
                    except OSError as error:
                        raise AuditwheelError(f"cannot read {full}: {error.strerror or error}.") from None
                if not stat.S_ISREG(mode):
                    raise not_regular(full, mode)
                check_member_name(relative)
                yield relative

    def files(self) -> list[str]:
        return self._files

    def read_prefix(self, path: str, size: int) -> bytes:
        with open_input_file(self.path / path) as handle:
            return handle.read(size)

    def read(self, path: str) -> bytes:
        with open_input_file(self.path / path) as handle:
            return handle.read()


def _raise_walk_error(error: OSError) -> None:
    raise AuditwheelError(f"cannot read directory {error.filename}: {error.strerror}.")


class ModuleFile(InputTree):
    """A single side module given on the command line: a tree of one file."""

    kind: InputKind = "module"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.display = str(path)
        self.name = path.name

    def files(self) -> list[str]:
        return [self.name]

    def module_paths(self) -> list[str]:
        return [self.name]

    def read_prefix(self, path: str, size: int) -> bytes:
        with open_input_file(self.path) as handle:
            return handle.read(size)

    def read(self, path: str) -> bytes:
        with open_input_file(self.path) as handle:
            return handle.read()


_FILE_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def not_regular(path: object, mode: int) -> AuditwheelError:
    kind = _FILE_KINDS.get(stat.S_IFMT(mode), "not a regular file")
    return AuditwheelError(f"cannot read {path}: it is {kind}, not a regular file.")


def open_input_file(path: Path) -> BinaryIO:
    """Open a regular file for reading, turning every OS failure into one sentence.

    Opened without blocking and checked on the open descriptor: a FIFO (or a file swapped for
    one after a check) is refused instead of waiting forever for a writer.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise AuditwheelError(f"no such file: {path}.") from None
    except OSError as error:
        raise AuditwheelError(f"cannot read {path}: {error.strerror or error}.") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise not_regular(path, mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def pure_python_wheel(path: Path) -> bool:
    """Whether ``path`` is a pure-Python wheel: tagged ``any`` (for no platform) and holding
    no module.  Such a wheel is no input of this tool's, and no error among its inputs: it
    needs no repair.  False for anything that cannot be read as one (the repair says why)."""
    try:
        _name, _version, _build, tags = parse_wheel_filename(path.name)
    except InvalidWheelFilename:
        return False
    if {tag.platform for tag in tags} != {"any"}:
        return False
    try:
        with open_input_file(path) as handle:
            reader = ZipReader(handle, path.name, lookup=_looked_up_by_name)
            return not any(is_module_name(member) for member in reader.by_name)
    except AuditwheelError:
        return False


def open_input(path: Path) -> InputTree:
    """Choose the input shape from what is on disk, refusing what is none of them."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise AuditwheelError(f"no such file: {path}.") from None
    except OSError as error:
        raise AuditwheelError(f"cannot read {path}: {error.strerror or error}.") from None
    if stat.S_ISDIR(mode):
        return WheelDirectory(path)
    if not stat.S_ISREG(mode):
        raise not_regular(path, mode)
    if path.suffix == ".whl":
        return WheelArchive(path)
    if is_module_name(path.name) or path.suffix == "":
        return ModuleFile(path)
    raise AuditwheelError(
        f"unsupported input {path}: give a .whl wheel, a .so/.wasm module or an unpacked wheel directory."
    )


def expand_wheelhouses(paths: list[Path]) -> list[Path]:
    """A directory that holds wheels and no ``.dist-info`` (a wheelhouse: ``dist/``) stands
    for its wheels, in name order; an unpacked wheel directory is one input, as before."""
    expanded: list[Path] = []
    for path in paths:
        if path.is_dir() and not any(path.glob("*.dist-info")):
            wheels = sorted(child for child in path.glob("*.whl") if child.is_file())
            if wheels:
                expanded += wheels
                continue
        expanded.append(path)
    return expanded
