"""What a module's code calls as the loader loads it.

The loader of every Pyodide release runs two of a side module's exports as it loads it,
``__wasm_apply_data_relocs`` and then ``__wasm_call_ctors`` (C++ static constructors,
``__attribute__((constructor))``), after the start function instantiation runs (wasm-ld's
``__wasm_apply_global_relocs``, where the module has one).  An import
the loader stubs (a function no one provides: the call throws) is therefore a failure at load,
not at a call, when that code reaches it: onnx 1.23.2's constructors call ``__hash_memory``,
which Pyodide 0.28 and 0.29 lack.

This walks the direct calls (``call``, ``return_call``) from those roots through the
function bodies they reach, decoding only those bodies.  A call through a function pointer
(``call_indirect``, ``call_ref``) cannot be followed without running the code, nor can an
instruction this decoder does not know: the answer then says it is incomplete, and ``verify``
is what can tell.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..errors import MalformedModuleError
from .sections import ByteReader, iter_sections, read_interface, read_module_prefix

CODE_SECTION_ID = 10
START_SECTION_ID = 8
# The exports every loader calls at load, in the order it calls them, that the walk follows:
# ``__wasm_apply_data_relocs``, which the loader calls first, is written by wasm-ld itself
# and only stores addresses (one store per relocation: in numpy, most of what a walk would
# decode), so it is not.
LOAD_TIME_EXPORTS = ("__wasm_call_ctors",)
# Bytes of function bodies decoded at most: what constructors reach is small; a walk that
# grows past this is not worth its time to an audit, and says so.
MOST_CODE_DECODED = 8 << 20
# A module is read up to the end of its code section (not its data, nor the custom sections
# after it); one whose code ends further in is not walked, so an audit's memory stays bounded.
MOST_CODE_READ = 24 << 20
# The first read of a module.
_PROBE = 64 * 1024


@dataclass(frozen=True)
class LoadTimeCalls:
    """The imported functions the code run at load reaches by direct calls.

    Attributes:
        imports: ``(module, field)`` of each function import reached, with the root that
            reaches it first (``start``, ``__wasm_apply_data_relocs``, ``__wasm_call_ctors``:
            the order the loader runs them in).
        complete: whether every call on the way could be followed (no call through a function
            pointer, every instruction known); when False, an import not in ``imports`` may
            still be reached.
        roots: the exports (or ``start``) the walk began at; empty when the module runs no
            code at load.
    """

    imports: Mapping[tuple[str, str], str]
    complete: bool
    roots: tuple[str, ...]


class _CannotTell(Exception):
    """An instruction this decoder does not know: the walk stops, incomplete."""


def load_time_calls_of(read_prefix: Callable[[int], bytes], what: str = "module") -> LoadTimeCalls:
    """:func:`load_time_calls` of a module read through ``read_prefix`` (its first bytes, as
    many as asked for), up to the end of its code section only."""
    data = read_module_prefix(read_prefix, what, _through_the_code, probe=_PROBE, most=MOST_CODE_READ)
    return LoadTimeCalls({}, False, ()) if data is None else load_time_calls(data, what)


def _through_the_code(section_id: int, _start: int, end: int) -> int | None:
    return end if section_id == CODE_SECTION_ID else None


def load_time_calls(data: bytes | memoryview, what: str = "module") -> LoadTimeCalls:
    """The function imports reached from the code the loader runs as it loads ``data``."""
    data = bytes(data)
    interface = read_interface(data, what, signatures=False)
    imported = [(entry.module, entry.field) for entry in interface.imports if entry.kind == "func"]
    exported = {export.name: export.item_index for export in interface.exports if export.kind == "func"}
    start: int | None = None
    code: tuple[int, int] | None = None
    for section in iter_sections(data, what):
        if section.id == START_SECTION_ID:
            start = ByteReader(data, section.payload_start, section.end, what=f"start section of {what}").uleb32()
        elif section.id == CODE_SECTION_ID:
            code = (section.payload_start, section.end)
    # Instantiation runs the start function; the loader then calls its two exports.
    roots = [("start", start)] if start is not None else []
    roots += [(name, exported[name]) for name in LOAD_TIME_EXPORTS if name in exported]
    bodies = _bodies(data, code, what) if roots else []
    reached: dict[int, str] = {}
    complete = True
    for name, index in roots:
        complete = _walk(data, bodies, len(imported), index, name, reached) and complete
    return LoadTimeCalls(
        {imported[index]: root for index, root in reached.items() if index < len(imported)},
        complete,
        tuple(name for name, _ in roots),
    )


def _bodies(data: bytes, code: tuple[int, int] | None, what: str) -> list[tuple[int, int]]:
    """Where each defined function's body lies (its locals and instructions)."""
    if code is None:
        return []
    reader = ByteReader(data, code[0], code[1], what=f"code section of {what}")
    bodies = []
    for _ in range(reader.count()):
        size = reader.uleb32()
        if size > reader.remaining:
            raise MalformedModuleError(f"malformed code section of {what}: a function body runs past its end.")
        bodies.append((reader.pos, reader.pos + size))
        reader.pos += size
    return bodies


