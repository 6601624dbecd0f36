"""Zip archives as streams of members, with raw copy of compressed bytes.

``zipfile`` cannot copy a member without decompressing and recompressing it, and it trusts the
archive more than a tool that runs on anyone's wheels should.  The rooms: :mod:`.format` (the
records and a member), :mod:`.names` (which names are safe; digests of lists of them),
:mod:`.central` (the central directory, in windows), :mod:`.data` (members' data, checked as
read), :mod:`.reader` (every entry checked, local headers cross-checked), :mod:`.deflate` (a
member's stream, on one core or several) and :mod:`.writer` (raw copies and new members).
"""

from __future__ import annotations

from ..atomic import portable_io
from .central import MAX_COMMENT_SEARCH
from .data import HEAD_READ_SLACK
from .deflate import DEFLATE_BLOCK, DEFLATE_WINDOW, ContentDigest, Deflated, Deflater, deflate_block
from .format import (
    CENTRAL,
    EOCD,
    LOCAL,
    ZIP64_EOCD_SIG,
    ZIP64_LIMIT,
    ZIP64_LOCATOR_SIG,
    CentralEntry,
    Member,
    dos_datetime,
)
from .names import NamesDigest, check_member_name, folded, name_hash
from .reader import WrittenArchive, ZipReader
from .writer import ZipWriter

__all__ = [
    "CENTRAL",
    "DEFLATE_BLOCK",
    "DEFLATE_WINDOW",
    "EOCD",
    "HEAD_READ_SLACK",
    "LOCAL",
    "MAX_COMMENT_SEARCH",
    "ZIP64_EOCD_SIG",
    "ZIP64_LIMIT",
    "ZIP64_LOCATOR_SIG",
    "CentralEntry",
    "ContentDigest",
    "Deflated",
    "Deflater",
    "Member",
    "NamesDigest",
    "WrittenArchive",
    "ZipReader",
    "ZipWriter",
    "check_member_name",
    "deflate_block",
    "dos_datetime",
    "folded",
    "name_hash",
    "portable_io",
]
