"""The reader's compact sets of folded-name hashes (``HashSet``) answer as sets do, and the
name checks a repair's plan makes through them still find a case twin among many names."""

from __future__ import annotations

import zipfile
from pathlib import Path

import wheelbuilder
from hypothesis import given
from hypothesis import strategies as st
from wheelcheck import check_wheel_valid

import pyodide_auditwheel as paw
from pyodide_auditwheel.wheel.inputs import open_input
from pyodide_auditwheel.wheel.zipio.names import HashSet

HASHES = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@given(st.lists(HASHES), st.lists(HASHES))
def test_hash_set_holds_what_a_set_holds(values: list[int], probes: list[int]) -> None:
    compact, plain = HashSet(values), set(values)
    assert len(compact) == len(plain)
    for probe in [*values, *probes]:
        assert (probe in compact) == (probe in plain)
    assert "not an int" not in compact


def test_a_case_twin_is_found_among_many_names(tmp_path: Path) -> None:
    files = {f"pkg/sub{index % 40}/file{index}.py": b"" for index in range(3000)}
    wheel = wheelbuilder.write_wheel(tmp_path, "pkg", "1.0", "cp313-cp313-pyodide_2025_0_wasm32", files)
    tree = open_input(wheel)
    try:
        assert tree.holds_folded("PKG/Sub7/FILE7.py") == "pkg/sub7/file7.py"
        assert tree.holds_folded("pkg/sub7/file8.py") is None
        assert tree.holds_under("PKG/SUB39") is not None
        assert tree.holds_under("pkg/sub40") is None
    finally:
        tree.close()


TAG_2025 = "cp313-cp313-pyodide_2025_0_wasm32"


def test_utf8_name_without_the_flag_gets_it(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """The stdlib reads an unflagged name as cp437: the repaired wheel must carry the flag."""
    wheel = wheelbuilder.write_wheel(
        tmp_path / "in",
        "pkg",
        "1.0",
        TAG_2025,
        {"pkg/_ext.so": fixture_libs.ext.read_bytes(), "pkg/café.py": b"x = 1\n"},
    )
    data = bytearray(wheel.read_bytes())
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = data.find(signature)
        while pos >= 0:
            name_len = int.from_bytes(data[pos + (26 if signature == b"PK\x03\x04" else 28) :][:2], "little")
            name_at = pos + (30 if signature == b"PK\x03\x04" else 46)
            if not bytes(data[name_at : name_at + name_len]).isascii():
                flags = int.from_bytes(data[pos + flag_offset : pos + flag_offset + 2], "little") & ~0x800
                data[pos + flag_offset : pos + flag_offset + 2] = flags.to_bytes(2, "little")
            pos = data.find(signature, pos + 1)
    wheel.write_bytes(bytes(data))
    with zipfile.ZipFile(wheel) as archive:
        assert "pkg/café.py" not in archive.namelist()  # what the stdlib makes of it
    result = paw.repair(wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "out"))
    assert result.output is not None
    assert check_wheel_valid(result.output)["pkg/café.py"] == b"x = 1\n"
