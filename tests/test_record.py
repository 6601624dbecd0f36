"""RECORD read and rewritten in blocks: the same rows as the csv module reads, whatever the
chunking, quoting, line ends or blank lines; unchanged lines kept byte for byte."""

from __future__ import annotations

import csv
import hashlib
import io
import random
import zipfile
from pathlib import Path

import pytest
import wheelbuilder
from clirun import cli
from hypothesis import given, settings
from hypothesis import strategies as st
from streams import cut_at

from pyodide_auditwheel.errors import RecordError
from pyodide_auditwheel.wheel.record import Record, RecordRow
from pyodide_auditwheel.wheel.zipio import NamesDigest

RECORD_PATH = "pkg-1.0.dist-info/RECORD"

segment = st.text(alphabet='ab,"\n\r é._-', min_size=1, max_size=8)
plain_segment = st.text(alphabet="abcé._-", min_size=1, max_size=8)
paths = st.one_of(
    st.lists(plain_segment, min_size=1, max_size=3).map("/".join),
    st.lists(segment, min_size=1, max_size=3).map("/".join),
    st.sampled_from(["pkg-1.0.dist-info/METADATA", "pkg-1.0.dist-info/WHEEL", "pkg.libs/x.so"]),
)
rows = st.lists(
    st.tuples(paths, st.sampled_from(["", "sha256=abc", "sha256=x-y_z"]), st.sampled_from(["", "0", "12345"])),
    max_size=40,
)


def encode(record_rows: list[tuple[str, str, str]], line_end: str, blank_every: int, final_newline: bool) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line_end)
    # csv before 3.13 leaves a carriage return unquoted: those rows are quoted whole, as a
    # RECORD writer must.
    quoted = csv.writer(out, lineterminator=line_end, quoting=csv.QUOTE_ALL)
    for number, row in enumerate(record_rows):
        if blank_every and number % blank_every == 0:
            out.write(line_end)
        (quoted if any("\r" in field for field in row) else writer).writerow(row)
    text = out.getvalue()
    if not final_newline and text.endswith(line_end):
        text = text[: -len(line_end)]
    return text.encode("utf-8")


def csv_rows(data: bytes) -> list[RecordRow]:
    return [RecordRow(*fields) for fields in csv.reader(io.StringIO(data.decode("utf-8"), newline="")) if fields]


@settings(max_examples=400, deadline=None)
@given(
    rows,
    st.sampled_from(["\n", "\r\n"]),
    st.integers(0, 5),
    st.booleans(),
    st.lists(st.integers(0, 4000), max_size=12),
    st.data(),
)
def test_blocks_read_and_rewrite_like_csv(
    record_rows: list[tuple[str, str, str]],
    line_end: str,
    blank_every: int,
    final_newline: bool,
    cuts: list[int],
    data: st.DataObject,
) -> None:
    record_rows = [row for row in record_rows if row[0] != RECORD_PATH] + [(RECORD_PATH, "", "")]
    raw = encode(record_rows, line_end, blank_every, final_newline)
    record = Record(RECORD_PATH, lambda: cut_at(raw, cuts))
    expected = csv_rows(raw)
    assert list(record.rows()) == expected

    chosen = data.draw(st.lists(st.sampled_from(expected), max_size=4)) if expected else []
    replaced = {row.path: RecordRow(row.path, "sha256=new", "7") for row in chosen if row.path != RECORD_PATH}
    added = [RecordRow("pkg.libs/libnew.so", "sha256=lib", "9")]
    rewritten = b"".join(record.rewritten(replaced, added))

    # What the rewrite must mean: the added rows first (where the archive has the vendored
    # libraries), then the rows in order, replaced ones swapped, RECORD's own row last without a hash.
    kept = [replaced.get(row.path, row) for row in expected if row.path != RECORD_PATH]
    assert csv_rows(rewritten) == [*added, *kept, RecordRow(RECORD_PATH, "", "")]
    # Unchanged lines without quotes are kept byte for byte, line ends included.
    for line in raw.split(line_end.encode()):
        fields = line.decode().split(",")
        if line and b'"' not in line and fields[0] not in replaced and fields[0] != RECORD_PATH:
            assert line + line_end.encode() in rewritten or (
                not final_newline and raw.endswith(line) and line + b"\n" in rewritten
            )


