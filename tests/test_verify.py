"""``verify``: wheels run in every pinned Pyodide under Node, through the installed command.

Each release family gets: a repaired wheel that loads, the same wheel with its libraries
missing (the runtime's own message quoted back), a wheel that ships one library twice (two
identical files, as z3-solver does), which the loader instantiates twice, a library built for
the other exception model, one whose constructor calls a missing function, a package whose
initialisation raises and one that never returns (the timeout).  Without a runtime: Node
absent from PATH, a folder that is not a Pyodide.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import wheelbuilder
from clirun import cli
from jsonschemas import validate
from runtime_driver import ALL_RUNTIMES, RUNTIME_DIR

pytestmark = [pytest.mark.runtime, pytest.mark.toolchain, pytest.mark.usefixtures("runtimes")]

# One runtime per ABI (the newest of its pins): the families verify supports.
FAMILIES = {abi: runtime for runtime, (abi, _release) in ALL_RUNTIMES.items() if runtime != "pyodide-0.26"}


def _verify(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> tuple[int, dict[str, Any]]:
    result = cli("verify", "--json", *args, env=env, timeout=timeout)
    assert "Traceback" not in result.stderr, result.stderr
    document = json.loads(result.stdout)
    validate(document, "verify")
    return result.returncode, {Path(entry["input"]).name: entry for entry in document["inputs"]}


@pytest.fixture(scope="module")
def selfgot(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A library that reaches its own exported data and function through GOT imports (as the
    Rust std does), built once as is and once with a wasm exception tag import."""
    where = tmp_path_factory.mktemp("selfgot")
    plain = wheelbuilder.build_c("selfgot", where, "libselfgot.so")
    flags = ["-mexception-handling", "-DSELFGOT_THROWS"]
    return plain, wheelbuilder.build_c("selfgot", where, "libselfgoteh.so", flags=flags)


