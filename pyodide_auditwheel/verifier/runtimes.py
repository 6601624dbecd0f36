"""Which Pyodide ``verify`` runs a wheel in: a folder the user names, or a release installed
with npm into the user's cache, once.

A runtime is the folder of an installed npm ``pyodide`` package (``pyodide.asm.wasm``,
``pyodide.js`` and its ``package.json``).  It is named with ``--runtime`` (or
``$PYODIDE_AUDITWHEEL_RUNTIME``), given as a release (``--pyodide 0.29.5``), or, by default,
the newest release of the ABI the wheel's tag names that the tool's runtime data was made
from.  A release is installed into ``$PYODIDE_AUDITWHEEL_CACHE`` (else
``$XDG_CACHE_HOME/pyodide-auditwheel``, else ``~/.cache/pyodide-auditwheel``) under a file
lock, so concurrent calls install it once.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import RuntimeUnavailableError
from ..runtime.abi import Abi, known_abis

RUNTIME_ENV = "PYODIDE_AUDITWHEEL_RUNTIME"
CACHE_ENV = "PYODIDE_AUDITWHEEL_CACHE"
# The Node that runs the runtimes the suite pins (Pyodide 0.21 and later need 18 at most).
NODE_MIN_MAJOR = 18
NPM_TIMEOUT = 600.0
_RELEASE = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?")


@dataclass(frozen=True)
class Runtime:
    """An installed Pyodide.

    Attributes:
        directory: the npm package's folder.
        version: its release, as its package.json spells it (``315.0.0-alpha.2``).
        abi: the ABI its wheels are built for (None: a release the tool's data does not know).
    """

    directory: Path
    version: str
    abi: Abi | None


def release_family(version: str) -> str:
    """The release series a version is of, as the ABI data and the loaders' names spell it
    (``315.0.0-alpha.2`` → ``315.0``)."""
    return ".".join(version.split("-", 1)[0].split(".")[:2])


def abi_of_release(version: str) -> Abi | None:
    """The known ABI whose releases include ``version`` (``0.27.8`` → ``pyodide_2024_0``)."""
    family = release_family(version) + ".x"
    return next((abi for abi in known_abis() if family in abi.pyodide.split(", ")), None)


def runtime_in(path: Path) -> Runtime:
    """The runtime in ``path``: the package folder itself, or a ``node_modules`` (or a
    project holding one) with ``pyodide`` in it."""
    for candidate in (path, path / "pyodide", path / "node_modules" / "pyodide"):
        if (candidate / "pyodide.asm.wasm").is_file() and (candidate / "pyodide.js").is_file():
            return Runtime(candidate.resolve(), _version_of(candidate), abi_of_release(_version_of(candidate)))
    raise RuntimeUnavailableError(
        f"{path} is not a Pyodide runtime: it holds no pyodide.asm.wasm and pyodide.js (give the folder of an "
        "installed npm pyodide package, or --pyodide VERSION to install one)."
    )


def _version_of(directory: Path) -> str:
    try:
        version = json.loads((directory / "package.json").read_text("utf-8")).get("version", "")
    except (OSError, ValueError, AttributeError):
        version = ""
    return version if isinstance(version, str) and version else "unknown"


def cache_directory(environ: Mapping[str, str]) -> Path:
    if environ.get(CACHE_ENV):
        return Path(environ[CACHE_ENV])
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "pyodide-auditwheel")


def installed_release(version: str, environ: Mapping[str, str]) -> Runtime:
    """Release ``version`` from npm, installed into the cache once (a lock serialises
    concurrent calls; an install cut short is redone, never used)."""
    import fcntl

    if not _RELEASE.fullmatch(version):
        raise RuntimeUnavailableError(f"--pyodide {version!r} is not a release number such as 0.29.5 or 314.0.8.")
    npm = shutil.which("npm", path=environ.get("PATH"))
    if npm is None:
        raise RuntimeUnavailableError(
            f"installing Pyodide {version} needs npm on PATH; install Node.js with npm, or give --runtime DIR."
        )
    root = cache_directory(environ) / f"pyodide-{version}"
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        with open(root.parent / f"pyodide-{version}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            done = root / ".complete"
            if not done.exists():
                shutil.rmtree(root, ignore_errors=True)
                root.mkdir()
                _npm_install(npm, version, root, environ)
                runtime_in(root)  # what npm left is a runtime, or the install is not complete
                done.touch()
    except OSError as error:
        raise RuntimeUnavailableError(
            f"cannot install Pyodide {version} into {root.parent}: {error.strerror or error}."
        ) from None
    return runtime_in(root)


def _npm_install(npm: str, version: str, root: Path, environ: Mapping[str, str]) -> None:
    command = [npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", str(root), f"pyodide@{version}"]
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=NPM_TIMEOUT, env=dict(environ), check=False
        )
    except subprocess.TimeoutExpired:
        raise RuntimeUnavailableError(f"npm did not install Pyodide {version} within {NPM_TIMEOUT:.0f} s.") from None
    if completed.returncode != 0:
        said = next((line for line in completed.stderr.splitlines() if "ERR" in line), "").strip()
        raise RuntimeUnavailableError(
            f"npm could not install Pyodide {version} (exit {completed.returncode}"
            + (f": {said}" if said else "")
            + "); check the release number and the network, or give --runtime DIR."
        )


def default_runtime(abi: Abi, environ: Mapping[str, str]) -> Runtime:
    """The newest release of ``abi`` the tool's runtime data was made from, from the cache."""
    from ..runtime.offers import load_offer

    return installed_release(load_offer(abi.name).pyodide, environ)


def check_node(environ: Mapping[str, str]) -> str:
    """The ``node`` to run, checked to be new enough; one sentence otherwise."""
    node = shutil.which("node", path=environ.get("PATH"))
    if node is None:
        raise RuntimeUnavailableError(
            f"verify runs the wheel in Pyodide under Node.js, and no node is on PATH: install Node.js "
            f"{NODE_MIN_MAJOR} or newer."
        )
    said = _version_said_by(node)
    match = re.match(r"v(\d+)\.", said.strip())
    if match is None or int(match.group(1)) < NODE_MIN_MAJOR:
        raise RuntimeUnavailableError(
            f"{node} is not Node.js {NODE_MIN_MAJOR} or newer (it says {said.strip() or 'nothing'!r})."
        )
    return node


@functools.lru_cache(maxsize=4)
def _version_said_by(node: str) -> str:
    """What ``node --version`` prints, asked once per process (a call verifies each of its
    wheels in a Node of its own, with one Node)."""
    try:
        return subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
