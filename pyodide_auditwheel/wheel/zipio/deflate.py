"""Deflating a member's stream, on one core or several, into the same bytes either way."""

from __future__ import annotations

import hashlib
import zlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...errors import InternalError
from .format import DEFLATED, STORED

if TYPE_CHECKING:  # importing concurrent.futures costs 30 ms, a tenth of a `show`
    from concurrent.futures import Executor, Future

# A member's deflate stream is made of blocks of this many input bytes, each primed with the
# DEFLATE_WINDOW bytes before it (all a deflate stream can refer back to), so that blocks can
# be compressed on several cores at once.
DEFLATE_BLOCK = 1 << 20
DEFLATE_WINDOW = 32 * 1024
# zlib's own default, which pip, zipfile and pypa/auditwheel write with; -z sets another.
DEFAULT_LEVEL = 6


def _compressor(dictionary: bytes, level: int = DEFAULT_LEVEL) -> zlib._Compress:
    if dictionary:
        return zlib.compressobj(level, zlib.DEFLATED, -15, zdict=dictionary)
    return zlib.compressobj(level, zlib.DEFLATED, -15)


def deflate_block(block: bytes, dictionary: bytes, last: bool, level: int = DEFAULT_LEVEL) -> bytes:
    """One block of a raw deflate stream: primed with what precedes it, and ended with a
    sync flush (byte-aligned, so the next block's output can simply follow) or, for the last
    block, with the end of the stream.  A stream of one block is plain zlib output."""
    compressor = _compressor(dictionary, level)
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

    def __init__(
        self,
        compress: bool = True,
        pool: Executor | None = None,
        *,
        in_flight: int = 2,
        block_size: int = DEFLATE_BLOCK,
        level: int = DEFAULT_LEVEL,
    ) -> None:
        self.method = DEFLATED if compress else STORED
        self._level = level
        self._compress = compress
        self._pool = pool
        self._in_flight = in_flight
        self._block_size = block_size
        # The last input bytes (at least DEFLATE_WINDOW of them, once there are): the
        # dictionary of the next block.
        self._tail = bytearray()
        # Without a pool: the current block's compressor, and how much input it has had.
        self._current = _compressor(b"", level)
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
                self._current = _compressor(bytes(self._tail[-DEFLATE_WINDOW:]), self._level)
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
        if self._pool is None:  # feed() and finish() call this only with a pool
            raise InternalError("internal error: a block started without a thread pool.")
        dictionary = bytes(self._tail[-DEFLATE_WINDOW:])
        self._remember(block)
        self._blocks.append(self._pool.submit(deflate_block, block, dictionary, last, self._level))

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
        return Deflated(
            tuple(piece for piece in out if piece), self.method, self.crc, self.size, self.compressed_size, self.sha256
        )


@dataclass(frozen=True)
class ContentDigest:
    """The SHA-256 (raw bytes) and size of a member's uncompressed content: what RECORD says
    of a member, and what a rewritten member was made from."""

    sha256: bytes
    size: int


@dataclass(frozen=True)
class Deflated:
    """A member compressed ahead of being written."""

    chunks: tuple[bytes, ...]
    method: int
    crc: int
    size: int
    compressed_size: int
    sha256: bytes