def test_a_row_without_three_fields_is_refused_wherever_it_falls() -> None:
    good = b"".join(f"pkg/m{i}.py,sha256=x,1\n".encode() for i in range(5000))
    for data in (good + b"pkg/bad.py,1\n" + good, b'"pkg/q.py",sha256=x,1\n' + good + b"pkg/bad.py\n"):
        record = Record(RECORD_PATH, lambda data=data: cut_at(data, [1000, 70000]))
        with pytest.raises(RecordError, match="does not have 3 fields"):
            list(record.rows())


def test_rows_written_are_the_same_on_every_python() -> None:
    """As csv writes them on 3.13: before it, csv left a carriage return unquoted (the row
    would not split back) and 3.10 raised on a NUL (found by atheris on 3.10)."""
    record = Record(RECORD_PATH, lambda: [b"pkg/a.py,sha256=a,1\n" + RECORD_PATH.encode() + b",,\n"])
    added = [
        RecordRow("pkg.libs/a\rb.so", "sha256=x", "1"),
        RecordRow('pkg.libs/"q",\n.so', "", ""),
        RecordRow("pkg.libs/n\0.so", "", ""),
    ]
    rewritten = b"".join(record.rewritten({}, added))
    assert rewritten == (
        b'"pkg.libs/a\rb.so",sha256=x,1\n'
        b'"pkg.libs/""q"",\n.so",,\n'
        b"pkg.libs/n\0.so,,\n"
        b"pkg/a.py,sha256=a,1\n" + RECORD_PATH.encode() + b",,\n"
    )


@given(st.lists(st.text(max_size=8)), st.lists(st.text(max_size=8)), st.randoms())
@settings(max_examples=200, deadline=None)
def test_names_digests_add_and_subtract_like_the_multisets_they_stand_for(
    names: list[str], more: list[str], shuffler: random.Random
) -> None:
    """RECORD and the rewritten archive are checked by digest arithmetic alone: it must be
    order-free, additive, and stay within 64 bits (the modulus is the type's, not the caller's)."""
    shuffled = names[:]
    shuffler.shuffle(shuffled)
    assert NamesDigest.of(shuffled) == NamesDigest.of(names)
    assert NamesDigest.of(names + more) == NamesDigest.of(names) + NamesDigest.of(more)
    assert NamesDigest.of(names + more) - NamesDigest.of(more) == NamesDigest.of(names)
    assert 0 <= (NamesDigest.of(names) - NamesDigest.of(more)).value < 1 << 64


TAG_2025 = "cp313-cp313-pyodide_2025_0_wasm32"


@pytest.mark.parametrize("algorithm", ["sha384", "sha512"])
def test_record_hashed_with_a_stronger_algorithm(
    algorithm: str, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    files = {"pkg/__init__.py": b"", "pkg/_ext.so": fixture_libs.ext.read_bytes()}
    contents = dict(files)
    wheel = wheelbuilder.write_wheel(tmp_path / "ok", "pkg", "1.0", TAG_2025, files)
    with zipfile.ZipFile(wheel) as archive:
        contents = {name: archive.read(name) for name in archive.namelist() if not name.endswith("RECORD")}

    def rows(digest_of: str) -> list[tuple[str, str, str]]:
        import base64

        return [
            (
                path,
                f"{digest_of}=" + base64.urlsafe_b64encode(hashlib.new(digest_of, data).digest()).rstrip(b"=").decode(),
                str(len(data)),
            )
            for path, data in contents.items()
        ]

    strong = wheelbuilder.write_wheel(tmp_path / "strong", "pkg", "1.0", TAG_2025, files, record_rows=rows(algorithm))
    for extra in ([], ["--verify-record"]):
        result = cli(
            "repair",
            str(strong),
            "--libdir",
            str(fixture_libs.libdir),
            "-o",
            str(tmp_path / f"out{len(extra)}"),
            *extra,
        )
        assert result.returncode == 0, result.stderr
    weak = wheelbuilder.write_wheel(tmp_path / "weak", "pkg", "1.0", TAG_2025, files, record_rows=rows("md5"))
    refused = cli("repair", str(weak), "--libdir", str(fixture_libs.libdir), "-o", str(tmp_path / "out-md5"))
    assert refused.returncode == 2 and "has a RECORD hash of unsupported type 'md5'" in refused.stderr
