"""Zip archives as streams of members, with raw copy of compressed bytes.

``zipfile`` cannot copy a member without decompressing and recompressing it, and it trusts the
archive more than a tool that runs on anyone's wheels should.  This module reads the central
directory, cross-checks each local header, reads a bounded head of a member or streams it with
size and CRC checks, and writes archives where unchanged members are copied as compressed
bytes.  Only stored (0) and deflate (8) members are supported: they are all a wheel may use.
"""

from __future__ import annotations

import hashlib
import itertools
import stat
import struct
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import BinaryIO

from .errors import ArchiveError, UnsafePathError

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

# Deflate cannot expand data more than ~1032:1; a member declaring more is lying about its
# size, and reading it would be a decompression bomb.
MAX_DEFLATE_RATIO = 1100
MAX_COMMENT_SEARCH = 0xFFFF + EOCD.size


@dataclass(frozen=True)
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
    data_offset: int = -1

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


def check_member_name(name: str) -> None:
    """Refuse names that could write outside an extraction directory or mean different files
    on different systems."""
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


class ZipReader:
    """A read-only view of a zip archive on a seekable binary file."""

    def __init__(self, file: BinaryIO, display_name: str = "archive") -> None:
        self.file = file
        self.display_name = display_name
        file.seek(0, 2)
        self.file_size = file.tell()
        self.members = self._read_central_directory()
        self.by_name = {member.name: member for member in self.members}

    # -- structure ---------------------------------------------------------------------------

    def _fail(self, why: str) -> ArchiveError:
        return ArchiveError(f"corrupt zip archive {self.display_name}: {why}.")

    def _read_at(self, offset: int, size: int) -> bytes:
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

    def _read_central_directory(self) -> list[Member]:
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
        # Each central entry is at least 46 bytes: a count the directory cannot hold is a lie
        # that would otherwise make us loop (or allocate) for nothing.
        if entries * CENTRAL.size > cd_size:
            raise self._fail(f"the end record announces {entries} members, more than the central directory can hold")
        directory = self._read_at(cd_offset, cd_size)
        members: list[Member] = []
        seen: dict[str, str] = {}
        raw_names: dict[str, bytes] = {}
        pos = 0
        for _ in range(entries):
            if pos + CENTRAL.size > len(directory):
                raise self._fail("the central directory is truncated")
            (
                sig, create_version, extract_version, flags, method, dos_time, dos_date, crc,
                csize, usize, name_len, extra_len, comment_len, _disk_start, internal_attr,
                external_attr, header_offset,
            ) = CENTRAL.unpack_from(directory, pos)
            if sig != CENTRAL_SIG:
                raise self._fail("a central directory entry has a bad signature")
            pos += CENTRAL.size
            if pos + name_len + extra_len + comment_len > len(directory):
                raise self._fail("the central directory is truncated")
            raw_name = directory[pos : pos + name_len]
            extra = directory[pos + name_len : pos + name_len + extra_len]
            pos += name_len + extra_len + comment_len
            # Wheels are written with UTF-8 names whether or not the flag is set (as pip reads
            # them); cp437 is only the fallback for bytes that are not UTF-8 at all.
            try:
                name = raw_name.decode("utf-8")
            except UnicodeDecodeError:
                if flags & FLAG_UTF8:
                    raise self._fail(f"member name {raw_name!r} is flagged UTF-8 but is not") from None
                name = raw_name.decode("cp437")
            for field_id, body in _split_extra(extra):
                if field_id == ZIP64_EXTRA_ID:
                    values = list(struct.unpack_from(f"<{len(body) // 8}Q", body)) if len(body) >= 8 else []
                    if usize == ZIP64_LIMIT and values:
                        usize = values.pop(0)
                    if csize == ZIP64_LIMIT and values:
                        csize = values.pop(0)
                    if header_offset == ZIP64_LIMIT and values:
                        header_offset = values.pop(0)
            member = Member(
                name, method, flags, crc, csize, usize, dos_time, dos_date, external_attr,
                internal_attr, create_version, extract_version, header_offset, extra,
            )
            self._check_member(member, seen)
            raw_names[name] = raw_name
            members.append(member)
        return self._locate_data(members, raw_names, cd_offset)

    def _check_member(self, member: Member, seen: dict[str, str]) -> None:
        check_member_name(member.name)
        if member.is_symlink:
            raise UnsafePathError(f"unsafe member {member.name!r} in the wheel: it is a symbolic link.")
        if member.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION):
            raise ArchiveError(f"unsupported zip archive {self.display_name}: member {member.name!r} is encrypted.")
        if member.method not in (STORED, DEFLATED):
            raise ArchiveError(
                f"unsupported zip archive {self.display_name}: member {member.name!r} uses compression method "
                f"{member.method}; wheels use stored or deflate."
            )
        if member.method == STORED and member.size != member.compressed_size:
            raise self._fail(f"stored member {member.name!r} declares {member.size} bytes but holds {member.compressed_size}")
        if member.method == DEFLATED and member.size > max(member.compressed_size, 1) * MAX_DEFLATE_RATIO:
            raise ArchiveError(
                f"refusing {self.display_name}: member {member.name!r} declares a compression ratio no deflate "
                "stream can reach (a decompression bomb)."
            )
        key = member.name.rstrip("/").casefold()
        if key in seen:
            what = "appears twice" if seen[key] == member.name else f"collides with {seen[key]!r} on case-insensitive file systems"
            raise UnsafePathError(f"unsafe member {member.name!r} in the wheel: it {what}.")
        seen[key] = member.name

    def _locate_data(self, members: list[Member], raw_names: dict[str, bytes], cd_offset: int) -> list[Member]:
        """Check every local header against its central entry; find where each member's data is.

        Overlapping members (the trick behind non-recursive zip bombs) are refused.
        """
        located = []
        for member in members:
            if member.header_offset + LOCAL.size > cd_offset:
                raise self._fail(f"member {member.name!r} starts past the central directory")
            header = LOCAL.unpack(self._read_at(member.header_offset, LOCAL.size))
            sig, _version, flags, method, _t, _d, _crc, _cs, _us, name_len, extra_len = header
            if sig != LOCAL_SIG:
                raise self._fail(f"the local header of {member.name!r} is missing")
            local_name = self._read_at(member.header_offset + LOCAL.size, name_len)
            if local_name != raw_names[member.name]:
                raise self._fail(
                    f"the central directory names {member.name!r} but its local header names {local_name.decode('utf-8', 'replace')!r}"
                )
            if method != member.method or (flags & FLAG_ENCRYPTED) != (member.flags & FLAG_ENCRYPTED):
                raise self._fail(f"the local header of {member.name!r} disagrees with the central directory")
            data_offset = member.header_offset + LOCAL.size + name_len + extra_len
            if data_offset + member.compressed_size > cd_offset:
                raise self._fail(f"member {member.name!r} declares more data than the archive holds")
            located.append(replace(member, data_offset=data_offset))
        ordered = sorted(located, key=lambda m: m.header_offset)
        for before, after in itertools.pairwise(ordered):
            if before.data_offset + before.compressed_size > after.header_offset:
                raise self._fail(f"members {before.name!r} and {after.name!r} overlap")
        return located

    # -- data --------------------------------------------------------------------------------

    def raw_chunks(self, member: Member) -> Iterator[bytes]:
        """The member's compressed bytes, as stored."""
        remaining = member.compressed_size
        offset = member.data_offset
        while remaining:
            size = min(CHUNK, remaining)
            chunk = self._read_at(offset, size)
            offset += size
            remaining -= size
            yield chunk

    def _inflated(self, member: Member, limit: int | None) -> Iterator[bytes]:
        """Decompressed chunks; stops after ``limit`` bytes when given.  Never yields more than
        the declared size: more data than declared is an error, not a longer file."""
        produced = 0
        decompressor = zlib.decompressobj(-15) if member.method == DEFLATED else None
        for raw in self.raw_chunks(member):
            pending = raw
            while pending:
                if decompressor is None:
                    out, pending = pending, b""
                else:
                    try:
                        out = decompressor.decompress(pending, CHUNK)
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

    def chunks(self, member: Member) -> Iterator[bytes]:
        """The whole decompressed member, with its CRC checked at the end."""
        crc = 0
        for chunk in self._inflated(member, None):
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


