"""Wasm bytes <-> sections.

Only what this tool needs: walk the section framing without decoding bodies, find the first
section (where a side module keeps ``dylink.0``) from a short head of the file, and decode the
type/import/export/function sections for the ``exports``/``imports`` commands.  Every length is
checked against the bytes actually present so that hostile input yields a precise
:class:`~pyodide_auditwheel.errors.WasmError`, never an IndexError or an unbounded allocation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal, NamedTuple

from ..errors import MalformedModuleError, NotWasmModuleError, TruncatedSectionError

WASM_MAGIC = b"\0asm"
WASM_VERSION_1 = b"\x01\0\0\0"
HEADER = WASM_MAGIC + WASM_VERSION_1
HEADER_SIZE = len(HEADER)

CUSTOM_SECTION_ID = 0
TYPE_SECTION_ID = 1
IMPORT_SECTION_ID = 2
FUNCTION_SECTION_ID = 3
EXPORT_SECTION_ID = 7

# The longest valid LEB128 encoding of a 32-bit value; wasm forbids longer ones, and refusing
# them bounds the work a hostile byte string can cause.
MAX_LEB128_BYTES_U32 = 5


class ByteReader:
    """A cursor over ``data[pos:end]`` whose every read is bounds-checked."""

    def __init__(
        self, data: bytes | bytearray | memoryview, pos: int = 0, end: int | None = None, *, what: str = "module"
    ) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end
        self.what = what

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def at_end(self) -> bool:
        return self.pos >= self.end

    def u8(self) -> int:
        if self.pos >= self.end:
            raise TruncatedSectionError(f"truncated section: the {self.what} ends in the middle of a field.")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def uleb32(self) -> int:
        """Decode an unsigned LEB128 of at most 32 bits, as the wasm spec requires."""
        pos = self.pos
        if pos < self.end and self.data[pos] < 0x80:  # most values are one byte: no loop
            self.pos = pos + 1
            return self.data[pos]
        result = 0
        for index in range(MAX_LEB128_BYTES_U32):
            byte = self.u8()
            result |= (byte & 0x7F) << (7 * index)
            if not byte & 0x80:
                if result > 0xFFFFFFFF:
                    raise MalformedModuleError(f"malformed {self.what}: a LEB128 value does not fit in 32 bits.")
                return result
        raise MalformedModuleError(
            f"malformed {self.what}: a LEB128 value is longer than {MAX_LEB128_BYTES_U32} bytes."
        )

    def take(self, size: int) -> bytes:
        if size > self.remaining:
            raise TruncatedSectionError(
                f"truncated section: the {self.what} declares {size} bytes where only {self.remaining} remain."
            )
        chunk = bytes(self.data[self.pos : self.pos + size])
        self.pos += size
        return chunk

    def name(self) -> str:
        """A length-prefixed UTF-8 string.  The hot path of import decoding (an audit reads
        tens of thousands), so the common one-byte length is read inline."""
        pos = self.pos
        if pos < self.end and self.data[pos] < 0x80:
            size, start = self.data[pos], pos + 1
        else:
            size = self.uleb32()
            start = self.pos
        if start + size > self.end:
            raise TruncatedSectionError(
                f"truncated section: the {self.what} declares {size} bytes where only {self.end - start} remain."
            )
        self.pos = start + size
        try:
            return str(self.data[start : start + size], "utf-8")
        except UnicodeDecodeError:
            raise MalformedModuleError(f"malformed {self.what}: a name is not valid UTF-8.") from None

    def count(self, min_item_size: int = 1) -> int:
        """A vector length, refused when the remaining bytes cannot possibly hold it.

        Checking before looping keeps a hostile count of 2**32-1 from costing anything.
        """
        value = self.uleb32()
        if value * min_item_size > self.remaining:
            raise TruncatedSectionError(
                f"truncated section: the {self.what} declares {value} entries, more than its "
                f"{self.remaining} remaining bytes can hold."
            )
        return value

    def sub(self, size: int, what: str) -> ByteReader:
        """A reader over the next ``size`` bytes, advancing this one past them."""
        if size > self.remaining:
            raise TruncatedSectionError(
                f"truncated section: the {what} declares {size} bytes where only {self.remaining} remain."
            )
        reader = ByteReader(self.data, self.pos, self.pos + size, what=what)
        self.pos += size
        return reader


def encode_uleb(value: int) -> bytes:
    if value < 0:
        raise ValueError("LEB128 values are unsigned here")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_name(text: str) -> bytes:
    raw = text.encode("utf-8")
    return encode_uleb(len(raw)) + raw


@dataclass(frozen=True)
class Section:
    """Where one section sits in the module: ``start`` is its id byte, ``end`` one past it."""

    id: int
    start: int
    payload_start: int
    end: int
    custom_name: str | None = None

    @property
    def size(self) -> int:
        return self.end - self.start


NATIVE_MAGICS = {
    b"\x7fELF": "a native (ELF) library",
    b"\xcf\xfa\xed\xfe": "a native (Mach-O) library",
    b"MZ": "a native (PE) library",
    b"!<ar": "a static archive",
}


def check_header(data: bytes | bytearray | memoryview, what: str = "file") -> None:
    if bytes(data[:4]) != WASM_MAGIC:
        native = next((kind for magic, kind in NATIVE_MAGICS.items() if bytes(data[: len(magic)]) == magic), None)
        if native is not None:
            # A host build where the wasm one was meant to be: say what it is, and what goes there.
            raise NotWasmModuleError(
                f"not a wasm module: the {what} is {native}, built for the host; "
                "the Emscripten (wasm32) build of it belongs here."
            )
        raise NotWasmModuleError(f"not a wasm module: the {what} does not start with the wasm magic number.")
    if len(data) < HEADER_SIZE:
        raise TruncatedSectionError(f"truncated section: the {what} ends inside the wasm header.")
    if bytes(data[4:8]) != WASM_VERSION_1:
        raise NotWasmModuleError(f"not a wasm module: the {what} has wasm version {bytes(data[4:8]).hex()}, not 1.")


def read_section_header(reader: ByteReader) -> Section:
    start = reader.pos
    section_id = reader.u8()
    size = reader.uleb32()
    payload_start = reader.pos
    if size > reader.remaining:
        raise TruncatedSectionError(
            f"truncated section: section {section_id} at offset {start} declares {size} bytes "
            f"where only {reader.remaining} remain."
        )
    custom_name = None
    if section_id == CUSTOM_SECTION_ID:
        custom_name = ByteReader(reader.data, payload_start, payload_start + size, what="custom section").name()
    reader.pos = payload_start + size
    return Section(section_id, start, payload_start, payload_start + size, custom_name)


def iter_sections(data: bytes | memoryview, what: str = "module") -> Iterator[Section]:
    """Yield every section of a complete module, checking only the framing."""
    check_header(data, what)
    reader = ByteReader(data, HEADER_SIZE, what=what)
    while not reader.at_end():
        yield read_section_header(reader)


def first_section_extent(head: bytes | bytearray | memoryview, what: str = "module") -> int | None:
    """How many bytes from the start of the file hold the header and the first section.

    Returns ``None`` when ``head`` is too short to tell (it ends before the first section's
    size field does), so a streaming caller can read more before deciding, whatever the size
    of the pieces it reads; given a whole file that short, :func:`read_head` then says what
    is wrong with it.  Raises when the head proves the bytes are not a wasm module.
    """
    if len(head) <= HEADER_SIZE:
        return None
    check_header(head, what)
    reader = ByteReader(head, HEADER_SIZE, what=what)
    reader.u8()
    try:
        size = reader.uleb32()
    except TruncatedSectionError:
        return None
    return reader.pos + size


def first_section(data: bytes | memoryview, what: str = "module") -> Section | None:
    check_header(data, what)
    reader = ByteReader(data, HEADER_SIZE, what=what)
    if reader.at_end():
        return None
    return read_section_header(reader)


# --- decoding for `exports` / `imports` -------------------------------------------------------

VALUE_TYPES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128", 0x70: "funcref", 0x6F: "externref"}
EXTERNAL_KINDS = {0: "func", 1: "table", 2: "memory", 3: "global", 4: "tag"}


@dataclass(frozen=True)
class FunctionType:
    params: tuple[str, ...]
    results: tuple[str, ...]

    def __str__(self) -> str:
        results = ", ".join(self.results) if self.results else "void"
        return f"({', '.join(self.params)}) -> {results}"


# Tuples, not dataclasses: an audit makes one per import, tens of thousands of them.
class Import(NamedTuple):
    module: str
    field: str
    kind: str
    type: FunctionType | None = None
    # For a global: whether it is imported mutable (GOT entries and __stack_pointer are).
    mutable: bool = False
    # For a memory: whether it is shared (a module built with threads).
    shared: bool = False


class Export(NamedTuple):
    name: str
    kind: str
    type: FunctionType | None = None
    # The index of what it exports, in its kind's index space (functions: imports first).
    item_index: int = -1


@dataclass(frozen=True)
class Interface:
    """A module's declarations, as ``imports``/``exports`` list them.

    Attributes:
        imports: each import (module, field, kind, and for a function its type).
        exports: each export (name, kind).
    """

    imports: tuple[Import, ...]
    exports: tuple[Export, ...]


def _value_type(reader: ByteReader) -> str:
    code = reader.u8()
    try:
        return VALUE_TYPES[code]
    except KeyError:
        raise MalformedModuleError(f"malformed {reader.what}: unknown value type 0x{code:02x}.") from None


def _limits(reader: ByteReader) -> bool:
    """Reads a memory's or table's limits; whether they say shared (flag 2, threads)."""
    flags = reader.u8()
    reader.uleb32()
    if flags & 1:
        reader.uleb32()
    return bool(flags & 2)


def _decode_types(reader: ByteReader) -> list[FunctionType]:
    types = []
    for _ in range(reader.count()):
        form = reader.u8()
        if form != 0x60:
            raise MalformedModuleError(f"malformed type section: unsupported type form 0x{form:02x}.")
        params = tuple(_value_type(reader) for _ in range(reader.count()))
        results = tuple(_value_type(reader) for _ in range(reader.count()))
        types.append(FunctionType(params, results))
    return types


def _type_at(types: list[FunctionType], index: int) -> FunctionType:
    if index >= len(types):
        raise MalformedModuleError(f"malformed module: type index {index} is out of range.")
    return types[index]


# Non-custom sections must come in this order (the tag section sits between memory and global).
SECTION_ORDER = (1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11)
# The first read of a module's interface: the import section of most modules is inside it.
INTERFACE_PROBE = 16 * 1024
# Read past a section's end, for the header of the section after it.
NEXT_SECTION_HEADER = 16


# Where a prefix of a module ends, asked of each section header in turn: (section id, start,
# end) -> the prefix's end, or None to read on.
PrefixEnd = Callable[[int, int, int], "int | None"]


def prefix_extent(data: bytes | memoryview, what: str, ends_at: PrefixEnd) -> tuple[bool, int]:
    """``(True, n)``: the prefix ``ends_at`` asks for is the first ``n`` bytes; ``(False, n)``:
    ``data``, a prefix of a longer module, ends before that can be told, and at least ``n``
    bytes are needed to tell more."""
    check_header(data, what)
    reader = ByteReader(data, HEADER_SIZE, what=what)
    while not reader.at_end():
        start = reader.pos
        try:
            section_id = reader.u8()
            size = reader.uleb32()
        except TruncatedSectionError:
            return False, len(data) + NEXT_SECTION_HEADER
        end = ends_at(section_id, start, reader.pos + size)
        if end is not None:
            return True, end
        if size > reader.remaining:
            return False, reader.pos + size + NEXT_SECTION_HEADER
        reader.pos += size
    return False, len(data) + NEXT_SECTION_HEADER


def read_module_prefix(
    read_prefix: Callable[[int], bytes],
    what: str,
    ends_at: PrefixEnd,
    *,
    probe: int = INTERFACE_PROBE,
    most: int | None = None,
) -> bytes | None:
    """The module's first bytes up to where ``ends_at`` says (the whole module when it is
    shorter), read through ``read_prefix``; None when that is past ``most`` bytes.  Each read
    asks for at least what the last one showed is needed, and at least twice as much, so a
    module is read a few times at most."""
    size = probe
    while True:
        data = read_prefix(size)
        if len(data) < size:  # the whole module
            return data
        complete, extent = prefix_extent(data, what, ends_at)
        if complete:
            if most is not None and extent > most:
                return None
            return data[:extent] if extent <= len(data) else read_prefix(extent)
        size = max(extent, 2 * size)


def _before_the_code(section_id: int, start: int, _end: int) -> int | None:
    """Every section up to the export section: where the first section after it starts."""
    if section_id != CUSTOM_SECTION_ID and section_id in SECTION_ORDER:
        if SECTION_ORDER.index(section_id) > SECTION_ORDER.index(EXPORT_SECTION_ID):
            return start
    return None


Signatures = Literal[False, "imports", True]


def read_interface_prefix(
    read_prefix: Callable[[int], bytes], what: str = "module", signatures: Signatures = False
) -> tuple[Interface, bytes]:
    """Import and export names read from the module's first bytes only (not its code and
    data), with the prefix read, which also holds the dylink section."""
    prefix = read_module_prefix(read_prefix, what, _before_the_code)
    assert prefix is not None  # no bound asked
    return read_interface(prefix, what, signatures=signatures), prefix


def read_interface(data: bytes | memoryview, what: str = "module", *, signatures: Signatures = True) -> Interface:
    """Imports and exports, with function signatures: all of them, only the imports' (what the
    audit compares with their providers: cheap, one type section), or none.  Decoding every
    function's type, for the exports', is most of the work of a large module."""
    types: list[FunctionType] = []
    imports: list[Import] = []
    function_types: list[FunctionType] = []
    exports: list[Export] = []
    for section in iter_sections(data, what):
        reader = ByteReader(data, section.payload_start, section.end, what=f"section {section.id}")
        if section.id == TYPE_SECTION_ID and signatures:
            types = _decode_types(reader)
        elif section.id == IMPORT_SECTION_ID:
            for _ in range(reader.count(3)):
                module, field = reader.name(), reader.name()
                kind_code = reader.u8()
                kind = EXTERNAL_KINDS.get(kind_code, f"kind{kind_code}")
                signature = None
                mutable = shared = False
                if kind_code == 0:
                    type_index = reader.uleb32()
                    signature = _type_at(types, type_index) if signatures else None
                elif kind_code == 1:
                    reader.u8()
                    _limits(reader)
                elif kind_code == 2:
                    shared = _limits(reader)
                elif kind_code == 3:
                    reader.u8()
                    mutable = reader.u8() == 1
                elif kind_code == 4:
                    reader.u8()
                    reader.uleb32()
                else:
                    raise MalformedModuleError(f"malformed import section: unknown import kind {kind_code}.")
                imports.append(Import(module, field, kind, signature, mutable, shared))
        elif section.id == FUNCTION_SECTION_ID and signatures is True:
            function_types = [_type_at(types, reader.uleb32()) for _ in range(reader.count())]
        elif section.id == EXPORT_SECTION_ID:
            imported_functions = [entry.type for entry in imports if entry.kind == "func"]
            all_functions = imported_functions + list(function_types)
            for _ in range(reader.count(3)):
                name = reader.name()
                kind_code = reader.u8()
                index = reader.uleb32()
                signature = None
                if kind_code == 0 and index < len(all_functions):
                    signature = all_functions[index]
                exports.append(Export(name, EXTERNAL_KINDS.get(kind_code, f"kind{kind_code}"), signature, index))
    return Interface(tuple(imports), tuple(exports))
