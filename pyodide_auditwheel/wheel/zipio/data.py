"""Members' data: read as stored, or inflated, with their declared sizes and CRC checked
(a member that inflates past its size is refused as it is read, a bomb never held whole),
the CRC of many members checked in windows, and bounded head reads."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator

from ...errors import ArchiveError, InternalError
from .central import CentralDirectory
from .format import (
    CHUNK,
    DEFLATED,
    Member,
)

HEAD_READ_SLACK = 1024
# check_data reads compressed bytes this much at a time, and inflates in one call a member no
# larger than this either way (a larger one is streamed as chunks() reads it): what a check
# holds per thread stays below that of reading in CHUNK pieces.
CHECK_WINDOW = 64 << 10
# With libdeflate (the ``deflate`` package, where it has a wheel: pyproject's markers), the
# check inflates members up to this size in one call, at twice zlib's speed; a larger one is
# streamed through zlib, so what a thread holds stays bounded.  Without it, stdlib zlib does
# everything: the same check, the same verdicts, slower.
FAST_WHOLE_MAX = 4 << 20


def _libdeflate() -> Callable[[bytes | memoryview, int], bytes | bytearray] | None:
    try:
        from deflate import deflate_decompress
    except ImportError:  # no wheel for this platform or Python: stdlib zlib
        return None
    return deflate_decompress


_fast_inflate = _libdeflate()


class MemberData(CentralDirectory):
    """The data of the archive's members, on the central directory's reads."""

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
        whole_max = FAST_WHOLE_MAX if _fast_inflate is not None else CHECK_WINDOW
        for member in members:
            largest = max(member.compressed_size, member.size)
            if largest > whole_max or member.data_offset < 0:
                for _chunk in self.chunks(member):
                    pass
                continue
            if largest > CHECK_WINDOW:  # whole, but not through the window
                self._check_whole(member, memoryview(self._read_at(member.data_offset, member.compressed_size)))
                continue
            start = member.data_offset - window_start
            if start < 0 or start + member.compressed_size > len(window):
                window_start, start = member.data_offset, 0
                window = self._read_at(window_start, min(CHECK_WINDOW, self._cd_offset - window_start))
            self._check_whole(member, memoryview(window)[start : start + member.compressed_size])

    def _check_whole(self, member: Member, data: memoryview) -> None:
        content: bytes | bytearray | memoryview = data
        if member.method == DEFLATED and _fast_inflate is not None:
            try:
                content = _fast_inflate(data, member.size)
            except Exception:
                content = self._zlib_inflated(member, data)
        elif member.method == DEFLATED:
            content = self._zlib_inflated(member, data)
        if len(content) != member.size:
            raise self._not_its_size(member, len(content))
        if zlib.crc32(content) != member.crc:
            raise self._bad_crc(member)

    def _zlib_inflated(self, member: Member, data: memoryview) -> bytes:
        """The member inflated by zlib, or the error that says what is wrong with its data."""
        decompressor = zlib.decompressobj(-15)
        try:
            content = decompressor.decompress(data, member.size + 1)  # one byte more shows a lie
        except zlib.error:
            raise self._invalid_data(member) from None
        if len(content) > member.size:
            raise self._more_than_declared(member)
        if not decompressor.eof:
            raise self._truncated_stream(member)
        return content

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
