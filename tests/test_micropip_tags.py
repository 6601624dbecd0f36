"""The platform tags each pinned release's micropip installs, asked of that micropip in that
runtime: ``platform_tags`` in ``data/abis.json`` (each tag with the first release that installs
it) must say the same, since ``repair --plat`` and ``show`` go by it.

micropip is not in the npm package: the version the release's lock file names is downloaded
from PyPI in the test session (with packaging, which micropip before 0.8 imports), loaded into
the runtime, and its ``sys_tags()`` read (micropip 0.1-0.5 take packaging's as it is, so
packaging's is read there).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import unavailable
from packaging.version import Version
from runtime_driver import ALL_RUNTIMES, RUNTIME_DIR, run_in_pyodide

from pyodide_auditwheel.runtime.abi import known_abis

PACKAGING = "packaging==23.2"
READ_TAGS = (
    "try:\n"
    "    from micropip._utils import sys_tags\n"
    "except ImportError:\n"
    "    from packaging.tags import sys_tags\n"
    "' '.join(sorted({tag.platform for tag in sys_tags()} - {'any'}))"
)


def release_info(runtime: str) -> tuple[str, str]:
    """(the release's version, the micropip version its lock file names)."""
    package = RUNTIME_DIR / "node_modules" / runtime
    lock = next(package / name for name in ("pyodide-lock.json", "repodata.json") if (package / name).is_file())
    version = json.loads((package / "package.json").read_text())["version"]
    return version, json.loads(lock.read_text())["packages"]["micropip"]["version"]


def download(requirement: str, target: Path) -> Path | None:
    """The pure-Python wheel of ``requirement`` from PyPI; None when PyPI has no such version."""
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"),
            *("--python-version", "3.13", "-d", str(target), requirement),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        if "No matching distribution" in done.stderr or "Could not find a version" in done.stderr:
            return None
        unavailable(f"pip download {requirement} failed: {done.stderr[-500:]}")
    name, version = requirement.split("==")
    return next(path for path in target.glob(f"{name}-*.whl") if Version(path.name.split("-")[1]) == Version(version))


@pytest.mark.parametrize("runtime", list(ALL_RUNTIMES))
def test_the_tags_each_release_installs_are_the_data(runtime: str, runtimes: None, tmp_path: Path) -> None:
    release, micropip = release_info(runtime)
    wheels = [download(PACKAGING, tmp_path)]
    micropip_wheel = download(f"micropip=={micropip}", tmp_path)
    assert micropip_wheel is not None, f"micropip {micropip} is not on PyPI"
    outcome = run_in_pyodide(runtime, READ_TAGS, *[wheel for wheel in (*wheels, micropip_wheel) if wheel is not None])
    assert outcome["ok"], outcome
    abi_name, _release = ALL_RUNTIMES[runtime]
    abi = next(abi for abi in known_abis() if abi.name == abi_name)
    said = {tag for tag, since in abi.platform_tags.items() if Version(since) <= Version(release)}
    assert set(outcome["result"].split()) == said, (release, micropip, outcome["result"])
