"""Where each new member's bytes come from: a patched module decompressed as a stream, its
first section replaced; a vendored library read from its file, its member or the bytes read
before the write; each hashed as it is read (RECORD's row is checked against that), and
those small enough compressed ahead on a second core.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import AuditwheelError
from ..graph.libsearch import library_chunks
from ..wasm.dylink import bounded_first_section_extent, read_head
from ..wasm.sections import HEADER
from ..wasm.strip import strip_debug
from ..wheel.atomic import usable_cores
from ..wheel.zipio import (
    ContentDigest,
    Deflated,
    Deflater,
    Member,
    ZipReader,
    dos_datetime,
)
from .patch import ModulePatch
from .plan import RepairPlan, VendoredLibrary

if TYPE_CHECKING:
    from concurrent.futures import Executor

    pass


# Members up to this size are compressed ahead on a worker thread while the writer copies the
# rest (zlib releases the GIL); finished ones wait within AHEAD_BUDGET bytes.
AHEAD_MAX_MEMBER = 8 << 20


AHEAD_BUDGET = 8 << 20


# Opens a rewritten member's source: its bytes as read (hashed) and its new content.
StreamOpener = Callable[[], "tuple[HashingStream, Iterator[bytes]]"]


@dataclass(frozen=True)
class Rewritten:
    """A member's new content, compressed ahead, and what it was made from."""

    deflated: Deflated
    source: ContentDigest


def rewritten_weight(result: Rewritten) -> int:
    return result.deflated.compressed_size


def patch_module_stream(chunks: Iterable[bytes], patch: ModulePatch, what: str) -> Iterator[bytes]:
    """Rewrite the dylink section at the head of a module stream; the rest passes through.

    Only the first section is buffered (with ``patch.strip`` also the head of each section
    after it, which stripping reads to decide).
    """
    iterator = iter(chunks)
    buffer = bytearray()
    extent: int | None = None
    for chunk in iterator:
        buffer += chunk
        extent = bounded_first_section_extent(buffer, what)
        if extent is not None and len(buffer) >= extent:
            break
    head = read_head(bytes(buffer[: extent if extent is not None else len(buffer)]), what)
    dylink = head.dylink
    if patch.needed is not None:
        dylink = dylink.with_needed(patch.needed)
    if patch.runtime_paths is not None:
        dylink = dylink.with_runtime_paths(patch.runtime_paths)
    new_head = HEADER + dylink.encode()
    if patch.strip:
        yield from strip_debug(itertools.chain([new_head, bytes(buffer[head.first_section_end :])], iterator), what)
        return
    yield new_head
    yield bytes(buffer[head.first_section_end :])
    yield from iterator


class HashingStream:
    """Passes chunks through while hashing them, so bytes read anyway are checked for free."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.chunks = chunks
        self.digest = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.digest.update(chunk)
            self.size += len(chunk)
            yield chunk

    def seen(self) -> ContentDigest:
        return ContentDigest(self.digest.digest(), self.size)


def new_member_time(reader: ZipReader) -> tuple[int, int]:
    """Timestamp for members we create: ``SOURCE_DATE_EPOCH`` if set, else the newest time in
    the input wheel, so the output never depends on when the repair ran."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None:
        try:
            seconds = int(epoch)
        except ValueError:
            raise AuditwheelError(f"SOURCE_DATE_EPOCH={epoch!r} is not a whole number of seconds.") from None
        try:
            return dos_datetime(seconds)
        except (OverflowError, OSError, ValueError):
            raise AuditwheelError(
                f"SOURCE_DATE_EPOCH={epoch!r} is out of range: a time this system cannot convert."
            ) from None
    return reader.newest_date_time


class MemberSources:
    """Where the repair's new members come from, as streams: each patched module as read and
    as patched, each vendored library as read and as it goes into the wheel; and which of
    them are compressed ahead, on the worker, in the order the writer will want them."""

    def __init__(self, reader: ZipReader, plan: RepairPlan) -> None:
        self.reader = reader
        self.plan = plan

    def jobs_ahead(self) -> dict[str, Callable[[], Rewritten]]:
        """Members to compress ahead, in the order docs/design.md explains (vendored libraries
        first); members over AHEAD_MAX_MEMBER are streamed instead, so none is held whole."""
        level = self.plan.compression_level
        positioned: list[tuple[int, str, Callable[[], Rewritten]]] = [
            (-1, library.dest, functools.partial(self.rewrite, functools.partial(self.vendored, library), level))
            for library in self.plan.vendored
            if library.size <= AHEAD_MAX_MEMBER
        ]
        positioned += [
            (
                member.position,
                member.name,
                functools.partial(self.rewrite, functools.partial(self.patched, member, patch), level),
            )
            for name, patch in self.plan.patches.items()
            if (member := self.reader.by_name.get(name)) is not None and member.size <= AHEAD_MAX_MEMBER
        ]
        # sorted() is stable: the vendored libraries keep the plan's order.
        return {key: job for _, key, job in sorted(positioned, key=lambda entry: entry[0])}

    def patched(self, member: Member, patch: ModulePatch) -> tuple[HashingStream, Iterator[bytes]]:
        """The member's bytes as read (hashed, for RECORD) and as patched."""
        original = HashingStream(self.reader.chunks(member))
        return original, patch_module_stream(original, patch, f"module {member.name}")

    def vendored(self, library: VendoredLibrary) -> tuple[HashingStream, Iterator[bytes]]:
        """The library's bytes as read and as they go into the wheel (patched if the plan says
        so).  Once the file is read to the end, its digest must still be the one the plan
        named the library by and wrote into RECORD."""
        if library.member is not None:  # merged copies: read from the wheel, checked against RECORD
            member = self.reader.by_name[library.member]
            original = HashingStream(self.reader.chunks(member))
        elif library.data is not None:  # read from another wheel of the call before any was replaced
            original = HashingStream(iter([library.data]))
        else:
            original = HashingStream(library_chunks(library.source))

        def unchanged() -> Iterator[bytes]:
            yield from original
            if library.member is None and original.digest.hexdigest() != library.sha256_hex:
                raise AuditwheelError(f"{library.source} changed while the wheel was being repaired.")

        patch = self.plan.patches.get(library.dest)
        return original, unchanged() if patch is None else patch_module_stream(
            unchanged(), patch, f"library {library.source}"
        )

    @staticmethod
    def rewrite(stream: StreamOpener, level: int) -> Rewritten:
        """A job for the worker: the member's new content compressed into memory."""
        original, content = stream()
        deflated = Deflater(level=level).deflate_all(content)
        return Rewritten(deflated, original.seen())


class DeflatePool:
    """The worker threads, one per usable core: they compress the blocks of members too large
    to compress ahead, and check the CRC of the members copied unchanged."""

    def __init__(self) -> None:
        self._pool: Executor | None = None
        self.workers = usable_cores()

    def __call__(self) -> Executor:
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="deflate")
        return self._pool

    def __enter__(self) -> DeflatePool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
