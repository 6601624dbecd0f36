"""The records a zip writer composes: local headers, central entries (ZIP64 fields when
needed) gathered as their final encoded bytes, deflated in blocks, and the end records.  What
every member costs in memory is its central entry, compressed."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO, Protocol

from .format import (
    CD_WINDOW,
    CENTRAL,
    CENTRAL_SIG,
    EOCD,
    EOCD_SIG,
    LOCAL,
    LOCAL_SIG,
    ZIP64_COUNT_LIMIT,
    ZIP64_EOCD,
    ZIP64_EOCD_SIG,
    ZIP64_EXTRA_ID,
    ZIP64_LIMIT,
    ZIP64_LOCATOR,
    ZIP64_LOCATOR_SIG,
    Member,
)


class EntryFields(Protocol):
    """What a central entry is encoded from: a :class:`Member`, or, on the loop that copies
    unchanged members, the input's decoded :class:`CentralEntry` (so that loop makes no
    object per member).  Sizes here are the real ones; ZIP64 fields are added on encoding."""

    @property
    def create_version(self) -> int: ...
    @property
    def extract_version(self) -> int: ...
    @property
    def flags(self) -> int: ...
    @property
    def method(self) -> int: ...
    @property
    def dos_time(self) -> int: ...
    @property
    def dos_date(self) -> int: ...
    @property
    def crc(self) -> int: ...
    @property
    def compressed_size(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def internal_attr(self) -> int: ...
    @property
    def external_attr(self) -> int: ...


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


class ArchiveRecords:
    """The output's records: its central directory as it grows, and where the archive ends."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self._directory = _CompressedBuffer()
        self.count = 0
        self._end = file.tell()
        # Members whose local header a check of the output should read: every header this
        # writer composed, and the first and last of each run copied byte for byte (the ones
        # between follow by the same offset arithmetic).
        self.spot_checks: set[str] = set()

    @staticmethod
    def _local_header(entry: Member) -> bytes:
        needs_zip64 = entry.size >= ZIP64_LIMIT or entry.compressed_size >= ZIP64_LIMIT
        name = entry.name.encode("utf-8")
        extra = entry.extra
        if needs_zip64:
            extra = struct.pack("<HHQQ", ZIP64_EXTRA_ID, 16, entry.size, entry.compressed_size) + extra
        return (
            LOCAL.pack(
                LOCAL_SIG,
                45 if needs_zip64 else max(entry.extract_version, 20),
                entry.flags,
                entry.method,
                entry.dos_time,
                entry.dos_date,
                entry.crc,
                ZIP64_LIMIT if needs_zip64 else entry.compressed_size,
                ZIP64_LIMIT if needs_zip64 else entry.size,
                len(name),
                len(extra),
            )
            + name
            + extra
        )

    def _append_central(self, entry: EntryFields, raw_name: bytes, extra: bytes, offset: int) -> None:
        """Encode one central-directory entry for a member whose local header is at ``offset``:
        the one encoder of the directory.  Sizes or an offset past 32 bits go into a ZIP64
        extra field put before ``extra`` (which holds none); no comment is written."""
        usize, csize = entry.size, entry.compressed_size
        zip64_values = []
        if usize >= ZIP64_LIMIT:
            zip64_values.append(usize)
            usize = ZIP64_LIMIT
        if csize >= ZIP64_LIMIT:
            zip64_values.append(csize)
            csize = ZIP64_LIMIT
        if offset >= ZIP64_LIMIT:
            zip64_values.append(offset)
            offset = ZIP64_LIMIT
        if zip64_values:
            body = struct.pack(f"<{len(zip64_values)}Q", *zip64_values)
            extra = struct.pack("<HH", ZIP64_EXTRA_ID, len(body)) + body + extra
        self._directory += (
            CENTRAL.pack(
                CENTRAL_SIG,
                entry.create_version,
                45 if zip64_values else max(entry.extract_version, 20),
                entry.flags,
                entry.method,
                entry.dos_time,
                entry.dos_date,
                entry.crc,
                csize,
                usize,
                len(raw_name),
                len(extra),
                0,
                0,
                entry.internal_attr,
                entry.external_attr,
                offset,
            )
            + raw_name
            + extra
        )
        self.count += 1

    def _add_to_directory(self, entry: Member) -> None:
        self._append_central(entry, entry.name.encode("utf-8"), entry.extra, entry.header_offset)

    def _write_end(self) -> None:
        """Write the central directory and end records (ZIP64 ones only when needed)."""
        cd_offset = self.file.tell()
        for chunk in self._directory.chunks():
            self.file.write(chunk)
        cd_end = self.file.tell()
        cd_size = cd_end - cd_offset
        count = self.count
        if count >= ZIP64_COUNT_LIMIT or cd_offset >= ZIP64_LIMIT or cd_size >= ZIP64_LIMIT:
            self.file.write(
                ZIP64_EOCD.pack(ZIP64_EOCD_SIG, ZIP64_EOCD.size - 12, 45, 45, 0, 0, count, count, cd_size, cd_offset)
            )
            self.file.write(ZIP64_LOCATOR.pack(ZIP64_LOCATOR_SIG, 0, cd_end, 1))
            self.file.write(
                EOCD.pack(
                    EOCD_SIG,
                    0,
                    0,
                    min(count, ZIP64_COUNT_LIMIT),
                    min(count, ZIP64_COUNT_LIMIT),
                    min(cd_size, ZIP64_LIMIT),
                    min(cd_offset, ZIP64_LIMIT),
                    0,
                )
            )
        else:
            self.file.write(EOCD.pack(EOCD_SIG, 0, 0, count, count, cd_size, cd_offset, 0))
        self._directory = _CompressedBuffer()
