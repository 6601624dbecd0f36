"""Member names: which are safe to write, and digests that compare lists of them.

A name is refused when it could write outside an extraction directory or mean different files
on different systems.  Digests (sums of keyed 64-bit hashes) compare two multisets of names in
one pass each, whatever their order, without holding either.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import os
import re
import sys
import unicodedata
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ...errors import UnsafePathError

# Names made only of these characters, with no component starting with a dot, are safe; the
# rest get the detailed checks below.  (Nearly every name in a wheel takes the fast path.)
_PLAIN_NAME = re.compile(r"(?:[\w+-][\w.+-]*/)*[\w+-][\w.+-]*/?")


def check_member_name(name: str) -> None:
    """Refuse names that could write outside an extraction directory or mean different files
    on different systems."""
    if _PLAIN_NAME.fullmatch(name):
        return
    reason = None
    if not name:
        reason = "is empty"
    elif "\0" in name:
        reason = "contains a NUL byte"
    elif "\\" in name:
        reason = "contains a backslash"
    elif name.startswith("/"):
        reason = "is an absolute path"
    elif len(name) >= 2 and name[1] == ":" and name[0].isalpha():
        reason = "starts with a drive letter"
    elif any(part in ("..", ".") for part in name.rstrip("/").split("/")):
        reason = "contains a '..' or '.' component"
    elif "//" in name.rstrip("/"):
        reason = "contains an empty path component"
    if reason:
        raise UnsafePathError(f"unsafe member name {name!r} in the wheel: it {reason}.")


_NAME_KEY = os.urandom(16)
_DIGEST_MODULUS_MASK = (1 << 64) - 1


def _blake2b_name_hash(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8, key=_NAME_KEY).digest(), "little")


def _str_hash_is_secret() -> bool:
    """Python's own str hash is SipHash under a key drawn at start-up, unless PYTHONHASHSEED
    fixes that key (then anyone can compute it)."""
    return bool(sys.flags.hash_randomization) and os.environ.get("PYTHONHASHSEED", "random") == "random"


# A 64-bit hash of a name under a key drawn per process, which no input can aim at: Python's
# own (cheap, and cached on the string) when its key is secret, else keyed BLAKE2b.
name_hash: Callable[[str], int] = hash if _str_hash_is_secret() else _blake2b_name_hash


@dataclass(frozen=True, slots=True)
class NamesDigest:
    """An order-free digest of a multiset of names: the sum of their keyed hashes, modulo
    2**64.  Two multisets have the same digest exactly when they are equal, up to a 2**-64
    chance, so an archive's names can be compared with another list of them (RECORD, the
    archive rewritten) without holding either and without a second pass over the archive.
    Digests add and subtract like the multisets they stand for; the modulus is applied here,
    once, so no caller does the arithmetic by hand."""

    value: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", self.value & _DIGEST_MODULUS_MASK)

    @classmethod
    def of(cls, names: Iterable[str]) -> NamesDigest:
        return cls(sum(map(name_hash, names)))

    def __add__(self, other: NamesDigest) -> NamesDigest:
        return NamesDigest(self.value + other.value)

    def __sub__(self, other: NamesDigest) -> NamesDigest:
        return NamesDigest(self.value - other.value)


def folded(name: str) -> str:
    """The key under which two names are the same file on a case-insensitive file system, or
    on one that does not tell Unicode normalisation forms apart (macOS: ``é`` as one code point
    or as ``e`` and a combining accent): canonical caseless matching."""
    stripped = name.rstrip("/")
    if stripped.isascii():
        return stripped.lower()
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", stripped).casefold())


class HashSet:
    """A fixed set of ``hash()`` values, sorted in an array: 8 bytes each, where a set of ints
    takes about 70.  The reader keeps one of every folded name for the whole command, where a
    set would be a large share of what ``show`` and ``audit`` hold for a wheel of many members."""

    def __init__(self, values: Iterable[int]) -> None:
        self._sorted = array("q", (value for value, _repeats in itertools.groupby(sorted(values))))

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        index = bisect.bisect_left(self._sorted, value)
        return index < len(self._sorted) and self._sorted[index] == value

    def __len__(self) -> int:
        return len(self._sorted)
