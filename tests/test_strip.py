"""Stripping debug sections streams: the same bytes as filtering the whole module, in the
memory of a chunk whatever the module's size (issue 17: 3.85 GB for a 1 GB module before)."""

from __future__ import annotations

import random
import tracemalloc
from collections.abc import Iterator

import pytest
from conformance import section

from pyodide_auditwheel.errors import TruncatedSectionError
from pyodide_auditwheel.wasm.sections import HEADER, encode_name, encode_uleb, iter_sections
from pyodide_auditwheel.wasm.strip import is_strippable, strip_debug

CUSTOM_NAMES = ["dylink.0", "name", ".debug_info", ".debug_line", "producers", "target_features", "x" * 300]


def random_module(rng: random.Random) -> bytes:
    parts = [HEADER]
    for _ in range(rng.randint(0, 8)):
        payload = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 5, 200, 3000])))
        if rng.random() < 0.6:
            parts.append(section(0, encode_name(rng.choice(CUSTOM_NAMES)) + payload))
        else:
            parts.append(section(rng.choice([1, 3, 7, 10, 11]), payload))
    return b"".join(parts)


def filtered(module: bytes) -> bytes:
    """The oracle: every section of the whole module but the debug ones."""
    kept = [module[s.start : s.end] for s in iter_sections(module) if not (s.id == 0 and is_strippable(s.custom_name))]
    return HEADER + b"".join(kept)


def chunked(data: bytes, rng: random.Random) -> Iterator[bytes]:
    position = 0
    while position < len(data):
        size = rng.choice([1, 2, 7, 64, 4096])
        yield data[position : position + size]
        position += size


def test_the_stream_strips_as_the_whole_module_would() -> None:
    rng = random.Random("strip")
    for _ in range(500):
        module = random_module(rng)
        assert b"".join(strip_debug(chunked(module, rng))) == filtered(module)


def test_a_truncated_section_is_one_sentence() -> None:
    module = HEADER + section(0, encode_name(".debug_info") + b"x" * 100)
    with pytest.raises(TruncatedSectionError, match=r"declares \d+ bytes, but the module ends before them"):
        b"".join(strip_debug([module[:-10]]))


def test_a_large_module_is_stripped_in_the_memory_of_a_chunk() -> None:
    """256 MiB of DWARF and 64 MiB of code, streamed in 1 MiB chunks: the stripper holds a
    chunk or two, never the module."""
    chunk = bytes(1 << 20)
    debug_size, code_size = 256 << 20, 64 << 20

    def module() -> Iterator[bytes]:
        name = encode_name(".debug_info")
        yield HEADER + b"\x00" + encode_uleb(len(name) + debug_size) + name
        for _ in range(debug_size >> 20):
            yield chunk
        yield b"\x0a" + encode_uleb(code_size)
        for _ in range(code_size >> 20):
            yield chunk

    tracemalloc.start()
    try:
        written = sum(len(piece) for piece in strip_debug(module()))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written == len(HEADER) + 1 + len(encode_uleb(code_size)) + code_size
    assert peak < 8 << 20, f"peak {peak} bytes"
