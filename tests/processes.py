"""What a running repair process holds open, read from /proc: tests that interrupt a repair
wait for the moment it is writing instead of sleeping and hoping."""

from __future__ import annotations

import os
from pathlib import Path


def holds_temp_file_in(pid: int, directory: Path) -> bool:
    """Whether the process holds open a file in ``directory`` other than a wheel (the new
    archive being written: unnamed with O_TMPFILE, '.NAME.*.tmp' otherwise)."""
    try:
        targets = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    return any(t.startswith(str(directory) + "/") and not t.endswith(".whl") for t in targets)
