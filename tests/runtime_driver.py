"""Runs Python code with wheels loaded in a real Pyodide runtime (Node + tests/runtime/run.mjs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

RUNTIME_DIR = Path(__file__).parent / "runtime"
# runtime package (tests/runtime/package.json) -> the ABI its wheels are tagged for
RUNTIMES = {"pyodide-0.27": "pyodide_2024_0", "pyodide-0.29": "pyodide_2025_0", "pyodide-314": "pyemscripten_2026_0"}
# Every pinned runtime (tests/runtime/package.json) -> (the ABI it runs, its release as the ABI
# data names loader rules by): the conformance harness holds each one's loader to the model.
ALL_RUNTIMES = {
    "pyodide-0.21": ("emscripten_3_1_14", "0.21"),
    "pyodide-0.22": ("emscripten_3_1_27", "0.22"),
    "pyodide-0.23": ("emscripten_3_1_32", "0.23"),
    "pyodide-0.24": ("emscripten_3_1_45", "0.24"),
    "pyodide-0.25": ("emscripten_3_1_46", "0.25"),
    "pyodide-0.26": ("pyodide_2024_0", "0.26"),
    "pyodide-0.27": ("pyodide_2024_0", "0.27"),
    "pyodide-0.29": ("pyodide_2025_0", "0.29"),
    "pyodide-314": ("pyemscripten_2026_0", "314.0"),
    "pyodide-315": ("pyemscripten_2026_5", "315.0"),
}
# The package each ABI's stored runtime data is generated from (the newest of the ABI's pins).
DATA_RUNTIMES = {runtime: abi for runtime, (abi, _release) in ALL_RUNTIMES.items() if runtime != "pyodide-0.26"}


def runtimes_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    absent = [name for name in ALL_RUNTIMES if not (RUNTIME_DIR / "node_modules" / name / "package.json").is_file()]
    if absent:
        return f"Pyodide runtimes not installed ({', '.join(absent)}): run npm ci --prefix tests/runtime"
    return None


def run_in_pyodide(runtime: str, code: str, *wheels: Path) -> dict[str, Any]:
    completed = subprocess.run(
        ["node", str(RUNTIME_DIR / "run.mjs"), runtime, code, *map(str, (w.resolve() for w in wheels))],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(f"the runtime driver failed ({completed.returncode}): {completed.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def ask_runtime(runtime: str, cases: list[dict[str, Any]], workdir: Path) -> dict[str, dict[str, Any]]:
    """The runtime's own answers to conformance cases (tests/runtime/conformance.mjs), by id."""
    cases_file = workdir / f"{runtime}-cases.json"
    cases_file.write_text(json.dumps(cases))
    completed = subprocess.run(
        ["node", str(RUNTIME_DIR / "conformance.mjs"), runtime, str(cases_file)],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the conformance driver failed ({completed.returncode}): {completed.stderr[-3000:]}")
    answers = json.loads(completed.stdout.splitlines()[-1])["answers"]
    return {answer["id"]: answer for answer in answers}


def instances_made(runtime: str, wheel: Path, workdir: Path) -> list[list[str]]:
    """The library instances the runtime's own install step makes for ``wheel``, each by the
    sorted names the loader keys it by (tests/runtime/conformance.mjs, one install case)."""
    cases = workdir / "install-case.json"
    cases.write_text(json.dumps([{"id": "w", "kind": "install", "wheel": str(wheel.resolve())}]))
    done = subprocess.run(
        ["node", str(RUNTIME_DIR / "conformance.mjs"), runtime, str(cases)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    (answer,) = json.loads(done.stdout.splitlines()[-1])["answers"]
    if not answer["ok"]:
        raise AssertionError(f"the runtime did not install {wheel.name}: {answer['error']}")
    return [sorted(instance["names"]) for instance in answer["instances"]]
