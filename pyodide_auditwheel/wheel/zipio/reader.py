"""Reading a zip archive: the central directory checked entry by entry and streamed in
windows, local headers cross-checked, member data read as stored or inflated with size and CRC
checks, bounded head reads."""

from __future__ import annotations

import itertools
import stat
from array import array
from collections.abc import Callable, Iterator
from typing import BinaryIO

from ...errors import ArchiveError, UnsafePathError
from .data import MemberData
from .format import (
    DEFLATED,
    FLAG_DATA_DESCRIPTOR,
    FLAG_ENCRYPTED,
    FLAG_STRONG_ENCRYPTION,
    FLAG_UTF8,
    LOCAL,
    LOCAL_SIG,
    STORED,
    ZIP64_LIMIT,
    CentralEntry,
    Member,
)
from .names import HashSet, NamesDigest, check_member_name, folded, name_hash

NOT_LOCATED = -1

# Deflate cannot expand data more than ~1032:1; a member declaring more is lying about its
# size, and reading it would be a decompression bomb.
MAX_DEFLATE_RATIO = 1100


def _look_up_all(_name: str) -> bool:
    return True


# APPNOTE 6.3.x is the newest zip specification; a "version needed to extract" above it names
# features no reader here (or pip) knows, so such an archive is refused rather than passed on.
NEWEST_ZIP_VERSION = 63


