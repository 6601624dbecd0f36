from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streams import cut_at

from pyodide_auditwheel.errors import (
    DylinkMissingError,
    MalformedModuleError,
    NotWasmModuleError,
    TruncatedSectionError,
    WasmError,
)
from pyodide_auditwheel.wasm.dylink import (
    MEM_INFO,
    NEEDED,
    RUNTIME_PATH,
    DylinkSection,
    Subsection,
    encode_uleb_width,
    read_head,
)
from pyodide_auditwheel.wasm.sections import HEADER, ByteReader, encode_name, encode_uleb

names = st.text(min_size=0, max_size=20)
string_lists = st.lists(names, max_size=5)


def module_with(section: DylinkSection, rest: bytes = b"") -> bytes:
    return HEADER + section.encode() + rest


def strings_payload(items: list[str]) -> bytes:
    return encode_uleb(len(items)) + b"".join(encode_name(i) for i in items)


@st.composite
def dylink_sections(draw: st.DrawFn) -> DylinkSection:
    subs = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from([MEM_INFO, NEEDED, RUNTIME_PATH, 9, 42]))
        if kind == MEM_INFO:
            payload = b"".join(encode_uleb(draw(st.integers(0, 2**32 - 1))) for _ in range(4))
        elif kind in (NEEDED, RUNTIME_PATH):
            payload = strings_payload(draw(string_lists))
        else:
            payload = draw(st.binary(max_size=30))
        subs.append(Subsection(kind, payload, draw(st.integers(1, 5))))
    return DylinkSection(tuple(subs), size_width=draw(st.integers(1, 5)))


@given(dylink_sections(), st.binary(max_size=50))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_decode_encode_is_identity(section: DylinkSection, rest: bytes) -> None:
    data = module_with(section, rest)
    head = read_head(data)
    assert HEADER + head.dylink.encode() == data[: head.first_section_end]
    assert data[head.first_section_end :] == rest


@given(dylink_sections(), st.binary(max_size=50), string_lists, st.lists(st.integers(0, 200), max_size=8))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_repair_stream_patches_the_same_however_the_module_is_cut(
    section: DylinkSection, rest: bytes, rpaths: list[str], cuts: list[int]
) -> None:
    """The writer reads modules in pieces of whatever size the archive or the file gives, down
    to a few bytes; the patched module must not depend on where they were cut."""
    from pyodide_auditwheel.rewriter.patch import ModulePatch
    from pyodide_auditwheel.rewriter.sources import patch_module_stream

    data = module_with(section, rest)
    patch = ModulePatch("m.so", {}, tuple(rpaths), tuple(rpaths))
    pieces = cut_at(data, cuts)
    whole = b"".join(patch_module_stream([data], patch, "module m.so"))
    assert b"".join(patch_module_stream(pieces, patch, "module m.so")) == whole
    assert read_head(whole).dylink.runtime_paths == tuple(rpaths)


@given(dylink_sections(), string_lists, string_lists)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_changing_needed_or_rpath_leaves_other_subsections_identical(
    section: DylinkSection, needed: list[str], rpaths: list[str]
) -> None:
    original = read_head(module_with(section)).dylink
    changed = original.with_needed(needed).with_runtime_paths(rpaths)
    again = read_head(HEADER + changed.encode()).dylink
    if needed or any(s.kind == NEEDED for s in original.subsections):
        assert again.needed == tuple(needed)
    if rpaths or any(s.kind == RUNTIME_PATH for s in original.subsections):
        assert again.runtime_paths == tuple(rpaths)
    others = [s.encode() for s in original.subsections if s.kind not in (NEEDED, RUNTIME_PATH)]
    assert [s.encode() for s in again.subsections if s.kind not in (NEEDED, RUNTIME_PATH)] == others


@given(st.binary(max_size=200))
@settings(max_examples=1000, deadline=None)
def test_any_bytes_give_a_precise_error_or_a_result(data: bytes) -> None:
    for candidate in (data, HEADER + data, HEADER + b"\x00" + data):
        try:
            read_head(candidate)
        except WasmError:
            pass


def test_real_modules_round_trip(realworld: Path) -> None:
    checked = 0
    for wheel in (
        "Shapely-1.8.2-cp310-cp310-emscripten_3_1_14_wasm32.whl",
        "numpy-1.22.4-cp310-cp310-emscripten_3_1_14_wasm32.whl",
    ):
        with zipfile.ZipFile(realworld / wheel) as archive:
            for name in archive.namelist():
                if name.endswith(".so"):
                    data = archive.read(name)
                    head = read_head(data)
                    assert HEADER + head.dylink.encode() == data[: head.first_section_end]
                    checked += 1
    assert checked > 20
    geos_c = read_head((realworld / "libgeos_c.so").read_bytes()).dylink
    assert geos_c.needed == ("libgeos.so.3.10.3",)
    assert geos_c.mem_info is not None and geos_c.mem_info.memory_size > 0


