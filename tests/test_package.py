"""The package as users get it: the API is what ``dir()`` shows, and it ships ``py.typed``."""

from __future__ import annotations

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
