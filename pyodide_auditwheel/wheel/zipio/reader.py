"""Reading a zip archive: the central directory checked entry by entry and streamed in
windows, local headers cross-checked, member data read as stored or inflated with size and CRC
checks, bounded head reads."""

from __future__ import annotations

import io
import itertools
import os
import stat
import struct
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from ...errors import ArchiveError, InternalError, UnsafePathError
from .format import (
    CD_WINDOW,
    CENTRAL,
    CENTRAL_SIG,
    CHUNK,
    DEFLATED,
    EOCD,
    FLAG_DATA_DESCRIPTOR,
    FLAG_ENCRYPTED,
    FLAG_STRONG_ENCRYPTION,
    FLAG_UTF8,
    LOCAL,
    LOCAL_SIG,
    STORED,
    ZIP64_COUNT_LIMIT,
    ZIP64_EOCD,
    ZIP64_EOCD_SIG,
    ZIP64_EXTRA_ID,
    ZIP64_LIMIT,
    ZIP64_LOCATOR,
    ZIP64_LOCATOR_SIG,
    CentralEntry,
    Member,
    split_extra,
)
from .names import HashSet, NamesDigest, check_member_name, folded, name_hash

NOT_LOCATED = -1

# Deflate cannot expand data more than ~1032:1; a member declaring more is lying about its
# size, and reading it would be a decompression bomb.
MAX_DEFLATE_RATIO = 1100
MAX_COMMENT_SEARCH = 0xFFFF + EOCD.size
HEAD_READ_SLACK = 1024


def _look_up_all(_name: str) -> bool:
    return True


def real_fd(file: BinaryIO) -> int | None:
    """The OS file descriptor behind ``file``, if it has one (in-memory files do not)."""
    try:
        return file.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None


# APPNOTE 6.3.x is the newest zip specification; a "version needed to extract" above it names
# features no reader here (or pip) knows, so such an archive is refused rather than passed on.
NEWEST_ZIP_VERSION = 63
# check_data reads compressed bytes this much at a time, and inflates in one call a member no
# larger than this either way (a larger one is streamed as chunks() reads it): what a check
# holds per thread stays below that of reading in CHUNK pieces.
CHECK_WINDOW = 64 << 10


