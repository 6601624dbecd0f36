"""The file system a wheel is installed into (``InputTree.installed``) holds its directories
and modules, and any other file only once a lookup asks for its base name.  Every answer must
be the one a file system holding every member gives (what the loader model was checked
against the runtimes with, ``test_conformance``), on generated wheels and lookups."""

from __future__ import annotations

import random
from pathlib import Path

import wheelbuilder

from pyodide_auditwheel.runtime.vfs import VirtualFS, js_dirname
from pyodide_auditwheel.wheel.inputs import open_input
from pyodide_auditwheel.wheel.names import installed_at

SITE = "/lib/python3.13/site-packages"
DIRS = ["pkg", "pkg/sub", "pkg/sub/deep", "pkg.libs", "other", "pkg-1.0.data/platlib", "pkg-1.0.data/purelib/pkg"]
BASES = ["libz.so", "libz.so.1", "libz", "mod.so", "data.txt", "README", "a.wasm", "x.so.1.2", "deep", "sub"]
PARTS = ["pkg", "sub", "deep", "pkg.libs", "other", "libz.so", "libz", "data.txt", "..", ".", "missing", "README"]


def _every_file_installed(paths: list[str]) -> tuple[VirtualFS, dict[str, str]]:
    """The file system as it was built before files were added on demand: every file."""
    fs = VirtualFS()
    for directory in ("/usr/lib", SITE):
        fs.add_dir(directory)
    members: dict[str, str] = {}
    for path in paths:
        where = installed_at(SITE, path)
        fs.add_file(where, None)
        members.setdefault(where, path)
    return fs, members


def _random_files(rng: random.Random) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    while len(files) < rng.randint(1, 25):
        path = f"{rng.choice(DIRS)}/{rng.choice(BASES)}"
        # a name must not be both a file and a directory of the wheel
        if not any(other.startswith(path + "/") or path.startswith(other + "/") for other in files):
            files[path] = b"x"
    return files


def test_every_lookup_answers_as_with_every_file_there(tmp_path: Path) -> None:
    rng = random.Random(783)
    for case in range(150):
        wheel = wheelbuilder.write_wheel(
            tmp_path / str(case), "pkg", "1.0", "cp313-cp313-pyodide_2025_0_wasm32", _random_files(rng)
        )
        tree = open_input(wheel)
        try:
            paths = list(tree.files())
            full, full_members = _every_file_installed(paths)
            fs, members = tree.installed(SITE)
            for _ in range(40):
                path = SITE + "/" + "/".join(rng.choice(PARTS) for _ in range(rng.randint(1, 5)))
                found = fs.lookup(path)
                assert found == full.lookup(path), (paths, path)
                assert (found in fs.files) == (found in full.files), (paths, path)
                assert members.get(found or "") == full_members.get(found or ""), (paths, path)
            assert fs.children.keys() == full.children.keys()
            for directory in full.children:  # the directories in creation order (0.27 walks them so)
                assert list(fs.subdirs(directory)) == list(full.subdirs(directory))
        finally:
            tree.close()


def test_only_the_modules_are_held_until_a_lookup_asks(tmp_path: Path) -> None:
    files = {f"pkg/data{index}.txt": b"x" for index in range(200)} | {"pkg/mod.so": b"x"}
    wheel = wheelbuilder.write_wheel(tmp_path, "pkg", "1.0", "cp313-cp313-pyodide_2025_0_wasm32", files)
    tree = open_input(wheel)
    try:
        fs, _members = tree.installed(SITE)
        assert set(fs.files) == {f"{SITE}/pkg/mod.so"}
        assert fs.lookup(f"{SITE}/pkg/data7.txt") == f"{SITE}/pkg/data7.txt"
        assert set(fs.files) == {f"{SITE}/pkg/mod.so", f"{SITE}/pkg/data7.txt"}
        assert js_dirname(f"{SITE}/pkg/data7.txt") in fs.children
    finally:
        tree.close()
