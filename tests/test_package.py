"""The package as users get it: the API is what ``dir()`` shows, and it ships ``py.typed``."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pyodide_auditwheel as paw

ROOT = Path(__file__).resolve().parents[1]


def test_dir_shows_the_api_and_every_name_resolves() -> None:
    assert dir(paw) == sorted(paw.__all__)
    assert {"show", "audit", "repair", "AuditReport", "RepairResult", "InternalError"} <= set(dir(paw))
    assert not {"TYPE_CHECKING", "importlib", "annotations"} & set(dir(paw))
    for name in paw.__all__:
        assert getattr(paw, name) is not None


def test_no_folder_of_the_package_hides_a_public_name() -> None:
    """Importing a subpackage sets it as an attribute of its parent: a folder named like a
    public function (``repair/``) would turn ``paw.repair`` into a module once imported."""
    import importlib
    import pkgutil

    for module in pkgutil.walk_packages(paw.__path__, "pyodide_auditwheel."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    for name in paw.__all__:
        assert not isinstance(getattr(paw, name), type(paw)), f"paw.{name} is a module"


def test_the_wheel_ships_py_typed_and_the_data(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("pyodide_auditwheel-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "pyodide_auditwheel/py.typed" in names
    assert "pyodide_auditwheel/runtime/data/abis.json" in names
    assert "pyodide_auditwheel/runtime/data/runtimes/emscripten_3_1_14.json.gz" in names
    assert "pyodide_auditwheel/runtime/generate.py" in names


def _layer_chains() -> dict[str, list[str]]:
    """The chains docs/design.md gives after 'The layers': the package's rooms, bottom up, then
    a line ``room/: a → b`` for the inside of each folder (``""`` is the package itself)."""
    text = (Path(__file__).parents[1] / "docs" / "design.md").read_text()
    block = text.split("The layers", 1)[1].split("```", 2)[1]
    chains: dict[str, list[str]] = {}
    for line in block.strip().splitlines():
        room, _, chain = line.rpartition(": ") if ": " in line else ("", "", line)
        chains[room.rstrip("/")] = [name.strip().rstrip("/") for name in chain.split("→")]
    return chains


def _imports(path: Path, parts: list[str]) -> set[tuple[str, ...]]:
    """The package's modules a module imports (relative imports, at any depth of the file),
    as paths inside the package; ``parts`` is the importing module's package."""
    tree = ast.parse(path.read_text())
    found: set[tuple[str, ...]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = parts[: len(parts) - (node.level - 1)]
            if node.module:
                found.add((*base, *node.module.split(".")))
            else:
                found.update((*base, alias.name) for alias in node.names)
    return found


def test_every_module_imports_only_the_layers_before_it() -> None:
    """Imports run one way, down the layers: where the importer and what it imports part, in
    the chain of the folder they share, the importer comes later.  A folder's face
    (``__init__``) may hand on what its own folder holds."""
    package = Path(paw.__file__).parent
    chains = _layer_chains()
    for folder, chain in chains.items():
        here = package / folder
        rooms = {p.stem for p in here.glob("*.py") if p.stem != "__init__"} | {
            p.name for p in here.iterdir() if (p / "__init__.py").exists()
        }
        assert set(chain) == rooms, f"docs/design.md's chain for {folder or 'the package'}/ names each room once"
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).with_suffix("").parts
        importer = list(relative[:-1]) if relative[-1] == "__init__" else list(relative)
        for target in _imports(path, list(relative[:-1])):
            if target[-1] == "__version__":
                target = target[:-1]
            common = 0
            while common < min(len(importer), len(target)) and importer[common] == target[common]:
                common += 1
            if common == len(importer):
                continue  # a face handing on its own folder
            chain = chains["/".join(importer[:common])]
            assert common < len(target) and chain.index(target[common]) < chain.index(importer[common]), (
                f"{'/'.join(relative)} imports {'.'.join(target)}, which comes after it in the layers"
            )