class ZipReader:
    """A read-only view of a zip archive on a seekable binary file.

    The central directory is checked entry by entry when the reader is made (names, flags,
    local headers, duplicates, overlaps) and streamed again, in windows, whenever the members
    are iterated.  What stays in memory per member is 8 bytes (where its data starts), plus
    full entries only for the members ``lookup`` selects for lookup by name: a wheel with
    twice the members does not need twice the memory.  The scan also takes digests of the
    names (see :class:`NamesDigest`), so that they can be compared with another list of them
    without a second pass.
    """

    def __init__(
        self,
        file: BinaryIO,
        display: str = "archive",
        lookup: Callable[[str], bool] | None = None,
    ) -> None:
        self.file = file
        self.display = display
        self.fd = real_fd(file)
        file.seek(0, 2)
        self.file_size = file.tell()
        self._cd_offset, self._cd_size, self.count = self._locate_central_directory()
        self._data_offsets = array("q")
        self._verbatim = bytearray()
        self.by_name: dict[str, Member] = {}
        # hash() of every name as a case-insensitive file system sees it: for the duplicate
        # check, and kept so that a new name can be checked against them all (see holds_folded).
        self._folded_hashes = HashSet(())
        # hash() of every directory the members are in, folded (see holds_under_folded).
        self._folded_dir_hashes = HashSet(())
        # The sums behind all_names_digest and files_digest, kept as plain ints while the
        # scan adds every name (a NamesDigest per member would cost the scan an object each).
        self._all_names_sum = 0
        self._files_sum = 0
        # dos_date << 16 | dos_time of the newest member: the default time of members we add.
        self._newest = 33 << 16
        self._scan(lookup or _look_up_all)

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
        for raw_name, entry, _extra in self._raw_entries():
            yield self.decode_name(raw_name, entry.flags)

    def holds_folded(self, name: str) -> str | None:
        """The member's name that equals ``name`` once case is folded, if any: a set lookup,
        and a pass over the names only when the hash is there."""
        key = folded(name)
        if hash(key) not in self._folded_hashes:
            return None
        return next((member for member in self.names() if folded(member) == key), None)

    def holds_under_folded(self, name: str) -> str | None:
        """A member inside the directory ``name`` once case is folded, if any: a set lookup,
        and a pass over the names only when the hash is there."""
        key = folded(name)
        if hash(key) not in self._folded_dir_hashes:
            return None
        return next((member for member in self.names() if folded(member).startswith(key + "/")), None)

    def find(self, name: str) -> Member | None:
        """The member called ``name``: from ``by_name`` when it holds it, else by a scan."""
        member = self.by_name.get(name)
        if member is None:
            member = next((m for m in self if m.name == name), None)
        return member

    # -- structure ---------------------------------------------------------------------------

    def _fail(self, why: str) -> ArchiveError:
        return ArchiveError(f"corrupt zip archive {self.display}: {why}.")

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
            raise ArchiveError(f"not a zip archive: {self.display} is too short to be one.")
        tail = self._read_at(self.file_size - tail_size, tail_size)
        pos = tail.rfind(b"PK\x05\x06")
        while pos >= 0:
            if pos + EOCD.size <= len(tail):
                entry = EOCD.unpack_from(tail, pos)
                if pos + EOCD.size + entry[7] == len(tail):
                    return self.file_size - tail_size + pos, entry
            pos = tail.rfind(b"PK\x05\x06", 0, pos)
        raise ArchiveError(f"not a zip archive: {self.display} has no end-of-central-directory record.")

    def _locate_central_directory(self) -> tuple[int, int, int]:
        """(offset, size, entry count) of the central directory, ZIP64 records followed."""
        eocd_offset, entry = self._find_eocd()
        _, disk, cd_disk, _entries_disk, entries, cd_size, cd_offset, _ = entry
        if disk != 0 or cd_disk != 0:
            raise ArchiveError(f"unsupported zip archive {self.display}: it spans several disks.")
        cd_end_limit = eocd_offset
        # The ZIP64 records are read wherever their locator is, needed or not (zipfile and
        # other writers may add them to a small archive); where the end record's own fields
        # are not saturated, the ZIP64 record must say the same.
        locator_offset = eocd_offset - ZIP64_LOCATOR.size
        if locator_offset >= 0:
            sig, _, z64_offset, _ = ZIP64_LOCATOR.unpack(self._read_at(locator_offset, ZIP64_LOCATOR.size))
            if sig == ZIP64_LOCATOR_SIG:
                if z64_offset + ZIP64_EOCD.size > locator_offset:
                    raise self._fail("the ZIP64 end record points past its locator")
                z64 = ZIP64_EOCD.unpack(self._read_at(z64_offset, ZIP64_EOCD.size))
                if z64[0] != ZIP64_EOCD_SIG:
                    raise self._fail("the ZIP64 end record is missing")
                pairs = (
                    (entries, z64[7], ZIP64_COUNT_LIMIT),
                    (cd_size, z64[8], ZIP64_LIMIT),
                    (cd_offset, z64[9], ZIP64_LIMIT),
                )
                if any(plain != wide and plain != limit for plain, wide, limit in pairs):
                    raise self._fail("its ZIP64 end record disagrees with its end record")
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

    def _raw_entries(self) -> Iterator[tuple[bytes, CentralEntry, bytes]]:
        """(raw name, fixed entry, extra field) of each central entry, reading the directory
        in windows so it is never held whole."""
        end = self._cd_offset + self._cd_size
        pos = self._cd_offset
        window, window_start = b"", pos
        for _ in range(self.count):
            rel = pos - window_start
            if rel + CENTRAL.size > len(window):
                window, window_start, rel = self._window(pos, end, CENTRAL.size), pos, 0
            entry = CentralEntry._make(CENTRAL.unpack_from(window, rel))
            if entry.signature != CENTRAL_SIG:
                raise self._fail("a central directory entry has a bad signature")
            name_len, extra_len = entry.name_length, entry.extra_length
            total = CENTRAL.size + name_len + extra_len + entry.comment_length
            if rel + total > len(window):
                window, window_start, rel = self._window(pos, end, total), pos, 0
            name_start = rel + CENTRAL.size
            yield (
                window[name_start : name_start + name_len],
                entry,
                window[name_start + name_len : name_start + name_len + extra_len],
            )
            pos += total
        if pos != end:
            # Entries past the count would be invisible to us but installed by pip.
            raise self._fail(f"the end record counts {self.count} members, but its central directory holds more")

    def _window(self, pos: int, end: int, needed: int) -> bytes:
        if pos + needed > end:
            raise self._fail("the central directory is truncated")
        return self._read_at(pos, min(end - pos, max(CD_WINDOW, needed)))

    def _decode(self, raw_name: bytes, entry: CentralEntry, extra: bytes) -> tuple[str, int, int, int]:
        """(name, compressed size, size, local header offset), ZIP64 values applied."""
        csize, usize, header_offset = entry.compressed_size, entry.size, entry.header_offset
        name = self.decode_name(raw_name, entry.flags)
        if ZIP64_LIMIT in (csize, usize, header_offset):
            for field_id, body in split_extra(extra):
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

    def _member(self, raw_name: bytes, entry: CentralEntry, extra: bytes, data_offset: int, position: int) -> Member:
        name, csize, usize, header_offset = self._decode(raw_name, entry, extra)
        return Member(
            name,
            entry.method,
            entry.flags,
            entry.crc,
            csize,
            usize,
            entry.dos_time,
            entry.dos_date,
            entry.external_attr,
            entry.internal_attr,
            entry.create_version,
            entry.extract_version,
            header_offset,
            extra,
            data_offset,
            position,
        )

    def raw_entries(self) -> Iterator[tuple[int, bytes, CentralEntry, bytes]]:
        """(position, raw name, fixed entry, extra) of each entry: for loops that must not
        pay for a Member per entry (see ZipWriter.copy_from)."""
        for position, (raw_name, entry, extra) in enumerate(self._raw_entries()):
            yield position, raw_name, entry, extra

    def member_at(self, position: int, raw_name: bytes, entry: CentralEntry, extra: bytes) -> Member:
        return self._member(raw_name, entry, extra, self._data_offsets[position], position)

    def data_offset(self, position: int) -> int:
        return self._data_offsets[position]

    def verbatim(self, position: int) -> bool:
        return bool(self._verbatim[position])

    def can_copy_verbatim(self, member: Member) -> bool:
        """Whether the member's local header and data can be copied byte for byte: its local
        header repeats the central entry exactly (no data descriptor, no ZIP64 sizes)."""
        return member.position >= 0 and self.verbatim(member.position)

    def _scan(self, lookup: Callable[[str], bool]) -> None:
        """Check every entry once; remember where each member's data starts."""
        # The folded names' hashes, in an array (8 bytes each, a quarter of what a set of them
        # holds): sorted once, repeats are suspects.
        folded_hashes = array("q")
        parents: set[str] = set()  # the directory each member is in
        previous_end = 0
        in_offset_order = True
        for raw_name, entry, extra in self._raw_entries():
            name, csize, usize, header_offset = self._decode(raw_name, entry, extra)
            self._check_entry(name, entry.method, entry.flags, csize, usize, (entry.external_attr >> 16) & 0xFFFF)
            if entry.extract_version & 0xFF > NEWEST_ZIP_VERSION:
                version = entry.extract_version & 0xFF
                raise ArchiveError(
                    f"unsupported zip archive {self.display}: member {name!r} needs zip version "
                    f"{version // 10}.{version % 10} to be extracted, newer than any this tool knows (6.3)."
                )
            data_offset, verbatim = self._data_offset(name, raw_name, entry, header_offset, csize)
            # A name read as cp437 would be written back as UTF-8, and a UTF-8 name without the
            # UTF-8 flag gets the flag (else the stdlib reads it as cp437): not byte for byte.
            verbatim = verbatim and (
                raw_name.isascii() or (bool(entry.flags & FLAG_UTF8) and raw_name == name.encode("utf-8"))
            )
            self._add_to_digests(name)
            position = len(self._data_offsets)
            self._data_offsets.append(data_offset)
            self._verbatim.append(verbatim)
            folded_hash = hash(folded(name))
            folded_hashes.append(folded_hash)
            slash = name.rfind("/", 0, len(name) - 1)
            if slash > 0:
                parents.add(name[:slash])
            if header_offset < previous_end:
                in_offset_order = False
            previous_end = data_offset + csize
            stamp = entry.dos_date << 16 | entry.dos_time
            if stamp > self._newest:
                self._newest = stamp
            if lookup(name):
                self.by_name[name] = self._member(raw_name, entry, extra, data_offset, position)
        ordered = sorted(folded_hashes)
        del folded_hashes
        suspect_hashes = {first for first, second in itertools.pairwise(ordered) if first == second}
        self._folded_hashes = HashSet(ordered)
        del ordered
        if suspect_hashes:
            self._check_unique(suspect_hashes)
        self._check_files_are_not_directories(parents)
        if not in_offset_order:
            self._check_no_overlap()

    def _add_to_digests(self, name: str) -> None:
        hashed = name_hash(name)
        self._all_names_sum += hashed
        if not name.endswith("/"):
            self._files_sum += hashed

    @property
    def all_names_digest(self) -> NamesDigest:
        """The digest of every member's name, taken during the scan."""
        return NamesDigest(self._all_names_sum)

    @property
    def files_digest(self) -> NamesDigest:
        """The digest of the names of the members that are not directories."""
        return NamesDigest(self._files_sum)

    def _check_entry(self, name: str, method: int, flags: int, csize: int, usize: int, mode: int) -> None:
        check_member_name(name)
        if stat.S_ISLNK(mode):
            raise UnsafePathError(f"unsafe member {name!r} in the wheel: it is a symbolic link.")
        if flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION):
            raise ArchiveError(f"unsupported zip archive {self.display}: member {name!r} is encrypted.")
        if method not in (STORED, DEFLATED):
            raise ArchiveError(
                f"unsupported zip archive {self.display}: member {name!r} uses compression method "
                f"{method}; wheels use stored or deflate."
            )
        if method == STORED and usize != csize:
            raise self._fail(f"stored member {name!r} declares {usize} bytes but holds {csize}")
        if method == DEFLATED and usize > max(csize, 1) * MAX_DEFLATE_RATIO:
            raise ArchiveError(
                f"refusing {self.display}: member {name!r} declares a compression ratio no deflate "
                "stream can reach (a decompression bomb)."
            )

    def _check_unique(self, suspect_hashes: set[int]) -> None:
        """Refuse names that repeat, exactly or once case is folded (they overwrite each other
        on extraction).  The scan kept only the hashes of the folded names; names whose hash
        was seen twice are compared here."""
        seen: dict[str, str] = {}
        for name in self.names():
            key = folded(name)
            if hash(key) not in suspect_hashes:
                continue
            if key in seen:
                what = (
                    "appears twice"
                    if seen[key] == name
                    else f"collides with {seen[key]!r} on file systems blind to case or Unicode normalisation"
                )
                raise UnsafePathError(f"unsafe member {name!r} in the wheel: it {what}.")
            seen[key] = name

    def _check_files_are_not_directories(self, parents: set[str]) -> None:
        """Refuse a file whose name is also a directory of other members (``pkg/a`` and
        ``pkg/a/b``; compared folded, as case twins are): no file system holds both.  A
        directory's folded name is looked for among every member's (a directory entry's ends
        in ``/``, so only a file's matches, but for a collision of hashes, which the names
        then rule out)."""
        directories: dict[int, str] = {}
        for parent in parents:
            while parent and hash(key := folded(parent)) not in directories:
                directories[hash(key)] = parent
                parent = parent[: max(parent.rfind("/"), 0)]
        self._folded_dir_hashes = HashSet(directories)
        clashes = {folded_hash for folded_hash in directories if folded_hash in self._folded_hashes}
        if not clashes:
            return
        for name in self.names():
            if not name.endswith("/") and hash(folded(name)) in clashes:
                directory = directories[hash(folded(name))]
                if folded(directory) == folded(name):
                    raise UnsafePathError(
                        f"unsafe member {name!r} in the wheel: it is a file, and {directory!r} is also a directory "
                        "of other members; no file system holds both."
                    )

    def _data_offset(
        self, name: str, raw_name: bytes, entry: CentralEntry, header_offset: int, csize: int
    ) -> tuple[int, bool]:
        """Where a member's data starts, after checking its local header agrees with its central
        entry (a reader that trusts only one of the two can be shown a different file than
        another tool extracts), and whether the local header repeats the central entry
        exactly, so that the member can be copied byte for byte."""
        flags, method = entry.flags, entry.method
        cd_offset = self._cd_offset
        if header_offset + LOCAL.size > cd_offset:
            raise self._fail(f"member {name!r} starts past the central directory")
        # One read covers the fixed header and the name, which must match the central one.
        header = self._read_at(header_offset, min(LOCAL.size + len(raw_name), cd_offset - header_offset))
        sig, _version, local_flags, local_method, _t, _d, local_crc, local_csize, local_usize, name_len, extra_len = (
            LOCAL.unpack_from(header)
        )
        if sig != LOCAL_SIG:
            raise self._fail(f"the local header of {name!r} is missing")
        if name_len != len(raw_name) or header[LOCAL.size :] != raw_name:
            local_name = self._read_at(
                header_offset + LOCAL.size, min(name_len, max(cd_offset - header_offset - LOCAL.size, 0))
            )
            raise self._fail(
                f"the central directory names {name!r} but its local header names "
                f"{local_name.decode('utf-8', 'replace')!r}"
            )
        if local_method != method or (local_flags & FLAG_ENCRYPTED) != (flags & FLAG_ENCRYPTED):
            raise self._fail(f"the local header of {name!r} disagrees with the central directory")
        data_offset: int = header_offset + LOCAL.size + name_len + extra_len
        if data_offset + csize > cd_offset:
            raise self._fail(f"member {name!r} declares more data than the archive holds")
        verbatim = (
            local_flags == flags
            and not flags & FLAG_DATA_DESCRIPTOR
            and local_crc == entry.crc
            and local_csize == entry.compressed_size != ZIP64_LIMIT
            and local_usize == entry.size != ZIP64_LIMIT
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
            raise InternalError(f"internal error: reading {self.display} where its local header was not checked.")
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
                        raise self._invalid_data(member) from None
                    pending = decompressor.unconsumed_tail
                produced += len(out)
                if produced > member.size:
                    raise self._more_than_declared(member)
                if out:
                    yield out
                if limit is not None and produced >= limit:
                    return
        if decompressor is not None:
            tail = decompressor.flush()
            produced += len(tail)
            if produced > member.size:
                raise self._more_than_declared(member)
            if tail:
                yield tail
            if not decompressor.eof:
                raise self._truncated_stream(member)
        if produced != member.size:
            raise self._not_its_size(member, produced)

    def _invalid_data(self, member: Member) -> ArchiveError:
        return self._fail(f"member {member.name!r} has invalid compressed data")

    def _more_than_declared(self, member: Member) -> ArchiveError:
        return self._fail(f"member {member.name!r} holds more data than its declared {member.size} bytes")

    def _truncated_stream(self, member: Member) -> ArchiveError:
        return self._fail(f"member {member.name!r} has a truncated compressed stream")

    def _not_its_size(self, member: Member, produced: int) -> ArchiveError:
        return self._fail(f"member {member.name!r} holds {produced} bytes, not its declared {member.size}")

    def _bad_crc(self, member: Member) -> ArchiveError:
        return self._fail(f"member {member.name!r} fails its CRC check")

    def check_data(self, members: Iterable[Member]) -> None:
        """Inflate each member and check its size and CRC, as reading it would, keeping none
        of it: the check of the members a repair copies unchanged.  Members that lie together
        are read a window at a time and each small one is inflated in one call: on a wheel of
        many small files a system call and a GIL hand-over per piece made the check about a
        tenth slower beside the writer's thread (docs/performance.md)."""
        window, window_start = b"", 0
        for member in members:
            if max(member.compressed_size, member.size) > CHECK_WINDOW or member.data_offset < 0:
                for _chunk in self.chunks(member):
                    pass
                continue
            start = member.data_offset - window_start
            if start < 0 or start + member.compressed_size > len(window):
                window_start, start = member.data_offset, 0
                window = self._read_at(window_start, min(CHECK_WINDOW, self._cd_offset - window_start))
            self._check_whole(member, memoryview(window)[start : start + member.compressed_size])

    def _check_whole(self, member: Member, data: memoryview) -> None:
        content: bytes | memoryview = data
        if member.method == DEFLATED:
            decompressor = zlib.decompressobj(-15)
            try:
                content = decompressor.decompress(data, member.size + 1)  # one byte more shows a lie
            except zlib.error:
                raise self._invalid_data(member) from None
            if len(content) > member.size:
                raise self._more_than_declared(member)
            if not decompressor.eof:
                raise self._truncated_stream(member)
        if len(content) != member.size:
            raise self._not_its_size(member, len(content))
        if zlib.crc32(content) != member.crc:
            raise self._bad_crc(member)

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
            raise self._bad_crc(member)

    def read(self, member: Member) -> bytes:
        return b"".join(self.chunks(member))


class WrittenArchive(ZipReader):
    """An archive this process has just written, read back to check it: its names were all
    checked on the way in, so they are not examined again, and only the local headers
    ``spot_check`` selects (and those of looked-up members) are read and checked against the
    central directory.  A member whose local header was not read cannot be read."""

    def __init__(
        self,
        file: BinaryIO,
        display: str,
        lookup: Callable[[str], bool],
        spot_check: Callable[[str], bool],
    ) -> None:
        self._spot_check = spot_check
        super().__init__(file, display, lookup)

    def _scan(self, lookup: Callable[[str], bool]) -> None:
        """Digests and offsets only: the checks of ZipReader's scan were made as it was written."""
        for position, (raw_name, entry, extra) in enumerate(self._raw_entries()):
            name, csize, _usize, header_offset = self._decode(raw_name, entry, extra)
            self._add_to_digests(name)
            looked_up = lookup(name)
            data_offset = NOT_LOCATED
            if looked_up or self._spot_check(name):
                data_offset, _ = self._data_offset(name, raw_name, entry, header_offset, csize)
            self._data_offsets.append(data_offset)
            self._verbatim.append(False)
            if looked_up:
                self.by_name[name] = self._member(raw_name, entry, extra, data_offset, position)
