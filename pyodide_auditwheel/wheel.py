"""Wheels as inputs: names and tags, RECORD, and the three shapes a user may hand us.

An input is seen as a *tree*: the relative paths of its files, and a way to read the head or
the whole of any of them.  A wheel archive is read through its central directory without
extracting it, an unpacked wheel directory through the file system, and a lone module is a
tree of one file.
"""

from __future__ import annotations

import base64
import csv
import io
import itertools
import operator
import os
import re
import stat
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal, NamedTuple, TypeVar

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from .abi import Abi, abi_for_platforms, unknown_abi
from .dylink import ModuleHead, read_module_head
from .errors import AuditwheelError, InvalidWheelNameError, RecordError
from .zipio import DIGEST_MASK, Member, ZipReader, check_member_name, names_digest

InputKind = Literal["wheel", "directory", "module"]

MODULE_SUFFIXES = (".so", ".wasm")
RECORD_EXEMPT_SUFFIXES = ("RECORD", "RECORD.jws", "RECORD.p7s")
# RECORD is streamed in small pieces: its lines are split out of each piece at once.
RECORD_CHUNK = 64 * 1024


# ``x.so``, ``x.so.1.2``, ``x.wasm``; not ``notes.so.txt``.
MODULE_NAME = re.compile(r"\.(?:so(?:\.\d+)*|wasm)$")


def is_module_name(path: str) -> bool:
    """Whether the runtime treats the file as a shared library to load (``.so``, ``.so.N``,
    ``.wasm``)."""
    return MODULE_NAME.search(path.rsplit("/", 1)[-1]) is not None


def installed_path(archive_path: str) -> str:
    """Where a member lands under site-packages: ``<name>.data/platlib/x`` and
    ``<name>.data/purelib/x`` are installed as ``x``, every other member where it is."""
    first, _, rest = archive_path.partition("/")
    if first.endswith(".data"):
        scheme, _, inside = rest.partition("/")
        if scheme in ("platlib", "purelib") and inside:
            return inside
    return archive_path


@dataclass(frozen=True)
class WheelName:
    """A parsed wheel file name.  ``file_dist`` is the name's first component as written,
    which is what Pyodide 0.26/0.27 use for the ``<name>.libs`` directory."""

    filename: str
    dist: str
    version: str
    file_dist: str
    platforms: frozenset[str]
    abi: Abi
    tags: frozenset[Tag] = frozenset()

    @classmethod
    def parse(cls, filename: str) -> WheelName:
        try:
            name, version, _build, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename as error:
            raise InvalidWheelNameError(
                f"not a wheel: {filename!r} is not a valid wheel file name ({error})."
            ) from None
        platforms = frozenset(tag.platform for tag in tags)
        return cls(
            filename, str(name), str(version), filename.split("-", 1)[0], platforms, abi_for_platforms(platforms), tags
        )


# Hashes a RECORD row may use: the wheel spec asks for sha256 or better (never md5 or sha1),
# and installers accept these; rows we write use sha256.
RECORD_HASHES = frozenset({"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512", "blake2b", "blake2s"})


def record_hash(digest: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def digest_of(row: RecordRow) -> str:
    """The hex digest of a row this tool wrote (the inverse of :func:`record_hash`)."""
    encoded = row.hash.partition("=")[2]
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).hex()


class RecordRow(NamedTuple):
    path: str
    hash: str
    size: str


def _line_blocks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """A byte stream re-cut after newlines: each block is whole lines (the last block's last
    line may lack its newline)."""
    pending = b""
    for chunk in chunks:
        data = pending + chunk
        cut = data.rfind(b"\n") + 1
        if cut:
            yield data[:cut]
        pending = data[cut:]
    if pending:
        yield pending


def _split_keeping_newlines(data: bytes) -> list[bytes]:
    *lines, last = data.split(b"\n")
    return [line + b"\n" for line in lines] + ([last] if last else [])


@dataclass(frozen=True, slots=True)
class _Block:
    """Some whole lines of RECORD and the rows they hold.

    ``originals`` is None when each line is exactly one quote-free row: then ``data`` stands
    for the rows byte for byte.  Otherwise it gives, row by row, the original line, or None
    where a row must be encoded again (a quoted row, kept only as csv rules read it).
    """

    data: bytes
    rows: list[RecordRow]
    originals: list[bytes | None] | None

    def lines(self) -> list[bytes | None]:
        return self.originals if self.originals is not None else list(_split_keeping_newlines(self.data))


