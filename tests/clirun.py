"""Running the command line as users run it: through pyodide-cli's real entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """Output as a pipe gets it: COLUMNS (which the tool honours) is the caller's to set.
    ``timeout`` turns a hang into a failure (a guard, not a measurement)."""
    if env is None:
        env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    pyodide = Path(sys.executable).parent / "pyodide"
    return subprocess.run(
        [str(pyodide), "auditwheel", *args], capture_output=True, text=True, check=False, env=env, timeout=timeout
    )