def _runtime_imports(path: Path) -> set[str]:
    """The package's modules a file imports when it runs (not under ``if TYPE_CHECKING:``),
    by their first name below the package (``..api`` is ``api``, ``.render`` is ``cli``)."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for child in ast.walk(node)
    }
    return {
        "cli" if node.level == 1 else (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level and id(node) not in typing_only
    }


def test_the_command_line_is_a_face_over_the_api() -> None:
    """The commands map options to API calls and render what comes back: past the API they
    import only the errors, the command's name and the version, and their own folder
    (whose renderers know the result types, as annotations only)."""
    folder = Path(paw.__file__).parent / "cli"
    for path in sorted(folder.glob("*.py")):
        beyond = _runtime_imports(path) - {"api", "errors", "naming", "version", "cli"}
        assert not beyond, f"cli/{path.name} imports {sorted(beyond)} past the API"


def test_importing_the_cli_leaves_the_excepthook_as_it_was() -> None:
    """pyodide-cli imports every plugin to list its commands: ours must not change how the
    other plugins' commands report errors.  Our Ctrl-C hook covers our slow imports only."""
    probe = "import sys; before = sys.excepthook; import pyodide_auditwheel.cli; print(sys.excepthook is before)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"


MAX_MODULE_LINES, MAX_CLASS_LINES, MAX_FUNCTION_LINES = 500, 250, 60


def test_no_room_outgrows_its_size() -> None:
    """No module over 500 lines, no class over 250, no function body (its docstring aside)
    over 60: past those, a module holds two jobs (cli.py reached 815 lines, ZipReader 557)."""
    oversized = []
    for path in sorted(Path(paw.__file__).parent.rglob("*.py")):
        text = path.read_text()
        where = path.relative_to(Path(paw.__file__).parent)
        if len(text.splitlines()) > MAX_MODULE_LINES:
            oversized.append(f"{where}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES:
                oversized.append(f"{where}: class {node.name}: {node.end_lineno - node.lineno + 1} lines")
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = node.body[0]
                has_docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                start = (
                    (node.body[1].lineno if len(node.body) > 1 else first.end_lineno) if has_docstring else first.lineno
                )
                if node.end_lineno - start + 1 > MAX_FUNCTION_LINES:
                    oversized.append(f"{where}: {node.name}(): {node.end_lineno - start + 1} lines")
    assert oversized == []


def test_the_command_line_starts_without_the_machinery() -> None:
    """`--version`, `--help` and pyodide-cli listing its plugins' commands import the CLI: it
    must not load the analysis, the audit data or the repair machinery (105 modules, 0.3 s)
    before a command that needs them runs."""
    probe = (
        "import sys; import pyodide_auditwheel.cli; "
        "roots = ('pyodide_auditwheel', 'packaging'); "
        "print(' '.join(sorted(name for name in sys.modules if name.split('.')[0] in roots)))"
    )
    loaded = set(
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    )
    needed = {
        "pyodide_auditwheel",
        "pyodide_auditwheel.errors",
        "pyodide_auditwheel.naming",
        "pyodide_auditwheel.version",
    }
    beyond = {name for name in loaded - needed if not name.startswith("pyodide_auditwheel.cli")}
    assert beyond == set()


def test_show_and_audit_do_not_load_the_repair_machinery(tmp_path: Path) -> None:
    """`show` and `audit` read; the rewriter (planning, patching, the streaming writer) is
    loaded by the repair alone."""
    from pyodide_auditwheel.wasm.sections import HEADER

    module = tmp_path / "lone.so"
    module.write_bytes(HEADER)
    probe = (
        "import sys; from pyodide_auditwheel.cli import app; sys.argv = ['x', sys.argv[1], sys.argv[2]]\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "print('LOADED', ' '.join(sorted(name for name in sys.modules if '.rewriter' in name)))"
    )
    for command in ("show", "audit"):
        ran = subprocess.run([sys.executable, "-c", probe, command, str(module)], capture_output=True, text=True)
        assert "LOADED" in ran.stdout, ran.stdout + ran.stderr
        assert ran.stdout.rsplit("LOADED", 1)[1].split() == [], (command, ran.stdout)
