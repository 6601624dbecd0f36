"""ZIP64: archives past the classic format's limits are read and written.

A wheel of a scientific stack can hold more than 65,535 members, and a wheel written after
4 GiB of other data has offsets that only ZIP64 can express.  Both are built here for real:
the first with Python's zipfile (which then writes ZIP64 end records itself), the second in a
sparse file, so the 4 GiB cost no disk.
"""

from __future__ import annotations

import csv
import hashlib
import io
import struct
import zipfile
from pathlib import Path

import pytest
import wheelbuilder
from wheelcheck import check_wheel_valid

import pyodide_auditwheel as paw
from pyodide_auditwheel.wheel.record import record_hash
from pyodide_auditwheel.wheel.zipio import (
    ZIP64_EOCD_SIG,
    ZIP64_LIMIT,
    ZIP64_LOCATOR_SIG,
    Deflater,
    ZipReader,
    ZipWriter,
)

SHAPELY = "Shapely-1.8.2-cp310-cp310-emscripten_3_1_14_wasm32.whl"
MANY = 70_000


def _has_zip64_end_records(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-200, 2)
        tail = handle.read()
    return ZIP64_EOCD_SIG.to_bytes(4, "little") in tail and ZIP64_LOCATOR_SIG.to_bytes(4, "little") in tail


def _shapely_with_many_members(realworld: Path, out_dir: Path) -> Path:
    """Shapely's wheel plus MANY small data files, with a RECORD that lists them all."""
    out_dir.mkdir()
    target = out_dir / SHAPELY
    rows: list[list[str]] = []
    with zipfile.ZipFile(realworld / SHAPELY) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as wheel:
        record_name = next(name for name in source.namelist() if name.endswith(".dist-info/RECORD"))

        def add(info: zipfile.ZipInfo | str, data: bytes) -> None:
            wheel.writestr(info, data)
            name = info if isinstance(info, str) else info.filename
            rows.append([name, record_hash(hashlib.sha256(data).digest()), str(len(data))])

        for info in source.infolist():
            if info.filename != record_name:
                add(info, source.read(info))
        for index in range(MANY):
            add(f"shapely/data/{index:05d}.txt", f"{index}\n".encode())
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows([*rows, [record_name, "", ""]])
        wheel.writestr(record_name, text.getvalue())
    return target


def test_repair_of_a_wheel_with_more_than_65535_members(realworld: Path, geos_libdir: Path, tmp_path: Path) -> None:
    wheel = _shapely_with_many_members(realworld, tmp_path / "in")
    assert _has_zip64_end_records(wheel)
    result = paw.repair(wheel, paw.RepairRequest(libdirs=[geos_libdir], output_dir=tmp_path / "out"))
    assert result.changed and result.output is not None
    assert _has_zip64_end_records(result.output)
    contents = check_wheel_valid(result.output)
    assert len(contents) == len(zipfile.ZipFile(wheel).namelist()) + 3  # two libraries and the SBOM
    assert contents["shapely/data/69999.txt"] == b"69999\n"
    assert paw.show(result.output).missing == {}


def test_members_past_4_gib_get_zip64_offsets(realworld: Path, tmp_path: Path) -> None:
    """Every kind of write (copied, compressed from a stream, compressed ahead) lands past
    4 GiB; zipfile and our reader find every member where the ZIP64 fields say."""
    far = tmp_path / "far.zip"
    start = ZIP64_LIMIT + (1 << 20)
    with open(realworld / SHAPELY, "rb") as source_file, open(far, "wb") as handle:
        source = ZipReader(source_file, SHAPELY)
        handle.seek(start)  # a hole: nothing before it is written
        writer = ZipWriter(handle)
        assert list(writer.copy_from(source, lambda _name: False)) == []
        writer.add_chunks("streamed.txt", [b"streamed " * 1000], mode=0o100644, date_time=(0, 33))
        writer.add_deflated("ahead.txt", Deflater().deflate_all([b"ahead " * 1000]), mode=0o100644, date_time=(0, 33))
        writer.close()
        expected = {member.name: source.read(member) for member in source}
    assert far.stat().st_blocks * 512 < 64 << 20, "the test needs a file system with sparse files"
    expected |= {"streamed.txt": b"streamed " * 1000, "ahead.txt": b"ahead " * 1000}
    assert _has_zip64_end_records(far)
    with zipfile.ZipFile(far) as archive:
        assert archive.testzip() is None
        assert all(info.header_offset >= start for info in archive.infolist())
        assert {info.filename: archive.read(info) for info in archive.infolist()} == expected
    with open(far, "rb") as handle:
        reader = ZipReader(handle, "far.zip")
        assert {member.name: reader.read(member) for member in reader} == expected


def _with_unneeded_zip64_end_records(data: bytes, entries_delta: int = 0) -> bytes:
    """The archive with ZIP64 end records (and their locator) before its end record, as some
    writers add to small archives; ``entries_delta`` makes the ZIP64 count disagree."""
    eocd_at = data.rfind(b"PK\x05\x06")
    _sig, _disk, _cd_disk, on_disk, entries, cd_size, cd_offset, _comment = struct.unpack(
        "<IHHHHIIH", data[eocd_at : eocd_at + 22]
    )
    record = struct.pack(
        "<IQHHIIQQQQ",
        ZIP64_EOCD_SIG,
        44,
        45,
        45,
        0,
        0,
        on_disk + entries_delta,
        entries + entries_delta,
        cd_size,
        cd_offset,
    )
    locator = struct.pack("<IIQI", ZIP64_LOCATOR_SIG, 0, eocd_at, 1)
    return data[:eocd_at] + record + locator + data[eocd_at:]


def test_zip64_end_records_present_but_not_needed_are_read(tmp_path: Path) -> None:
    """zipfile reads them; so do we (before, the gap they leave was refused), and a ZIP64
    record that disagrees with the end record is refused."""
    plain = wheelbuilder.write_wheel(
        tmp_path / "plain", "pkg", "1.0", "py3-none-pyodide_2025_0_wasm32", {"pkg/a.txt": b"a"}
    )
    wheel = tmp_path / plain.name
    wheel.write_bytes(_with_unneeded_zip64_end_records(plain.read_bytes()))
    assert zipfile.ZipFile(wheel).namelist() == zipfile.ZipFile(plain).namelist()
    assert paw.show(wheel).modules == ()
    result = paw.repair(wheel, paw.RepairRequest(output_dir=tmp_path / "out", platform="pyemscripten_2025_0_wasm32"))
    assert result.output is not None
    check_wheel_valid(result.output)
    wheel.write_bytes(_with_unneeded_zip64_end_records(plain.read_bytes(), entries_delta=1))
    with pytest.raises(paw.AuditwheelError, match="its ZIP64 end record disagrees with its end record"):
        paw.show(wheel)
