"""Real wasm wheels from PyPI (PEP 783), downloaded in the test session and never kept in the
repository: the audit's verdict, the library instances the model predicts against the ones the
314 runtime makes when it installs them, and an import that runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import unavailable
from runtime_driver import instances_made, run_in_pyodide

import pyodide_auditwheel as paw
from pyodide_auditwheel.graph.analysis import analyze_tree, predict_install
from pyodide_auditwheel.wheel.inputs import open_input

PLATFORM = "pyemscripten_2026_0_wasm32"
# name == version -> code whose result shows the wheel works, and that result
WHEELS = {
    "python-flint==0.9.0": ("import flint; str(flint.fmpz(3) ** 40)", str(3**40)),
    "jiter==0.19.0": ("import jiter; jiter.from_json(b'[1, 2]')", "[1, 2]"),
    # Its package needs typing-extensions: load the extension module itself.
    "pydantic-core==2.50.5": (
        "import glob, importlib.util; "
        "path = glob.glob('/lib/python3.14/site-packages/pydantic_core/_pydantic_core*.so')[0]; "
        "spec = importlib.util.spec_from_file_location('_pydantic_core', path); "
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); module.__version__",
        "2.50.5",
    ),
}


@pytest.fixture(scope="session")
def pypi_wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    target = tmp_path_factory.mktemp("pypi")
    found: dict[str, Path] = {}
    for requirement in WHEELS:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--only-binary=:all:",
                "--platform",
                PLATFORM,
                "--python-version",
                "3.14",
                "-d",
                str(target),
                requirement,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            unavailable(f"pip could not download {requirement} for {PLATFORM}: {done.stderr.strip()[-300:]}")
        name = requirement.split("==")[0].replace("-", "_")
        (found[requirement],) = (path for path in target.glob(f"{name}-*.whl"))
    return found


@pytest.mark.parametrize("requirement", list(WHEELS))
def test_real_wheel_audited_loaded_and_counted(
    runtimes: None, pypi_wheels: dict[str, Path], requirement: str, tmp_path: Path
) -> None:
    wheel = pypi_wheels[requirement]
    report = paw.audit(wheel)
    assert report.loads, report.findings
    assert report.verdict.endswith("one copy of each library")
    # The instances the model predicts are the ones the runtime makes, name for name.
    tree = open_input(wheel)
    try:
        predicted = predict_install(tree, analyze_tree(tree))
    finally:
        tree.close()
    assert predicted is not None and predicted.error is None
    assert instances_made("pyodide-314", wheel, tmp_path) == [
        sorted(instance.names) for instance in predicted.instances
    ]
    code, expected = WHEELS[requirement]
    outcome = run_in_pyodide("pyodide-314", code, wheel)
    assert outcome.get("result") == expected, outcome
