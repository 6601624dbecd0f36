"""Where the real-world test data is, and how a user's clone gets it.

The data is real 2022 Emscripten output (Pyodide 0.21's toolchain): Shapely, numpy and galpy
wheels, libgeos, OpenSSL's libraries, and a native ELF file, as auditwheel-emscripten's own
test data holds them.  CI finds it at ``../shared/realworld``; anyone else runs ``nox -s
realworld_data``, which downloads auditwheel-emscripten 0.0.16's sdist from PyPI (pinned by
its hash), takes these files out of it, checks each against its hash here, and puts them in
``tests/data/realworld`` (not committed).  ``$PYODIDE_AUDITWHEEL_REALWORLD`` names another
folder."""

from __future__ import annotations

import hashlib
import os
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "realworld"
DOWNLOADED = ROOT / "tests" / "data" / "realworld"
SDIST = "auditwheel-emscripten==0.0.16"
SDIST_SHA256 = "049ba7ef502921aec655f61a69362716de3c043694c294494f73909e805bc1a4"
SDIST_FOLDER = "auditwheel_emscripten-0.0.16/test/test_data/"
FILES = {
    "Shapely-1.8.2-cp310-cp310-emscripten_3_1_14_wasm32.whl": (
        "59b9ba438e5ca8d4c68655028a04c1e9473a8d7f4b1da2a9619b6a44742ae2d1"
    ),
    "numpy-1.22.4-cp310-cp310-emscripten_3_1_14_wasm32.whl": (
        "c099e586aea0d4bdee09cd4b2f82977e6c7b8bcb8b97fdeee2c66c419fa6ae23"
    ),
    "galpy-1.8.0-cp310-cp310-emscripten_3_1_14_wasm32.whl": (
        "9e2595a13264cfea4f7352a4482906e313aa740f9b57978a626b7d27985d257e"
    ),
    "libgeos_c.so": "c273f172b14056aa8b49caf7f5ef997bc0903bdc614f860b9a4c6a6dcfe6ed91",
    "libgeos.so.3.10.3": "ec86214ba3dc3cc28a94bdc18583e35dbd48d4b5ad9242dfa40cd3542a14d7c3",
    "libssl.so": "d2939abc05b670637dffeec725979dac20e657fbe9ae1c641c6f1e6153589917",
    "libcrypto.so": "230394684df220bb5f64d809007dc353928795bac286e657cf9ce80a187d3aab",
    "elf": "d1eba0d013dd361c24e9c5d5d0571797e441d979441a6bfbd58e20395a795007",
}


def realworld_dir() -> Path:
    """The folder the tests read: ``$PYODIDE_AUDITWHEEL_REALWORLD``, else ``../shared``'s, else
    the one ``nox -s realworld_data`` fills."""
    if os.environ.get("PYODIDE_AUDITWHEEL_REALWORLD"):
        return Path(os.environ["PYODIDE_AUDITWHEEL_REALWORLD"])
    return SHARED if SHARED.is_dir() else DOWNLOADED


REALWORLD = realworld_dir()
HOW_TO_GET_IT = "`nox -s realworld_data` downloads it (auditwheel-emscripten 0.0.16's test data, from PyPI)"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def extract(sdist: Path, target: Path) -> list[str]:
    """The files of ``FILES`` taken out of the sdist into ``target``, each checked against its
    hash first (a file that differs is refused, and nothing of it is written)."""
    if _sha256(sdist.read_bytes()) != SDIST_SHA256:
        raise SystemExit(f"{sdist} is not the pinned {SDIST} sdist (its sha256 differs)")
    target.mkdir(parents=True, exist_ok=True)
    written = []
    with tarfile.open(sdist) as archive:
        for name, digest in FILES.items():
            handle = archive.extractfile(SDIST_FOLDER + name)
            if handle is None:
                raise SystemExit(f"{sdist} holds no {name}")
            data = handle.read()
            if _sha256(data) != digest:
                raise SystemExit(f"{name} in {sdist} is not the file the tests expect (its sha256 differs)")
            (target / name).write_bytes(data)
            written.append(name)
    return written


if __name__ == "__main__":  # nox -s realworld_data: python tests/realworld.py SDIST
    import sys

    names = extract(Path(sys.argv[1]), DOWNLOADED)
    print(f"{len(names)} files in {DOWNLOADED}")
