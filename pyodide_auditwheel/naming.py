"""The command a hint tells the user to run, spelt as they ran this one.

The documentation recommends ``pyodide-auditwheel`` for scripts (beside pyodide-build,
``pyodide auditwheel`` may be another tool); a hint that says ``pyodide auditwheel audit`` to
someone who typed ``pyodide-auditwheel show`` sends them to the command that may not be ours.
The command line sets the spelling once it knows how it was started; the API keeps the
pyodide-cli one."""

from __future__ import annotations

PLUGIN = "pyodide auditwheel"
SCRIPT = "pyodide-auditwheel"
_ran_as = [PLUGIN]


def ran_as(prefix: str) -> None:
    _ran_as[0] = prefix


def command(subcommand: str) -> str:
    """``pyodide-auditwheel audit`` (or ``pyodide auditwheel audit``), in backquotes."""
    return f"`{_ran_as[0]} {subcommand}`"