@pytest.fixture(scope="module")
def ctorcall(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library whose constructor calls a function nothing provides (and another function
    only from an export)."""
    return wheelbuilder.build_c("ctorcall", tmp_path_factory.mktemp("ctorcall"), "libctorcall.so")


@pytest.fixture(scope="module")
def threaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library built with threads (atomics, a shared memory)."""
    where = tmp_path_factory.mktemp("threads")
    atomics = ["-matomics", "-mbulk-memory"]
    return wheelbuilder.build_c("threads", where, "libthreads.so", flags=atomics, link_flags=["--shared-memory"])


def _duplicate_wheel(libs: wheelbuilder.FixtureLibs, out: Path, abi: str) -> Path:
    """Two identical copies of a library at two paths: the install loads each .so it holds."""
    files = {
        "twins/__init__.py": b"",
        "twins/a/libstandalone.so": libs.standalone.read_bytes(),
        "twins/b/libstandalone.so": libs.standalone.read_bytes(),
    }
    return wheelbuilder.write_wheel(out, "twins", "1.0", wheelbuilder.PLATFORM_TAGS[abi], files)


@pytest.mark.parametrize("abi", sorted(FAMILIES), ids=[FAMILIES[abi] for abi in sorted(FAMILIES)])
def test_verify_says_what_each_release_does(
    fixture_libs: wheelbuilder.FixtureLibs,
    selfgot: tuple[Path, Path],
    ctorcall: Path,
    threaded: Path,
    tmp_path: Path,
    abi: str,
) -> None:
    runtime = str(RUNTIME_DIR / "node_modules" / FAMILIES[abi])
    missing = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "dist", abi)
    repaired = cli("repair", str(missing), "--libdir", str(fixture_libs.libdir), "-w", str(tmp_path / "fixed"))
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    loads = tmp_path / "fixed" / missing.name
    twins = _duplicate_wheel(fixture_libs, tmp_path / "twins", abi)

    platform = wheelbuilder.PLATFORM_TAGS[abi].rsplit("-", 1)[1]
    own = wheelbuilder.build_module_wheel(selfgot[0], tmp_path / "own", platform, dist="owngot")
    thrower = wheelbuilder.build_module_wheel(selfgot[1], tmp_path / "eh", platform, dist="ehgot")
    constructs = wheelbuilder.build_module_wheel(ctorcall, tmp_path / "ctor", platform, dist="ctorcall")
    threads = wheelbuilder.build_module_wheel(threaded, tmp_path / "threads", platform, dist="threads")

    code, reports = _verify(str(loads), str(own), "--runtime", runtime)
    assert code == 0, reports
    # GOT entries of the module's own exports are filled from its instance: it loads.
    assert [(m["imported"], m["agreement"]) for m in reports[own.name]["modules"]] == [(True, "agrees")]
    report = reports[loads.name]
    assert report["ok"] and report["agrees"] and not report["install_errors"], report
    # 0.21's loader never applies the data relocations a newer wasm-ld emits: the audit flags
    # what runs wrong once called, which an import does not exercise.
    expected = "not exercised" if abi == "emscripten_3_1_14" else "agrees"
    assert [(m["name"], m["imported"], m["agreement"]) for m in report["modules"]] == [
        ("chainpkg", True, expected),
        ("chainpkg._ext", True, expected),
    ]
    assert {library["copies"] for library in report["libraries"]} == {1}
    assert any("libcounter" in name for library in report["libraries"] for name in library["names"])

    raises = _python_wheel(tmp_path / "py", "raises", "raise RuntimeError('no display attached')\n", abi)
    hangs = _python_wheel(tmp_path / "py", "hangs", "while True:\n    pass\n", abi)
    failing = [str(wheel) for wheel in (missing, twins, thrower, constructs, threads, raises, hangs)]
    code, reports = _verify(*failing, "--runtime", runtime, "--timeout", "20", timeout=600)
    assert code == 1
    _check_the_constructor_call(reports[constructs.name], constructs)
    _check_the_shared_memory(reports[threads.name], threads)
    module = reports[raises.name]["modules"][0]
    assert (module["imported"], module["error"]) == (False, "RuntimeError: no display attached"), module
    report = reports[hangs.name]
    assert report["problem"] == "stopped after 20 s while importing hangs (--timeout sets the limit)", report
    assert report["modules"][0]["imported"] is None and report["modules"][0]["agreement"] == "not run"
    said = _check_the_exception_model(reports[thrower.name], abi)
    if said:  # the audit quotes the runtime's words
        audited = json.loads(cli("audit", str(thrower), "--json").stdout)["inputs"][0]["findings"]
        assert [f["kind"] for f in audited] == ["exception-model"] and f"fails at load: {said};" in audited[0]["reason"]
    report = reports[twins.name]
    copies = [library for library in report["libraries"] if library["copies"] > 1]
    assert len(copies) == 1 and copies[0]["copies"] == 2 and copies[0]["predicted_copies"], report
    assert not report["ok"] and report["agrees"], report
    report = reports[missing.name]
    said = " ".join([*report["install_errors"], *(m["error"] for m in report["modules"])])
    if abi == "emscripten_3_1_14":
        # 0.21's install fails on the missing library, and then the import succeeds (the
        # loader stubs what it could not bind; a call fails): the audit's "fails at load" for
        # the module is what verify exists to catch.
        assert "ENOENT: no such file or directory, open 'libouter.so'" in said, report
        assert [(m["imported"], m["agreement"]) for m in report["modules"]] == [(True, "differs")] * 2, report
        assert not report["ok"] and not report["agrees"], report
        return
    assert not report["ok"] and report["agrees"], report
    # The runtime's words, as it says them: most name the library it could not find; the
    # loadPackage of 0.23-0.27 masks it behind emscripten's file_packager error.
    assert "libouter.so" in said or "Didn't expect to load any more file_packager files!" in said, report
    ext = next(module for module in report["modules"] if module["name"] == "chainpkg._ext")
    assert ext["imported"] is False and ext["predicted"].startswith("fails at load: missing-library")


