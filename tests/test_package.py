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


def test_the_wheel_ships_py_typed_and_the_data(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("pyodide_auditwheel-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "pyodide_auditwheel/py.typed" in names
    assert "pyodide_auditwheel/data/abis.json" in names
    assert "pyodide_auditwheel/data/runtimes/emscripten_3_1_14.json.gz" in names
    assert "pyodide_auditwheel/generate_runtime_data.py" in names


def _layer_chain() -> list[str]:
    """The chain docs/design.md gives (the line of names joined by arrows after 'The layers')."""
    text = (Path(__file__).parents[1] / "docs" / "design.md").read_text()
    block = text.split("The layers", 1)[1].split("\n\n")[1]
    return [name.strip() for name in block.replace("\n", " ").split("→")]


def _imported_siblings(path: Path) -> set[str]:
    """The package's modules a module imports (``from .x import``, ``from ..x import``, and
    ``from . import x``), at any depth of the file."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            if node.module:
                names.add(node.module.split(".")[0])
            else:
                names.update(alias.name for alias in node.names)
    return names


def test_every_module_imports_only_the_layers_before_it() -> None:
    package = Path(paw.__file__).parent
    chain = _layer_chain()
    modules = {path.stem for path in package.glob("*.py")} | {"zipio"}
    outside = {"__init__", "generate_runtime_data"}
    assert set(chain) == modules - outside, "docs/design.md's chain names every module once"
    for index, name in enumerate(chain):
        files = sorted((package / "zipio").glob("*.py")) if name == "zipio" else [package / f"{name}.py"]
        allowed = set(chain[:index]) | ({"zipio", *(p.stem for p in files)} if name == "zipio" else set())
        for file in files:
            later = _imported_siblings(file) - allowed - {"__version__"}
            assert not later, f"{file.name} imports {sorted(later)}, which come after {name} in the chain"


def test_importing_the_cli_leaves_the_excepthook_as_it_was() -> None:
    """pyodide-cli imports every plugin to list its commands: ours must not change how the
    other plugins' commands report errors.  Our Ctrl-C hook covers our slow imports only."""
    probe = "import sys; before = sys.excepthook; import pyodide_auditwheel.cli; print(sys.excepthook is before)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"
