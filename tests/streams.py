"""Helpers for tests of code that reads streams in pieces of any size."""

from __future__ import annotations

import itertools


def cut_at(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given offsets (clamped to its length, in any order): the pieces
    joined are ``data`` again, and some may be empty."""
    bounds = [0, *sorted(min(cut, len(data)) for cut in cuts), len(data)]
    return [data[start:end] for start, end in itertools.pairwise(bounds)]
