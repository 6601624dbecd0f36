"""Coverage-guided fuzzing (atheris) of the decoders a hostile wheel reaches first.

Run by ``test_fuzz.py`` with a fixed budget; by hand: ``python tests/fuzz_targets.py
-runs=1000000``.  Each input is tried as (1) the bytes after the wasm header of a module whose
dylink section is decoded and, when it decodes, re-encoded (which must give back the same
bytes), (2) a whole module for the import/export decoder, (3) a zip archive, (4) a RECORD,
read and rewritten in two chunks cut where its first byte says.  Anything but an
AuditwheelError, or a re-encoding that differs, is a finding.
"""

from __future__ import annotations

import io
import sys

import atheris

with atheris.instrument_imports():
    from pyodide_auditwheel.errors import AuditwheelError
    from pyodide_auditwheel.wasm.dylink import read_head
    from pyodide_auditwheel.wasm.sections import HEADER, read_interface
    from pyodide_auditwheel.wheel.record import Record, RecordRow
    from pyodide_auditwheel.wheel.zipio import ZipReader


def one_input(data: bytes) -> None:
    module = HEADER + data
    try:
        head = read_head(module)
    except AuditwheelError:
        pass
    else:
        again = HEADER + head.dylink.encode()
        assert again == module[: head.first_section_end], "dylink section not re-encoded exactly"
    try:
        read_interface(module)
    except AuditwheelError:
        pass
    try:
        reader = ZipReader(io.BytesIO(data), "fuzz.whl")
        for member in reader:
            reader.read_head(member, 64)
    except AuditwheelError:
        pass
    cut = data[0] if data else 0
    record = Record("pkg-1.0.dist-info/RECORD", lambda: [data[:cut], data[cut:]])
    try:
        rows = list(record.rows())
        replaced = {row.path: RecordRow(row.path, "sha256=x", "1") for row in rows[:1]}
        b"".join(record.rewritten(replaced, [RecordRow("pkg.libs/x.so", "", "")]))
    except AuditwheelError:
        pass


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
