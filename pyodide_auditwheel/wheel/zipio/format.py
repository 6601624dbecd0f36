"""The zip format: record layouts, signatures, flags, and a member as the directory says it.

Only what wheels use: stored (0) and deflate (8) members, ZIP64 where sizes or counts need it.
"""

from __future__ import annotations

import stat
import struct
import time
from dataclasses import dataclass
from typing import NamedTuple

EOCD_SIG = 0x06054B50
ZIP64_EOCD_SIG = 0x06064B50
ZIP64_LOCATOR_SIG = 0x07064B50
CENTRAL_SIG = 0x02014B50
LOCAL_SIG = 0x04034B50

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
# How much of the central directory is read at a time (and kept deflated by the writer).
CD_WINDOW = 256 * 1024


class CentralEntry(NamedTuple):
    """The fixed fields of a central-directory entry, in :data:`CENTRAL`'s order (name, extra
    field and comment follow it in the archive)."""

    signature: int
    create_version: int
    extract_version: int
    flags: int
    method: int
    dos_time: int
    dos_date: int
    crc: int
    compressed_size: int
    size: int
    name_length: int
    extra_length: int
    comment_length: int
    disk_start: int
    internal_attr: int
    external_attr: int
    header_offset: int


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
    position: int = -1

    @property
    def is_dir(self) -> bool:
        return self.name.endswith("/")

    @property
    def mode(self) -> int:
        return (self.external_attr >> 16) & 0xFFFF

    @property
    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self.mode)


def dos_datetime(epoch: float) -> tuple[int, int]:
    """(time, date) in MS-DOS format, clamped to the range a zip can express."""
    t = time.gmtime(max(epoch, 315532800))
    year = min(max(t.tm_year, 1980), 2107)
    dos_date = ((year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday
    dos_time = (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2)
    return dos_time, dos_date


def split_extra(extra: bytes) -> list[tuple[int, bytes]]:
    fields = []
    pos = 0
    while pos + 4 <= len(extra):
        field_id, size = struct.unpack_from("<HH", extra, pos)
        fields.append((field_id, extra[pos + 4 : pos + 4 + size]))
        pos += 4 + size
    return fields


def without_zip64(extra: bytes) -> bytes:
    return b"".join(
        struct.pack("<HH", fid, len(body)) + body for fid, body in split_extra(extra) if fid != ZIP64_EXTRA_ID
    )
