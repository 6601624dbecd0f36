"""The main job on a demo: build wheels from C with ziglang, show, repair, audit, load in Pyodide."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import wheelbuilder
from runtime_driver import RUNTIMES, run_in_pyodide

OUT = Path("demo-out")


def main() -> int:
    OUT.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="paw-demo-"))
    libs = wheelbuilder.build_fixture_libs(work)
    for runtime, abi in RUNTIMES.items():
        wheel = wheelbuilder.build_chain_wheel(libs, OUT / "unrepaired", abi)
        print(f"\n### {wheel.name}")
        subprocess.run(["pyodide", "auditwheel", "show", str(wheel)], check=False)
        subprocess.run(
            ["pyodide", "auditwheel", "repair", str(wheel), "--libdir", str(libs.libdir), "-o", str(OUT)], check=True
        )
        repaired = OUT / wheel.name
        subprocess.run(["pyodide", "auditwheel", "show", "-r", str(repaired)], check=True)
        subprocess.run(["pyodide", "auditwheel", "audit", str(repaired)], check=True)
        result = run_in_pyodide(runtime, "import chainpkg; chainpkg.values()", repaired)
        print(f"{runtime}: chainpkg.values() -> {result.get('result') or result.get('error')}")
        if result.get("result") != "[1, 2, 3, 4]":
            return 1
    # What the docs' examples run on, kept for a user to run them (and a fresh copy each time).
    examples = OUT / "examples"
    shutil.rmtree(examples, ignore_errors=True)
    wheelbuilder.build_examples(libs, wheelbuilder.build_symbol_modules(work / "symbols"), examples)
    print(f"\nrepaired wheels are in {OUT}/; the docs' examples run in {examples}/ (cd there)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
