"""The atheris fuzzer over the module, dylink, zip and RECORD decoders, with a fixed budget."""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import wheelbuilder
from conftest import unavailable

FUZZ_RUNS = 100_000


def seeds(fixture_libs: wheelbuilder.FixtureLibs, corpus: Path) -> None:
    """Real inputs to start from: the heads of toolchain-built side modules, a wheel, and a
    RECORD (quoted row, CRLF, blank line)."""
    corpus.mkdir()
    for index, module in enumerate((fixture_libs.ext, fixture_libs.outer, fixture_libs.counter)):
        (corpus / f"module{index}").write_bytes(module.read_bytes()[8:1024])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("pkg/_ext.so", fixture_libs.ext.read_bytes()[:512])
        archive.writestr("pkg/__init__.py", b"")
    (corpus / "wheel").write_bytes(buffer.getvalue())
    (corpus / "record").write_bytes(
        b'\x10pkg/_ext.so,sha256=AbC-_x,512\r\n"pkg/a,b.py",sha256=x,1\r\n\npkg-1.0.dist-info/METADATA,,\npkg-1.0.dist-info/RECORD,,\n'
    )


def test_atheris_budget_finds_nothing(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    if importlib.util.find_spec("atheris") is None:
        unavailable("atheris is not installed (pip install -e .[test])")
    corpus = tmp_path / "corpus"
    seeds(fixture_libs, corpus)
    target = Path(__file__).with_name("fuzz_targets.py")
    result = subprocess.run(
        [
            sys.executable,
            str(target),
            str(corpus),
            f"-runs={FUZZ_RUNS}",
            "-max_len=4096",
            "-seed=1",
            f"-artifact_prefix={tmp_path}/",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"Done {FUZZ_RUNS} runs" in result.stderr
