"""What every repaired wheel must satisfy, checked with the standard library's own readers
(zipfile, csv, hashlib) rather than ours."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import zipfile
from pathlib import Path


def check_wheel_valid(path: Path) -> dict[str, bytes]:
    """Central directory, CRCs and every RECORD row (quoted ones too) check out; returns the
    contents by name."""
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        contents = {name: archive.read(name) for name in archive.namelist()}
    record_name = next(name for name in contents if name.endswith(".dist-info/RECORD"))
    rows = [row for row in csv.reader(io.StringIO(contents[record_name].decode())) if row]
    assert {row[0] for row in rows} == set(contents)
    for name, digest, size in rows:
        if name != record_name:
            expected = (
                "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(contents[name]).digest()).rstrip(b"=").decode()
            )
            assert (digest, size) == (expected, str(len(contents[name]))), name
    return contents
