"""The docs' ``toml`` blocks, as a user pastes them: each parses; each ``[tool.cibuildwheel]``
table is valid by cibuildwheel's own schema (read from its published wheel); and each is run as
cibuildwheel runs it, in a project that holds this tool's checkout at ``tools/pyodide-auditwheel``
as the pages say: ``before-build`` and ``audit-requires`` installed into a fresh virtual
environment, then ``repair-wheel-command`` and ``audit-command`` with their placeholders
replaced (as cibuildwheel's ``prepare_command``), through a shell, with ``WASM_LIBRARY_DIR`` set
and no ``--libdir``."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import venv
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import wheelbuilder
from runtime_driver import RUNTIME_DIR

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

pytestmark = [pytest.mark.network, pytest.mark.usefixtures("runtimes")]

ROOT = Path(__file__).resolve().parents[1]
# The cibuildwheel whose schema the blocks are held to (one with audit-command/-requires).
CIBUILDWHEEL = "cibuildwheel==4.3.5"
FENCE = re.compile(r"^```toml\s*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def toml_blocks() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{page.name}#{number}", tomllib.loads(match.group(1)))
        for page in sorted((ROOT / "docs").glob("*.md"))
        for number, match in enumerate(FENCE.finditer(page.read_text()), 1)
    ]


@pytest.fixture(scope="module")
def cibuildwheel_schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    target = tmp_path_factory.mktemp("cibuildwheel")
    command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
    command += ["--python-version", "3.13", "-d", str(target), CIBUILDWHEEL]
    subprocess.run(command, check=True, capture_output=True)
    (wheel,) = target.glob("cibuildwheel-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        schema: dict[str, Any] = json.loads(archive.read("cibuildwheel/resources/cibuildwheel.schema.json"))
    return schema


def test_the_blocks_are_the_ones_expected() -> None:
    assert [name for name, _ in toml_blocks()] == ["cibuildwheel.md#1", "verify.md#1"]


def test_every_cibuildwheel_block_is_valid_by_its_schema(cibuildwheel_schema: dict[str, Any]) -> None:
    for name, block in toml_blocks():
        settings = block["tool"]["cibuildwheel"]
        jsonschema.validate(settings, cibuildwheel_schema)
        # A mistyped key is refused by the schema too (additionalProperties: false): the check bites.
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({"pyodide": {**settings["pyodide"], "repair-command": "x"}}, cibuildwheel_schema)
        assert name


def _prepared(template: str, **values: Path) -> str:
    """cibuildwheel's prepare_command: each placeholder replaced by the path, as it is."""
    return template.format(**{key: str(value) for key, value in values.items()})


def test_every_block_runs_as_pasted(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "tools").mkdir(parents=True)
    (project / "tools" / "pyodide-auditwheel").symlink_to(ROOT, target_is_directory=True)
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    scripts = environment / "bin"
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(scripts), os.environ["PATH"]]),
        "VIRTUAL_ENV": str(environment),
        "PYODIDE_AUDITWHEEL_RUNTIME": str(RUNTIME_DIR / "node_modules" / "pyodide-314"),
    }
    prefix = tmp_path / "build" / "wasm-libs"
    (prefix / "lib").mkdir(parents=True)
    for library in (fixture_libs.outer, fixture_libs.counter):
        (prefix / "lib" / library.name).write_bytes(library.read_bytes())
    env["WASM_LIBRARY_DIR"] = str(prefix)
    installed: set[str] = set()
    for name, block in toml_blocks():
        settings = block["tool"]["cibuildwheel"]["pyodide"]
        steps = [settings["before-build"], *(f"pip install {shlex.quote(item)}" for item in settings["audit-requires"])]
        for step in steps:
            if step in installed:
                continue
            done = subprocess.run(step, shell=True, cwd=project, env=env, capture_output=True, text=True, check=False)
            assert done.returncode == 0, (name, step, done.stdout[-2000:], done.stderr[-2000:])
            installed.add(step)
        built = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / name / "built", "pyemscripten_2026_0")
        dest_dir = tmp_path / name / "wheelhouse"
        for template, values in (
            (settings["repair-wheel-command"], {"wheel": built, "dest_dir": dest_dir}),
            (settings["audit-command"], {"wheel": dest_dir / built.name}),
        ):
            command = _prepared(template, **values)
            run = subprocess.run(command, shell=True, cwd=project, env=env, capture_output=True, text=True, check=False)
            assert run.returncode == 0, (name, command, run.stdout[-3000:], run.stderr[-2000:])
        with zipfile.ZipFile(dest_dir / built.name) as archive:
            assert any(".libs/libcounter" in member for member in archive.namelist()), name
    assert (scripts / "pyodide-auditwheel").exists()
