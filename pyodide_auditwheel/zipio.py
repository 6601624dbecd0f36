"""Zip archives as streams of members, with raw copy of compressed bytes.

``zipfile`` cannot copy a member without decompressing and recompressing it, and it trusts the
archive more than a tool that runs on anyone's wheels should.  This module reads the central
directory, cross-checks each local header, reads a bounded head of a member or streams it with
size and CRC checks, and writes archives where unchanged members are copied as compressed
bytes.  Only stored (0) and deflate (8) members are supported: they are all a wheel may use.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import re
import stat
import struct
import sys
import time
import zlib
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, BinaryIO

from .atomic import portable_io
from .errors import ArchiveError, UnsafePathError

if TYPE_CHECKING:  # importing concurrent.futures costs 30 ms, a tenth of a `show`
    from concurrent.futures import Executor, Future

EOCD_SIG = 0x06054B50
ZIP64_EOCD_SIG = 0x06064B50
ZIP64_LOCATOR_SIG = 0x07064B50
CENTRAL_SIG = 0x02014B50
LOCAL_SIG = 0x04034B50
DESCRIPTOR_SIG = 0x08074B50

EOCD = struct.Struct("<IHHHHIIH")
ZIP64_EOCD = struct.Struct("<IQHHIIQQQQ")
ZIP64_LOCATOR = struct.Struct("<IIQI")
CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
LOCAL = struct.Struct("<IHHHHHIIIHH")

STORED = 0
DEFLATED = 8
FLAG_ENCRYPTED = 0x1
FLAG_DATA_DESCRIPTOR = 0x8
FLAG_UTF8 = 0x800
FLAG_STRONG_ENCRYPTION = 0x40
ZIP64_EXTRA_ID = 0x0001
ZIP64_LIMIT = 0xFFFFFFFF
ZIP64_COUNT_LIMIT = 0xFFFF
CHUNK = 1 << 20
CD_WINDOW = 256 * 1024
NOT_LOCATED = -1

# Deflate cannot expand data more than ~1032:1; a member declaring more is lying about its
# size, and reading it would be a decompression bomb.
MAX_DEFLATE_RATIO = 1100
MAX_COMMENT_SEARCH = 0xFFFF + EOCD.size
HEAD_READ_SLACK = 1024
# A member's deflate stream is made of blocks of this many input bytes, each primed with the
# DEFLATE_WINDOW bytes before it (all a deflate stream can refer back to), so that blocks can
# be compressed on several cores at once.
DEFLATE_BLOCK = 1 << 20
DEFLATE_WINDOW = 32 * 1024


@dataclass(frozen=True, slots=True)
class Member:
    """One central-directory entry, with the offset of its data checked against its local header."""

    name: str
    method: int
    flags: int
    crc: int
    compressed_size: int
    size: int
    dos_time: int
    dos_date: int
    external_attr: int
    internal_attr: int
    create_version: int
    extract_version: int
    header_offset: int
    extra: bytes
    data_offset: int
    # Position in the central directory of the reader it came from (-1: not from a reader).
    index: int = -1

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")

    @property
    def mode(self) -> int:
        return (self.external_attr >> 16) & 0xFFFF

    @property
    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self.mode)


def _split_extra(extra: bytes) -> list[tuple[int, bytes]]:
    fields = []
    pos = 0
    while pos + 4 <= len(extra):
        field_id, size = struct.unpack_from("<HH", extra, pos)
        fields.append((field_id, extra[pos + 4 : pos + 4 + size]))
        pos += 4 + size
    return fields


def _without_zip64(extra: bytes) -> bytes:
    return b"".join(
        struct.pack("<HH", fid, len(body)) + body for fid, body in _split_extra(extra) if fid != ZIP64_EXTRA_ID
    )


# Names made only of these characters, with no component starting with a dot, are safe; the
# rest get the detailed checks below.  (Nearly every name in a wheel takes the fast path.)
_PLAIN_NAME = re.compile(r"(?:[\w+-][\w.+-]*/)*[\w+-][\w.+-]*/?")


def check_member_name(name: str) -> None:
    """Refuse names that could write outside an extraction directory or mean different files
    on different systems."""
    if _PLAIN_NAME.fullmatch(name):
        return
    reason = None
    if not name:
        reason = "is empty"
    elif "\0" in name:
        reason = "contains a NUL byte"
    elif "\\" in name:
        reason = "contains a backslash"
    elif name.startswith("/"):
        reason = "is an absolute path"
    elif len(name) >= 2 and name[1] == ":" and name[0].isalpha():
        reason = "starts with a drive letter"
    elif any(part in ("..", ".") for part in name.rstrip("/").split("/")):
        reason = "contains a '..' or '.' component"
    elif "//" in name.rstrip("/"):
        reason = "contains an empty path component"
    if reason:
        raise UnsafePathError(f"unsafe member name {name!r} in the wheel: it {reason}.")


class _HashSet:
    """A set of 64-bit hashes in a flat array (open addressing): 16 bytes per member where a
    Python set of ints would take about 60."""

    def __init__(self, expected: int) -> None:
        size = 8
        while size < 2 * expected:
            size *= 2
        self._mask = size - 1
        self._table = array("Q", bytes(8 * size))

    def add(self, value: int) -> bool:
        """Add ``value``; False when it was already there."""
        # 0 marks an empty slot, so values are stored with their low bit set.
        stored = (value & 0xFFFFFFFFFFFFFFFF) | 1
        slot = stored & self._mask
        table = self._table
        while True:
            current = table[slot]
            if current == 0:
                table[slot] = stored
                return True
            if current == stored:
                return False
            slot = (slot + 1) & self._mask


_NAME_KEY = os.urandom(16)
DIGEST_MASK = 0xFFFFFFFFFFFFFFFF


def _blake2b_name_hash(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8, key=_NAME_KEY).digest(), "little")


def _str_hash_is_secret() -> bool:
    """Python's own str hash is SipHash under a key drawn at start-up, unless PYTHONHASHSEED
    fixes that key (then anyone can compute it)."""
    return bool(sys.flags.hash_randomization) and os.environ.get("PYTHONHASHSEED", "random") == "random"


# A 64-bit hash of a name under a key drawn per process, which no input can aim at: Python's
# own (cheap, and cached on the string) when its key is secret, else keyed BLAKE2b.
name_hash: Callable[[str], int] = hash if _str_hash_is_secret() else _blake2b_name_hash


def names_digest(names: Iterable[str]) -> int:
    """An order-free digest of a multiset of names: the sum of their keyed hashes.  Two
    multisets have the same digest exactly when they are equal, up to a 2**-64 chance, so
    an archive's names can be compared with another list of them (RECORD, the archive
    rewritten) without holding either and without a second pass over the archive.  Digests
    add and subtract like the multisets they stand for (modulo 2**64, see DIGEST_MASK)."""
    return sum(map(name_hash, names)) & DIGEST_MASK


def _index_all(_name: str) -> bool:
    return True


def _folded(name: str) -> str:
    """The key under which two names are the same file on a case-insensitive file system."""
    return name.rstrip("/").casefold()


def _real_fd(file: BinaryIO) -> int | None:
    """The OS file descriptor behind ``file``, if it has one (in-memory files do not)."""
    try:
        return file.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None


class ZipReader:
    """A read-only view of a zip archive on a seekable binary file.

    The central directory is checked entry by entry when the reader is made (names, flags,
    local headers, duplicates, overlaps) and streamed again, in windows, whenever the members
    are iterated.  What stays in memory per member is 8 bytes (where its data starts), plus
    full entries only for the members ``index`` selects for lookup by name: a wheel with
    twice the members does not need twice the memory.  The scan also takes digests of the
    names (see :func:`names_digest`), so that they can be compared with another list of them
    without a second pass.
    """

    def __init__(
        self,
        file: BinaryIO,
        display_name: str = "archive",
        index: Callable[[str], bool] | None = None,
        *,
        spot_check: Callable[[str], bool] | None = None,
    ) -> None:
        """``spot_check`` is for re-reading an archive this process has just written, whose
        names were all checked on the way in: only the local headers it selects (and those of
        indexed members) are read and checked, and names are not re-examined.  Members whose
        local header was not read cannot be read."""
        self.file = file
        self.display_name = display_name
        self.fd = _real_fd(file)
        file.seek(0, 2)
        self.file_size = file.tell()
        self._cd_offset, self._cd_size, self.count = self._locate_central_directory()
        self._data_offsets = array("q")
        self._verbatim = bytearray()
        self.by_name: dict[str, Member] = {}
        # names_digest() of every member's name, and of the names that are not directories.
        self.names_digest = 0
        self.files_digest = 0
        # dos_date << 16 | dos_time of the newest member: the default time of members we add.
        self._newest = 33 << 16
        if spot_check is None:
            self._scan(index or _index_all)
        else:
            self._spot_scan(index or _index_all, spot_check)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Member]:
        """Every member, in central-directory order, decoded afresh from the directory."""
        for entry in self.raw_entries():
            yield self.member_at(*entry)

    @property
    def newest_date_time(self) -> tuple[int, int]:
        """(dos_time, dos_date) of the newest member, in the order ZipWriter's ``date_time``
        takes them (1980-01-01 for an empty archive)."""
        return self._newest & 0xFFFF, self._newest >> 16

    def names(self) -> Iterator[str]:
        """Every member's name, in central-directory order (cheaper than whole members)."""
        for raw_name, fields, _extra in self._raw_entries():
            yield self.decode_name(raw_name, fields[3])

    def find(self, name: str) -> Member | None:
        """The member called ``name``: from the index when it holds it, else by a scan."""
        member = self.by_name.get(name)
        if member is None:
            member = next((m for m in self if m.name == name), None)
        return member

    # -- structure ---------------------------------------------------------------------------

    def _fail(self, why: str) -> ArchiveError:
        return ArchiveError(f"corrupt zip archive {self.display_name}: {why}.")

    def _read_at(self, offset: int, size: int) -> bytes:
        # pread reads exactly what is asked; seek+read on a buffered file would pull a whole
        # buffer for every 30-byte local header.
        if self.fd is not None:
            data = os.pread(self.fd, size, offset)
        else:
            self.file.seek(offset)
            data = self.file.read(size)
        if len(data) != size:
            raise self._fail("it is truncated")
        return data

    def _find_eocd(self) -> tuple[int, tuple[int, ...]]:
        tail_size = min(self.file_size, MAX_COMMENT_SEARCH)
        if tail_size < EOCD.size:
            raise ArchiveError(f"not a zip archive: {self.display_name} is too short to be one.")
        tail = self._read_at(self.file_size - tail_size, tail_size)
        pos = tail.rfind(b"PK\x05\x06")
        while pos >= 0:
            if pos + EOCD.size <= len(tail):
                fields = EOCD.unpack_from(tail, pos)
                if pos + EOCD.size + fields[7] == len(tail):
                    return self.file_size - tail_size + pos, fields
            pos = tail.rfind(b"PK\x05\x06", 0, pos)
        raise ArchiveError(f"not a zip archive: {self.display_name} has no end-of-central-directory record.")

    def _locate_central_directory(self) -> tuple[int, int, int]:
        """(offset, size, entry count) of the central directory, ZIP64 records followed."""
        eocd_offset, fields = self._find_eocd()
        _, disk, cd_disk, _entries_disk, entries, cd_size, cd_offset, _ = fields
        if disk != 0 or cd_disk != 0:
            raise ArchiveError(f"unsupported zip archive {self.display_name}: it spans several disks.")
        cd_end_limit = eocd_offset
        if entries == ZIP64_COUNT_LIMIT or cd_size == ZIP64_LIMIT or cd_offset == ZIP64_LIMIT:
            locator_offset = eocd_offset - ZIP64_LOCATOR.size
            if locator_offset >= 0:
                sig, _, z64_offset, _ = ZIP64_LOCATOR.unpack(self._read_at(locator_offset, ZIP64_LOCATOR.size))
                if sig == ZIP64_LOCATOR_SIG:
                    if z64_offset + ZIP64_EOCD.size > locator_offset:
                        raise self._fail("the ZIP64 end record points past its locator")
                    z64 = ZIP64_EOCD.unpack(self._read_at(z64_offset, ZIP64_EOCD.size))
                    if z64[0] != ZIP64_EOCD_SIG:
                        raise self._fail("the ZIP64 end record is missing")
                    entries, cd_size, cd_offset = z64[7], z64[8], z64[9]
                    cd_end_limit = z64_offset
        if cd_offset + cd_size > cd_end_limit:
            raise self._fail("its central directory runs past the end of the file")
        if cd_offset + cd_size != cd_end_limit:
            # A gap hides bytes (other entries, prepended data) that other readers may see.
            raise self._fail("its central directory does not end where the end record begins")
        # Each central entry is at least 46 bytes: a count the directory cannot hold is a lie
        # that would otherwise make us loop (or allocate) for nothing.
        if entries * CENTRAL.size > cd_size:
            raise self._fail(f"the end record announces {entries} members, more than the central directory can hold")
        return cd_offset, cd_size, entries

    def _raw_entries(self) -> Iterator[tuple[bytes, tuple[int, ...], bytes]]:
        """(raw name, fixed fields, extra field) of each central entry, reading the directory
        in windows so it is never held whole."""
        end = self._cd_offset + self._cd_size
        pos = self._cd_offset
        window, window_start = b"", pos
        for _ in range(self.count):
            rel = pos - window_start
            if rel + CENTRAL.size > len(window):
                window, window_start, rel = self._window(pos, end, CENTRAL.size), pos, 0
            fields = CENTRAL.unpack_from(window, rel)
            if fields[0] != CENTRAL_SIG:
                raise self._fail("a central directory entry has a bad signature")
            name_len, extra_len, comment_len = fields[10], fields[11], fields[12]
            total = CENTRAL.size + name_len + extra_len + comment_len
            if rel + total > len(window):
                window, window_start, rel = self._window(pos, end, total), pos, 0
            name_start = rel + CENTRAL.size
            yield window[name_start : name_start + name_len], fields, window[name_start + name_len : name_start + name_len + extra_len]
            pos += total
        if pos != end:
            # Entries past the count would be invisible to us but installed by pip.
            raise self._fail(f"the end record counts {self.count} members, but its central directory holds more")

    def _window(self, pos: int, end: int, needed: int) -> bytes:
        if pos + needed > end:
            raise self._fail("the central directory is truncated")
        return self._read_at(pos, min(end - pos, max(CD_WINDOW, needed)))

    def _decode(self, raw_name: bytes, fields: tuple[int, ...], extra: bytes) -> tuple[str, int, int, int]:
        """(name, compressed size, size, local header offset), ZIP64 values applied."""
        csize, usize, header_offset = fields[8], fields[9], fields[16]
        name = self.decode_name(raw_name, fields[3])
        if ZIP64_LIMIT in (csize, usize, header_offset):
            for field_id, body in _split_extra(extra):
                if field_id == ZIP64_EXTRA_ID:
                    values = list(struct.unpack_from(f"<{len(body) // 8}Q", body)) if len(body) >= 8 else []
                    if usize == ZIP64_LIMIT and values:
                        usize = values.pop(0)
                    if csize == ZIP64_LIMIT and values:
                        csize = values.pop(0)
                    if header_offset == ZIP64_LIMIT and values:
                        header_offset = values.pop(0)
        return name, csize, usize, header_offset

    def decode_name(self, raw_name: bytes, flags: int) -> str:
        # Wheels are written with UTF-8 names whether or not the flag is set (as pip reads
        # them); cp437 is only the fallback for bytes that are not UTF-8 at all.
        try:
            return raw_name.decode("utf-8")
        except UnicodeDecodeError:
            if flags & FLAG_UTF8:
                raise self._fail(f"member name {raw_name!r} is flagged UTF-8 but is not") from None
            return raw_name.decode("cp437")

    def _member(self, raw_name: bytes, fields: tuple[int, ...], extra: bytes, data_offset: int, index: int) -> Member:
        name, csize, usize, header_offset = self._decode(raw_name, fields, extra)
        return Member(
            name, fields[4], fields[3], fields[7], csize, usize, fields[5], fields[6], fields[15], fields[14],
            fields[1], fields[2], header_offset, extra, data_offset, index,
        )

    def raw_entries(self) -> Iterator[tuple[int, bytes, tuple[int, ...], bytes]]:
        """(position, raw name, fixed fields, extra) of each entry: for loops that must not
        pay for a Member per entry (see ZipWriter.copy_from)."""
        for position, (raw_name, fields, extra) in enumerate(self._raw_entries()):
            yield position, raw_name, fields, extra

    def member_at(self, position: int, raw_name: bytes, fields: tuple[int, ...], extra: bytes) -> Member:
        return self._member(raw_name, fields, extra, self._data_offsets[position], position)

    def data_offset(self, position: int) -> int:
        return self._data_offsets[position]

    def verbatim(self, position: int) -> bool:
        return bool(self._verbatim[position])

    def can_copy_verbatim(self, member: Member) -> bool:
        """Whether the member's local header and data can be copied byte for byte: its local
        header repeats the central entry exactly (no data descriptor, no ZIP64 sizes)."""
        return member.index >= 0 and self.verbatim(member.index)

    def _scan(self, index: Callable[[str], bool]) -> None:
        """Check every entry once; remember where each member's data starts."""
        seen_hashes = _HashSet(self.count)
        suspect_hashes: set[int] = set()
        previous_end = 0
        in_offset_order = True
        for raw_name, fields, extra in self._raw_entries():
            name, csize, usize, header_offset = self._decode(raw_name, fields, extra)
            self._check_entry(name, fields[4], fields[3], csize, usize, (fields[15] >> 16) & 0xFFFF)
            data_offset, verbatim = self._data_offset(name, raw_name, fields, header_offset, csize)
            # A name read as cp437 would be written back as UTF-8, and a UTF-8 name without the
            # UTF-8 flag gets the flag (else the stdlib reads it as cp437): not byte for byte.
            verbatim = verbatim and (raw_name.isascii() or (bool(fields[3] & FLAG_UTF8) and raw_name == name.encode("utf-8")))
            self._add_to_digests(name)
            position = len(self._data_offsets)
            self._data_offsets.append(data_offset)
            self._verbatim.append(verbatim)
            folded_hash = hash(_folded(name))
            if not seen_hashes.add(folded_hash):
                suspect_hashes.add(folded_hash)
            if header_offset < previous_end:
                in_offset_order = False
            previous_end = data_offset + csize
            stamp = fields[6] << 16 | fields[5]
            if stamp > self._newest:
                self._newest = stamp
            if index(name):
                self.by_name[name] = self._member(raw_name, fields, extra, data_offset, position)
        if suspect_hashes:
            self._check_unique(suspect_hashes)
        if not in_offset_order:
            self._check_no_overlap()

    def _spot_scan(self, index: Callable[[str], bool], spot_check: Callable[[str], bool]) -> None:
        for position, (raw_name, fields, extra) in enumerate(self._raw_entries()):
            name, csize, _usize, header_offset = self._decode(raw_name, fields, extra)
            self._add_to_digests(name)
            indexed = index(name)
            data_offset = NOT_LOCATED
            if indexed or spot_check(name):
                data_offset, _ = self._data_offset(name, raw_name, fields, header_offset, csize)
            self._data_offsets.append(data_offset)
            self._verbatim.append(False)
            if indexed:
                self.by_name[name] = self._member(raw_name, fields, extra, data_offset, position)

    def _add_to_digests(self, name: str) -> None:
        hashed = name_hash(name)
        self.names_digest = (self.names_digest + hashed) & DIGEST_MASK
        if not name.endswith("/"):
            self.files_digest = (self.files_digest + hashed) & DIGEST_MASK

    def _check_entry(self, name: str, method: int, flags: int, csize: int, usize: int, mode: int) -> None:
        check_member_name(name)
        if stat.S_ISLNK(mode):
            raise UnsafePathError(f"unsafe member {name!r} in the wheel: it is a symbolic link.")
        if flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION):
            raise ArchiveError(f"unsupported zip archive {self.display_name}: member {name!r} is encrypted.")
        if method not in (STORED, DEFLATED):
            raise ArchiveError(
                f"unsupported zip archive {self.display_name}: member {name!r} uses compression method "
                f"{method}; wheels use stored or deflate."
            )
        if method == STORED and usize != csize:
            raise self._fail(f"stored member {name!r} declares {usize} bytes but holds {csize}")
        if method == DEFLATED and usize > max(csize, 1) * MAX_DEFLATE_RATIO:
            raise ArchiveError(
                f"refusing {self.display_name}: member {name!r} declares a compression ratio no deflate "
                "stream can reach (a decompression bomb)."
            )

    def _check_unique(self, suspect_hashes: set[int]) -> None:
        """Refuse names that repeat, exactly or once case is folded (they overwrite each other
        on extraction).  The scan kept only the hashes of the folded names; names whose hash
        was seen twice are compared here."""
        seen: dict[str, str] = {}
        for name in self.names():
            key = _folded(name)
            if hash(key) not in suspect_hashes:
                continue
            if key in seen:
                what = "appears twice" if seen[key] == name else f"collides with {seen[key]!r} on case-insensitive file systems"
                raise UnsafePathError(f"unsafe member {name!r} in the wheel: it {what}.")
            seen[key] = name

    def _data_offset(self, name: str, raw_name: bytes, fields: tuple[int, ...], header_offset: int, csize: int) -> tuple[int, bool]:
        """Where a member's data starts, after checking its local header agrees with its central
        entry (a reader that trusts only one of the two can be shown a different file than
        another tool extracts), and whether the local header repeats the central entry
        exactly, so that the member can be copied byte for byte."""
        flags, method = fields[3], fields[4]
        cd_offset = self._cd_offset
        if header_offset + LOCAL.size > cd_offset:
            raise self._fail(f"member {name!r} starts past the central directory")
        # One read covers the fixed header and the name, which must match the central one.
        header = self._read_at(header_offset, min(LOCAL.size + len(raw_name), cd_offset - header_offset))
        sig, _version, local_flags, local_method, _t, _d, local_crc, local_csize, local_usize, name_len, extra_len = LOCAL.unpack_from(header)
        if sig != LOCAL_SIG:
            raise self._fail(f"the local header of {name!r} is missing")
        if name_len != len(raw_name) or header[LOCAL.size :] != raw_name:
            local_name = self._read_at(header_offset + LOCAL.size, min(name_len, max(cd_offset - header_offset - LOCAL.size, 0)))
            raise self._fail(
                f"the central directory names {name!r} but its local header names {local_name.decode('utf-8', 'replace')!r}"
            )
        if local_method != method or (local_flags & FLAG_ENCRYPTED) != (flags & FLAG_ENCRYPTED):
            raise self._fail(f"the local header of {name!r} disagrees with the central directory")
        data_offset: int = header_offset + LOCAL.size + name_len + extra_len
        if data_offset + csize > cd_offset:
            raise self._fail(f"member {name!r} declares more data than the archive holds")
        verbatim = (
            local_flags == flags and not flags & FLAG_DATA_DESCRIPTOR and local_crc == fields[7]
            and local_csize == fields[8] != ZIP64_LIMIT and local_usize == fields[9] != ZIP64_LIMIT
        )
        return data_offset, verbatim

    def _check_no_overlap(self) -> None:
        """Refuse overlapping members, the trick behind non-recursive zip bombs.  Only archives
        whose directory is not in file order get here; they pay for a sort."""
        spans = sorted((m.header_offset, m.data_offset + m.compressed_size, m.name) for m in self)
        for before, after in itertools.pairwise(spans):
            if before[1] > after[0]:
                raise self._fail(f"members {before[2]!r} and {after[2]!r} overlap")

    # -- data --------------------------------------------------------------------------------

    def raw_chunks(self, member: Member, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The member's compressed bytes, as stored, in pieces of at most ``chunk_size``."""
        return self.byte_range(member.data_offset, member.compressed_size, chunk_size)

    def byte_range(self, offset: int, size: int, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """``size`` bytes of the archive from ``offset``, in pieces."""
        if offset < 0:
            raise ArchiveError(f"internal error: reading {self.display_name} where its local header was not checked.")
        remaining = size
        while remaining:
            piece = min(chunk_size, remaining)
            chunk = self._read_at(offset, piece)
            offset += piece
            remaining -= piece
            yield chunk

    def _inflated(self, member: Member, limit: int | None, piece_size: int = CHUNK) -> Iterator[bytes]:
        """Decompressed chunks; stops after ``limit`` bytes when given.  Never yields more than
        the declared size: more data than declared is an error, not a longer file."""
        produced = 0
        decompressor = zlib.decompressobj(-15) if member.method == DEFLATED else None
        # A head read pulls compressed bytes in pieces little larger than the head: deflate
        # output is never much smaller than its input, so this reads (and inflates) no more
        # than the head needs instead of a whole megabyte per module.
        piece = piece_size if limit is None else min(piece_size, limit + HEAD_READ_SLACK)
        for raw in self.raw_chunks(member, piece):
            pending = raw
            while pending:
                if decompressor is None:
                    out, pending = pending, b""
                else:
                    wanted = piece_size if limit is None else max(limit - produced, 1)
                    try:
                        out = decompressor.decompress(pending, wanted)
                    except zlib.error:
                        raise self._fail(f"member {member.name!r} has invalid compressed data") from None
                    pending = decompressor.unconsumed_tail
                produced += len(out)
                if produced > member.size:
                    raise self._fail(f"member {member.name!r} holds more data than its declared {member.size} bytes")
                if out:
                    yield out
                if limit is not None and produced >= limit:
                    return
        if decompressor is not None:
            tail = decompressor.flush()
            produced += len(tail)
            if produced > member.size:
                raise self._fail(f"member {member.name!r} holds more data than its declared {member.size} bytes")
            if tail:
                yield tail
            if not decompressor.eof:
                raise self._fail(f"member {member.name!r} has a truncated compressed stream")
        if produced != member.size:
            raise self._fail(f"member {member.name!r} holds {produced} bytes, not its declared {member.size}")

    def read_head(self, member: Member, size: int) -> bytes:
        """At most ``size`` leading bytes, decompressing no more than needed."""
        out = bytearray()
        for chunk in self._inflated(member, size):
            out += chunk
            if len(out) >= size:
                break
        return bytes(out[:size])

    def chunks(self, member: Member, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """The whole decompressed member in chunks of at most ``chunk_size``, with its CRC
        checked at the end."""
        crc = 0
        for chunk in self._inflated(member, None, chunk_size):
            crc = zlib.crc32(chunk, crc)
            yield chunk
        if crc != member.crc:
            raise self._fail(f"member {member.name!r} fails its CRC check")

    def read(self, member: Member) -> bytes:
        return b"".join(self.chunks(member))


# -- writing -----------------------------------------------------------------------------------


def dos_datetime(epoch: float) -> tuple[int, int]:
    """(time, date) in MS-DOS format, clamped to the range a zip can express."""
    t = time.gmtime(max(epoch, 315532800))
    year = min(max(t.tm_year, 1980), 2107)
    dos_date = ((year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday
    dos_time = (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2)
    return dos_time, dos_date


def _compressor(dictionary: bytes) -> zlib._Compress:
    if dictionary:
        return zlib.compressobj(6, zlib.DEFLATED, -15, zdict=dictionary)
    return zlib.compressobj(6, zlib.DEFLATED, -15)


def deflate_block(block: bytes, dictionary: bytes, last: bool) -> bytes:
    """One block of a raw deflate stream: primed with what precedes it, and ended with a
    sync flush (byte-aligned, so the next block's output can simply follow) or, for the last
    block, with the end of the stream.  A stream of one block is plain zlib output."""
    compressor = _compressor(dictionary)
    return compressor.compress(block) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


class Deflater:
    """Compresses one member's stream and keeps what its headers and RECORD need (CRC, sizes,
    SHA-256), whether the output goes straight to the archive or is kept for later.

    The stream is made of blocks of ``block_size`` input bytes (see :func:`deflate_block`).
    Without a ``pool``, each block is compressed as the input comes, holding no more of it
    than zlib does.  With one, whole blocks are gathered and up to ``in_flight`` of them are
    compressed at once on its threads (zlib releases the GIL) while the caller reads and
    hashes the next.  The output is the same bytes either way, however the input is cut.
    """

    def __init__(self, compress: bool = True, pool: Executor | None = None, *, in_flight: int = 2, block_size: int = DEFLATE_BLOCK) -> None:
        self.method = DEFLATED if compress else STORED
        self._compress = compress
        self._pool = pool
        self._in_flight = in_flight
        self._block_size = block_size
        # The last input bytes (at least DEFLATE_WINDOW of them, once there are): the
        # dictionary of the next block.
        self._tail = bytearray()
        # Without a pool: the current block's compressor, and how much input it has had.
        self._current = _compressor(b"")
        self._filled = 0
        # With a pool: input not yet in a block, and the blocks under way, oldest first.
        self._pending = bytearray()
        self._blocks: deque[Future[bytes]] = deque()
        self._digest = hashlib.sha256()
        self.crc = 0
        self.size = 0
        self.compressed_size = 0

    def feed(self, chunk: bytes) -> bytes:
        self.crc = zlib.crc32(chunk, self.crc)
        self.size += len(chunk)
        self._digest.update(chunk)
        if not self._compress:
            out = chunk
        elif self._pool is None:
            out = self._compress_as_it_comes(chunk)
        else:
            self._pending += chunk
            # A full block is started only once more input follows: the last block ends the stream.
            while len(self._pending) > self._block_size:
                with memoryview(self._pending) as view:
                    block = bytes(view[: self._block_size])
                del self._pending[: self._block_size]
                self._start(block, last=False)
            out = self._finished_blocks(keep=self._in_flight)
        self.compressed_size += len(out)
        return out

    def finish(self) -> bytes:
        if not self._compress:
            return b""
        if self._pool is None:
            out = self._current.flush(zlib.Z_FINISH)
        else:
            self._start(bytes(self._pending), last=True)
            self._pending.clear()
            out = self._finished_blocks(keep=0)
        self.compressed_size += len(out)
        return out

    def _compress_as_it_comes(self, chunk: bytes) -> bytes:
        out = []
        view = memoryview(chunk)
        while view:
            if self._filled == self._block_size:  # more input follows a full block: end it
                out.append(self._current.flush(zlib.Z_SYNC_FLUSH))
                self._current = _compressor(bytes(self._tail[-DEFLATE_WINDOW:]))
                self._filled = 0
            piece = view[: self._block_size - self._filled]
            out.append(self._current.compress(piece))
            self._remember(piece)
            self._filled += len(piece)
            view = view[len(piece) :]
        return b"".join(out)

    def _remember(self, data: bytes | memoryview) -> None:
        if len(data) >= DEFLATE_WINDOW:
            self._tail = bytearray(data[-DEFLATE_WINDOW:])
            return
        self._tail += data
        if len(self._tail) > 2 * DEFLATE_WINDOW:
            del self._tail[:-DEFLATE_WINDOW]

    def _start(self, block: bytes, last: bool) -> None:
        assert self._pool is not None
        dictionary = bytes(self._tail[-DEFLATE_WINDOW:])
        self._remember(block)
        self._blocks.append(self._pool.submit(deflate_block, block, dictionary, last))

    def _finished_blocks(self, keep: int) -> bytes:
        """The output of the blocks done so far, in order, waiting for the oldest ones while
        more than ``keep`` are under way (which bounds the memory they hold)."""
        out = []
        while self._blocks and (len(self._blocks) > keep or self._blocks[0].done()):
            out.append(self._blocks.popleft().result())
        return b"".join(out)

    @property
    def sha256(self) -> bytes:
        return self._digest.digest()

    def deflate_all(self, chunks: Iterable[bytes]) -> Deflated:
        """The whole stream compressed, held in memory (for members compressed ahead)."""
        out = [self.feed(chunk) for chunk in chunks]
        out.append(self.finish())
        return Deflated(tuple(piece for piece in out if piece), self.method, self.crc, self.size, self.compressed_size, self.sha256)


@dataclass(frozen=True)
class Deflated:
    """A member compressed ahead of being written."""

    chunks: tuple[bytes, ...]
    method: int
    crc: int
    size: int
    compressed_size: int
    sha256: bytes


@dataclass(frozen=True)
class Written:
    """What the writer learnt about a member it compressed itself (for RECORD)."""

    sha256: bytes
    size: int


@dataclass(frozen=True, slots=True)
class _Entry:
    """What the central directory needs to know about one written member."""

    name: bytes
    method: int
    flags: int
    crc: int
    compressed_size: int
    size: int
    dos_time: int
    dos_date: int
    external_attr: int
    internal_attr: int
    create_version: int
    extract_version: int
    extra: bytes


class _CompressedBuffer:
    """An append-only byte buffer kept deflated in blocks.

    The central directory being written grows with the member count (about 100 bytes per
    member); kept deflated it costs a fifth of that, which is what keeps a repair's memory
    nearly flat in the size of the wheel.
    """

    def __init__(self) -> None:
        self._blocks: list[bytes] = []
        self._tail = bytearray()

    def __iadd__(self, data: bytes) -> _CompressedBuffer:
        self._tail += data
        if len(self._tail) >= CD_WINDOW:
            self._blocks.append(zlib.compress(self._tail, 1))
            self._tail = bytearray()
        return self

    def chunks(self) -> Iterator[bytes]:
        for block in self._blocks:
            yield zlib.decompress(block)
        yield bytes(self._tail)


class ZipWriter:
    """Writes an archive member by member to a seekable file.

    The central directory is accumulated as its final encoded bytes, deflated in blocks, not
    as objects: memory stays small however many members pass.
    """

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self._directory = _CompressedBuffer()
        self.count = 0
        # Members copied byte for byte are gathered into runs that are contiguous in their
        # archive, and each run is copied in one go (by the kernel where it can).
        self._run: tuple[ZipReader, int, int] | None = None
        self._run_output_start = 0
        self._end = file.tell()
        # Members whose local header a check of the output should read: every header this
        # writer composed, and the first and last of each run copied byte for byte (the ones
        # between follow by the same offset arithmetic).
        self.spot_checks: set[str] = set()
        self._run_last = ""

    def _flush_run(self) -> None:
        if self._run is None:
            return
        reader, start, end = self._run
        self._run = None
        self.spot_checks.add(self._run_last)
        done = self._copy_in_kernel(reader, start, end - start)
        # The rest (all of it where the kernel cannot copy) goes through Python.
        self.file.seek(self._run_output_start + done)
        for chunk in reader.byte_range(start + done, end - start - done):
            self.file.write(chunk)
        self.file.seek(self._end)

    def _copy_in_kernel(self, reader: ZipReader, start: int, size: int) -> int:
        """copy_file_range between the two files; how many bytes it copied (0 when the
        platform or the files do not allow it)."""
        source, target = reader.fd, _real_fd(self.file)
        if source is None or target is None or not hasattr(os, "copy_file_range") or portable_io():
            return 0
        self.file.flush()
        done = 0
        try:
            while done < size:
                copied = os.copy_file_range(source, target, size - done, start + done, self._run_output_start + done)
                if copied == 0:
                    break
                done += copied
        except OSError:
            pass
        return done

    @staticmethod
    def _local_header(entry: _Entry) -> bytes:
        needs_zip64 = entry.size >= ZIP64_LIMIT or entry.compressed_size >= ZIP64_LIMIT
        extra = entry.extra
        if needs_zip64:
            extra = struct.pack("<HHQQ", ZIP64_EXTRA_ID, 16, entry.size, entry.compressed_size) + extra
        return LOCAL.pack(
            LOCAL_SIG,
            45 if needs_zip64 else max(entry.extract_version, 20),
            entry.flags,
            entry.method,
            entry.dos_time,
            entry.dos_date,
            entry.crc,
            ZIP64_LIMIT if needs_zip64 else entry.compressed_size,
            ZIP64_LIMIT if needs_zip64 else entry.size,
            len(entry.name),
            len(extra),
        ) + entry.name + extra

    def _add_to_directory(self, entry: _Entry, offset: int) -> None:
        zip64_values = []
        usize, csize = entry.size, entry.compressed_size
        if usize >= ZIP64_LIMIT:
            zip64_values.append(usize)
            usize = ZIP64_LIMIT
        if csize >= ZIP64_LIMIT:
            zip64_values.append(csize)
            csize = ZIP64_LIMIT
        if offset >= ZIP64_LIMIT:
            zip64_values.append(offset)
            offset = ZIP64_LIMIT
        extra = entry.extra
        if zip64_values:
            body = struct.pack(f"<{len(zip64_values)}Q", *zip64_values)
            extra = struct.pack("<HH", ZIP64_EXTRA_ID, len(body)) + body + extra
        self._append_central(
            entry.create_version, 45 if zip64_values else max(entry.extract_version, 20), entry.flags, entry.method,
            entry.dos_time, entry.dos_date, entry.crc, csize, usize, entry.internal_attr, entry.external_attr,
            offset, entry.name, extra,
        )

    def _append_central(
        self, create_version: int, extract_version: int, flags: int, method: int, dos_time: int, dos_date: int,
        crc: int, csize: int, usize: int, internal_attr: int, external_attr: int, offset: int, name: bytes, extra: bytes,
    ) -> None:
        """Encode one central-directory entry (sizes and offset already fitted to 32 bits)."""
        self._directory += CENTRAL.pack(
            CENTRAL_SIG, create_version, extract_version, flags, method, dos_time, dos_date, crc, csize, usize,
            len(name), len(extra), 0, 0, internal_attr, external_attr, offset,
        ) + name + extra
        self.count += 1

    def copy_raw(self, reader: ZipReader, member: Member, name: str | None = None) -> None:
        """Copy a member of ``reader`` without recompressing it, under ``name`` if given.

        When its local header already says what the central entry says, header and data are
        copied byte for byte (with its neighbours, in one go); otherwise a clean local header
        is written and the compressed data copied after it.
        """
        new_name = name or member.name
        flags = member.flags & ~FLAG_DATA_DESCRIPTOR
        entry = _Entry(
            new_name.encode("utf-8"), member.method, flags if new_name.isascii() else flags | FLAG_UTF8, member.crc,
            member.compressed_size, member.size, member.dos_time, member.dos_date, member.external_attr,
            member.internal_attr, member.create_version, member.extract_version,
            _without_zip64(member.extra) if member.extra else b"",
        )
        if name is None and reader.can_copy_verbatim(member):
            offset = self._extend_run(reader, member.name, member.header_offset, member.data_offset + member.compressed_size)
            self._add_to_directory(entry, offset)
            return
        self._flush_run()
        self.spot_checks.add(new_name)
        offset = self._end
        self.file.write(self._local_header(entry))
        for chunk in reader.raw_chunks(member):
            self.file.write(chunk)
        self._add_to_directory(entry, offset)
        self._end = self.file.tell()

    def copy_from(self, reader: ZipReader, special: Callable[[str], bool], progress: Callable[[int], None] | None = None) -> Iterator[Member]:
        """Copy ``reader``'s members in order, handing those ``special`` selects to the caller,
        who writes them (or not) before asking for the next.

        This is the loop every unchanged member of a repair goes through, so it avoids making
        objects: a member that can be copied byte for byte joins the current run and gets its
        central entry packed straight from the input's fields.
        """
        for position, raw_name, fields, extra in reader.raw_entries():
            name = reader.decode_name(raw_name, fields[3])
            if special(name):
                yield reader.member_at(position, raw_name, fields, extra)
                continue
            start, data_offset, size = fields[16], reader.data_offset(position), fields[8]
            if reader.verbatim(position) and self._end < ZIP64_LIMIT and not extra:
                offset = self._extend_run(reader, name, start, data_offset + size)
                self._append_central(
                    fields[1], max(fields[2], 20), fields[3], fields[4], fields[5], fields[6], fields[7], size, fields[9],
                    fields[14], fields[15], offset, raw_name, b"",
                )
            else:
                self.copy_raw(reader, reader.member_at(position, raw_name, fields, extra))
            if progress is not None:
                progress(size)

    def _extend_run(self, reader: ZipReader, name: str, start: int, end: int) -> int:
        """Add the archive bytes [start, end) to the run copied byte for byte; returns where
        they land in the output."""
        if self._run is not None and self._run[0] is reader and self._run[2] == start:
            self._run = (reader, self._run[1], end)
        else:
            self._flush_run()
            self._run = (reader, start, end)
            self._run_output_start = self._end
            self.spot_checks.add(name)
        self._run_last = name
        offset = self._end
        self._end += end - start
        return offset

    def _new_entry(self, name: str, method: int, mode: int, date_time: tuple[int, int], template: Member | None) -> _Entry:
        check_member_name(name)
        self._flush_run()
        self.spot_checks.add(name)
        dos_time, dos_date = date_time
        return _Entry(
            name=name.encode("utf-8"), method=method, flags=FLAG_UTF8, crc=0, compressed_size=0, size=0,
            dos_time=dos_time, dos_date=dos_date,
            external_attr=template.external_attr if template else (mode & 0xFFFF) << 16,
            internal_attr=template.internal_attr if template else 0,
            create_version=template.create_version if template else (3 << 8) | 20,
            extract_version=20, extra=b"",
        )

    def add_chunks(
        self,
        name: str,
        chunks: Iterable[bytes],
        *,
        mode: int,
        date_time: tuple[int, int],
        compress: bool = True,
        size_hint: int = 0,
        template: Member | None = None,
        pool: Executor | None = None,
    ) -> Written:
        """Compress and write a member from a stream, hashing it on the way; the local header
        is written first with placeholders and patched once sizes and CRC are known.

        ``template`` is the member this one replaces: its attributes (modes, creator) are kept.
        With a ``pool``, the member is compressed on its threads (see :class:`Deflater`).
        """
        entry = self._new_entry(name, DEFLATED if compress else STORED, mode, date_time, template)
        zip64 = size_hint >= ZIP64_LIMIT // 2
        if zip64:
            entry = replace(entry, compressed_size=ZIP64_LIMIT, size=ZIP64_LIMIT)
        offset = self.file.tell()
        header = self._local_header(entry)
        self.file.write(header)
        deflater = Deflater(compress, pool)
        for chunk in chunks:
            self.file.write(deflater.feed(chunk))
        self.file.write(deflater.finish())
        end = self.file.tell()
        if not zip64 and (deflater.size >= ZIP64_LIMIT or deflater.compressed_size >= ZIP64_LIMIT):
            raise ArchiveError(f"member {name!r} grew past 4 GiB while being written; this is not supported.")
        entry = replace(entry, crc=deflater.crc, size=deflater.size, compressed_size=deflater.compressed_size)
        self.file.seek(offset)
        new_header = self._local_header(entry)
        assert len(new_header) == len(header)
        self.file.write(new_header)
        self.file.seek(end)
        self._add_to_directory(entry, offset)
        self._end = end
        return Written(deflater.sha256, deflater.size)

    def add_deflated(
        self, name: str, deflated: Deflated, *, mode: int, date_time: tuple[int, int], template: Member | None = None
    ) -> Written:
        """Write a member compressed beforehand (see :class:`Deflater`)."""
        entry = self._new_entry(name, deflated.method, mode, date_time, template)
        entry = replace(entry, crc=deflated.crc, size=deflated.size, compressed_size=deflated.compressed_size)
        offset = self.file.tell()
        self.file.write(self._local_header(entry))
        for chunk in deflated.chunks:
            self.file.write(chunk)
        self._end = self.file.tell()
        self._add_to_directory(entry, offset)
        return Written(deflated.sha256, deflated.size)

    def add_bytes(self, name: str, data: bytes, *, mode: int, date_time: tuple[int, int]) -> Written:
        return self.add_chunks(name, [data], mode=mode, date_time=date_time, size_hint=len(data))

    def close(self) -> None:
        """Write the central directory and end records (ZIP64 ones only when needed)."""
        self._flush_run()
        cd_offset = self.file.tell()
        for chunk in self._directory.chunks():
            self.file.write(chunk)
        cd_end = self.file.tell()
        cd_size = cd_end - cd_offset
        count = self.count
        if count >= ZIP64_COUNT_LIMIT or cd_offset >= ZIP64_LIMIT or cd_size >= ZIP64_LIMIT:
            self.file.write(ZIP64_EOCD.pack(ZIP64_EOCD_SIG, ZIP64_EOCD.size - 12, 45, 45, 0, 0, count, count, cd_size, cd_offset))
            self.file.write(ZIP64_LOCATOR.pack(ZIP64_LOCATOR_SIG, 0, cd_end, 1))
            self.file.write(EOCD.pack(EOCD_SIG, 0, 0, min(count, ZIP64_COUNT_LIMIT), min(count, ZIP64_COUNT_LIMIT),
                                      min(cd_size, ZIP64_LIMIT), min(cd_offset, ZIP64_LIMIT), 0))
        else:
            self.file.write(EOCD.pack(EOCD_SIG, 0, 0, count, count, cd_size, cd_offset, 0))
        self._directory = _CompressedBuffer()
