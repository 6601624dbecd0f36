"""Carrying out a repair plan: one streaming pass from the input wheel to the output.

Unchanged members are copied as compressed bytes; patched modules are decompressed as a
stream, their first section replaced, and recompressed; vendored libraries are added first
(see :func:`~pyodide_auditwheel.record.vendored_first`); RECORD is rewritten last.  The
output is written to a temporary file beside the target, checked, and renamed over the
target only when everything succeeded, so an interrupted repair leaves the input untouched.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ..errors import AuditwheelError, InternalError
from ..wheel.atomic import atomic_output, make_directories, remove_directories
from ..wheel.inputs import WheelArchive
from ..wheel.record import RecordRow, vendored_first
from ..wheel.zipio import (
    ContentDigest,
    Member,
    ZipWriter,
)
from .ahead import AheadOfTime
from .checks import RecordPolicy, UnchangedCrcCheck, WrittenLayout, check_written
from .patch import ModulePatch
from .plan import RepairPlan, VendoredLibrary
from .sources import (
    AHEAD_BUDGET,
    DeflatePool,
    MemberSources,
    Rewritten,
    StreamOpener,
    new_member_time,
    rewritten_weight,
)

if TYPE_CHECKING:
    pass

VENDORED_MODE = 0o100755
ProgressHook = Callable[[int], None]


@dataclass(frozen=True)
class ApplyOutcome:
    output: Path
    changed: bool
    stripped_bytes: int
    record_problems: tuple[str, ...]


class WheelRewriter:
    """The repair's one writer: RECORD checked (``RecordPolicy``), the members of
    ``MemberSources`` streamed or compressed ahead into one archive (``_write_archive``, which
    returns its layout), the output made atomically and checked (``check_written``) before
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
                self.sources.jobs_ahead(), AHEAD_BUDGET, rewritten_weight, threaded=self.reader.fd is not None
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
                self.record_policy.check_every_member(self.record)
            crc_check = (
                None
                if self.verify_record  # every member was read already
                else UnchangedCrcCheck.of_plan(self.reader, self.plan, self.record.path, self.deflate_pool)
            )
            created = make_directories(output.parent)
            try:
                if self.plan.is_noop:
                    if output.resolve() != self.source.path.resolve():
                        self._atomic(output, self._copy_input, crc_check)
                    return ApplyOutcome(output, False, 0, tuple(self.record_policy.problems))
                self._atomic(output, functools.partial(self._write_archive, ahead=ahead), crc_check)
            except BaseException:
                remove_directories(created)  # "nothing was changed" holds for directories too
                raise
        return ApplyOutcome(output, True, self.stripped_bytes, tuple(self.record_policy.problems))

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
            check_written(handle, self.plan, self.reader, self.record.path, layout)

    def _copy_input(self, handle: BinaryIO) -> WrittenLayout:
        """Nothing to change: the output is the input, byte for byte."""
        self.source.copy_to(handle)
        return WrittenLayout()

    def _write_archive(self, handle: BinaryIO, ahead: AheadOfTime[Rewritten]) -> WrittenLayout:
        writer = ZipWriter(handle, level=self.plan.compression_level)
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
                data = metadata_content(self.plan, member.name, vendored_digests)
                written = writer.add_bytes(
                    member.name, data, mode=member.mode or 0o100644, date_time=(member.dos_time, member.dos_date)
                )
                replaced[member.name] = RecordRow.of(member.name, written)
            else:
                writer.copy_raw(self.reader, member)
            self.progress(member.compressed_size)
        self._write_metadata_and_record(writer, replaced, added, vendored_digests, created)
        writer.close()
        return WrittenLayout(frozenset(writer.spot_checks))

    def _write_metadata_and_record(
        self,
        writer: ZipWriter,
        replaced: dict[str, RecordRow],
        added: list[RecordRow],
        vendored: dict[str, ContentDigest],
        created: tuple[int, int],
    ) -> None:
        """The archive's tail: the ``.dist-info`` files the repair adds, then RECORD, which
        lists every member as written."""
        for path in self.plan.new_metadata_paths:
            written = writer.add_bytes(
                path, metadata_content(self.plan, path, vendored), mode=0o100644, date_time=created
            )
            added.append(RecordRow.of(path, written))
        record_member = self.reader.by_name[self.record.path]
        writer.add_chunks(
            self.record.path,
            self.record.rewritten(replaced, added, set(self.plan.removed)),
            mode=record_member.mode or 0o100644,
            date_time=(record_member.dos_time, record_member.dos_date),
            size_hint=record_member.size * 2,
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


def _mode_of(path: Path) -> int:
    """The input's permission bits, so an in-place repair does not change them."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o644


def metadata_content(plan: RepairPlan, path: str, vendored: dict[str, ContentDigest]) -> bytes:
    """WHEEL retagged, or the SBOM, made from the digests of the vendored libraries as
    written (they come before every ``.dist-info`` file)."""
    if plan.retag is not None and path == plan.retag.wheel_file:
        return plan.retag.wheel_text
    if plan.sbom is None or path != plan.sbom.path:
        raise InternalError(f"internal error: no content planned for {path}.")
    return plan.sbom.render(
        [(lib.dest, vendored[lib.dest].sha256.hex(), lib.source.name, lib.sha256_hex) for lib in plan.vendored]
    )
