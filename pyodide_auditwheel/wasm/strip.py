"""Dropping debug-only custom sections (``name``, DWARF ``.debug_*``) from a module."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..errors import TruncatedSectionError
from .sections import CUSTOM_SECTION_ID, HEADER_SIZE, ByteReader, check_header

STRIPPABLE_EXACT = frozenset({"name"})
STRIPPABLE_PREFIXES = (".debug_",)
# A section's id and size (a LEB128 of at most 5 bytes), and a custom name's length.
SECTION_HEAD = 1 + 5
NAME_LENGTH = 5


def is_strippable(name: str | None) -> bool:
    return name is not None and (name in STRIPPABLE_EXACT or name.startswith(STRIPPABLE_PREFIXES))


def strip_debug(chunks: Iterable[bytes], what: str = "module") -> Iterator[bytes]:
    """The module, streamed, without its debug sections; everything else byte for byte, in
    order.  It holds one section's head (and a custom section's name) at a time, never the
    module: a 1 GB module with DWARF is stripped in the memory of a chunk."""
    source = iter(chunks)
    buffer = bytearray()

    def fill(size: int) -> None:
        while len(buffer) < size and (chunk := next(source, None)) is not None:
            buffer.extend(chunk)

    fill(HEADER_SIZE)
    check_header(buffer, what)
    yield bytes(buffer[:HEADER_SIZE])
    del buffer[:HEADER_SIZE]
    offset = HEADER_SIZE
    while True:
        fill(SECTION_HEAD)
        if not buffer:
            return
        head = ByteReader(buffer, what=what)
        section_id = head.u8()
        size = head.uleb32()
        payload = head.pos
        keep = True
        if section_id == CUSTOM_SECTION_ID:
            fill(payload + NAME_LENGTH)
            name = ByteReader(buffer, payload, min(len(buffer), payload + size), what="custom section")
            length = name.uleb32()
            fill(name.pos + length)
            keep = not is_strippable(
                ByteReader(buffer, payload, min(len(buffer), payload + size), what="custom section").name()
            )
        remaining = payload + size
        while remaining:
            if not buffer:
                chunk = next(source, None)
                if chunk is None:
                    raise TruncatedSectionError(
                        f"truncated section: section {section_id} at offset {offset} declares {size} bytes, "
                        f"but the {what} ends before them."
                    )
                buffer.extend(chunk)
            piece = min(remaining, len(buffer))
            if keep:
                yield bytes(buffer[:piece])
            del buffer[:piece]
            remaining -= piece
        offset += payload + size
