"""The docs' shell examples, run: every ```console block of docs/*.md is executed against the
demo wheels, in order, one fresh directory per page.  ``$ command   # exits N`` gives the exit
code expected (0 otherwise); every other line of the block must appear in what the command
printed (spaces aside), so an example cannot rot."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import wheelbuilder

DOCS = Path(__file__).resolve().parents[1] / "docs"
FENCE = re.compile(r"^(?P<indent>\s*)```console\s*$")
EXITS = re.compile(r"\s+#\s*exits\s+(\d+)\s*$")


@dataclass
class Example:
    command: str
    code: int = 0
    expected: list[str] = field(default_factory=list)


def examples(page: Path) -> list[Example]:
    found: list[Example] = []
    lines = page.read_text().splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        index += 1
        if not match:
            continue
        indent = match.group("indent")
        while index < len(lines) and lines[index].strip() != "```":
            line = lines[index].removeprefix(indent)
            index += 1
            if line.startswith("$ "):
                exits = EXITS.search(line)
                command = line[2:] if not exits else line[2 : exits.start()]
                found.append(Example(command.strip(), int(exits.group(1)) if exits else 0))
            elif line.strip() and found:
                found[-1].expected.append(line.strip())
        index += 1
    return found


PAGES = sorted(page for page in DOCS.glob("*.md") if examples(page))


def test_the_pages_with_examples_are_the_ones_expected() -> None:
    assert [page.name for page in PAGES] == ["audit.md", "getting-started.md", "troubleshooting.md", "workflow.md"]


@pytest.fixture
def workspace(
    fixture_libs: wheelbuilder.FixtureLibs, symbol_modules: wheelbuilder.SymbolModules, tmp_path: Path
) -> Path:
    """dist/ with the demo wheels, libs/ with the libraries they were linked against."""
    wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "dist", "pyodide_2025_0")
    wheelbuilder.build_module_wheel(symbol_modules.calls, tmp_path / "dist", "pyodide_2025_0_wasm32")
    shutil.copytree(fixture_libs.libdir, tmp_path / "libs")
    return tmp_path


def _normal(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_shell_examples_run(page: Path, workspace: Path) -> None:
    scripts = Path(sys.executable).parent
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    env["PATH"] = f"{scripts}{os.pathsep}{env['PATH']}"
    for example in examples(page):
        argv = shlex.split(example.command)
        assert argv[0] in ("pyodide", "pyodide-auditwheel"), example.command
        result = subprocess.run(argv, cwd=workspace, env=env, capture_output=True, text=True, check=False)
        said = _normal(result.stdout + result.stderr)
        assert result.returncode == example.code, f"{page.name}: $ {example.command}\n{result.stdout}{result.stderr}"
        for line in example.expected:
            assert _normal(line) in said, (
                f"{page.name}: $ {example.command}: {line!r} not in:\n{result.stdout}{result.stderr}"
            )


def test_a_page_names_another_page_by_a_link() -> None:
    """A page of this site written as code (`audit.md`) renders as code, not as a link."""
    pages = {page.name for page in DOCS.glob("*.md")}
    as_code = re.compile(r"`(?:docs/)?([\w-]+\.md)`")
    offenders = []
    for page in sorted(DOCS.glob("*.md")):
        if page.name == "changelog.md":  # the changelog is the repository's, quoted whole
            continue
        prose = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        offenders += [f"{page.name}: `{name}`" for name in as_code.findall(prose) if name in pages]
    assert not offenders