def _check_the_constructor_call(report: dict[str, Any], wheel: Path) -> None:
    """Every loader runs a library's constructors as it loads it: a call there to a function
    nothing provides fails the load, as the audit says; the other function's finding stays a
    call's, and says that no code run at load reaches it."""
    (module,) = report["modules"]
    assert (module["imported"], module["agreement"]) == (False, "agrees"), report
    assert module["predicted"] == "fails at load: unresolved-symbol env.paw_absent_at_load", report
    audited = json.loads(cli("audit", str(wheel), "--json").stdout)["inputs"][0]["findings"]
    found = {finding["subject"]: finding for finding in audited}
    at_load, when_called = found["env.paw_absent_at_load"], found["env.paw_absent_when_called"]
    assert at_load["when"] == "load" and "fails at load: its constructors (__wasm_call_ctors)" in at_load["reason"]
    predicted = at_load["reason"].split(", call it: ", 1)[1].split("; ", 1)[0]  # the runtime's words, as audited
    assert predicted in " ".join([*report["install_errors"], module["error"]]), (predicted, report)
    assert when_called["when"] == "call" and "; no code run at load calls it;" in when_called["reason"], when_called


def _check_the_shared_memory(report: dict[str, Any], wheel: Path) -> None:
    """No release's memory is shared: a module built with threads fails its instantiation, in
    the words the audit quotes."""
    (module,) = report["modules"]
    assert (module["imported"], module["agreement"]) == (False, "agrees"), report
    assert module["predicted"] == "fails at load: shared-memory env.memory", report
    audited = json.loads(cli("audit", str(wheel), "--json").stdout)["inputs"][0]["findings"]
    (finding,) = [f for f in audited if f["kind"] == "shared-memory"]
    said = finding["reason"].split("fails at load (LinkError): ", 1)[1].split(";", 1)[0]
    assert said in " ".join([*report["install_errors"], module["error"]]) and finding["when"] == "load", (said, report)


def _check_the_exception_model(report: dict[str, Any], abi: str) -> str:
    """0.21-0.27 are built for JavaScript exceptions: the tag import fails the instantiation,
    the GOT entries V8 asked for stay empty, and the install names the first, a symbol the
    module exports itself, as the audit predicts; the import then runs on the handle the
    loader kept, with no code.  The releases built for wasm exceptions load it."""
    (module,) = report["modules"]
    if abi in ("pyodide_2025_0", "pyemscripten_2026_0", "pyemscripten_2026_5"):
        assert (module["imported"], module["agreement"]) == (True, "agrees") and report["ok"], report
        return ""
    quote = "`" if abi in ("emscripten_3_1_14", "emscripten_3_1_27", "emscripten_3_1_32") else "'"
    said = f"bad export type for {quote}selfgot_state{quote}: undefined"
    assert report["install_errors"] == [said], report
    assert (module["imported"], module["agreement"]) == (False, "agrees"), report
    assert module["predicted"].startswith("fails at load: exception-model"), report
    assert [(library["names"][0].rsplit("/", 2)[-2:], library["copies"]) for library in report["libraries"]] == [
        (["ehgot", "libselfgoteh.so"], 0)
    ], report
    return said


def _python_wheel(out: Path, dist: str, init: str, abi: str = "pyemscripten_2026_0") -> Path:
    files = {f"{dist}/__init__.py": init.encode(), f"{dist}/_helper.py": b"VALUE = 1\n"}
    return wheelbuilder.write_wheel(out, dist, "1.0", wheelbuilder.PLATFORM_TAGS[abi], files)


def test_an_initialisation_that_raises_is_quoted_and_one_that_never_returns_is_stopped(tmp_path: Path) -> None:
    runtime = str(RUNTIME_DIR / "node_modules" / "pyodide-314")
    raises = _python_wheel(tmp_path, "raises", "raise RuntimeError('no display attached')\n")
    needs = _python_wheel(tmp_path, "needsnumpy", "import numpy\n")
    code, reports = _verify(str(raises), str(needs), "--runtime", runtime)
    assert code == 1
    module = reports[raises.name]["modules"][0]
    assert (module["imported"], module["error"]) == (False, "RuntimeError: no display attached")
    assert module["agreement"] == "differs"  # the audit judges libraries and symbols, not Python code
    module = reports[needs.name]["modules"][0]
    assert module["agreement"] == "needs a dependency", module

    hangs = _python_wheel(tmp_path, "hangs", "while True:\n    pass\n")
    after = _python_wheel(tmp_path, "after", "")
    code, reports = _verify(str(hangs), str(after), "--runtime", runtime, "--timeout", "20", "-j", "1", timeout=120)
    report = reports[hangs.name]
    assert code == 1 and report["problem"] == "stopped after 20 s while importing hangs (--timeout sets the limit)"
    assert report["modules"][0]["imported"] is None and report["modules"][0]["agreement"] == "not run"
    # The wheel after it in the same call gets a new process, and its own 20 s.
    assert reports[after.name]["ok"] and reports[after.name]["modules"][0]["imported"], reports[after.name]