def _walk(
    data: bytes, bodies: list[tuple[int, int]], imports: int, root: int, name: str, reached: dict[int, str]
) -> bool:
    """Adds every function index reached from ``root`` by direct calls to ``reached`` (as
    reached from ``name``, unless an earlier root reached it), and says whether the walk
    followed every call."""
    pending = [root]
    complete = True
    decoded = sum(end - begin for index, (begin, end) in enumerate(bodies) if index + imports in reached)
    while pending:
        index = pending.pop()
        if index in reached:
            continue
        reached[index] = name
        if index < imports:
            continue
        if index - imports >= len(bodies):
            raise MalformedModuleError(f"malformed module: function index {index} is out of range.")
        begin, end = bodies[index - imports]
        decoded += end - begin
        if decoded > MOST_CODE_DECODED:
            return False
        try:
            calls, direct_only = _calls_in(data, begin, end)
        except (_CannotTell, IndexError):
            complete = False
            continue
        complete = complete and direct_only
        pending.extend(call for call in calls if call not in reached)
    return complete


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _skip_leb(data: bytes, pos: int) -> int:
    while data[pos] & 0x80:
        pos += 1
    return pos + 1


# Value types as one byte (numbers, v128, funcref, externref, exnref): a block type of one
# result, a local's type, a select's type.
_ONE_BYTE_TYPES = frozenset({0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F, 0x69, 0x40})
# Opcodes by what follows them.
_NO_IMMEDIATE = frozenset({0x00, 0x01, 0x05, 0x0A, 0x0B, 0x0F, 0x19, 0x1A, 0x1B, 0xD1, 0xD3, 0xD4, *range(0x45, 0xC5)})
_ONE_INDEX = frozenset({0x07, 0x08, 0x09, 0x0C, 0x0D, 0x18, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0xD2, 0xD5, 0xD6})
_MEMORY_ACCESS = frozenset(range(0x28, 0x3F))
_BLOCKS = frozenset({0x02, 0x03, 0x04, 0x06})
# 0xFC: bulk memory, saturating truncation: sub-opcode -> number of index immediates.
_FC_INDICES = {**dict.fromkeys(range(8), 0), 8: 2, 9: 1, 10: 2, 11: 1, 12: 2, 13: 1, 14: 2, 15: 1, 16: 1, 17: 1}
# 0xFD (SIMD): sub-opcodes with a memory argument, with one lane byte, with 16 bytes.
_SIMD_MEMORY = frozenset({*range(0, 12), 92, 93})
_SIMD_MEMORY_LANE = frozenset(range(84, 92))
_SIMD_LANE = frozenset(range(21, 35))
_SIMD_SIXTEEN = frozenset({12, 13})


def _skip_block_type(data: bytes, pos: int) -> int:
    if data[pos] in _ONE_BYTE_TYPES:
        return pos + 1
    return _skip_leb(data, pos)  # a type index (s33)


