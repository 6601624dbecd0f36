"""Carrying out a repair plan: one streaming pass from the input wheel to the output.

Unchanged members are copied as compressed bytes; patched modules are decompressed as a
stream, their first section replaced, and recompressed; vendored libraries are added first
(see :func:`~pyodide_auditwheel.record.vendored_first`); RECORD is rewritten last.  The
output is written to a temporary file beside the target, checked, and renamed over the
target only when everything succeeded, so an interrupted repair leaves the input untouched.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ..errors import AuditwheelError, InternalError, RecordError
from ..graph.libsearch import library_chunks
from ..wasm.dylink import bounded_first_section_extent, read_head
from ..wasm.sections import HEADER
from ..wasm.strip import strip_debug
from ..wheel.atomic import atomic_output, make_directories, remove_directories, usable_cores
from ..wheel.inputs import WheelArchive
from ..wheel.record import RECORD_CHUNK, Record, RecordRow, vendored_first
from ..wheel.zipio import (
    ContentDigest,
    Deflated,
    Deflater,
    Member,
    NamesDigest,
    WrittenArchive,
    ZipReader,
    ZipWriter,
    dos_datetime,
)
from .ahead import AheadOfTime
from .patch import ModulePatch
from .plan import RepairPlan, VendoredLibrary

if TYPE_CHECKING:
    from concurrent.futures import Executor

VENDORED_MODE = 0o100755
# Members up to this size are compressed ahead on a worker thread while the writer copies the
# rest (zlib releases the GIL); finished ones wait within AHEAD_BUDGET bytes.
AHEAD_MAX_MEMBER = 8 << 20
AHEAD_BUDGET = 8 << 20
ProgressHook = Callable[[int], None]
# Opens a rewritten member's source: its bytes as read (hashed) and its new content.
StreamOpener = Callable[[], "tuple[HashingStream, Iterator[bytes]]"]


@dataclass(frozen=True)
class Rewritten:
    """A member's new content, compressed ahead, and what it was made from."""

    deflated: Deflated
    source: ContentDigest


def _rewritten_weight(result: Rewritten) -> int:
    return result.deflated.compressed_size


@dataclass(frozen=True)
class ApplyOutcome:
    output: Path
    changed: bool
    stripped_bytes: int
    record_problems: tuple[str, ...]


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


class UnchangedCrcCheck:
    """The CRC of every member a repair writes unchanged, checked by inflating it on the worker
    threads while the archive is written (zlib lets go of the GIL): a member whose bytes fail
    their CRC would make the copy an invalid wheel, so the repair is refused instead of passing
    it through.  Without a pool (an input that is not a file) the check runs in ``result``.

    The members are taken from the directory a batch at a time, as the workers get to them:
    listing them all up front would hold every member of the wheel at once, so memory would
    grow with the wheel.  Each batch is a task of its own, which queues the next, so the
    blocks other tasks compress are not kept waiting behind the whole check."""

    BATCH_BYTES = 8 << 20  # compressed bytes per task: few tasks, each long enough to pay for itself

    def __init__(self, reader: ZipReader, read_anyway: Collection[str], pool: Executor | None, lanes: int = 1) -> None:
        import threading

        self.reader = reader
        self.pool = pool
        self._members = (member for member in reader if not member.is_dir and member.name not in read_anyway)
        self._lock = threading.Lock()
        self._finished = threading.Condition(self._lock)
        self._error: BaseException | None = None
        self._lanes = 0
        if pool is not None:  # one lane per worker: as many batches at a time as workers
            self._lanes = lanes
            for _ in range(lanes):
                pool.submit(self._lane)

    def _next_batch(self) -> list[Member]:
        batch: list[Member] = []
        weight = 0
        with self._lock:
            if self._error is not None:
                return batch
            for member in self._members:
                batch.append(member)
                weight += member.compressed_size
                if weight >= self.BATCH_BYTES:
                    break
        return batch

    def _drain(self, batch: list[Member]) -> None:
        self.reader.check_data(batch)

    def _lane(self) -> None:
        """One batch, then the next in a new task; the lane ends when none is left, or at the
        first failure (kept for ``result``)."""
        try:
            batch = self._next_batch()
            if batch:
                self._drain(batch)
                assert self.pool is not None
                self.pool.submit(self._lane)
                return
        except BaseException as error:  # re-raised by result(), in the caller's thread
            with self._lock:
                self._error = self._error or error
        with self._lock:
            self._lanes -= 1
            self._finished.notify_all()

    def result(self) -> None:
        """Wait for the checks; the first member that fails raises (one sentence)."""
        if self.pool is None:
            while batch := self._next_batch():
                self._drain(batch)
            return
        with self._lock:
            self._finished.wait_for(lambda: self._lanes == 0)
            if self._error is not None:
                raise self._error


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


