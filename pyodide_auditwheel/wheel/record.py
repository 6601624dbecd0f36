"""RECORD: read in blocks of whole lines, checked against the archive by digest, rewritten as
a stream in which unchanged blocks are copied byte for byte."""

from __future__ import annotations

import base64
import csv
import io
import itertools
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

from ..errors import RecordError
from .zipio import ContentDigest, NamesDigest, ZipReader

RECORD_EXEMPT_SUFFIXES = ("RECORD", "RECORD.jws", "RECORD.p7s")
# RECORD is streamed in small pieces: its lines are split out of each piece at once.
RECORD_CHUNK = 64 * 1024

# Hashes a RECORD row may use: the wheel spec asks for sha256 or better (never md5 or sha1),
# and installers accept these; rows we write use sha256.
RECORD_HASHES = frozenset({"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512", "blake2b", "blake2s"})


def record_hash(digest: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class RecordRow(NamedTuple):
    path: str
    hash: str
    size: str

    @classmethod
    def of(cls, path: str, content: ContentDigest) -> RecordRow:
        """The row of a member this tool wrote."""
        return cls(path, record_hash(content.sha256), str(content.size))


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

    def rows(self) -> Iterator[RecordRow]:
        """Every row, in order; blank lines are skipped."""
        for block in self._blocks():
            yield from block.rows

    def _blocks(self) -> Iterator[_Block]:
        """RECORD in blocks of whole lines, parsed.

        A block of quote-free lines (nearly every block) is split on newlines and commas in
        bulk, which is what the csv module would do with it (kept: about 10 ms less than csv
        on the benchmark wheel's 12k rows, with the unchanged blocks written back whole).  Otherwise
        its lines are read one by one, and a line with a quote goes to the csv module, with
        the lines after it while a quoted field is still open (it may hold a newline).
        """
        # Lines held while a quoted field may be open, and the parity of their quotes: kept
        # as they come (a RECORD with one literal quote in an unquoted field, which csv reads as
        # a character, then 40,000 lines must not be joined and counted again at every line).
        pending: list[bytes] = []
        open_quotes = 0
        try:
            for data in _line_blocks(self._chunks()):
                if not pending and b'"' not in data:
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
                    if pending or b'"' in line:
                        pending.append(line)
                        open_quotes ^= line.count(b'"') & 1
                        if open_quotes:
                            continue
                        rows += self._quoted_rows(b"".join(pending))
                        originals += [None] * (len(rows) - len(originals))
                        pending = []
                        continue
                    text = line.decode("utf-8").rstrip("\r\n")
                    if text:
                        rows.append(self._row(text.split(",")))
                        originals.append(line)
                yield _Block(data, rows, originals)
            if pending:
                quoted = b"".join(pending)
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

    def must_list(self, path: str) -> bool:
        """Whether ``path`` is a file RECORD must list (not a directory, not RECORD itself or
        its signatures)."""
        return not path.endswith("/") and path not in self._exempt_paths

    def check_matches(self, archive: ZipReader, keep: Callable[[str], bool] | None = None) -> dict[str, RecordRow]:
        """RECORD and the archive must list the same files, each once (directories and RECORD's
        own signatures aside): a wheel where they differ was tampered with or badly built.

        The archive's :class:`NamesDigest` of its files was taken while it was scanned, and
        its index holds RECORD's own files (it must index every ``.dist-info`` member): one
        pass over RECORD decides, whatever the order of either.  Returns the rows ``keep``
        selects, gathered on the way.  The archive's names are read again only to explain a
        mismatch."""
        kept: dict[str, RecordRow] = {}

        def listed() -> Iterator[str]:
            for block in self._blocks():
                if keep is not None:
                    kept.update((row.path, row) for row in block.rows if keep(row.path))
                yield from [row.path for row in block.rows if self.must_list(row.path)]

        own_files = NamesDigest.of(path for path in self._exempt_paths if path in archive.by_name)
        if NamesDigest.of(listed()) == archive.files_digest - own_files:
            return kept
        seen: set[str] = set()
        for row in self.rows():
            if row.path in seen:
                raise RecordError(f"bad RECORD: {row.path!r} is listed twice.")
            seen.add(row.path)
        listed_paths = {path for path in seen if self.must_list(path)}
        present_paths = set(filter(self.must_list, archive.names()))
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
        if not row.hash:  # only RECORD itself (and its signatures) may have none
            return f"{path!r} has no hash in RECORD"
        if algorithm not in RECORD_HASHES or (algorithm != "sha256" and rehash is None):
            return f"{path!r} has a RECORD hash of unsupported type {algorithm!r}"
        expected = digest if algorithm == "sha256" or rehash is None else rehash(algorithm)
        if row.hash != record_hash(expected, algorithm):
            return f"{path!r} does not match its RECORD hash"
        if row.size and row.size != str(size):
            return f"{path!r} is {size} bytes but RECORD says {row.size}"
        return None

    def rewritten(
        self, replaced: Mapping[str, RecordRow], added: Iterable[RecordRow], removed: Collection[str] = ()
    ) -> Iterator[bytes]:
        """The new RECORD as a stream: the original rows in their order (their lines kept byte
        for byte) with ``replaced`` ones swapped in and ``removed`` ones left out, ``added`` ones
        just before the first ``.dist-info`` row (where a repair puts those files in the
        archive), and RECORD's own row last, without a hash."""

        left_out = frozenset(removed)
        changed = replaced.keys() | left_out | {self.path}

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
                    if row.path == self.path or row.path in left_out:
                        continue
                    new = replaced.get(row.path)
                    if new is not None:
                        yield row.path, _encode_row(new)
                    else:
                        yield row.path, line if line is not None else _encode_row(row)

        encoded = itertools.chain(
            vendored_first(pieces(), [(row.path, _encode_row(row)) for row in added]),
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
    """A RECORD line quoted as Python 3.13's csv quotes it, on every Python (older csv
    modules differ on carriage returns and NULs; see the changelog)."""
    return (",".join(_csv_field(field) for field in row) + "\n").encode("utf-8")


def _csv_field(field: str) -> str:
    if any(special in field for special in ',"\r\n'):
        return '"' + field.replace('"', '""') + '"'
    return field


T = TypeVar("T")


def vendored_first(items: Iterable[T], inserted: Iterable[T]) -> Iterator[T]:
    """``inserted`` (the vendored libraries, each after those it needs), then ``items``: where
    a repair adds libraries, in the archive and in RECORD alike.  First, because Pyodide
    0.26/0.27 load every ``.so`` in archive order and key a library NEEDED by name: a library
    loaded by its path *before* its users is then known by its base name and loaded once;
    after them it would be loaded a second time."""
    yield from inserted
    yield from items


def find_record_path(files: Iterable[str]) -> str:
    records = [path for path in files if path.count("/") == 1 and path.endswith(".dist-info/RECORD")]
    if len(records) != 1:
        raise RecordError(
            "bad wheel: it has no .dist-info/RECORD."
            if not records
            else f"bad wheel: it has {len(records)} .dist-info/RECORD files."
        )
    return records[0]
