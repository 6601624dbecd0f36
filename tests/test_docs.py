"""The docs' shell examples, run: every ```console block of docs/*.md is executed in the
directory ``nox -s demo`` leaves in ``demo-out/examples``, in order, one fresh directory per
page, at COLUMNS=100.  ``$ command   # exits N`` gives the exit code expected (0 otherwise);
the lines after it are the command's whole output (stdout, then stderr), so an example cannot
rot.  ``PYODIDE_AUDITWHEEL_UPDATE_DOCS=1`` writes what the commands print into the pages
instead (then read the diff)."""

from __future__ import annotations

import os
import re
import shlex
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
    # Where the output lines are in the page (0-based, end exclusive), and their indent.
    span: tuple[int, int] = (0, 0)
    indent: str = ""


COLUMNS = "100"
# The digests of the libraries the toolchain built (in mangled names and sha256 columns) change
# with its version: compared as placeholders (a table's column widths do not change with them).
DIGESTS = re.compile(r"(?<=-)[0-9a-f]{8}(?=[.-])|(?<=sha256 )[0-9a-f]{16}")


def _without_digests(lines: list[str]) -> list[str]:
    return [DIGESTS.sub(lambda match: "#" * len(match.group()), line) for line in lines]


UPDATE = os.environ.get("PYODIDE_AUDITWHEEL_UPDATE_DOCS") == "1"


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
                found.append(Example(command.strip(), int(exits.group(1)) if exits else 0, [], (index, index), indent))
            elif found:
                found[-1].expected.append(line.rstrip())
                found[-1].span = (found[-1].span[0], index)
        index += 1
    return found


PAGES = sorted(page for page in DOCS.glob("*.md") if examples(page))


def test_the_pages_with_examples_are_the_ones_expected() -> None:
    assert [page.name for page in PAGES] == ["audit.md", "getting-started.md", "troubleshooting.md", "workflow.md"]


@pytest.fixture
def workspace(
    fixture_libs: wheelbuilder.FixtureLibs, symbol_modules: wheelbuilder.SymbolModules, tmp_path: Path
) -> Path:
    """What ``nox -s demo`` leaves in demo-out/examples: dist/ with the demo wheels, libs/ with
    the libraries they were linked against."""
    return wheelbuilder.build_examples(fixture_libs, symbol_modules, tmp_path)


def _printed(result: subprocess.CompletedProcess[str]) -> list[str]:
    """What a command printed, as the page shows it: stdout's lines, then stderr's."""
    lines = [line.rstrip() for line in (result.stdout + result.stderr).splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_shell_examples_run(page: Path, workspace: Path) -> None:
    scripts = Path(sys.executable).parent
    env = {**os.environ, "COLUMNS": COLUMNS, "PATH": f"{scripts}{os.pathsep}{os.environ['PATH']}"}
    lines = page.read_text().splitlines()
    replaced: list[tuple[Example, list[str]]] = []
    for example in examples(page):
        argv = shlex.split(example.command)
        assert argv[0] in ("pyodide", "pyodide-auditwheel"), example.command
        result = subprocess.run(argv, cwd=workspace, env=env, capture_output=True, text=True, check=False)
        assert result.returncode == example.code, f"{page.name}: $ {example.command}\n{result.stdout}{result.stderr}"
        printed = _printed(result)
        if UPDATE:
            replaced.append((example, printed))
            continue
        assert _without_digests(example.expected) == _without_digests(printed), (
            f"{page.name}: $ {example.command} printed (PYODIDE_AUDITWHEEL_UPDATE_DOCS=1 writes it into the page):\n"
            + "\n".join(printed)
        )
    for example, printed in reversed(replaced):
        start, end = example.span
        lines[start:end] = [f"{example.indent}{line}" if line else "" for line in printed]
    if replaced:
        page.write_text("\n".join(lines) + "\n")


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


def test_every_public_name_and_field_is_documented_where_the_api_reference_shows_it() -> None:
    """Each name of ``__all__`` is on docs/api.md; each public class has a docstring of its
    own (not the generated signature), and each field of a public dataclass is described in
    it, where autodoc shows it (a ``#`` comment above a field is not)."""
    import dataclasses
    import inspect

    import pyodide_auditwheel as paw

    reference = (DOCS / "api.md").read_text()
    undocumented = []
    for name in paw.__all__:
        if name == "__version__":
            continue
        obj = getattr(paw, name)
        if f"pyodide_auditwheel.{name}\n" not in reference:
            undocumented.append(f"{name}: not on docs/api.md")
        if not inspect.isclass(obj):
            continue
        doc = inspect.getdoc(obj) or ""
        if not doc or doc.startswith(f"{obj.__name__}("):
            undocumented.append(f"{name}: no docstring of its own")
            continue
        for item in dataclasses.fields(obj) if dataclasses.is_dataclass(obj) else ():
            if not re.search(rf"^\s+(\w+, )*{item.name}(, \w+)*: ", doc.split("Attributes:", 1)[-1], re.M):
                undocumented.append(f"{name}.{item.name}")
    assert undocumented == []
