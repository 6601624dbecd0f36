"""Sessions: tests, lint, docs, demo, bench, runtime_data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "docs"]


def _select_every_pyenv_python() -> None:
    """pyenv's shims answer only for a selected version: select every installed one (the
    current first), as .ci/run does, so that `nox -s tests` finds 3.10-3.13 by itself."""
    import shutil
    import subprocess

    pyenv = shutil.which("pyenv")
    if pyenv is None or "PYENV_VERSION" in os.environ:
        return
    current = subprocess.run([pyenv, "version-name"], capture_output=True, text=True, check=False).stdout.strip()
    installed = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True, check=False).stdout
    versions = [current, *installed.split()] if current else installed.split()
    if versions:
        os.environ["PYENV_VERSION"] = ":".join(dict.fromkeys(versions))


_select_every_pyenv_python()
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
    # One pytest worker per core: the Node-driven tests are single-threaded processes, and the
    # conformance harness alone is ten of them of half a minute each.
    args = list(session.posargs or ["-q", "-rs", "-n", "auto"])
    if not session.posargs and _runtime_tests_done:
        args += ["-m", "not runtime"]
    try:
        session.run("pytest", *args)
    finally:  # once, pass or fail: a failure in the first Python's run is not a reason to redo them
        _runtime_tests_done = True


FAST_TIER = "not runtime and not toolchain and not realworld and not network"


@nox.session
def fast(session: nox.Session) -> None:
    """The fast tier: no Node, no toolchain, no download; the loader model checked against
    the runtimes' recorded answers.  About 50 s here."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", "-m", FAST_TIER, *session.posargs)


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
    session.install("-e", ".[demo]")  # the package and the toolchain, not the test extra
    install_runtimes(session)
    session.run("python", "tests/demo.py", *session.posargs)


# The peer users get: pyodide-build pins auditwheel-emscripten 0.3.0, which needs Python >= 3.12
# (on 3.11 pip resolves 0.0.16).
PEER = "auditwheel-emscripten==0.3.0"
PEER_PYTHONS = ("python3.13", "python3.12")


def _peer_python(session: nox.Session) -> str:
    """A Python >= 3.12 that runs (a pyenv shim answers only when its version is selected,
    which .ci/run does for every installed one)."""
    import shutil
    import subprocess

    for name in PEER_PYTHONS:
        found = shutil.which(name)
        if found and subprocess.run([found, "-c", "pass"], capture_output=True, check=False).returncode == 0:
            return found
    session.error(f"{PEER} needs Python >= 3.12: put python3.12 or python3.13 on PATH")


@nox.session
def bench(session: nox.Session) -> None:
    """Ours vs auditwheel-emscripten 0.3.0 (on Python >= 3.12, in its own venv) vs cp on a
    ≈90 MB wheel."""
    # Installed as users get it (not editable): pip byte-compiles it, so start-up is theirs.
    session.install(".")
    install_runtimes(session)  # verify's figure runs in one
    theirs = Path(session.create_tmp()) / "auditwheel-emscripten"
    session.run(_peer_python(session), "-m", "venv", "--clear", str(theirs), external=True)
    # it unpacks and packs wheels with the `wheel` command
    session.run(str(theirs / "bin" / "pip"), "install", "-q", PEER, "wheel", external=True)
    session.run("python", "benchmarks/bench.py", "--theirs", str(theirs / "bin" / "pyodide"), *session.posargs)


@nox.session
def realworld_data(session: nox.Session) -> None:
    """The real-world test data for a clone without ../shared: auditwheel-emscripten 0.0.16's
    sdist from PyPI (its hash pinned), the files the tests read taken out of it and checked
    one by one (tests/realworld.py), into tests/data/realworld."""
    download = Path(session.create_tmp()) / "realworld-sdist"
    requirement = download.parent / "realworld-requirement.txt"
    sys.path.insert(0, str(Path(__file__).parent / "tests"))
    from realworld import SDIST, SDIST_SHA256

    requirement.write_text(f"{SDIST} --hash=sha256:{SDIST_SHA256}\n")
    session.run(
        "python", "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", "--require-hashes",
        "-r", str(requirement), "-d", str(download), external=True,
    )  # fmt: skip
    (sdist,) = download.glob("auditwheel_emscripten-*.tar.gz")
    session.run("python", "tests/realworld.py", str(sdist), external=True)


@nox.session
def runtime_answers(session: nox.Session) -> None:
    """Record again what each runtime's loader answers to the replayed cases
    (tests/data/runtime-answers.json, which the fast tier replays against the model); the
    runtime tier checks, in CI, that the recording is still what the runtimes say."""
    session.install("-e", ".[test]")
    install_runtimes(session)
    session.run("python", "tests/record_runtime_answers.py")


@nox.session
def runtime_data(session: nox.Session) -> None:
    """Regenerate pyodide_auditwheel/data/runtimes/ from the pinned npm pyodide packages: an
    ABI with two pins (0.26, 0.27) gets the newer one's data and the older one's differences."""
    session.install("-e", ".")
    install_runtimes(session)
    packages = sorted(str(path) for path in Path(RUNTIME_DIR, "node_modules").glob("pyodide-*"))
    session.run("python", "-m", "pyodide_auditwheel.runtime.generate", *packages)