def test_rpath_change_on_real_module_keeps_other_subsections(realworld: Path) -> None:
    data = (realworld / "libgeos_c.so").read_bytes()
    section = read_head(data).dylink
    changed = section.with_runtime_paths(["$ORIGIN"])
    assert changed.runtime_paths == ("$ORIGIN",)
    assert [s for s in changed.subsections if s.kind != RUNTIME_PATH] == list(section.subsections)


def test_legacy_dylink_section_is_read() -> None:
    body = b"".join(encode_uleb(v) for v in (16, 2, 3, 0)) + strings_payload(["libold.so"])
    content = encode_name("dylink") + body
    data = HEADER + b"\x00" + encode_uleb(len(content)) + content
    section = read_head(data).dylink
    assert section.legacy and section.needed == ("libold.so",)
    assert section.mem_info is not None and section.mem_info.memory_size == 16
    assert HEADER + section.encode() == data
    with pytest.raises(WasmError, match="legacy"):
        section.with_runtime_paths(["$ORIGIN"])


@pytest.mark.parametrize(
    ("data", "error", "message"),
    [
        (b"\x7fELF\x02\x01\x01", NotWasmModuleError, "not a wasm module"),
        (HEADER + b"\x00\x10\x08dylink.0", TruncatedSectionError, "truncated section"),
        (HEADER + b"\x01\x04\x01\x60\x00\x00", DylinkMissingError, "dylink section missing"),
        (HEADER + b"\x00\x05\x04name\x00", DylinkMissingError, "dylink section missing"),
        (HEADER + b"\x00\x86\x80\x80\x80\x80\x00", MalformedModuleError, "longer than 5 bytes"),
        (HEADER + b"\x00\x0c\x08dylink.0\x02\x01\xff", TruncatedSectionError, "truncated section"),
    ],
)
def test_precise_errors(data: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        read_head(data)


def test_hostile_count_is_refused_without_looping() -> None:
    reader = ByteReader(b"\xff\xff\xff\xff\x0f")
    with pytest.raises(TruncatedSectionError):
        reader.count()


def test_padded_leb_width_is_kept() -> None:
    assert encode_uleb_width(3, 5) == b"\x83\x80\x80\x80\x00"
    assert ByteReader(encode_uleb_width(3, 5)).uleb32() == 3


def test_oversized_first_section_is_refused_before_reading_it() -> None:
    from pyodide_auditwheel.wasm.dylink import MAX_HEAD, read_module_head

    claim = HEADER + b"\x00" + encode_uleb(MAX_HEAD * 4) + encode_name("dylink.0")
    asked: list[int] = []

    def read_prefix(size: int) -> bytes:
        asked.append(size)
        return claim[:size]

    with pytest.raises(WasmError, match="more than the"):
        read_module_head(read_prefix, "module big.so")
    assert max(asked) <= 64 * 1024


def test_repair_stream_refuses_oversized_first_section_too() -> None:
    from pyodide_auditwheel.rewriter.patch import ModulePatch
    from pyodide_auditwheel.rewriter.sources import patch_module_stream
    from pyodide_auditwheel.wasm.dylink import MAX_HEAD

    claim = HEADER + b"\x00" + encode_uleb(MAX_HEAD * 4) + encode_name("dylink.0")
    chunks = iter([claim, b"\0" * 1024])
    with pytest.raises(WasmError, match="more than the"):
        list(patch_module_stream(chunks, ModulePatch("m.so", {}, ("$ORIGIN",), ("$ORIGIN",)), "module m.so"))


def test_legacy_section_with_trailing_bytes_re_encodes_exactly() -> None:
    """Found by atheris: bytes after a legacy ``dylink`` section's fields were dropped on
    re-encoding. They are kept, and survive a NEEDED change."""
    import base64

    from pyodide_auditwheel.wasm.sections import HEADER

    module = HEADER + base64.b64decode("AB8GZHlsaW5rLjAFegEEAQACIg0BC2wh2iEhISEjIQX/AQ==")
    head = read_head(module)
    assert head.dylink.legacy
    assert HEADER + head.dylink.encode() == module[: head.first_section_end]
    tail = module[head.first_section_end - 14 : head.first_section_end]
    assert head.dylink.subsections[-1].payload == tail
    renamed = head.dylink.with_needed(["libx.so"])
    assert renamed.needed == ("libx.so",)
    assert renamed.encode().endswith(b"\x07libx.so" + tail)
