"""Living beside pyodide-build: it depends on auditwheel-emscripten, which registers the same
`pyodide auditwheel` command.  Installed together (pyodide-build needs Python >= 3.12), pip
finds no conflict, pyodide-build's commands work, and ours works and says who is answering."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import wheelbuilder
from conftest import unavailable

REPO = Path(__file__).resolve().parents[1]


def _python_312_or_newer() -> str:
    if sys.version_info >= (3, 12):
        return sys.executable
    env = dict(os.environ)
    pyenv = shutil.which("pyenv")
    if pyenv:  # a pyenv shim answers only when its version is selected: select them all, as .ci/run does
        versions = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True, check=False).stdout
        env["PYENV_VERSION"] = ":".join(versions.split())
    for name in ("python3.13", "python3.12"):
        found = shutil.which(name)
        if found is None:
            continue
        asked = subprocess.run(
            [found, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, env=env, check=False
        )
        if asked.returncode == 0 and asked.stdout.strip():
            return asked.stdout.strip()
    unavailable("pyodide-build needs Python >= 3.12, and no working python3.12 or python3.13 is on PATH")
    raise AssertionError


@pytest.fixture(scope="module")
def beside_pyodide_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("pyodide-build") / "venv"
    subprocess.run([_python_312_or_newer(), "-m", "venv", str(venv)], check=True)
    install = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(REPO), "pyodide-build"],
        capture_output=True,
        text=True,
        check=False,
    )
    if install.returncode != 0:
        pytest.fail(f"pip could not install pyodide-auditwheel beside pyodide-build:\n{install.stderr[-3000:]}")
    return venv / "bin"


def run(bin_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "80"}
    return subprocess.run([str(bin_dir / args[0]), *args[1:]], capture_output=True, text=True, check=False, env=env)


def test_pip_check_is_clean(beside_pyodide_build: Path) -> None:
    checked = run(beside_pyodide_build, "pip", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    listed = run(beside_pyodide_build, "pip", "list").stdout.lower()
    assert "pyodide-build" in listed and "auditwheel" in listed.replace("-", "_") and "pyodide-auditwheel" in listed


def test_pyodide_build_commands_still_work(beside_pyodide_build: Path) -> None:
    for command in (["pyodide", "--help"], ["pyodide", "build", "--help"], ["pyodide", "xbuildenv", "--help"]):
        result = run(beside_pyodide_build, *command)
        assert result.returncode == 0, result.stdout + result.stderr


def test_ours_works_and_says_who_answers(
    beside_pyodide_build: Path, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    version = run(beside_pyodide_build, "pyodide-auditwheel", "--version")
    assert version.returncode == 0 and version.stdout.startswith("pyodide-auditwheel ")
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path, "pyodide_2025_0")
    shown = run(beside_pyodide_build, "pyodide-auditwheel", "show", str(wheel), "--libdir", str(fixture_libs.libdir))
    assert shown.returncode == 0 and "audit: tags and libraries fit pyodide_2025_0" in shown.stdout, shown.stderr
    plugin = run(beside_pyodide_build, "pyodide", "auditwheel", "--version")
    if plugin.stdout.startswith("pyodide-auditwheel "):
        # Ours answered `pyodide auditwheel`: it says the name is shared, and the way out.
        said = " ".join(plugin.stderr.split())
        assert "also registers `pyodide auditwheel`" in said and "auditwheel_emscripten" in said
        assert "run `pyodide-auditwheel` to always get this one" in said and "in sys.path order" in said
        assert len(plugin.stderr.strip().splitlines()) == 1, plugin.stderr  # one line, once, at any width
        # Run by its own name, it has nothing to say about the other.
        assert run(beside_pyodide_build, "pyodide-auditwheel", "--version").stderr == ""
    else:
        # The other tool answered: nothing of ours may claim to be it.
        assert "pyodide-auditwheel" not in plugin.stdout