@dataclass(frozen=True)
class Written:
    """What the writer learnt about a member it compressed itself (for RECORD)."""

    sha256: bytes
    size: int


class ZipWriter:
    """Writes an archive member by member to a seekable file, keeping only the central
    directory in memory."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.entries: list[Member] = []

    def _local_header(self, member: Member) -> bytes:
        name = member.name.encode("utf-8")
        needs_zip64 = member.size >= ZIP64_LIMIT or member.compressed_size >= ZIP64_LIMIT
        extra = _without_zip64(member.extra)
        if needs_zip64:
            extra = struct.pack("<HHQQ", ZIP64_EXTRA_ID, 16, member.size, member.compressed_size) + extra
        return LOCAL.pack(
            LOCAL_SIG,
            45 if needs_zip64 else max(member.extract_version, 20),
            member.flags & ~FLAG_DATA_DESCRIPTOR,
            member.method,
            member.dos_time,
            member.dos_date,
            member.crc,
            ZIP64_LIMIT if needs_zip64 else member.compressed_size,
            ZIP64_LIMIT if needs_zip64 else member.size,
            len(name),
            len(extra),
        ) + name + extra

    def copy_raw(self, reader: ZipReader, member: Member) -> None:
        """Copy a member's compressed bytes verbatim; only its offset changes."""
        entry = replace(member, header_offset=self.file.tell(), flags=member.flags & ~FLAG_DATA_DESCRIPTOR)
        self.file.write(self._local_header(entry))
        for chunk in reader.raw_chunks(member):
            self.file.write(chunk)
        self.entries.append(entry)

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
    ) -> Written:
        """Compress and write a member from a stream, hashing it on the way; the local header
        is written first with placeholders and patched once sizes and CRC are known.

        ``template`` is the member this one replaces: its attributes (modes, creator) are kept.
        """
        check_member_name(name)
        dos_time, dos_date = date_time
        zip64 = size_hint >= ZIP64_LIMIT // 2
        entry = Member(
            name=name, method=DEFLATED if compress else STORED, flags=FLAG_UTF8, crc=0,
            compressed_size=ZIP64_LIMIT if zip64 else 0, size=ZIP64_LIMIT if zip64 else 0,
            dos_time=dos_time, dos_date=dos_date,
            external_attr=template.external_attr if template else (mode & 0xFFFF) << 16,
            internal_attr=template.internal_attr if template else 0,
            create_version=template.create_version if template else (3 << 8) | 20,
            extract_version=20, header_offset=self.file.tell(), extra=b"",
        )
        header = self._local_header(entry)
        self.file.write(header)
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15) if compress else None
        crc = 0
        size = 0
        compressed = 0
        digest = hashlib.sha256()
        for chunk in chunks:
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            digest.update(chunk)
            out = compressor.compress(chunk) if compressor else chunk
            compressed += len(out)
            self.file.write(out)
        if compressor:
            out = compressor.flush()
            compressed += len(out)
            self.file.write(out)
        end = self.file.tell()
        if not zip64 and (size >= ZIP64_LIMIT or compressed >= ZIP64_LIMIT):
            raise ArchiveError(f"member {name!r} grew past 4 GiB while being written; this is not supported.")
        entry = replace(entry, crc=crc, size=size, compressed_size=compressed)
        self.file.seek(entry.header_offset)
        new_header = self._local_header(entry)
        assert len(new_header) == len(header)
        self.file.write(new_header)
        self.file.seek(end)
        self.entries.append(entry)
        return Written(digest.digest(), size)

    def add_bytes(self, name: str, data: bytes, *, mode: int, date_time: tuple[int, int]) -> Written:
        return self.add_chunks(name, [data], mode=mode, date_time=date_time, size_hint=len(data))

    def close(self) -> None:
        """Write the central directory and end records (ZIP64 ones only when needed)."""
        cd_offset = self.file.tell()
        for entry in self.entries:
            name = entry.name.encode("utf-8")
            extra_values = []
            usize, csize, offset = entry.size, entry.compressed_size, entry.header_offset
            if usize >= ZIP64_LIMIT:
                extra_values.append(usize)
                usize = ZIP64_LIMIT
            if csize >= ZIP64_LIMIT:
                extra_values.append(csize)
                csize = ZIP64_LIMIT
            if offset >= ZIP64_LIMIT:
                extra_values.append(offset)
                offset = ZIP64_LIMIT
            extra = _without_zip64(entry.extra)
            if extra_values:
                body = struct.pack(f"<{len(extra_values)}Q", *extra_values)
                extra = struct.pack("<HH", ZIP64_EXTRA_ID, len(body)) + body + extra
            self.file.write(
                CENTRAL.pack(
                    CENTRAL_SIG, entry.create_version, 45 if extra_values else max(entry.extract_version, 20),
                    entry.flags & ~FLAG_DATA_DESCRIPTOR, entry.method, entry.dos_time, entry.dos_date,
                    entry.crc, csize, usize, len(name), len(extra), 0, 0, entry.internal_attr,
                    entry.external_attr, offset,
                )
                + name
                + extra
            )
        cd_end = self.file.tell()
        cd_size = cd_end - cd_offset
        count = len(self.entries)
        if count >= ZIP64_COUNT_LIMIT or cd_offset >= ZIP64_LIMIT or cd_size >= ZIP64_LIMIT:
            self.file.write(ZIP64_EOCD.pack(ZIP64_EOCD_SIG, ZIP64_EOCD.size - 12, 45, 45, 0, 0, count, count, cd_size, cd_offset))
            self.file.write(ZIP64_LOCATOR.pack(ZIP64_LOCATOR_SIG, 0, cd_end, 1))
            self.file.write(EOCD.pack(EOCD_SIG, 0, 0, min(count, ZIP64_COUNT_LIMIT), min(count, ZIP64_COUNT_LIMIT),
                                      min(cd_size, ZIP64_LIMIT), min(cd_offset, ZIP64_LIMIT), 0))
        else:
            self.file.write(EOCD.pack(EOCD_SIG, 0, 0, count, count, cd_size, cd_offset, 0))