def _skip_memarg(data: bytes, pos: int) -> int:
    align, pos = _uleb(data, pos)
    if align & 0x40:  # multi-memory: a memory index follows
        pos = _skip_leb(data, pos)
    return _skip_leb(data, pos)


def _calls_in(data: bytes, begin: int, end: int) -> tuple[list[int], bool]:
    """The functions a body calls directly, and whether it makes no other kind of call.
    Raises _CannotTell at an instruction it does not know, IndexError past the module's end."""
    pos = begin
    groups, pos = _uleb(data, pos)
    for _ in range(groups):
        pos = _skip_leb(data, pos)
        if data[pos] not in _ONE_BYTE_TYPES:
            raise _CannotTell  # a typed reference local (GC)
        pos += 1
    calls: list[int] = []
    direct_only = True
    while pos < end:
        op = data[pos]
        pos += 1
        if op in _NO_IMMEDIATE:
            continue
        if op in _ONE_INDEX:
            pos = _skip_leb(data, pos)
        elif op == 0x10 or op == 0x12:  # call, return_call
            index, pos = _uleb(data, pos)
            calls.append(index)
        elif op in _MEMORY_ACCESS:
            pos = _skip_memarg(data, pos)
        elif op in _BLOCKS:
            pos = _skip_block_type(data, pos)
        elif op == 0x41 or op == 0x42:
            pos = _skip_leb(data, pos)
        elif op == 0x43:
            pos += 4
        elif op == 0x44:
            pos += 8
        elif op == 0x11 or op == 0x13:  # call_indirect, return_call_indirect: type, table
            pos = _skip_leb(data, _skip_leb(data, pos))
            direct_only = False
        elif op == 0x14 or op == 0x15:  # call_ref, return_call_ref
            pos = _skip_leb(data, pos)
            direct_only = False
        else:
            pos = _skip_rarer(op, data, pos)
    if pos != end or data[end - 1] != 0x0B:
        raise _CannotTell  # the body did not end where its size says: not decoded right
    return calls, direct_only


def _skip_rarer(op: int, data: bytes, pos: int) -> int:
    """Past the immediates of an instruction that is neither a call nor among the common ones."""
    if op == 0x0E:  # br_table
        count, pos = _uleb(data, pos)
        for _ in range(count + 1):
            pos = _skip_leb(data, pos)
        return pos
    if op == 0x1C:  # select with types
        count, pos = _uleb(data, pos)
        return pos + count
    if op == 0x3F or op == 0x40:  # memory.size, memory.grow
        return _skip_leb(data, pos)
    if op == 0xD0:  # ref.null heap type
        return _skip_block_type(data, pos)
    if op == 0x1F:  # try_table: block type, catch clauses
        pos = _skip_block_type(data, pos)
        count, pos = _uleb(data, pos)
        for _ in range(count):
            kind = data[pos]
            pos = _skip_leb(data, _skip_leb(data, pos + 1) if kind in (0, 1) else pos + 1)
        return pos
    if op == 0xFC:
        sub, pos = _uleb(data, pos)
        if sub not in _FC_INDICES:
            raise _CannotTell
        for _ in range(_FC_INDICES[sub]):
            pos = _skip_leb(data, pos)
        return pos
    if op == 0xFD:
        return _skip_simd(data, pos)
    if op == 0xFE:  # threads: atomic.fence has one byte, the rest a memory argument
        sub, pos = _uleb(data, pos)
        return pos + 1 if sub == 0x03 else _skip_memarg(data, pos)
    raise _CannotTell


def _skip_simd(data: bytes, pos: int) -> int:
    sub, pos = _uleb(data, pos)
    if sub in _SIMD_MEMORY:
        return _skip_memarg(data, pos)
    if sub in _SIMD_MEMORY_LANE:
        return _skip_memarg(data, pos) + 1
    if sub in _SIMD_LANE:
        return pos + 1
    if sub in _SIMD_SIXTEEN:
        return pos + 16
    if sub > 0x113:
        raise _CannotTell
    return pos