FIRST = """
import js, sys
open("/tmp/paw-first", "w").write("here")
sys.paw_first = True
js.eval("globalThis.pawFirst = true")
"""
SECOND = """
import js, os, sys
seen = {"file": os.path.exists("/tmp/paw-first"), "python": hasattr(sys, "paw_first"), "import": "first" in sys.modules}
if any(seen.values()):
    raise RuntimeError("the first wheel's state: " + ", ".join(what for what, there in seen.items() if there))
if not js.eval("globalThis.pawFirst === true"):
    raise RuntimeError("not the first wheel's Node process")
"""


@pytest.mark.parametrize("family", ["pyodide-0.21", "pyodide-0.27", "pyodide-314"])
def test_wheels_of_one_call_share_a_node_process_and_nothing_of_pyodide(tmp_path: Path, family: str) -> None:
    """What the docs say is shared between the wheels of one call (Node's process, its
    JavaScript globals) and what is not (Python, the file system, the imports)."""
    abi = next(abi for abi, name in FAMILIES.items() if name == family)
    first, second = (_python_wheel(tmp_path, dist, init, abi) for dist, init in (("first", FIRST), ("second", SECOND)))
    runtime = str(RUNTIME_DIR / "node_modules" / family)
    code, reports = _verify(str(first), str(second), "--runtime", runtime, "--jobs", "1")
    assert code == 0, reports
    assert [module["imported"] for report in reports.values() for module in report["modules"]] == [True, True]


def test_without_node_or_a_runtime_it_is_one_sentence(tmp_path: Path) -> None:
    wheel = _python_wheel(tmp_path, "plain", "")
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    result = cli("verify", str(wheel), "--runtime", str(tmp_path), env=env)
    assert result.returncode == 2 and "no node is on PATH: install Node.js 18 or newer" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    result = cli("verify", str(wheel), "--runtime", str(tmp_path))
    assert result.returncode == 2 and f"{tmp_path} is not a Pyodide runtime" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    result = cli("verify", str(wheel), "--pyodide", "latest")
    assert result.returncode == 2 and "is not a release number" in result.stderr


def test_a_runtime_that_does_not_start_is_one_sentence(tmp_path: Path) -> None:
    """A folder that looks like a Pyodide but whose loader throws: Node runs, the runtime does
    not start, and that is said (exit 2), not reported as the wheel's failure."""
    wheel = _python_wheel(tmp_path, "plain", "")
    broken = tmp_path / "broken-pyodide"
    broken.mkdir()
    (broken / "pyodide.asm.wasm").write_bytes(b"")
    (broken / "pyodide.js").write_text("throw new Error('this build is incomplete');\n")
    (broken / "package.json").write_text('{"name": "pyodide", "version": "314.0.8"}')
    result = cli("verify", str(wheel), "--runtime", str(broken), timeout=120)
    said = " ".join(result.stderr.split())
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"Pyodide 314.0.8 in {broken} did not start under Node: this build is incomplete" in said


def _from_pypi(where: Path, requirement: str) -> Path:
    """A PEP 783 wheel downloaded from PyPI (for Pyodide 314, Python 3.14)."""
    import subprocess

    command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--platform"]
    command += ["pyemscripten_2026_0_wasm32", "--python-version", "3.14", "-d", str(where), requirement]
    subprocess.run(command, check=True, capture_output=True)
    (wheel,) = where.glob("*.whl")
    return wheel


@pytest.fixture(scope="module")
def z3_solver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """z3-solver 5.3.3 from PyPI: its libz3.so is built for WebAssembly exception handling,
    and shipped twice (libz3.so and libz3.so.5.3, identical)."""
    return _from_pypi(tmp_path_factory.mktemp("z3"), "z3-solver==5.3.3.0")


