"""Writing a zip archive member by member: unchanged members copied as stored bytes (in
runs, by the kernel where it can), new ones compressed from a stream or ahead of time, the
central directory kept deflated until the end records are written."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, BinaryIO

from ...errors import ArchiveError, InternalError
from ..atomic import portable_io
from .central import real_fd
from .deflate import DEFAULT_LEVEL, ContentDigest, Deflated, Deflater
from .format import (
    DEFLATED,
    FLAG_DATA_DESCRIPTOR,
    FLAG_UTF8,
    STORED,
    ZIP64_LIMIT,
    Member,
    without_zip64,
)
from .names import check_member_name
from .reader import ZipReader
from .records import ArchiveRecords, EntryFields

if TYPE_CHECKING:
    from concurrent.futures import Executor


class ZipWriter(ArchiveRecords):
    """Writes an archive member by member to a seekable file.

    The central directory is accumulated as its final encoded bytes, deflated in blocks, not
    as objects: memory stays small however many members pass.
    """

    def __init__(self, file: BinaryIO, *, level: int = DEFAULT_LEVEL) -> None:
        super().__init__(file)
        # The deflate level of the members this writer compresses (not of those it copies).
        self.level = level
        # Members copied byte for byte are gathered into runs that are contiguous in their
        # archive, and each run is copied in one go (by the kernel where it can).
        self._run: tuple[ZipReader, int, int] | None = None
        self._run_output_start = 0
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
        source, target = reader.fd, real_fd(self.file)
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

    def copy_raw(self, reader: ZipReader, member: Member, name: str | None = None) -> None:
        """Copy a member of ``reader`` without recompressing it, under ``name`` if given.

        When its local header already says what the central entry says, header and data are
        copied byte for byte (with its neighbours, in one go); otherwise a clean local header
        is written and the compressed data copied after it.
        """
        new_name = name or member.name
        flags = member.flags & ~FLAG_DATA_DESCRIPTOR
        extra = without_zip64(member.extra) if member.extra else b""
        if name is None and reader.can_copy_verbatim(member):
            data_end = member.data_offset + member.compressed_size
            self._copy_verbatim(
                reader, member.name, member, new_name.encode("utf-8"), extra, member.header_offset, data_end
            )
            return
        self._flush_run()
        self.spot_checks.add(new_name)
        entry = replace(
            member,
            name=new_name,
            flags=flags if new_name.isascii() else flags | FLAG_UTF8,
            extra=extra,
            header_offset=self._end,
        )
        self.file.write(self._local_header(entry))
        for chunk in reader.raw_chunks(member):
            self.file.write(chunk)
        self._add_to_directory(entry)
        self._end = self.file.tell()

    def copy_from(
        self, reader: ZipReader, handed_over: Callable[[str], bool], progress: Callable[[int], None] | None = None
    ) -> Iterator[Member]:
        """Copy ``reader``'s members in order, handing those ``handed_over`` selects to the caller,
        who writes them (or not) before asking for the next.

        This is the loop every unchanged member of a repair goes through, so it avoids making
        objects: a member without an extra field (which may hold ZIP64 values to decode) is
        encoded straight from the input's fields.
        """
        for position, raw_name, entry, extra in reader.raw_entries():
            name = reader.decode_name(raw_name, entry.flags)
            if handed_over(name):
                yield reader.member_at(position, raw_name, entry, extra)
                continue
            if extra or not reader.verbatim(position):
                self.copy_raw(reader, reader.member_at(position, raw_name, entry, extra))
            else:
                data_end = reader.data_offset(position) + entry.compressed_size
                self._copy_verbatim(reader, name, entry, raw_name, b"", entry.header_offset, data_end)
            if progress is not None:
                progress(entry.compressed_size)

    def _copy_verbatim(
        self,
        reader: ZipReader,
        name: str,
        entry: EntryFields,
        raw_name: bytes,
        extra: bytes,
        header_offset: int,
        data_end: int,
    ) -> None:
        """The one byte-for-byte path, for the members the reader found verbatim (their local
        header repeats the central entry): local header and data, ``[header_offset,
        data_end)``, join the run copied in one go, and the central entry is the input's at its
        new offset."""
        offset = self._extend_run(reader, name, header_offset, data_end)
        self._append_central(entry, raw_name, extra, offset)

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

    def _new_entry(
        self, name: str, method: int, mode: int, date_time: tuple[int, int], template: Member | None
    ) -> Member:
        """The entry of a member this writer composes, at the current end of the archive (its
        data offset is set once its local header is written)."""
        check_member_name(name)
        self._flush_run()
        self.spot_checks.add(name)
        dos_time, dos_date = date_time
        return Member(
            name=name,
            method=method,
            flags=FLAG_UTF8,
            crc=0,
            compressed_size=0,
            size=0,
            dos_time=dos_time,
            dos_date=dos_date,
            external_attr=template.external_attr if template else (mode & 0xFFFF) << 16,
            internal_attr=template.internal_attr if template else 0,
            create_version=template.create_version if template else (3 << 8) | 20,
            extract_version=20,
            header_offset=self.file.tell(),
            extra=b"",
            data_offset=-1,
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
    ) -> ContentDigest:
        """Compress and write a member from a stream, hashing it on the way; the local header
        is written first with placeholders and patched once sizes and CRC are known.

        ``template`` is the member this one replaces: its attributes (modes, creator) are kept.
        With a ``pool``, the member is compressed on its threads (see :class:`Deflater`).
        """
        entry = self._new_entry(name, DEFLATED if compress else STORED, mode, date_time, template)
        zip64 = size_hint >= ZIP64_LIMIT // 2
        if zip64:
            entry = replace(entry, compressed_size=ZIP64_LIMIT, size=ZIP64_LIMIT)
        header = self._local_header(entry)
        self.file.write(header)
        deflater = Deflater(compress, pool, level=self.level)
        for chunk in chunks:
            self.file.write(deflater.feed(chunk))
        self.file.write(deflater.finish())
        end = self.file.tell()
        if not zip64 and (deflater.size >= ZIP64_LIMIT or deflater.compressed_size >= ZIP64_LIMIT):
            raise ArchiveError(f"member {name!r} grew past 4 GiB while being written; this is not supported.")
        entry = replace(
            entry,
            crc=deflater.crc,
            size=deflater.size,
            compressed_size=deflater.compressed_size,
            data_offset=entry.header_offset + len(header),
        )
        self.file.seek(entry.header_offset)
        new_header = self._local_header(entry)
        if len(new_header) != len(header):  # the placeholders reserve the final header's size
            raise InternalError(f"internal error: the local header of {name!r} changed size.")
        self.file.write(new_header)
        self.file.seek(end)
        self._add_to_directory(entry)
        self._end = end
        return ContentDigest(deflater.sha256, deflater.size)

    def add_deflated(
        self, name: str, deflated: Deflated, *, mode: int, date_time: tuple[int, int], template: Member | None = None
    ) -> ContentDigest:
        """Write a member compressed beforehand (see :class:`Deflater`)."""
        entry = self._new_entry(name, deflated.method, mode, date_time, template)
        entry = replace(entry, crc=deflated.crc, size=deflated.size, compressed_size=deflated.compressed_size)
        header = self._local_header(entry)
        self.file.write(header)
        for chunk in deflated.chunks:
            self.file.write(chunk)
        self._end = self.file.tell()
        self._add_to_directory(replace(entry, data_offset=entry.header_offset + len(header)))
        return ContentDigest(deflated.sha256, deflated.size)

    def add_bytes(self, name: str, data: bytes, *, mode: int, date_time: tuple[int, int]) -> ContentDigest:
        return self.add_chunks(name, [data], mode=mode, date_time=date_time, size_hint=len(data))

    def close(self) -> None:
        """The last run copied, then the central directory and end records."""
        self._flush_run()
        self._write_end()
