"""The ``dylink.0`` model and its exact re-encoding.

A side module's first section describes what the dynamic loader needs: memory/table sizes,
the libraries it needs (NEEDED) and where to look for them (RUNTIME_PATH).  Repair changes
only NEEDED and RUNTIME_PATH; every other subsection, including ones this tool does not know,
must come back byte for byte, so each subsection keeps the raw bytes it was read from and only
a changed one is encoded anew.  Size fields keep their original LEB128 width where the new
value fits, which makes decode→encode of an unchanged section the identity even for producers
that pad their LEB128 sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..errors import DylinkMissingError, MalformedModuleError, WasmError
from .sections import (
    CUSTOM_SECTION_ID,
    ByteReader,
    encode_name,
    encode_uleb,
    first_section,
    first_section_extent,
)

DYLINK_SECTION = "dylink.0"
LEGACY_DYLINK_SECTION = "dylink"

MEM_INFO = 1
NEEDED = 2
EXPORT_INFO = 3
IMPORT_INFO = 4
RUNTIME_PATH = 5
# Not a subsection kind: the bytes a legacy ``dylink`` section holds after its fields.
LEGACY_TAIL = -1

SUBSECTION_NAMES = {
    MEM_INFO: "MEM_INFO",
    NEEDED: "NEEDED",
    EXPORT_INFO: "EXPORT_INFO",
    IMPORT_INFO: "IMPORT_INFO",
    RUNTIME_PATH: "RUNTIME_PATH",
}

# Symbol binding from tool-conventions Linking.md (flags & 3): 0 global, 1 weak, 2 local.
SYMBOL_BINDING_MASK = 0x3
SYMBOL_WEAK = 0x1


def encode_uleb_width(value: int, width: int) -> bytes:
    """LEB128 of ``value`` padded to ``width`` bytes when it fits, minimal otherwise."""
    minimal = encode_uleb(value)
    if len(minimal) >= width:
        return minimal
    out = bytearray()
    for index in range(width):
        byte = (value >> (7 * index)) & 0x7F
        out.append(byte | (0x80 if index < width - 1 else 0))
    return bytes(out)


def _leb_width(data: bytes, pos: int) -> int:
    width = 1
    while data[pos + width - 1] & 0x80:
        width += 1
    return width


@dataclass(frozen=True)
class MemInfo:
    memory_size: int
    memory_align: int
    table_size: int
    table_align: int


@dataclass(frozen=True)
class Subsection:
    """One subsection as found: its type, its payload and the width of its size field."""

    kind: int
    payload: bytes
    size_width: int = 1

    def encode(self) -> bytes:
        return bytes([self.kind]) + encode_uleb_width(len(self.payload), self.size_width) + self.payload

    @property
    def label(self) -> str:
        return SUBSECTION_NAMES.get(self.kind, f"unknown({self.kind})")


def _decode_strings(payload: bytes, what: str) -> tuple[str, ...]:
    reader = ByteReader(payload, what=what)
    items = tuple(reader.name() for _ in range(reader.count()))
    return items


def _encode_strings(items: tuple[str, ...] | list[str]) -> bytes:
    return encode_uleb(len(items)) + b"".join(encode_name(item) for item in items)


@dataclass(frozen=True)
class DylinkSection:
    """The decoded first section of a side module.

    ``legacy`` sections (the flat pre-2.0.30 ``dylink`` format) have no subsections; they are
    represented with synthetic MEM_INFO and NEEDED subsections and encoded back in the flat
    form, so callers see one model.
    """

    subsections: tuple[Subsection, ...]
    legacy: bool = False
    size_width: int = 1
    name_encoding: bytes = field(default=encode_name(DYLINK_SECTION))

    # -- decoding ----------------------------------------------------------------------------

    @classmethod
    def decode_payload(
        cls, name: str, body: bytes, *, size_width: int = 1, name_encoding: bytes | None = None
    ) -> DylinkSection:
        """Decode a section body (after its name).  ``name`` selects the format."""
        encoded_name = name_encoding if name_encoding is not None else encode_name(name)
        if name == LEGACY_DYLINK_SECTION:
            reader = ByteReader(body, what="legacy dylink section")
            start = reader.pos
            for _ in range(4):
                reader.uleb32()
            mem = body[start : reader.pos]
            needed_start = reader.pos
            for _ in range(reader.count()):
                reader.name()
            needed = body[needed_start : reader.pos]
            subsections = [Subsection(MEM_INFO, mem), Subsection(NEEDED, needed)]
            if not reader.at_end():
                # Bytes after the fields the loader reads: kept, so re-encoding is exact.
                subsections.append(Subsection(LEGACY_TAIL, body[reader.pos :]))
            return cls(tuple(subsections), legacy=True, size_width=size_width, name_encoding=encoded_name)
        if name != DYLINK_SECTION:
            raise DylinkMissingError(f"dylink section missing: the first section is {name!r}, not {DYLINK_SECTION!r}.")
        reader = ByteReader(body, what="dylink.0 section")
        items = []
        while not reader.at_end():
            kind = reader.u8()
            width_pos = reader.pos
            size = reader.uleb32()
            width = reader.pos - width_pos
            payload = reader.take(size)
            items.append(Subsection(kind, payload, width))
        section = cls(tuple(items), size_width=size_width, name_encoding=encoded_name)
        section.validate()
        return section

    def validate(self) -> None:
        """Decode every known subsection once, so later accessors cannot fail on bad bytes."""
        for sub in self.subsections:
            if sub.kind == MEM_INFO:
                self._mem_info_of(sub)
            elif sub.kind in (NEEDED, RUNTIME_PATH):
                _decode_strings(sub.payload, f"{sub.label} subsection")
            elif sub.kind == EXPORT_INFO:
                self.export_info  # noqa: B018 - decoding is the check
            elif sub.kind == IMPORT_INFO:
                self.import_info  # noqa: B018

    # -- accessors ---------------------------------------------------------------------------

    def _first(self, kind: int) -> Subsection | None:
        return next((sub for sub in self.subsections if sub.kind == kind), None)

    @staticmethod
    def _mem_info_of(sub: Subsection) -> MemInfo:
        reader = ByteReader(sub.payload, what="MEM_INFO subsection")
        return MemInfo(reader.uleb32(), reader.uleb32(), reader.uleb32(), reader.uleb32())

    @property
    def mem_info(self) -> MemInfo | None:
        sub = self._first(MEM_INFO)
        return self._mem_info_of(sub) if sub else None

    def _strings(self, kind: int) -> tuple[str, ...]:
        """All entries of every subsection of ``kind`` (the loader reads each one it meets)."""
        return tuple(
            item
            for sub in self.subsections
            if sub.kind == kind
            for item in _decode_strings(sub.payload, f"{sub.label} subsection")
        )

    @property
    def needed(self) -> tuple[str, ...]:
        return self._strings(NEEDED)

    @property
    def runtime_paths(self) -> tuple[str, ...]:
        return self._strings(RUNTIME_PATH)

    @property
    def export_info(self) -> tuple[tuple[str, int], ...]:
        result: list[tuple[str, int]] = []
        for sub in self.subsections:
            if sub.kind == EXPORT_INFO:
                reader = ByteReader(sub.payload, what="EXPORT_INFO subsection")
                result.extend((reader.name(), reader.uleb32()) for _ in range(reader.count(2)))
        return tuple(result)

    @property
    def import_info(self) -> tuple[tuple[str, str, int], ...]:
        result: list[tuple[str, str, int]] = []
        for sub in self.subsections:
            if sub.kind == IMPORT_INFO:
                reader = ByteReader(sub.payload, what="IMPORT_INFO subsection")
                result.extend((reader.name(), reader.name(), reader.uleb32()) for _ in range(reader.count(3)))
        return tuple(result)

    @property
    def weak_imports(self) -> frozenset[str]:
        """Symbols imported weakly: the loader binds them to null when nothing provides them
        (it keys them by symbol name, whatever the import module).  Weak is a *binding*
        (``flags & 3 == 1``), as the loader tests it: LOCAL|WEAK (3) is not weak."""
        return frozenset(
            field for _module, field, flags in self.import_info if flags & SYMBOL_BINDING_MASK == SYMBOL_WEAK
        )

    @property
    def section_name(self) -> str:
        """The custom section's name: ``dylink.0``, or ``dylink`` for the legacy format."""
        return LEGACY_DYLINK_SECTION if self.legacy else DYLINK_SECTION

    # -- changes -----------------------------------------------------------------------------

    def _with_strings(self, kind: int, items: tuple[str, ...] | list[str]) -> DylinkSection:
        """Replace the first subsection of ``kind`` in place (others of that kind dropped).

        Keeping the position of the first one means a changed section differs from the
        original only in that subsection's bytes.  A new subsection goes last.
        """
        payload = _encode_strings(items)
        kept: list[Subsection] = []
        placed = False
        for sub in self.subsections:
            if sub.kind != kind:
                kept.append(sub)
            elif not placed:
                kept.append(Subsection(kind, payload, sub.size_width))
                placed = True
        if not placed and items:
            kept.append(Subsection(kind, payload))
        return replace(self, subsections=tuple(kept))

    def with_needed(self, needed: tuple[str, ...] | list[str]) -> DylinkSection:
        return self._with_strings(NEEDED, needed)

    def with_runtime_paths(self, paths: tuple[str, ...] | list[str]) -> DylinkSection:
        if self.legacy and paths:
            raise WasmError(
                "the legacy 'dylink' section has no RUNTIME_PATH; rebuild the module with emscripten >= 2.0.30."
            )
        return self._with_strings(RUNTIME_PATH, paths)

    # -- encoding ----------------------------------------------------------------------------

    def encode_body(self) -> bytes:
        if self.legacy:
            return b"".join(sub.payload for sub in self.subsections)
        return b"".join(sub.encode() for sub in self.subsections)

    def encode(self) -> bytes:
        """The whole custom section: id, size, name, body."""
        content = self.name_encoding + self.encode_body()
        return bytes([CUSTOM_SECTION_ID]) + encode_uleb_width(len(content), self.size_width) + content