class RecordPolicy:
    """What a repair does with RECORD: the rows of the members it reads (all of them with
    ``--verify-record``), and one check of each member's bytes as read against its row; a
    mismatch refuses the repair, or with ``--allow-bad-record`` is kept as a problem to report."""

    def __init__(self, rows: dict[str, RecordRow], reader: ZipReader, allow_bad_record: bool) -> None:
        self.rows = rows
        self.reader = reader
        self.allow_bad_record = allow_bad_record
        self.problems: list[str] = []

    def check(self, member: Member, original: ContentDigest) -> None:
        """A member's bytes as the repair read them, against its RECORD row."""
        problem = Record.check_digest(
            self.rows.get(member.name), member.name, original.sha256, original.size, self._rehash(member)
        )
        if problem is None:
            return
        if not self.allow_bad_record:
            raise RecordError(
                f"bad RECORD: {problem}; the wheel was modified after it was built "
                "(use --allow-bad-record to repair it anyway)."
            )
        self.problems.append(problem)

    def _rehash(self, member: Member) -> Callable[[str], bytes]:
        """A member's digest with another algorithm, for RECORDs not hashed with sha256 (rare:
        the member is read a second time)."""

        def digest(algorithm: str) -> bytes:
            hasher = hashlib.new(algorithm)
            for chunk in self.reader.chunks(member):
                hasher.update(chunk)
            return hasher.digest()

        return digest