@pytest.mark.network
def test_an_exception_model_the_runtime_lacks_is_one_finding_and_what_verify_sees(z3_solver: Path) -> None:
    """On 0.27 (built for JavaScript exceptions) the install fails on the first import only wasm
    exception handling has; the audit says so as one cause per module, and verify agrees."""
    audited = cli("audit", str(z3_solver), "--plat", "pyodide_2024_0_wasm32", "--json")
    document = json.loads(audited.stdout)
    findings = document["inputs"][0]["findings"]
    models = [f for f in findings if f["kind"] == "exception-model"]
    assert sorted(f["module"] for f in models) == ["z3/lib/libz3.so", "z3/lib/libz3.so.5.3"], findings
    assert "fails at load: bad export type for '__wasm_lpad_context': undefined" in models[0]["reason"]
    eh = ("__cpp_exception", "__wasm_lpad_context", "_Unwind_CallPersonality")
    assert not [f for f in findings if f["kind"] == "unresolved-symbol" and f["subject"].endswith(eh)], findings
    code, reports = _verify(str(z3_solver), "--runtime", str(RUNTIME_DIR / "node_modules" / "pyodide-0.27"))
    report = reports[z3_solver.name]
    assert code == 1 and "bad export type for '__wasm_lpad_context': undefined" in report["install_errors"], report
    (module,) = report["modules"]
    assert module["predicted"].startswith("fails at load: exception-model") and module["agreement"] == "agrees"
    # On 314 it loads, with the two copies the audit predicts.
    code, reports = _verify(str(z3_solver), "--runtime", str(RUNTIME_DIR / "node_modules" / "pyodide-314"))
    report = reports[z3_solver.name]
    assert report["modules"][0]["imported"] and report["agrees"], report
    assert [library["copies"] for library in report["libraries"]] == [2], report


@pytest.mark.network
def test_real_wheels_fail_where_the_audit_says_and_verify_agrees(tmp_path: Path) -> None:
    """onnx 1.23.2's constructors call __hash_memory, which 0.29 lacks: it fails at load, not
    when called. uuid_utils 1.2.0 (Rust, wasm exceptions) on 0.27: the install names a GOT
    import of a symbol the module exports itself, the entry its failed instantiation left
    empty, and the audit's exception-model finding says those words."""
    onnx = _from_pypi(tmp_path / "onnx", "onnx==1.23.2")
    findings = json.loads(cli("audit", str(onnx), "--plat", "pyodide_2025_0_wasm32", "--json").stdout)["inputs"][0]
    (hashing,) = [f for f in findings["findings"] if f["subject"].endswith("__hash_memoryEPKvm")]
    assert hashing["when"] == "load" and "its constructors (__wasm_call_ctors)" in hashing["reason"], hashing
    code, reports = _verify(str(onnx), "--runtime", str(RUNTIME_DIR / "node_modules" / "pyodide-0.29"))
    assert code == 1
    (ext,) = [m for m in reports[onnx.name]["modules"] if m["name"] == "onnx.onnx_cpp2py_export"]
    assert (ext["imported"], ext["agreement"]) == (False, "agrees") and ext["predicted"].startswith("fails at load")
    assert any("__hash_memoryEPKvm" in line for line in reports[onnx.name]["install_errors"]), reports

    uuid = _from_pypi(tmp_path / "uuid", "uuid_utils==1.2.0")
    findings = json.loads(cli("audit", str(uuid), "--plat", "pyodide_2024_0_wasm32", "--json").stdout)["inputs"][0]
    (model,) = [f for f in findings["findings"] if f["kind"] == "exception-model"]
    code, reports = _verify(str(uuid), "--runtime", str(RUNTIME_DIR / "node_modules" / "pyodide-0.27"))
    assert code == 1
    (said,) = reports[uuid.name]["install_errors"][-1:]
    assert "__RUST_STD_INTERNAL_VAL': undefined" in said and f"fails at load: {said};" in model["reason"], (said, model)
    assert all(m["agreement"] == "agrees" for m in reports[uuid.name]["modules"]), reports