@dataclass(frozen=True)
class ModuleHead:
    """The dylink section of a module and where it ends (the rest of the file follows it)."""

    dylink: DylinkSection
    first_section_end: int


def read_head(head: bytes, what: str = "module") -> ModuleHead:
    """Decode the dylink section from the first bytes of a module.

    ``head`` must hold at least :func:`first_section_extent` bytes.
    """
    section = first_section(head, what)
    name = section.custom_name if section is not None and section.id == CUSTOM_SECTION_ID else None
    if section is None or name not in (DYLINK_SECTION, LEGACY_DYLINK_SECTION):
        found = (
            "no section"
            if section is None
            else (
                f"custom section {section.custom_name!r}"
                if section.id == CUSTOM_SECTION_ID
                else f"section id {section.id}"
            )
        )
        raise DylinkMissingError(
            f"dylink section missing: the {what} is wasm but its first section is {found}, "
            "so it is not an Emscripten side module."
        )
    name_reader = ByteReader(head, section.payload_start, section.end)
    name_reader.name()
    name_encoding = bytes(head[section.payload_start : name_reader.pos])
    body = bytes(head[name_reader.pos : section.end])
    width = _leb_width(head, section.start + 1)
    try:
        dylink = DylinkSection.decode_payload(str(name), body, size_width=width, name_encoding=name_encoding)
    except WasmError as error:
        raise type(error)(f"{str(error).rstrip('.')} (in the {what}).") from None
    return ModuleHead(dylink, section.end)


