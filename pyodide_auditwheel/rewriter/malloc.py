"""One process-wide memory setting, made by the ``repair`` command before it starts threads
or worker processes (the library leaves it to the program: a process that imports the API
keeps its own malloc behaviour).

glibc gives each thread that allocates its own malloc arena.  Memory a thread frees stays in
its arena, and the arenas of a repair's worker threads (which inflate every member to check
its CRC) keep more the more members a wheel has, so a repair's peak would grow faster than
the wheel.  With one arena for all threads it does not, and a repair is no slower: the
threads allocate while they hold the GIL, so they never wait for each other's malloc lock
(docs/performance.md has the figures).
"""

from __future__ import annotations

import sys

M_ARENA_MAX = -8  # glibc's malloc.h


def one_arena_for_all_threads() -> None:
    """Ask glibc to keep every thread's allocations in the main arena; elsewhere (musl, macOS,
    Windows), or where no C library can be asked, nothing changes."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None).mallopt(M_ARENA_MAX, 1)
    except (OSError, AttributeError):  # no mallopt: a C library other than glibc
        return
