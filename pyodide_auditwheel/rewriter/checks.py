"""The checks a repair makes of what it reads and what it wrote: every member copied unchanged
has its CRC checked while the archive is written (``UnchangedCrcCheck``), every member read
is checked against its RECORD row (``RecordPolicy``), and the archive written is read back
and compared with the plan before it replaces anything (``verify_written``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from ..errors import AuditwheelError, InternalError, RecordError
from ..wheel.record import RECORD_CHUNK, Record, RecordRow
from ..wheel.zipio import (
    ContentDigest,
    Member,
    NamesDigest,
    WrittenArchive,
    ZipReader,
)
from .plan import RepairPlan
from .sources import DeflatePool, HashingStream

if TYPE_CHECKING:
    from concurrent.futures import Executor


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

    @classmethod
    def of_plan(cls, reader: ZipReader, plan: RepairPlan, record_path: str, pool: DeflatePool) -> UnchangedCrcCheck:
        """The members a repair writes as they are (their bytes are copied, not read): all
        but those it patches, merges away, rewrites or vendors from, and RECORD."""
        read_anyway = {
            *plan.patches,
            *plan.removed,
            *plan.rewritten_metadata_paths,
            *(library.member for library in plan.vendored if library.member),
            record_path,
        }
        return cls(reader, read_anyway, pool() if reader.fd is not None else None, pool.workers)

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


class RecordPolicy:
    """What a repair does with RECORD: the rows of the members it reads (all of them with
    ``--verify-record``), and one check of each member's bytes as read against its row; a
    mismatch refuses the repair, or with ``--allow-bad-record`` is kept as a problem to report."""

    def __init__(self, rows: dict[str, RecordRow], reader: ZipReader, allow_bad_record: bool) -> None:
        self.rows = rows
        self.reader = reader
        self.allow_bad_record = allow_bad_record
        self.problems: list[str] = []

    def check_every_member(self, record: Record) -> None:
        """``--verify-record``: every member against its row, before anything is written."""
        for member in self.reader:
            if member.is_dir or not record.must_list(member.name):
                continue
            stream = HashingStream(self.reader.chunks(member))
            for _ in stream:
                pass
            self.check(member, stream.seen())

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


def check_written(
    handle: BinaryIO, plan: RepairPlan, source: ZipReader, record_path: str, layout: WrittenLayout
) -> None:
    """:func:`verify_written`, whose every failure is ours: what was written fails our own
    check, a bug here, never the input's fault (exit 4, nothing replaced)."""
    try:
        verify_written(handle, plan, source, record_path, layout)
    except InternalError:
        raise
    except AuditwheelError as error:
        reason = str(error).rstrip(".")
        raise InternalError(
            f"internal error: the repaired wheel fails its check ({reason}); nothing was written."
        ) from None


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