class Record:
    """A wheel's RECORD, read row by row from its source each time it is needed.

    For a wheel with many files RECORD is the largest thing a repair would otherwise hold:
    rows are streamed (decompressed again if need be) when RECORD is compared with the
    archive, when particular rows are looked up, and when it is rewritten.
    """

    def __init__(self, path: str, chunks: Callable[[], Iterable[bytes]]) -> None:
        self.path = path
        self._chunks = chunks
        directory = path.rsplit("/", 1)[0]
        self._exempt_paths = {f"{directory}/{suffix}" for suffix in RECORD_EXEMPT_SUFFIXES}

    @classmethod
    def parse(cls, path: str, data: bytes) -> Record:
        return cls(path, lambda: [data])

    def rows(self) -> Iterator[RecordRow]:
        """Every row, in order; blank lines are skipped."""
        for block in self._blocks():
            yield from block.rows

    def _blocks(self) -> Iterator[_Block]:
        """RECORD in blocks of whole lines, parsed.

        A block of quote-free lines (nearly every block) is split on newlines and commas in
        bulk, which is what the csv module would do with it, only much faster.  Otherwise
        its lines are read one by one, and a line with a quote goes to the csv module, with
        the lines after it while a quoted field is still open (it may hold a newline).
        """
        quoted = b""
        try:
            for data in _line_blocks(self._chunks()):
                if not quoted and b'"' not in data:
                    lines = data.decode("utf-8").split("\n")
                    if not lines[-1]:
                        lines.pop()
                    fields = [line.rstrip("\r").split(",") for line in lines]
                    if all(len(row) == 3 for row in fields):
                        yield _Block(data, list(map(RecordRow._make, fields)), None)
                        continue
                rows: list[RecordRow] = []
                originals: list[bytes | None] = []
                for line in _split_keeping_newlines(data):
                    if quoted or b'"' in line:
                        quoted += line
                        if quoted.count(b'"') % 2:
                            continue
                        rows += self._quoted_rows(quoted)
                        originals += [None] * (len(rows) - len(originals))
                        quoted = b""
                        continue
                    text = line.decode("utf-8").rstrip("\r\n")
                    if text:
                        rows.append(self._row(text.split(",")))
                        originals.append(line)
                yield _Block(data, rows, originals)
            if quoted:
                rows = list(self._quoted_rows(quoted))
                yield _Block(quoted, rows, [None] * len(rows))
        except (UnicodeDecodeError, csv.Error) as error:
            raise RecordError(f"bad RECORD: {self.path} cannot be read as CSV ({error}).") from None

    def _quoted_rows(self, text: bytes) -> Iterator[RecordRow]:
        return (self._row(fields) for fields in csv.reader(io.StringIO(text.decode("utf-8"))) if fields)

    @staticmethod
    def _row(fields: list[str]) -> RecordRow:
        if len(fields) != 3:
            raise RecordError(f"bad RECORD: the row {','.join(fields)!r} does not have 3 fields.")
        return RecordRow(*fields)

    def lists(self, path: str) -> bool:
        """Whether ``path`` is a file RECORD must list (not a directory, not RECORD itself or
        its signatures)."""
        return not path.endswith("/") and path not in self._exempt_paths

    def check_matches(self, archive: ZipReader, keep: Callable[[str], bool] | None = None) -> dict[str, RecordRow]:
        """RECORD and the archive must list the same files, each once (directories and RECORD's
        own signatures aside): a wheel where they differ was tampered with or badly built.

        The archive's :func:`names_digest` of its files was taken while it was scanned, and
        its index holds RECORD's own files (it must index every ``.dist-info`` member): one
        pass over RECORD decides, whatever the order of either.  Returns the rows ``keep``
        selects, gathered on the way.  The archive's names are read again only to explain a
        mismatch."""
        kept: dict[str, RecordRow] = {}

        def listed() -> Iterator[str]:
            for block in self._blocks():
                if keep is not None:
                    kept.update((row.path, row) for row in block.rows if keep(row.path))
                yield from [row.path for row in block.rows if self.lists(row.path)]

        own_files = names_digest(path for path in self._exempt_paths if path in archive.by_name)
        if names_digest(listed()) == (archive.files_digest - own_files) & DIGEST_MASK:
            return kept
        seen: set[str] = set()
        for row in self.rows():
            if row.path in seen:
                raise RecordError(f"bad RECORD: {row.path!r} is listed twice.")
            seen.add(row.path)
        listed_paths = {path for path in seen if self.lists(path)}
        present_paths = set(filter(self.lists, archive.names()))
        absent = sorted(listed_paths - present_paths)
        if absent:
            raise RecordError(f"bad RECORD: it lists {len(absent)} file(s) not in the wheel, e.g. {absent[0]!r}.")
        unlisted = sorted(present_paths - listed_paths)
        raise RecordError(
            f"bad RECORD: {len(unlisted)} file(s) in the wheel are not listed in it, e.g. {unlisted[0]!r}."
        )

    @staticmethod
    def check_digest(
        row: RecordRow | None, path: str, digest: bytes, size: int, rehash: Callable[[str], bytes] | None = None
    ) -> str | None:
        """None when ``path``'s row agrees with the bytes read (``digest`` is their sha256;
        ``rehash`` digests them again with a row's other algorithm), else why not."""
        if row is None:
            return f"{path!r} is not listed in RECORD"
        algorithm, _, _ = row.hash.partition("=")
        if not row.hash:
            return None
        if algorithm not in RECORD_HASHES or (algorithm != "sha256" and rehash is None):
            return f"{path!r} has a RECORD hash of unsupported type {algorithm!r}"
        expected = digest if algorithm == "sha256" or rehash is None else rehash(algorithm)
        if row.hash != record_hash(expected, algorithm):
            return f"{path!r} does not match its RECORD hash"
        if row.size and row.size != str(size):
            return f"{path!r} is {size} bytes but RECORD says {row.size}"
        return None

    def rewritten(self, replaced: Mapping[str, RecordRow], added: Iterable[RecordRow]) -> Iterator[bytes]:
        """The new RECORD as a stream: the original rows in their order (their lines kept byte
        for byte) with ``replaced`` ones swapped in, ``added`` ones just before the first
        ``.dist-info`` row (where a repair puts those files in the archive), and RECORD's own
        row last, without a hash."""

        changed = replaced.keys() | {self.path}

        def pieces() -> Iterator[tuple[str, bytes]]:
            """(path, encoded lines); a block with no row to change and no .dist-info row
            (where ``added`` may go) passes whole, as one piece without a path."""
            for block in self._blocks():
                if (
                    block.originals is None
                    and b".dist-info/" not in block.data
                    and changed.isdisjoint([row.path for row in block.rows])
                ):
                    yield "", block.data
                    continue
                for row, line in zip(block.rows, block.lines(), strict=True):
                    if row.path == self.path:
                        continue
                    new = replaced.get(row.path)
                    if new is not None:
                        yield row.path, _encode_row(new)
                    else:
                        yield row.path, line if line is not None else _encode_row(row)

        encoded = itertools.chain(
            insert_before_dist_info(pieces(), [(row.path, _encode_row(row)) for row in added], operator.itemgetter(0)),
            [("", _encode_row(RecordRow(self.path, "", "")))],
        )
        buffer = bytearray()
        for _path, piece in encoded:
            buffer += piece
            if not piece.endswith(b"\n"):
                buffer += b"\n"
            if len(buffer) >= RECORD_CHUNK:
                yield bytes(buffer)
                buffer.clear()
        yield bytes(buffer)


