"""The central directory of a zip archive, found from its end record (ZIP64 records
followed and cross-checked) and streamed in windows, never held whole; member names decoded
as pip reads them.  The foundation the reader's checks and data reads stand on."""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

from ...errors import ArchiveError
from .format import (
    CD_WINDOW,
    CENTRAL,
    CENTRAL_SIG,
    EOCD,
    FLAG_UTF8,
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

MAX_COMMENT_SEARCH = 0xFFFF + EOCD.size


def real_fd(file: BinaryIO) -> int | None:
    """The OS file descriptor behind ``file``, if it has one (in-memory files do not)."""
    try:
        return file.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None


class CentralDirectory:
    """Where an archive's central directory is, and its entries, one window at a time."""

    def __init__(self, file: BinaryIO, display: str) -> None:
        self.file = file
        self.display = display
        self.fd = real_fd(file)
        file.seek(0, 2)
        self.file_size = file.tell()
        self._cd_offset, self._cd_size, self.count = self._locate_central_directory()

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
