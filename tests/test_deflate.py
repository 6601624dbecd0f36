"""The block-wise deflate stream the writer compresses streamed members with.

Blocks are primed with the 32 KiB before them and compressed on several threads; what comes
out must inflate to the input, with references across block boundaries, and must be the same
bytes however the input is cut and whichever threads compressed it.
"""

from __future__ import annotations

import hashlib
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from streams import cut_at

from pyodide_auditwheel.wheel.zipio import Deflater

POOL = ThreadPoolExecutor(max_workers=3)

# Repeats of a random piece, so that matches reach back across block boundaries.
repetitive = st.builds(lambda piece, times: piece * times, st.binary(min_size=1, max_size=400), st.integers(1, 80))


@given(
    data=st.one_of(st.binary(max_size=5000), repetitive),
    block_size=st.integers(1, 6000),
    cuts=st.lists(st.integers(0, 40000), max_size=6),
    pooled=st.booleans(),
)
@settings(max_examples=300, deadline=None)
def test_blocks_inflate_to_the_input_whatever_the_cuts_and_threads(
    data: bytes, block_size: int, cuts: list[int], pooled: bool
) -> None:
    reference = Deflater(block_size=block_size).deflate_all([data])
    deflated = Deflater(pool=POOL if pooled else None, block_size=block_size, in_flight=2).deflate_all(
        cut_at(data, cuts)
    )
    stream = b"".join(deflated.chunks)
    assert stream == b"".join(reference.chunks)
    assert zlib.decompress(stream, -15) == data
    assert (deflated.crc, deflated.size, deflated.compressed_size) == (zlib.crc32(data), len(data), len(stream))
    assert deflated.sha256 == hashlib.sha256(data).digest()


@given(st.one_of(st.binary(max_size=3000), repetitive))
@settings(max_examples=100, deadline=None)
def test_a_member_of_one_block_is_plain_zlib_output(data: bytes) -> None:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    assert b"".join(Deflater(pool=POOL).deflate_all([data]).chunks) == compressor.compress(data) + compressor.flush()


def test_priming_keeps_the_ratio_of_one_stream() -> None:
    """Blocks compressed apart would lose the matches that reach back into the block before;
    primed with it, the stream is within a fraction of a percent of one zlib stream."""
    data = b"".join(hashlib.sha256(str(i % 5000).encode()).hexdigest().encode() for i in range(40000))
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    one_stream = len(compressor.compress(data) + compressor.flush())
    blocks = Deflater(pool=POOL, block_size=64 * 1024).deflate_all([data]).compressed_size
    assert blocks < one_stream * 1.01


def _repair_retagged(wheel: Path, out: Path, *, accelerated: bool) -> bytes:
    """``repair --plat`` in a process that has libdeflate, or one where it is not there."""
    import subprocess
    import sys

    hide = "" if accelerated else "sys.modules['deflate'] = None; "
    code = (
        f"import sys; {hide}from pyodide_auditwheel.wheel.zipio import data; "
        "assert (data._fast_inflate is not None) == (sys.modules.get('deflate') is not None); "
        "from pyodide_auditwheel.cli import app; app()"
    )
    argv = ["repair", str(wheel), "--plat", "pyemscripten_2025_0_wasm32", "-w", str(out)]
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    (written,) = out.glob("*.whl")
    return written.read_bytes()


def test_the_inflate_accelerator_changes_no_byte_and_no_verdict(tmp_path: Path) -> None:
    """The members a repair copies are CRC-checked with libdeflate where it is installed (the
    dependency's markers: CPython >= 3.11 on x86_64/aarch64), with zlib elsewhere: the same
    wheel comes out either way, and a member that fails its CRC is refused either way.
    Members of every path: windowed (small), whole (1 MiB) and streamed (5 MiB)."""
    import platform
    import random
    import sys

    import wheelbuilder

    rng = random.Random(7)
    words = [bytes(rng.choices(range(97, 123), k=rng.randint(2, 9))) for _ in range(500)]
    text = lambda size: b" ".join(rng.choices(words, k=size // 5))[:size]  # noqa: E731
    files = {f"pkg/m{index}.py": text(2000) for index in range(20)}
    files |= {"pkg/medium.dat": text(1 << 20), "pkg/large.dat": text(5 << 20), "pkg/__init__.py": b""}
    wheel = wheelbuilder.write_wheel(tmp_path / "in", "pkg", "1.0", wheelbuilder.PLATFORM_TAGS["pyodide_2025_0"], files)
    accelerated = _repair_retagged(wheel, tmp_path / "with", accelerated=True)
    assert accelerated == _repair_retagged(wheel, tmp_path / "without", accelerated=False)
    if sys.version_info >= (3, 11) and platform.machine() in ("x86_64", "aarch64"):
        import deflate  # the dependency installs here  # noqa: F401
    data = bytearray(wheel.read_bytes())
    at = data.index(b"pkg/medium.dat") + len(b"pkg/medium.dat")  # in the local header: the data follows
    data[at + 1000] ^= 0xFF
    broken = tmp_path / "broken" / wheel.name
    broken.parent.mkdir()
    broken.write_bytes(bytes(data))
    import subprocess

    for hide in ("", "import sys; sys.modules['deflate'] = None; "):
        code = f"{hide}from pyodide_auditwheel.cli import app; app()"
        argv = ["repair", str(broken), "--plat", "pyemscripten_2025_0_wasm32", "-w", str(tmp_path / "refused")]
        done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=False)
        assert done.returncode == 2 and "pkg/medium.dat" in done.stderr, done.stderr
        assert not (tmp_path / "refused").exists()
