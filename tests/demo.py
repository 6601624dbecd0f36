"""The main job on a demo: build wheels from C with ziglang, show, repair, audit, load in Pyodide."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import wheelbuilder
from runtime_driver import RUNTIMES, run_in_pyodide

OUT = Path("demo-out")


def run(*args: str, check: bool = True) -> None:
    """Each command as a user would type it, then what it prints."""
    print(f"\n$ {shlex.join(args)}", flush=True)
    subprocess.run(args, check=check)


def main() -> int:
    OUT.mkdir(exist_ok=True)
    # Built where the demo's output stays, so every path it prints still exists afterwards.
    build = OUT / "build"
    libs = wheelbuilder.build_fixture_libs(build)
    for runtime, abi in RUNTIMES.items():
        wheel = wheelbuilder.build_chain_wheel(libs, OUT / "unrepaired", abi)
        print(f"\n### {wheel.name}")
        run("pyodide", "auditwheel", "show", str(wheel), check=False)
        run("pyodide", "auditwheel", "repair", str(wheel), "--libdir", str(libs.libdir), "-o", str(OUT))
        repaired = OUT / wheel.name
        run("pyodide", "auditwheel", "show", "-r", str(repaired))
        run("pyodide", "auditwheel", "audit", str(repaired))
        print(f"\n# in {runtime} under Node: install {repaired.name}, then import chainpkg; chainpkg.values()")
        result = run_in_pyodide(runtime, "import chainpkg; chainpkg.values()", repaired)
        print(f"{runtime}: chainpkg.values() -> {result.get('result') or result.get('error')}")
        if result.get("result") != "[1, 2, 3, 4]":
            return 1
    # What the docs' examples run on, kept for a user to run them (and a fresh copy each time).
    examples = OUT / "examples"
    shutil.rmtree(examples, ignore_errors=True)
    wheelbuilder.build_examples(libs, wheelbuilder.build_symbol_modules(build / "symbols"), examples)
    print(f"\nrepaired wheels are in {OUT}/, the libraries they vendor in {libs.libdir}/;")
    print(f"the docs' examples run in {examples}/ (cd there)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
