"""The benchmark's wheel, built deterministically from ../shared/realworld (the tests use it
on a small instance, benchmarks/bench.py at full size): numpy's members replicated into
``copies`` packages plus Shapely's two extension modules copied into ten subpackages (they need
libgeos_c.so -> libgeos.so.3.10.3).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from realworld import REALWORLD

from pyodide_auditwheel.wasm.sections import encode_name, encode_uleb
from pyodide_auditwheel.wheel.record import RecordRow
from pyodide_auditwheel.wheel.zipio import ZipReader, ZipWriter

NUMPY = REALWORLD / "numpy-1.22.4-cp310-cp310-emscripten_3_1_14_wasm32.whl"
SHAPELY = REALWORLD / "Shapely-1.8.2-cp310-cp310-emscripten_3_1_14_wasm32.whl"
DIST = "bigpkg"
TAG = "cp310-cp310-emscripten_3_1_14_wasm32"


def build_big_wheel(out_dir: Path, copies: int) -> Path:
    """Raw-copies members under new names, so building costs no compression."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{DIST}-1.0-{TAG}.whl"
    info = f"{DIST}-1.0.dist-info"
    rows: list[list[str]] = []
    with open(NUMPY, "rb") as nf, open(SHAPELY, "rb") as sf, open(out, "wb") as handle:
        numpy_zip, shapely_zip = ZipReader(nf, NUMPY.name), ZipReader(sf, SHAPELY.name)
        numpy_rows = {
            r[0]: r
            for r in csv.reader(
                io.StringIO(numpy_zip.read(numpy_zip.by_name["numpy-1.22.4.dist-info/RECORD"]).decode())
            )
        }
        shapely_rows = {
            r[0]: r
            for r in csv.reader(
                io.StringIO(shapely_zip.read(shapely_zip.by_name["Shapely-1.8.2.dist-info/RECORD"]).decode())
            )
        }
        writer = ZipWriter(handle)
        for index in range(copies):
            for member in numpy_zip:
                if member.is_dir or ".dist-info/" in member.name:
                    continue
                name = f"{DIST}{index}/{member.name}"
                writer.copy_raw(numpy_zip, member, name=name)
                rows.append([name, *numpy_rows[member.name][1:]])
        for index in range(10):
            for member in shapely_zip:
                if member.name.endswith(".so"):
                    name = f"{DIST}_geo{index}/{member.name}"
                    writer.copy_raw(shapely_zip, member, name=name)
                    rows.append([name, *shapely_rows[member.name][1:]])
        meta = {
            f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {DIST}\nVersion: 1.0\n".encode(),
            f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: false\nTag: {TAG}\n".encode(),
        }
        for name, data in meta.items():
            written = writer.add_bytes(name, data, mode=0o100644, date_time=(0, 33))
            rows.append(list(RecordRow.of(name, written)))
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows([*rows, [f"{info}/RECORD", "", ""]])
        writer.add_bytes(f"{info}/RECORD", text.getvalue().encode(), mode=0o100644, date_time=(0, 33))
        writer.close()
    return out


def pad_library(source: Path, dest: Path, size: int) -> Path:
    """A copy of a side module grown to about ``size`` bytes by a custom section at its end,
    filled with repeats of the module itself (so it compresses like a real library): still a
    valid module, with the same dylink section, that a repair must vendor whole."""
    module = source.read_bytes()
    name = encode_name("bench.padding")
    filler = (module * (size // len(module) + 1))[: max(0, size - len(module))]
    payload = name + filler
    dest.write_bytes(module + b"\x00" + encode_uleb(len(payload)) + payload)
    return dest
