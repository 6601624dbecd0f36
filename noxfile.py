"""Sessions: tests, lint, docs, demo, bench, runtime_data."""

from __future__ import annotations

from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "docs"]
nox.options.reuse_existing_virtualenvs = True
RUNTIME_DIR = "tests/runtime"


def install_runtimes(session: nox.Session) -> None:
    """The Pyodide runtimes the repaired wheels are proven on, pinned by the lockfile."""
    session.run("npm", "ci", "--no-audit", "--no-fund", "--prefix", RUNTIME_DIR, external=True)


# Every Python the package supports (pyproject's requires-python); csv, zlib and hashlib
# differ between them in ways a test has caught.
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


# What the Node-driven tests (marker "runtime") prove does not depend on the host's Python:
# within one nox run they run in the first tests session only.
_runtime_tests_done = False


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    global _runtime_tests_done
    session.install("-e", ".[test]")
    install_runtimes(session)
    args = list(session.posargs or ["-q", "-rs"])
    if not session.posargs and _runtime_tests_done:
        args += ["-m", "not runtime"]
    session.run("pytest", *args)
    _runtime_tests_done = True


@nox.session
def lint(session: nox.Session) -> None:
    session.install("-e", ".[lint]")
    paths = ["pyodide_auditwheel", "tests", "benchmarks", "noxfile.py", "docs/conf.py", "docs/_ext"]
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)
    session.run("mypy", "--strict", "pyodide_auditwheel")


@nox.session
def docs(session: nox.Session) -> None:
    """The docs site (Sphinx + MyST) into docs/_build/html; a warning is an error."""
    session.install("-e", ".[docs]")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """Build the demo wheels with ziglang, show them, repair them, load them in Pyodide."""
    session.install("-e", ".[test]")
    install_runtimes(session)
    session.run("python", "tests/demo.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Ours vs auditwheel-emscripten (latest, in its own venv) vs cp on a ≈90 MB wheel."""
    # Installed as users get it (not editable): pip byte-compiles it, so start-up is theirs.
    session.install(".")
    theirs = Path(session.create_tmp()) / "auditwheel-emscripten"
    session.run("python", "-m", "venv", str(theirs))
    # its CLI imports wheel.cli, which wheel >= 0.42 no longer has
    session.run(str(theirs / "bin" / "pip"), "install", "-q", "auditwheel-emscripten", "wheel<0.42", external=True)
    session.run("python", "benchmarks/bench.py", "--theirs", str(theirs / "bin" / "pyodide"), *session.posargs)


@nox.session
def runtime_data(session: nox.Session) -> None:
    """Regenerate pyodide_auditwheel/data/runtimes/ from the pinned npm pyodide packages; in
    sorted order, so an ABI with two pins (0.26, 0.27) gets the newer one's data."""
    session.install("-e", ".")
    install_runtimes(session)
    packages = sorted(str(path) for path in Path(RUNTIME_DIR, "node_modules").glob("pyodide-*"))
    session.run("python", "-m", "pyodide_auditwheel.runtimes", *packages)