class ZipReader(MemberData):
    """A read-only view of a zip archive on a seekable binary file.

    The central directory is checked entry by entry when the reader is made (names, flags,
    local headers, duplicates, overlaps) and streamed again, in windows, whenever the members
    are iterated.  What stays in memory per member is 8 bytes (where its data starts), plus
    full entries only for the members ``lookup`` selects for lookup by name: a wheel with
    twice the members does not need twice the memory.  The scan also takes digests of the
    names (see :class:`NamesDigest`), so that they can be compared with another list of them
    without a second pass.
    """

    def __init__(
        self,
        file: BinaryIO,
        display: str = "archive",
        lookup: Callable[[str], bool] | None = None,
    ) -> None:
        super().__init__(file, display)
        self._data_offsets = array("q")
        self._verbatim = bytearray()
        self.by_name: dict[str, Member] = {}
        # hash() of every name as a case-insensitive file system sees it: for the duplicate
        # check, and kept so that a new name can be checked against them all (see holds_folded).
        self._folded_hashes = HashSet(())
        # hash() of every directory the members are in, folded (see holds_under_folded).
        self._folded_dir_hashes = HashSet(())
        # The sums behind all_names_digest and files_digest, kept as plain ints while the
        # scan adds every name (a NamesDigest per member would cost the scan an object each).
        self._all_names_sum = 0
        self._files_sum = 0
        # dos_date << 16 | dos_time of the newest member: the default time of members we add.
        self._newest = 33 << 16
        self._scan(lookup or _look_up_all)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[Member]:
        """Every member, in central-directory order, decoded afresh from the directory."""
        for entry in self.raw_entries():
            yield self.member_at(*entry)

    @property
    def newest_date_time(self) -> tuple[int, int]:
        """(dos_time, dos_date) of the newest member, in the order ZipWriter's ``date_time``
        takes them (1980-01-01 for an empty archive)."""
        return self._newest & 0xFFFF, self._newest >> 16

    def names(self) -> Iterator[str]:
        """Every member's name, in central-directory order (cheaper than whole members)."""
        for raw_name, entry, _extra in self._raw_entries():
            yield self.decode_name(raw_name, entry.flags)

    def holds_folded(self, name: str) -> str | None:
        """The member's name that equals ``name`` once case is folded, if any: a set lookup,
        and a pass over the names only when the hash is there."""
        key = folded(name)
        if hash(key) not in self._folded_hashes:
            return None
        return next((member for member in self.names() if folded(member) == key), None)

    def holds_under_folded(self, name: str) -> str | None:
        """A member inside the directory ``name`` once case is folded, if any: a set lookup,
        and a pass over the names only when the hash is there."""
        key = folded(name)
        if hash(key) not in self._folded_dir_hashes:
            return None
        return next((member for member in self.names() if folded(member).startswith(key + "/")), None)

    def find(self, name: str) -> Member | None:
        """The member called ``name``: from ``by_name`` when it holds it, else by a scan."""
        member = self.by_name.get(name)
        if member is None:
            member = next((m for m in self if m.name == name), None)
        return member

    # -- structure ---------------------------------------------------------------------------

    def member_at(self, position: int, raw_name: bytes, entry: CentralEntry, extra: bytes) -> Member:
        return self._member(raw_name, entry, extra, self._data_offsets[position], position)

    def data_offset(self, position: int) -> int:
        return self._data_offsets[position]

    def verbatim(self, position: int) -> bool:
        return bool(self._verbatim[position])

    def can_copy_verbatim(self, member: Member) -> bool:
        """Whether the member's local header and data can be copied byte for byte: its local
        header repeats the central entry exactly (no data descriptor, no ZIP64 sizes)."""
        return member.position >= 0 and self.verbatim(member.position)

    def _scan(self, lookup: Callable[[str], bool]) -> None:
        """Check every entry once; remember where each member's data starts."""
        # The folded names' hashes, in an array (8 bytes each, a quarter of what a set of them
        # holds): sorted once, repeats are suspects.
        folded_hashes = array("q")
        parents: set[str] = set()  # the directory each member is in
        previous_end = 0
        in_offset_order = True
        for raw_name, entry, extra in self._raw_entries():
            name, csize, usize, header_offset = self._decode(raw_name, entry, extra)
            mode = (entry.external_attr >> 16) & 0xFFFF
            _check_entry(self.display, name, entry.method, entry.flags, csize, usize, mode)
            if entry.extract_version & 0xFF > NEWEST_ZIP_VERSION:
                version = entry.extract_version & 0xFF
                raise ArchiveError(
                    f"unsupported zip archive {self.display}: member {name!r} needs zip version "
                    f"{version // 10}.{version % 10} to be extracted, newer than any this tool knows (6.3)."
                )
            data_offset, verbatim = self._data_offset(name, raw_name, entry, header_offset, csize)
            # A name read as cp437 would be written back as UTF-8, and a UTF-8 name without the
            # UTF-8 flag gets the flag (else the stdlib reads it as cp437): not byte for byte.
            verbatim = verbatim and (
                raw_name.isascii() or (bool(entry.flags & FLAG_UTF8) and raw_name == name.encode("utf-8"))
            )
            self._add_to_digests(name)
            position = len(self._data_offsets)
            self._data_offsets.append(data_offset)
            self._verbatim.append(verbatim)
            folded_hash = hash(folded(name))
            folded_hashes.append(folded_hash)
            slash = name.rfind("/", 0, len(name) - 1)
            if slash > 0:
                parents.add(name[:slash])
            if header_offset < previous_end:
                in_offset_order = False
            previous_end = data_offset + csize
            stamp = entry.dos_date << 16 | entry.dos_time
            if stamp > self._newest:
                self._newest = stamp
            if lookup(name):
                self.by_name[name] = self._member(raw_name, entry, extra, data_offset, position)
        ordered = sorted(folded_hashes)
        del folded_hashes
        suspect_hashes = {first for first, second in itertools.pairwise(ordered) if first == second}
        self._folded_hashes = HashSet(ordered)
        del ordered
        if suspect_hashes:
            self._check_unique(suspect_hashes)
        self._check_files_are_not_directories(parents)
        if not in_offset_order:
            self._check_no_overlap()

    def _add_to_digests(self, name: str) -> None:
        hashed = name_hash(name)
        self._all_names_sum += hashed
        if not name.endswith("/"):
            self._files_sum += hashed

    @property
    def all_names_digest(self) -> NamesDigest:
        """The digest of every member's name, taken during the scan."""
        return NamesDigest(self._all_names_sum)

    @property
    def files_digest(self) -> NamesDigest:
        """The digest of the names of the members that are not directories."""
        return NamesDigest(self._files_sum)

    def _check_unique(self, suspect_hashes: set[int]) -> None:
        """Refuse names that repeat, exactly or once case is folded (they overwrite each other
        on extraction).  The scan kept only the hashes of the folded names; names whose hash
        was seen twice are compared here."""
        seen: dict[str, str] = {}
        for name in self.names():
            key = folded(name)
            if hash(key) not in suspect_hashes:
                continue
            if key in seen:
                what = (
                    "appears twice"
                    if seen[key] == name
                    else f"collides with {seen[key]!r} on file systems blind to case or Unicode normalisation"
                )
                raise UnsafePathError(f"unsafe member {name!r} in the wheel: it {what}.")
            seen[key] = name

    def _check_files_are_not_directories(self, parents: set[str]) -> None:
        """Refuse a file whose name is also a directory of other members (``pkg/a`` and
        ``pkg/a/b``; compared folded, as case twins are): no file system holds both.  A
        directory's folded name is looked for among every member's (a directory entry's ends
        in ``/``, so only a file's matches, but for a collision of hashes, which the names
        then rule out)."""
        directories: dict[int, str] = {}
        for parent in parents:
            while parent and hash(key := folded(parent)) not in directories:
                directories[hash(key)] = parent
                parent = parent[: max(parent.rfind("/"), 0)]
        self._folded_dir_hashes = HashSet(directories)
        clashes = {folded_hash for folded_hash in directories if folded_hash in self._folded_hashes}
        if not clashes:
            return
        for name in self.names():
            if not name.endswith("/") and hash(folded(name)) in clashes:
                directory = directories[hash(folded(name))]
                if folded(directory) == folded(name):
                    raise UnsafePathError(
                        f"unsafe member {name!r} in the wheel: it is a file, and {directory!r} is also a directory "
                        "of other members; no file system holds both."
                    )

    def _data_offset(
        self, name: str, raw_name: bytes, entry: CentralEntry, header_offset: int, csize: int
    ) -> tuple[int, bool]:
        """Where a member's data starts, after checking its local header agrees with its central
        entry (a reader that trusts only one of the two can be shown a different file than
        another tool extracts), and whether the local header repeats the central entry
        exactly, so that the member can be copied byte for byte."""
        flags, method = entry.flags, entry.method
        cd_offset = self._cd_offset
        if header_offset + LOCAL.size > cd_offset:
            raise self._fail(f"member {name!r} starts past the central directory")
        # One read covers the fixed header and the name, which must match the central one.
        header = self._read_at(header_offset, min(LOCAL.size + len(raw_name), cd_offset - header_offset))
        sig, _version, local_flags, local_method, _t, _d, local_crc, local_csize, local_usize, name_len, extra_len = (
            LOCAL.unpack_from(header)
        )
        if sig != LOCAL_SIG:
            raise self._fail(f"the local header of {name!r} is missing")
        if name_len != len(raw_name) or header[LOCAL.size :] != raw_name:
            local_name = self._read_at(
                header_offset + LOCAL.size, min(name_len, max(cd_offset - header_offset - LOCAL.size, 0))
            )
            raise self._fail(
                f"the central directory names {name!r} but its local header names "
                f"{local_name.decode('utf-8', 'replace')!r}"
            )
        if local_method != method or (local_flags & FLAG_ENCRYPTED) != (flags & FLAG_ENCRYPTED):
            raise self._fail(f"the local header of {name!r} disagrees with the central directory")
        data_offset: int = header_offset + LOCAL.size + name_len + extra_len
        if data_offset + csize > cd_offset:
            raise self._fail(f"member {name!r} declares more data than the archive holds")
        verbatim = (
            local_flags == flags
            and not flags & FLAG_DATA_DESCRIPTOR
            and local_crc == entry.crc
            and local_csize == entry.compressed_size != ZIP64_LIMIT
            and local_usize == entry.size != ZIP64_LIMIT
        )
        return data_offset, verbatim

    def _check_no_overlap(self) -> None:
        """Refuse overlapping members, the trick behind non-recursive zip bombs.  Only archives
        whose directory is not in file order get here; they pay for a sort."""
        spans = sorted((m.header_offset, m.data_offset + m.compressed_size, m.name) for m in self)
        for before, after in itertools.pairwise(spans):
            if before[1] > after[0]:
                raise self._fail(f"members {before[2]!r} and {after[2]!r} overlap")