# The first read of a module; the dylink section of real modules is well under this.
HEAD_PROBE = 4 * 1024
# A dylink section larger than this is not something any toolchain writes: refuse it instead
# of decompressing an attacker's choice of bytes.
MAX_HEAD = 16 * 1024 * 1024


def bounded_first_section_extent(head: bytes | bytearray, what: str) -> int | None:
    """:func:`first_section_extent`, refusing a first section larger than ``MAX_HEAD``.

    Every reader of module heads (prefix reads and the repair stream) goes through this, so no
    path buffers more than ``MAX_HEAD`` bytes for a dylink section.
    """
    extent = first_section_extent(head, what)
    if extent is not None and extent > MAX_HEAD:
        raise WasmError(f"refusing {what}: its first section claims {extent} bytes, more than the {MAX_HEAD} allowed.")
    return extent


def read_module_head(read_prefix: Callable[[int], bytes], what: str) -> ModuleHead:
    """Decode a module's dylink section reading only its first bytes.

    ``read_prefix(n)`` returns at most the first ``n`` bytes of the module, from a file or
    from a zip member, so both inputs share one bounded reading strategy.
    """
    head = read_prefix(HEAD_PROBE)
    extent = bounded_first_section_extent(head, what)
    if extent is not None and extent > len(head):
        head = read_prefix(extent)
    return read_head(head, what)


__all__ = [
    "DYLINK_SECTION",
    "DylinkSection",
    "MalformedModuleError",
    "MemInfo",
    "ModuleHead",
    "Subsection",
    "first_section_extent",
    "read_head",
]
