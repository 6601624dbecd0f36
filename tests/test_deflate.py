"""The block-wise deflate stream the writer compresses streamed members with.

Blocks are primed with the 32 KiB before them and compressed on several threads; what comes
out must inflate to the input, with references across block boundaries, and must be the same
bytes however the input is cut and whichever threads compressed it.
"""

from __future__ import annotations

import hashlib
import zlib
from concurrent.futures import ThreadPoolExecutor

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