class WrittenArchive(ZipReader):
    """An archive this process has just written, read back to check it: its names were all
    checked on the way in, so they are not examined again, and only the local headers
    ``spot_check`` selects (and those of looked-up members) are read and checked against the
    central directory.  A member whose local header was not read cannot be read."""

    def __init__(
        self,
        file: BinaryIO,
        display: str,
        lookup: Callable[[str], bool],
        spot_check: Callable[[str], bool],
    ) -> None:
        self._spot_check = spot_check
        super().__init__(file, display, lookup)

    def _scan(self, lookup: Callable[[str], bool]) -> None:
        """Digests and offsets only: the checks of ZipReader's scan were made as it was written."""
        for position, (raw_name, entry, extra) in enumerate(self._raw_entries()):
            name, csize, _usize, header_offset = self._decode(raw_name, entry, extra)
            self._add_to_digests(name)
            looked_up = lookup(name)
            data_offset = NOT_LOCATED
            if looked_up or self._spot_check(name):
                data_offset, _ = self._data_offset(name, raw_name, entry, header_offset, csize)
            self._data_offsets.append(data_offset)
            self._verbatim.append(False)
            if looked_up:
                self.by_name[name] = self._member(raw_name, entry, extra, data_offset, position)


def _check_entry(archive: str, name: str, method: int, flags: int, csize: int, usize: int, mode: int) -> None:
    """One central entry on its own: a safe name, no link, no encryption, a method wheels use,
    sizes a stored or deflated member can have."""
    check_member_name(name)
    if stat.S_ISLNK(mode):
        raise UnsafePathError(f"unsafe member {name!r} in the wheel: it is a symbolic link.")
    if flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION):
        raise ArchiveError(f"unsupported zip archive {archive}: member {name!r} is encrypted.")
    if method not in (STORED, DEFLATED):
        raise ArchiveError(
            f"unsupported zip archive {archive}: member {name!r} uses compression method "
            f"{method}; wheels use stored or deflate."
        )
    if method == STORED and usize != csize:
        raise ArchiveError(
            f"corrupt zip archive {archive}: stored member {name!r} declares {usize} bytes but holds {csize}."
        )
    if method == DEFLATED and usize > max(csize, 1) * MAX_DEFLATE_RATIO:
        raise ArchiveError(
            f"refusing {archive}: member {name!r} declares a compression ratio no deflate "
            "stream can reach (a decompression bomb)."
        )