def _encode_row(row: RecordRow) -> bytes:
    """A RECORD line as the csv module writes it on Python 3.13 (a field is quoted when it
    holds a comma, a quote or a line break), the same on every Python: before 3.13, csv left
    a carriage return unquoted, so a member named with one got a row that no reader splits
    back, and on 3.10 it cannot write a NUL at all."""
    return (",".join(_csv_field(field) for field in row) + "\n").encode("utf-8")


def _csv_field(field: str) -> str:
    if any(special in field for special in ',"\r\n'):
        return '"' + field.replace('"', '""') + '"'
    return field


T = TypeVar("T")


def insert_before_dist_info(items: Iterable[T], inserted: Iterable[T], path_of: Callable[[T], str]) -> Iterator[T]:
    """``items`` with ``inserted`` placed before the first item inside a ``.dist-info``
    directory (or at the end): where a repair adds vendored libraries, in the archive and in
    RECORD alike."""
    pending = True
    for item in items:
        if pending and ".dist-info/" in path_of(item):
            yield from inserted
            pending = False
        yield item
    if pending:
        yield from inserted


def _worth_indexing(path: str) -> bool:
    """Members looked up by name: modules (for their heads) and the ``.dist-info`` files
    (RECORD, WHEEL; where vendored libraries go).  Everything else is only streamed past."""
    return is_module_name(path) or ".dist-info/" in path


def find_record_path(files: Iterable[str]) -> str:
    records = [path for path in files if path.count("/") == 1 and path.endswith(".dist-info/RECORD")]
    if len(records) != 1:
        raise RecordError(
            "bad wheel: it has no .dist-info/RECORD."
            if not records
            else f"bad wheel: it has {len(records)} .dist-info/RECORD files."
        )
    return records[0]


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

    def module_paths(self) -> list[str]:
        return [path for path in self.files() if is_module_name(path)]

    def holds_folded(self, path: str) -> str | None:
        """The input's path equal to ``path`` on a case-insensitive file system, if any."""
        key = path.rstrip("/").casefold()
        return next((name for name in self.files() if name.casefold() == key), None)

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
            self.zip = ZipReader(self.file, path.name, index=_worth_indexing)
        except BaseException:
            self.file.close()
            raise

    def files(self) -> Iterator[str]:
        return (name for name in self.zip.names() if not name.endswith("/"))

    def holds_folded(self, path: str) -> str | None:
        return self.zip.holds_folded(path)

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

    def _guess_wheel_name(self) -> WheelName | None:
        """An unpacked wheel has its tags in ``*.dist-info/WHEEL``; read the platform from there."""
        for info in sorted(self.path.glob("*.dist-info")):
            wheel_file = info / "WHEEL"
            if not wheel_file.is_file():
                continue
            tags = [
                line.split(":", 1)[1].strip()
                for line in wheel_file.read_text("utf-8", "replace").splitlines()
                if line.startswith("Tag:")
            ]
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
                    continue
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
