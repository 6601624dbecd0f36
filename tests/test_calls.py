"""The walk of the code a loader runs at load (``wasm/calls.py``): which function imports a
module's start function, data relocations and constructors reach by direct calls, and when
it cannot tell.  Modules assembled here byte by byte; every function body of the real 2022
Emscripten modules decoded to its end; what the runtime does with a constructor that calls a
missing function is in ``test_verify.py`` (every release family)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from pyodide_auditwheel.errors import MalformedModuleError
from pyodide_auditwheel.wasm import calls
from pyodide_auditwheel.wasm.sections import HEADER, encode_name, encode_uleb, iter_sections


def _section(section_id: int, payload: bytes) -> bytes:
    return bytes([section_id]) + encode_uleb(len(payload)) + payload


def _vector(items: list[bytes]) -> bytes:
    return encode_uleb(len(items)) + b"".join(items)


def _module(imports: list[str], bodies: list[bytes], exports: dict[str, int], start: int | None = None) -> bytes:
    """A module of functions of type () -> (): ``imports`` from env, then ``bodies`` (their
    instructions, without locals or the final end)."""
    types = _section(1, _vector([b"\x60\x00\x00"]))
    imported = _section(2, _vector([encode_name("env") + encode_name(name) + b"\x00\x00" for name in imports]))
    functions = _section(3, _vector([b"\x00"] * len(bodies)))
    table = _section(4, _vector([b"\x70\x00\x01"]))
    exported = _section(
        7, _vector([encode_name(name) + b"\x00" + encode_uleb(index) for name, index in exports.items()])
    )
    started = _section(8, encode_uleb(start)) if start is not None else b""
    code = _section(
        10, _vector([encode_uleb(len(b"\x00" + body + b"\x0b")) + b"\x00" + body + b"\x0b" for body in bodies])
    )
    return HEADER + types + imported + functions + table + exported + started + code


def _call(index: int) -> bytes:
    return b"\x10" + encode_uleb(index)


# Instructions of every immediate shape the decoder skips, none of them a call.
BUSY = (
    b"\x02\x40"  # block (empty)
    + b"\x41\xff\x7f\x1a"  # i32.const -1, drop
    + b"\x42\x80\x80\x80\x80\x10\x1a"  # i64.const, drop
    + b"\x43\x00\x00\x80\x3f\x1a\x44"
    + bytes(8)
    + b"\x1a"  # f32/f64 consts
    + b"\x41\x00\x28\x02\x10\x1a"  # i32.load align=2 offset=16
    + b"\x41\x00\x0e\x02\x00\x00\x00"  # br_table 0 0 (default 0)
    + b"\x0b"  # end of the block
    + b"\x41\x00\x41\x00\x41\x00\xfc\x0b\x00"  # memory.fill
    + b"\xfd\x0c"
    + bytes(16)
    + b"\xfd\x15\x03\x1a"  # v128.const, i8x16.extract_lane_s 3
)


def test_the_imports_reached_from_each_root_in_the_order_the_loader_runs_them() -> None:
    # imports 0 absent_a, 1 absent_b, 2 absent_c; functions 3 ctors -> 4 -> import 0;
    # 5 an export only -> import 1; 6 start -> import 2 and 4.
    module = _module(
        ["absent_a", "absent_b", "absent_c"],
        [BUSY + _call(4), _call(0), _call(1), _call(2) + _call(4)],
        {"__wasm_call_ctors": 3, "later": 5},
        start=6,
    )
    reach = calls.load_time_calls(module)
    assert reach.roots == ("start", "__wasm_call_ctors")
    # absent_a is reached first from the start function, through function 4
    assert dict(reach.imports) == {("env", "absent_a"): "start", ("env", "absent_c"): "start"}
    assert reach.complete


def test_a_call_through_a_pointer_or_an_unknown_instruction_cannot_be_followed() -> None:
    indirect = _module(["absent"], [b"\x41\x00\x11\x00\x00"], {"__wasm_call_ctors": 1})  # call_indirect
    reach = calls.load_time_calls(indirect)
    assert not reach.imports and not reach.complete
    unknown = _module(["absent"], [b"\xfb\x00"], {"__wasm_call_ctors": 1})  # a GC instruction
    assert not calls.load_time_calls(unknown).complete
    # A body whose instructions do not end where its size says is not trusted either.
    lying = _module(["absent"], [b"\x44\x00"], {"__wasm_call_ctors": 1})  # f64.const cut short
    assert not calls.load_time_calls(lying).complete


def test_no_code_run_at_load_and_a_call_out_of_range() -> None:
    quiet = calls.load_time_calls(_module(["absent"], [_call(0)], {"later": 1}))
    assert quiet.roots == () and not quiet.imports and quiet.complete
    with pytest.raises(MalformedModuleError, match="malformed module: function index 9 is out of range"):
        calls.load_time_calls(_module([], [_call(9)], {"__wasm_call_ctors": 0}))
    whole = _module([], [b""], {"__wasm_call_ctors": 0})
    cut = whole[: -len(_section(10, _vector([b"\x02\x00\x0b"])))] + _section(10, _vector([b"\x32\x00\x0b"]))
    with pytest.raises(
        MalformedModuleError, match="malformed code section of module: a function body runs past its end"
    ):
        calls.load_time_calls(cut)


def _modules(realworld: Path) -> list[tuple[str, bytes]]:
    found = [(path.name, path.read_bytes()) for path in sorted(realworld.glob("lib*.so*"))]
    for wheel in sorted(realworld.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            found += [(name, archive.read(name)) for name in archive.namelist() if name.endswith(".so")]
    return found


@pytest.mark.realworld
def test_every_function_body_of_real_emscripten_modules_decodes_to_its_end(realworld: Path) -> None:
    """The decoder knows every instruction emscripten 3.1.14 emitted in numpy, Shapely,
    galpy, GEOS and OpenSSL: not one body is left undecoded."""
    decoded = 0
    for name, data in _modules(realworld):
        code = next(section for section in iter_sections(data, name) if section.id == calls.CODE_SECTION_ID)
        for begin, end in calls._bodies(data, (code.payload_start, code.end), name):
            calls._calls_in(data, begin, end)  # raises where it cannot decode
            decoded += 1
        assert calls.load_time_calls(data, name).complete, name
    assert decoded > 15_000


def test_a_module_is_read_up_to_the_end_of_its_code_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The data and the custom sections after the code are not read (a library padded to
    64 MiB with one kept an audit's memory at 103 MB); a module whose code ends past
    MOST_CODE_READ is not walked at all."""
    module = _module(["absent"], [_call(0)], {"__wasm_call_ctors": 1})
    padded = module + _section(0, encode_name("padding") + bytes(256 * 1024))
    asked: list[int] = []

    def read_prefix(size: int) -> bytes:
        asked.append(size)
        return padded[:size]

    reach = calls.load_time_calls_of(read_prefix)
    assert dict(reach.imports) == {("env", "absent"): "__wasm_call_ctors"} and reach.complete
    assert max(asked) <= calls._PROBE < len(padded)
    monkeypatch.setattr(calls, "MOST_CODE_READ", len(module) - 1)
    skipped = calls.load_time_calls_of(read_prefix)
    assert not skipped.imports and not skipped.complete
