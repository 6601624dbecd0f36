"""Hostile or broken archives: each refused with one sentence and exit 2, input untouched."""

from __future__ import annotations

import io
import stat
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wheelbuilder import zip_bytes

from pyodide_auditwheel.errors import AuditwheelError
from pyodide_auditwheel.wheel.zipio import ZipReader

TAG = "cp313-cp313-pyodide_2025_0_wasm32"


def symlink_entry() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("pkg/link.so")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def set_flag(data: bytes, flag: int) -> bytes:
    """Set a general-purpose flag in every local and central header."""
    out = bytearray(data)
    for sig, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = out.find(sig)
        while pos >= 0:
            value = struct.unpack_from("<H", out, pos + offset)[0] | flag
            struct.pack_into("<H", out, pos + offset, value)
            pos = out.find(sig, pos + 4)
    return bytes(out)


def lie_about_size(data: bytes) -> bytes:
    """Make the central directory declare a larger uncompressed size than the data holds."""
    out = bytearray(data)
    pos = out.find(b"PK\x01\x02")
    size = struct.unpack_from("<I", out, pos + 24)[0]
    struct.pack_into("<I", out, pos + 24, size + 5)
    return bytes(out)


BASE = [("pkg/__init__.py", b"")]
CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "dotdot": (lambda: zip_bytes([*BASE, ("../evil.so", b"x")]), "'..' or '.' component"),
    "absolute": (lambda: zip_bytes([*BASE, ("/etc/evil.so", b"x")]), "absolute path"),
    "backslash": (lambda: zip_bytes([*BASE, ("pkg\\evil.so", b"x")]), "backslash"),
    "drive": (lambda: zip_bytes([*BASE, ("C:/evil.so", b"x")]), "drive letter"),
    # zipfile cuts names at NUL when writing, so the byte is put in afterwards
    "nul": (lambda: zip_bytes([*BASE, ("pkg/a@@NUL@@.so", b"x")]).replace(b"@@NUL@@", b"\0" * 7), "nul byte"),
    "symlink": (lambda: zip_bytes([*BASE, (symlink_entry(), b"/etc/passwd")]), "symbolic link"),
    "duplicate": (lambda: zip_bytes([*BASE, ("pkg/a.so", b"1"), ("pkg/a.so", b"2")]), "appears twice"),
    "case collision": (lambda: zip_bytes([*BASE, ("pkg/A.so", b"1"), ("pkg/a.so", b"2")]), "blind to case"),
    "a file that is also a directory": (
        lambda: zip_bytes([*BASE, ("pkg/a", b"1"), ("pkg/a/b.so", b"2")]),
        "unsafe member 'pkg/a' in the wheel: it is a file, and 'pkg/a' is also a directory of other members; "
        "no file system holds both.",
    ),
    "a file that is also a directory, but for case": (
        lambda: zip_bytes([*BASE, ("pkg/Sub", b"1"), ("pkg/sub/deep/b.so", b"2")]),
        "is also a directory",
    ),
    # one file on macOS: "é" as one code point (NFC) and as "e" + a combining accent (NFD)
    "NFC/NFD twins": (
        lambda: zip_bytes([*BASE, ("pkg/caf\u00e9.so", b"1"), ("pkg/cafe\u0301.so", b"2")]),
        "normalisation",
    ),
    "encrypted": (lambda: set_flag(zip_bytes(BASE), 0x1), "encrypted"),
    "truncated": (lambda: zip_bytes(BASE)[:-30], "not a zip archive"),
    "bomb": (
        lambda: zip_bytes([("pkg/big.so", b"\0" * 5_000_000)]),
        None,
    ),  # legit ratio ~1000:1: accepted by the reader
}


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c][1] is not None])
def test_hostile_archive_refused_by_cli(case: str, tmp_path: Path) -> None:
    make, message = CASES[case]
    wheel = tmp_path / f"pkg-1.0-{TAG}.whl"
    data = make()
    wheel.write_bytes(data)
    pyodide = Path(sys.executable).parent / "pyodide"
    for command in (["show"], ["repair", "-o", str(tmp_path / "out")]):
        result = subprocess.run(
            [str(pyodide), "auditwheel", *command, str(wheel)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 2, (case, result.stdout, result.stderr)
        assert message is not None and message in " ".join(result.stderr.lower().split()), result.stderr
        assert "Traceback" not in result.stderr
    assert wheel.read_bytes() == data
    assert not (tmp_path / "out").exists()


def test_declared_size_lie_is_refused_on_read() -> None:
    data = lie_about_size(zip_bytes([("pkg/a.so", b"hello world" * 10)]))
    reader = ZipReader(io.BytesIO(data), "lying.whl")
    with pytest.raises(AuditwheelError, match="not its declared"):
        reader.read(next(iter(reader)))


def test_overlapping_members_are_refused() -> None:
    """a's data made to run over b's local header (its sizes grown in both its headers, so no
    other check sees anything wrong): only the overlap check can refuse it."""
    data = bytearray(zip_bytes([("a", b"1" * 100), ("b", b"2" * 100)], zipfile.ZIP_STORED))
    grown = 100 + 31  # b's local header: 30 bytes and its name
    for signature, sizes_at in ((b"PK\x03\x04", 18), (b"PK\x01\x02", 20)):
        header = data.find(signature)  # a's
        struct.pack_into("<II", data, header + sizes_at, grown, grown)
    with pytest.raises(AuditwheelError, match="members 'a' and 'b' overlap"):
        ZipReader(io.BytesIO(bytes(data)), "overlap.whl")


def test_impossible_compression_ratio_is_refused() -> None:
    data = bytearray(zip_bytes([("pkg/a.so", b"abc")]))
    pos = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, pos + 24, 2_000_000_000)
    with pytest.raises(AuditwheelError, match="decompression bomb"):
        ZipReader(io.BytesIO(bytes(data)), "bomb.whl")


@given(st.binary(max_size=400), st.integers(0, 400))
@settings(max_examples=400, deadline=None)
def test_corrupted_archives_never_raise_anything_else(noise: bytes, position: int) -> None:
    data = bytearray(zip_bytes([("pkg/a.so", b"\0asm\1\0\0\0" + b"x" * 50), ("pkg/b.txt", b"text")]))
    position = min(position, len(data))
    data[position : position + len(noise)] = noise
    try:
        reader = ZipReader(io.BytesIO(bytes(data)), "fuzz.whl")
        for member in reader:
            reader.read(member)
    except AuditwheelError:
        pass


def test_byte_for_byte_runs_without_file_descriptors() -> None:
    """In-memory archives cannot use copy_file_range: runs are copied through Python, and the
    result is the same members with the same compressed bytes."""
    from pyodide_auditwheel.wheel.zipio import ZipWriter

    entries: list[tuple[zipfile.ZipInfo | str, bytes]] = [(f"pkg/m{i}.py", bytes([i]) * (100 + i)) for i in range(20)]
    source = ZipReader(io.BytesIO(zip_bytes(entries)), "in.whl")
    out = io.BytesIO()
    writer = ZipWriter(out)
    for member in writer.copy_from(source, lambda _name: False):
        raise AssertionError(f"nothing is special here, got {member.name}")
    writer.close()
    copied = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    assert copied.testzip() is None
    original = zipfile.ZipFile(io.BytesIO(zip_bytes(entries)))
    assert copied.namelist() == original.namelist()
    for info in original.infolist():
        assert copied.read(info.filename) == original.read(info)
        assert copied.getinfo(info.filename).compress_size == info.compress_size
    assert len(writer.spot_checks) == 2  # one run: its first and last member


def _with_field(data: bytes, name: bytes, local_at: int, central_at: int, change: Callable[[int], int]) -> bytes:
    """One 32-bit field of the member ``name`` changed alike in its local and central headers
    (so that no header check sees it, only reading the data does)."""
    out = bytearray(data)
    for sig, at in ((b"PK\x03\x04", local_at), (b"PK\x01\x02", central_at)):
        pos = out.find(sig)
        while pos >= 0:
            fixed = 30 if sig == b"PK\x03\x04" else 46
            name_len = struct.unpack_from("<H", out, pos + (26 if fixed == 30 else 28))[0]
            if bytes(out[pos + fixed : pos + fixed + name_len]) == name:
                struct.pack_into("<I", out, pos + at, change(struct.unpack_from("<I", out, pos + at)[0]))
            pos = out.find(sig, pos + 4)
    return bytes(out)


def _garbled(data: bytes, name: bytes) -> bytes:
    out = bytearray(data)
    pos = out.find(b"PK\x03\x04")
    while pos >= 0:
        name_len, extra_len = struct.unpack_from("<HH", out, pos + 26)
        if bytes(out[pos + 30 : pos + 30 + name_len]) == name:
            start = pos + 30 + name_len + extra_len
            csize = struct.unpack_from("<I", out, pos + 18)[0]
            out[start : start + csize] = b"\xff" * csize
            return bytes(out)
        pos = out.find(b"PK\x03\x04", pos + 4)
    raise AssertionError(name)


MEMBER = b"pkg/data.txt"
CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "a wrong CRC": lambda data: _with_field(data, MEMBER, 14, 16, lambda crc: crc ^ 1),
    "invalid deflate data": lambda data: _garbled(data, MEMBER),
    "a size understated": lambda data: _with_field(data, MEMBER, 22, 24, lambda size: size - 7),
    "a size overstated": lambda data: _with_field(data, MEMBER, 22, 24, lambda size: size + 7),
    "a stream cut short": lambda data: _with_field(data, MEMBER, 18, 20, lambda csize: csize - 8),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
@pytest.mark.parametrize("window", ["windowed", "streamed"])
def test_checking_a_member_refuses_what_reading_it_refuses(
    corruption: str, window: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``check_data`` (how a repair checks the members it copies unchanged: a window of
    members read at once, each inflated in one call) refuses each corruption with the same
    sentence as reading the member does, and passes the members around it."""
    from pyodide_auditwheel.wheel.zipio import data as data_module

    if window == "streamed":  # members larger than the window are streamed as chunks() reads them
        monkeypatch.setattr(data_module, "CHECK_WINDOW", 16)
    text = b"".join(b"line %d of the data\n" % n for n in range(400))
    good = zip_bytes([("pkg/a.py", b"a = 1\n" * 50), (MEMBER.decode(), text), ("pkg/z.py", b"z = 2\n" * 50)])
    intact = ZipReader(io.BytesIO(good))
    intact.check_data(list(intact))
    reader = ZipReader(io.BytesIO(CORRUPTIONS[corruption](good)))
    members = list(reader)
    target = next(member for member in members if member.name == MEMBER.decode())
    with pytest.raises(AuditwheelError) as read:
        b"".join(reader.chunks(target))
    with pytest.raises(AuditwheelError) as checked:
        reader.check_data(members)
    assert str(checked.value) == str(read.value)
    reader.check_data([member for member in members if member is not target])