@dataclass(frozen=True)
class WrittenLayout:
    """What the archive assembly wrote, for the check of the output: the members whose local
    headers the writer composed or where a byte-for-byte run ends (re-read and checked)."""

    spot_checks: frozenset[str] = frozenset()


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
        positioned: list[tuple[int, str, Callable[[], Rewritten]]] = [
            (-1, library.dest, functools.partial(self.rewrite, functools.partial(self.vendored, library)))
            for library in self.plan.vendored
            if library.size <= AHEAD_MAX_MEMBER
        ]
        positioned += [
            (
                member.position,
                member.name,
                functools.partial(self.rewrite, functools.partial(self.patched, member, patch)),
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
    def rewrite(stream: StreamOpener) -> Rewritten:
        """A job for the worker: the member's new content compressed into memory."""
        original, content = stream()
        deflated = Deflater().deflate_all(content)
        return Rewritten(deflated, original.seen())


class WheelRewriter:
    """The repair's one writer: RECORD checked (``RecordPolicy``), the members of
    ``MemberSources`` streamed or compressed ahead into one archive (``_write_archive``, which
    returns its layout), the output made atomically and checked (``verify_written``) before
    it replaces anything."""

    def __init__(
        self,
        source: WheelArchive,
        plan: RepairPlan,
        *,
        verify_record: bool = False,
        allow_bad_record: bool = False,
        progress: ProgressHook | None = None,
        replaces_input: bool = False,
    ) -> None:
        self.source = source
        # The output takes the input's place under another name (an in-place retag): it must
        # be on disk before the input is removed, as when it replaces the input itself.
        self.replaces_input = replaces_input
        self.reader = source.zip
        self.plan = plan
        self.verify_record = verify_record
        self.allow_bad_record = allow_bad_record
        self.progress = progress or (lambda _n: None)
        self.record = source.record()
        self._record_policy: RecordPolicy | None = None  # once RECORD is checked, in write()
        self.stripped_bytes = 0
        self.deflate_pool = DeflatePool()
        self.sources = MemberSources(self.reader, plan)

    @property
    def record_policy(self) -> RecordPolicy:
        """The RECORD rows the repair checks what it reads against: they exist only once RECORD
        has been checked against the archive, which ``write`` does first."""
        if self._record_policy is None:
            raise InternalError("internal error: a member was checked before RECORD was read.")
        return self._record_policy

    def check_all_hashes(self) -> None:
        """``--verify-record``: every member against its row, before anything is written."""
        for member in self.reader:
            if member.is_dir or not self.record.must_list(member.name):
                continue
            stream = HashingStream(self.reader.chunks(member))
            for _ in stream:
                pass
            self.record_policy.check(member, stream.seen())

    def write(self, output: Path) -> ApplyOutcome:
        """Write the repaired wheel to ``output``; an operating-system failure (no space, no
        permission) becomes one sentence, and nothing is left changed."""
        try:
            return self._write(output)
        except OSError as error:
            where = f" ({error.filename})" if error.filename else ""
            raise AuditwheelError(
                f"cannot write {output}: {error.strerror or error}{where}; nothing was changed."
            ) from None

    def _write(self, output: Path) -> ApplyOutcome:
        # The worker starts compressing while RECORD is checked against the archive.
        with (
            AheadOfTime(
                self.sources.jobs_ahead(), AHEAD_BUDGET, _rewritten_weight, threaded=self.reader.fd is not None
            ) as ahead,
            self.deflate_pool,
        ):
            # Rows of the members whose bytes a repair reads anyway (they are checked for
            # free), or of every member with --verify-record.
            read_here = {*self.plan.patches, *(lib.member for lib in self.plan.vendored if lib.member)}
            keep = (lambda _path: True) if self.verify_record else read_here.__contains__
            self._record_policy = RecordPolicy(
                self.record.check_matches(self.reader, keep), self.reader, self.allow_bad_record
            )
            if self.verify_record:
                self.check_all_hashes()
            created = make_directories(output.parent)
            try:
                if self.plan.is_noop:
                    if output.resolve() != self.source.path.resolve():
                        self._atomic(output, self._copy_input, self._crc_check())
                    return ApplyOutcome(output, False, 0, tuple(self.record_policy.problems))
                self._atomic(output, functools.partial(self._write_archive, ahead=ahead), self._crc_check())
            except BaseException:
                remove_directories(created)  # "nothing was changed" holds for directories too
                raise
        return ApplyOutcome(output, True, self.stripped_bytes, tuple(self.record_policy.problems))

    def _crc_check(self) -> UnchangedCrcCheck | None:
        """The CRC check of the members written as they are (their bytes are copied, not
        read); none with --verify-record, which has read every member already."""
        if self.verify_record:
            return None
        plan = self.plan
        read_anyway = {
            *plan.patches,
            *plan.removed,
            *plan.rewritten_metadata_paths,
            *(library.member for library in plan.vendored if library.member),
            self.record.path,
        }
        pool = self.deflate_pool() if self.reader.fd is not None else None
        return UnchangedCrcCheck(self.reader, read_anyway, pool, self.deflate_pool.workers)

    def _atomic(
        self, output: Path, body: Callable[[BinaryIO], WrittenLayout], crc_check: UnchangedCrcCheck | None = None
    ) -> None:
        # Replacing the input itself: the data reaches the disk before the rename.  A new
        # output puts nothing of the user's at risk and skips the (slow) fsync.
        in_place = self.replaces_input or output.resolve() == self.source.path.resolve()
        with atomic_output(output, _mode_of(self.source.path), durable=in_place) as handle:
            layout = body(handle)
            handle.flush()
            if crc_check is not None:
                crc_check.result()
            try:
                verify_written(handle, self.plan, self.reader, self.record.path, layout)
            except InternalError:
                raise
            except AuditwheelError as error:
                # What was written fails our own check: a bug here, never the input's fault.
                reason = str(error).rstrip(".")
                raise InternalError(
                    f"internal error: the repaired wheel fails its check ({reason}); nothing was written."
                ) from None

    def _copy_input(self, handle: BinaryIO) -> WrittenLayout:
        """Nothing to change: the output is the input, byte for byte."""
        self.source.copy_to(handle)
        return WrittenLayout()

    def _write_archive(self, handle: BinaryIO, ahead: AheadOfTime[Rewritten]) -> WrittenLayout:
        writer = ZipWriter(handle)
        created = new_member_time(self.reader)
        replaced: dict[str, RecordRow] = {}
        added: list[RecordRow] = []
        vendored_digests: dict[str, ContentDigest] = {}  # each vendored library as written
        record_path = self.record.path

        plan = self.plan
        rewritten_metadata = set(plan.rewritten_metadata_paths)

        moved = set(plan.moved_first)
        removed = set(plan.removed)

        def handled_here(name: str) -> bool:
            # Patched members, members moved to the front or merged away, RECORD, and the
            # .dist-info files (WHEEL may be retagged); the writer copies everything else.
            return name in self.plan.patches or name in moved or name in removed or ".dist-info/" in name

        handed = (
            m
            for m in writer.copy_from(self.reader, handled_here, self.progress)
            if m.name != record_path and m.name not in moved and m.name not in removed
        )
        # None marks where the vendored libraries go (first), the same place RECORD lists them;
        # the wheel's own libraries that must precede their users follow them.
        ahead_of_users = [self.reader.by_name[name] for name in plan.moved_first]
        for member in vendored_first(handed, [None, *ahead_of_users]):
            if member is None:
                for library in self.plan.vendored:
                    vendored_digests[library.dest] = self._write_vendored(
                        writer, library, ahead.take(library.dest), created
                    )
                added = [RecordRow.of(dest, digest) for dest, digest in vendored_digests.items()]
                continue
            patch = self.plan.patches.get(member.name)
            if patch is not None:
                replaced[member.name] = self._write_patched(writer, member, patch, ahead.take(member.name))
            elif member.name in rewritten_metadata:
                data = self._metadata_content(member.name, vendored_digests)
                written = writer.add_bytes(
                    member.name, data, mode=member.mode or 0o100644, date_time=(member.dos_time, member.dos_date)
                )
                replaced[member.name] = RecordRow.of(member.name, written)
            else:
                writer.copy_raw(self.reader, member)
            self.progress(member.compressed_size)
        for path in plan.new_metadata_paths:
            written = writer.add_bytes(
                path, self._metadata_content(path, vendored_digests), mode=0o100644, date_time=created
            )
            added.append(RecordRow.of(path, written))
        record_member = self.reader.by_name[self.record.path]
        writer.add_chunks(
            self.record.path,
            self.record.rewritten(replaced, added, removed),
            mode=record_member.mode or 0o100644,
            date_time=(record_member.dos_time, record_member.dos_date),
            size_hint=record_member.size * 2,
        )
        writer.close()
        return WrittenLayout(frozenset(writer.spot_checks))

    def _metadata_content(self, path: str, vendored: dict[str, ContentDigest]) -> bytes:
        """WHEEL retagged, or the SBOM, made from the digests of the vendored libraries as
        written (they come before every ``.dist-info`` file)."""
        plan = self.plan
        if plan.retag is not None and path == plan.retag.wheel_file:
            return plan.retag.wheel_text
        if plan.sbom is None or path != plan.sbom.path:
            raise InternalError(f"internal error: no content planned for {path}.")
        return plan.sbom.render(
            [(lib.dest, vendored[lib.dest].sha256.hex(), lib.source.name, lib.sha256_hex) for lib in plan.vendored]
        )

    def _write_rewritten(
        self,
        writer: ZipWriter,
        name: str,
        ahead: Rewritten | None,
        stream: StreamOpener,
        patch: ModulePatch | None,
        *,
        mode: int,
        date_time: tuple[int, int],
        size_hint: int,
        template: Member | None = None,
    ) -> tuple[ContentDigest, ContentDigest]:
        """Write a member compressed ahead, or else (too large to hold) stream it from its
        source into the archive, compressed on every core; the digest and size of what was
        written (its RECORD row), and of what was read of the source.  What stripping saved is
        counted here."""
        if ahead is not None:
            written = writer.add_deflated(name, ahead.deflated, mode=mode, date_time=date_time, template=template)
            original = ahead.source
        else:
            opened, content = stream()
            written = writer.add_chunks(
                name,
                content,
                mode=mode,
                date_time=date_time,
                size_hint=size_hint,
                template=template,
                pool=self.deflate_pool(),
            )
            original = opened.seen()
        if patch is not None and patch.strip:
            self.stripped_bytes += max(0, original.size - written.size)
        return written, original

    def _write_patched(
        self, writer: ZipWriter, member: Member, patch: ModulePatch, ahead: Rewritten | None
    ) -> RecordRow:
        written, original = self._write_rewritten(
            writer,
            member.name,
            ahead,
            functools.partial(self.sources.patched, member, patch),
            patch,
            mode=member.mode or 0o100755,
            date_time=(member.dos_time, member.dos_date),
            size_hint=member.size,
            template=member,
        )
        self.record_policy.check(member, original)
        return RecordRow.of(member.name, written)

    def _write_vendored(
        self, writer: ZipWriter, library: VendoredLibrary, ahead: Rewritten | None, created: tuple[int, int]
    ) -> ContentDigest:
        written, original = self._write_rewritten(
            writer,
            library.dest,
            ahead,
            functools.partial(self.sources.vendored, library),
            self.plan.patches.get(library.dest),
            mode=VENDORED_MODE,
            date_time=created,
            size_hint=library.size,
        )
        if library.member is not None:  # the wheel's own bytes: checked against RECORD as read
            self.record_policy.check(self.reader.by_name[library.member], original)
        return written


def verify_written(
    handle: BinaryIO, plan: RepairPlan, source: ZipReader, record_path: str, layout: WrittenLayout
) -> None:
    """Re-read what was written before it replaces anything: the central directory; the
    member names (exactly the ``source``'s, the vendored libraries' and new metadata files',
    compared by digest, the libraries first, new metadata files just before RECORD and RECORD
    last); the local header of every member the ``layout`` names (whose header we composed,
    and the ends of every byte-for-byte run); RECORD against the member names; and the CRC of
    every member we compressed ourselves (copied ones keep their original, checked bytes)."""
    handle.seek(0)
    vendored = [library.dest for library in plan.vendored]
    new_metadata = list(plan.new_metadata_paths)
    metadata = [*new_metadata, *plan.rewritten_metadata_paths]
    compressed_here = {*plan.patches, *vendored, *metadata, record_path}
    written = WrittenArchive(
        handle,
        "the repaired wheel",
        lookup=lambda name: name in compressed_here or ".dist-info/" in name,
        spot_check=layout.spot_checks.__contains__,
    )
    added = [*vendored, *new_metadata]
    removed = plan.removed
    expected_digest = source.all_names_digest - NamesDigest.of(removed) + NamesDigest.of(added)
    as_expected = (
        written.count == source.count + len(added) - len(removed) and written.all_names_digest == expected_digest
    )
    if as_expected and not plan.is_noop:
        placed = [written.by_name[dest].position for dest in vendored]
        before_record = [written.by_name[path].position for path in new_metadata]
        record_at = written.by_name[record_path].position
        as_expected = (
            record_at == written.count - 1
            and placed == list(range(len(placed)))
            and before_record == list(range(record_at - len(before_record), record_at))
        )
    if not as_expected:
        raise InternalError(
            "internal error: the repaired wheel does not hold the expected members in their places; "
            "nothing was written."
        )
    if plan.is_noop:
        return  # the output is the input, copied byte for byte
    # CRC of every member we compressed; RECORD's is checked as it is read below.
    for name, member in written.by_name.items():
        if name in compressed_here and name != record_path:
            for _ in written.chunks(member):
                pass
    record_member = written.by_name[record_path]
    record = Record(record_path, lambda: written.chunks(record_member, RECORD_CHUNK))
    record.check_matches(written)


def _mode_of(path: Path) -> int:
    """The input's permission bits, so an in-place repair does not change them."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o644
