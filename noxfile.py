"""Sessions: tests, lint, demo (and bench once the benchmark lands)."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True
RUNTIME_DIR = "tests/runtime"


def install_runtimes(session: nox.Session) -> None:
    """The Pyodide runtimes the repaired wheels are proven on, pinned by the lockfile."""
    session.run("npm", "ci", "--no-audit", "--no-fund", "--prefix", RUNTIME_DIR, external=True)


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    install_runtimes(session)
    session.run("pytest", *(session.posargs or ["-q", "-rs"]))


@nox.session
def lint(session: nox.Session) -> None:
    session.install("-e", ".[lint]")
    session.run("ruff", "check", "pyodide_auditwheel", "tests", "noxfile.py")
    session.run("mypy", "--strict", "pyodide_auditwheel")


@nox.session
def demo(session: nox.Session) -> None:
    """Build the demo wheels with ziglang, show them, repair them, load them in Pyodide."""
    session.install("-e", ".[test]")
    install_runtimes(session)
    session.run("python", "tests/demo.py", *session.posargs)
