"""Proof in the real runtimes: unrepaired wheels fail with the runtime's own error; repaired
ones import, compute, and share ONE copy of the stateful library across modules in different
directories (an extension module at depth 1, a ctypes module at depth 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
import wheelbuilder
from runtime_driver import ALL_RUNTIMES, RUNTIMES, instances_made, run_in_pyodide

import pyodide_auditwheel as paw
from pyodide_auditwheel.api import audit
from pyodide_auditwheel.rewriter import patch as patch_module
from pyodide_auditwheel.runtime.offers import load_offer

CODE = "import chainpkg; chainpkg.values()"
# The runtime's own words when a library is absent: 0.27's loader asks the file packager for
# it and fails so; 0.28+ say which library was not found.
UNREPAIRED_ERROR = {
    "pyodide-0.27": "Didn't expect to load any more file_packager files!",
    "pyodide-0.29": 'Failed to find dynamic library "libouter.so"',
    "pyodide-314": 'Failed to find dynamic library "libouter.so"',
}


@pytest.mark.parametrize("runtime", list(RUNTIMES))
def test_unrepaired_fails_repaired_works_with_one_copy(
    runtime: str, runtimes: None, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", RUNTIMES[runtime])
    broken = run_in_pyodide(runtime, CODE, wheel)
    assert not broken["ok"]
    assert UNREPAIRED_ERROR[runtime] in "\n".join(broken["messages"])
    repaired = paw.repair(wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "out")).output
    assert repaired is not None
    result = run_in_pyodide(runtime, CODE, repaired)
    assert result == {"ok": True, "result": "[1, 2, 3, 4]", "messages": ["Loading chainpkg", "Loaded chainpkg"]}


def test_relative_only_rpath_double_loads_on_0_29_is_flagged_and_repaired(
    runtimes: None, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pitfall our scheme avoids, shown in the real runtime: with $ORIGIN-relative entries
    only (as auditwheel-emscripten writes them), 0.29 loads libcounter twice and each copy
    counts on its own.  The audit says so before the runtime does, and a repair of that wheel
    gives one copy."""
    original = patch_module.runtime_path_entries
    monkeypatch.setattr(
        patch_module,
        "runtime_path_entries",
        lambda abis, module_dir, libs_dir: ((), original(abis, module_dir, libs_dir)[1]),
    )
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    relative_only = paw.repair(
        wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "relative")
    ).output
    assert relative_only is not None
    assert run_in_pyodide("pyodide-0.29", CODE, relative_only)["result"] == "[1, 1, 2, 2]"
    findings = paw.audit(relative_only).findings
    # Every vendored library: its users name it relatively, its own load (every .so of a
    # wheel is loaded at install) by its absolute path.
    assert sorted((f.kind, f.subject.split("-")[0]) for f in findings) == [
        ("duplicate-load", "libcounter"),
        ("duplicate-load", "libouter"),
    ]
    monkeypatch.undo()
    fixed = paw.repair(relative_only, paw.RepairRequest(output_dir=tmp_path / "fixed"))
    assert fixed.changed and fixed.output is not None
    assert paw.audit(fixed.output).loads
    assert run_in_pyodide("pyodide-0.29", CODE, fixed.output)["result"] == "[1, 2, 3, 4]"


# --- the audit's verdicts, confirmed in the runtime of each ABI --------------------------------

# What each module's function returns when the runtime has what it needs.
SYMBOL_CALLS = {
    "calls": (
        "import symbols; symbols.lib.join.restype = __import__('ctypes').py_object; "
        "symbols.lib.join.argtypes = [__import__('ctypes').py_object] * 2; symbols.lib.join(b'-', [b'a', b'b'])",
        "b'a-b'",
    ),
    "address": ("import symbols; str(symbols.lib.join_address() != 0)", "True"),
    "weak": ("import symbols; symbols.lib.absent_function_is_set()", "0"),
    # The loader makes the export __em_js__js_answer the function js_answer.
    "emjs": ("import symbols; symbols.lib.call_js_answer()", "42"),
    "oldtime": ("import symbols; symbols.lib.seconds() > 0", "True"),
}
# The runtime's own words for each kind of finding.
RUNTIME_ERROR = {
    "calls": "Dynamic linking error: cannot resolve symbol PyBytes_Join",
    "address": "bad export type for 'PyBytes_Join': undefined",
    # Every runtime exports time as (i32)->i64: an (i32)->i32 import is refused at load.
    "oldtime": 'WebAssembly.instantiate(): Import #3 module="env" function="time" error: '
    "imported function does not match the expected type",
}
LOADS_EVERYWHERE = ("weak", "emjs")
LOADS_FROM_314 = ("calls", "address")


@pytest.mark.parametrize("runtime", list(RUNTIMES))
@pytest.mark.parametrize("kind", list(SYMBOL_CALLS))
def test_audit_verdicts_hold_in_the_runtime(
    kind: str, runtime: str, runtimes: None, symbol_modules: wheelbuilder.SymbolModules, tmp_path: Path
) -> None:
    """What the audit passes loads and runs; what it flags fails with the error it predicts."""
    platform = next(tag for tag in TAG_OF_ABI if TAG_OF_ABI[tag] == RUNTIMES[runtime])
    wheel = wheelbuilder.build_module_wheel(getattr(symbol_modules, kind), tmp_path, platform)
    report = audit(wheel)
    code, expected = SYMBOL_CALLS[kind]
    outcome = run_in_pyodide(runtime, code, wheel)
    if report.loads:
        assert outcome["ok"] and outcome["result"] == expected, outcome
    else:
        assert not outcome["ok"], outcome
        (finding,) = report.findings
        said = outcome["error"] + "\n".join(outcome["messages"])
        assert RUNTIME_ERROR[kind] in said and RUNTIME_ERROR[kind] in finding.reason
    # PyBytes_Join is CPython 3.14's; time's type is wrong everywhere.
    assert report.loads == (kind in LOADS_EVERYWHERE or (kind in LOADS_FROM_314 and runtime == "pyodide-314"))


@pytest.mark.parametrize("runtime", list(RUNTIMES))
def test_a_library_export_of_another_type_fails_at_the_call_as_the_audit_says(
    runtime: str, runtimes: None, symbol_modules: wheelbuilder.SymbolModules, tmp_path: Path
) -> None:
    """An import bound to a NEEDED library's export goes through the loader's JavaScript stub:
    the module loads, and the call fails where an i64 meets a Number, in the runtime's words."""
    platform = next(tag for tag in TAG_OF_ABI if TAG_OF_ABI[tag] == RUNTIMES[runtime])
    wheel = wheelbuilder.build_module_wheel(symbol_modules.narrow, tmp_path, platform, beside=[symbol_modules.wide])
    findings = audit(wheel).findings  # 2024_0: once more for Pyodide 0.26's loader, which binds alike
    assert {(f.kind, f.subject) for f in findings} == {("signature-mismatch", "env.wide")}
    finding = findings[0]
    words = "Cannot convert a BigInt value to a number"
    assert "imported as (i32->i32), but libwide.so exports it as (i32->i64)" in finding.reason
    assert f"the call fails with TypeError: {words}" in finding.reason
    outcome = run_in_pyodide(runtime, "import symbols; symbols.lib.call_wide()", wheel)
    assert not outcome["ok"] and outcome["error"] == words, outcome
    assert "Loaded symbols" in outcome["messages"]  # it loaded; the call failed


TAG_OF_ABI = {
    "pyodide_2024_0_wasm32": "pyodide_2024_0",
    "pyodide_2025_0_wasm32": "pyodide_2025_0",
    "pyemscripten_2026_0_wasm32": "pyemscripten_2026_0",
}


def test_retagged_for_pypi_loads_in_0_29_with_one_copy(
    runtimes: None, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    repaired = paw.repair(
        wheel,
        paw.RepairRequest(
            libdirs=[fixture_libs.libdir], output_dir=tmp_path / "out", platform="pyemscripten_2025_0_wasm32"
        ),
    ).output
    assert repaired is not None and repaired.name == "chainpkg-1.0-cp313-cp313-pyemscripten_2025_0_wasm32.whl"
    assert audit(repaired).loads
    result = run_in_pyodide("pyodide-0.29", CODE, repaired)
    assert result == {"ok": True, "result": "[1, 2, 3, 4]", "messages": ["Loading chainpkg", "Loaded chainpkg"]}


# --- every other pinned release: 0.24, 0.25, 0.26 (whose loader differs from 0.27's) and 315a ---

OTHER_RELEASES = {runtime: abi for runtime, (abi, _release) in ALL_RUNTIMES.items() if runtime not in RUNTIMES}


@pytest.mark.parametrize("runtime", list(OTHER_RELEASES))
def test_every_release_loads_our_repair_once(
    runtime: str, runtimes: None, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    abi = OTHER_RELEASES[runtime]
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", abi)
    assert not run_in_pyodide(runtime, CODE, wheel)["ok"]
    repaired = paw.repair(wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "out")).output
    assert repaired is not None
    result = run_in_pyodide(runtime, CODE, repaired)
    if abi == "emscripten_3_1_14":
        # Our toolchain's wasm-ld is newer than 0.21's loader: the extension module's data is
        # never relocated (its PyModuleDef has no name), which the audit says, and only that.
        findings = audit(repaired).findings
        assert [(f.kind, f.module) for f in findings] == [("data-relocations", "chainpkg/_ext.so")], findings
        assert not result["ok"] and "module '' has no attribute 'next'" in result["error"], result
    else:
        assert audit(repaired).loads
        assert result["ok"] and result["result"] == "[1, 2, 3, 4]", result
    made = instances_made(runtime, repaired, tmp_path)
    for library in ("libcounter", "libouter"):
        assert len([names for names in made if any(library in name for name in names)]) == 1, made


@pytest.mark.parametrize("runtime", list(OTHER_RELEASES))
def test_every_release_flags_what_it_lacks(
    runtime: str, runtimes: None, symbol_modules: wheelbuilder.SymbolModules, tmp_path: Path
) -> None:
    """PyBytes_Join is CPython 3.14's: flagged before 314, clean from it on; the runtime agrees."""
    abi = OTHER_RELEASES[runtime]
    platform = wheelbuilder.PLATFORM_TAGS[abi].rsplit("-", 1)[1]
    wheel = wheelbuilder.build_module_wheel(symbol_modules.calls, tmp_path, platform)
    report = audit(wheel)
    outcome = run_in_pyodide(runtime, SYMBOL_CALLS["calls"][0], wheel)
    if abi == "pyemscripten_2026_5":
        assert report.loads and outcome.get("result") == SYMBOL_CALLS["calls"][1], (report.findings, outcome)
    else:
        (finding,) = report.findings
        # The release's own words: named by the stub from 0.24 on, the engine's TypeError before.
        words = finding.reason.split("fails when called: ", 1)[1].split("; ", 1)[0]  # then the remedy
        assert finding.subject == "env.PyBytes_Join" and words == load_offer(abi).unresolved_call.format(
            name="PyBytes_Join"
        )
        assert not outcome["ok"] and words in outcome["error"] + "\n".join(outcome["messages"])


def test_a_dotted_runtime_path_loads_twice_on_0_29_and_once_after_repair(runtimes: None, tmp_path: Path) -> None:
    from test_loader import dotted_rpath_wheel

    source = dotted_rpath_wheel(tmp_path / "in")
    twice = instances_made("pyodide-0.29", source, tmp_path)
    assert [names for names in twice if any("libx" in name for name in names)] == [
        ["/lib/python3.13/site-packages/pkg/lib/libx.so"],
        ["/lib/python3.13/site-packages/pkg/sub/../lib/libx.so"],
    ]
    repaired = paw.repair(source, paw.RepairRequest(output_dir=tmp_path / "out")).output
    assert repaired is not None
    once = instances_made("pyodide-0.29", repaired, tmp_path / "out")
    assert [names for names in once if any("libx" in name for name in names)] == [
        ["/lib/python3.13/site-packages/pkg/lib/libx.so"]
    ]


def test_an_import_only_the_newer_release_of_an_abi_has_fails_on_the_older_as_the_audit_says(
    runtimes: None, symbol_modules: wheelbuilder.SymbolModules, tmp_path: Path
) -> None:
    """_PyUnicode_InternImmortal is in 0.27.8, not in 0.26.4 (both pyodide_2024_0): the audit
    names 0.26.4, which refuses the module with those words; 0.27.8 loads it."""
    wheel = wheelbuilder.build_module_wheel(symbol_modules.intern, tmp_path, "pyodide_2024_0_wasm32")
    (finding,) = audit(wheel).findings
    code = "import symbols; str(symbols.lib.intern_address() != 0)"
    newer = run_in_pyodide("pyodide-0.27", code, wheel)
    older = run_in_pyodide("pyodide-0.26", code, wheel)
    assert newer["ok"] and newer["result"] == "True", newer
    words = finding.reason.split("fails at load: ", 1)[1].split("; ", 1)[0]  # then the remedy
    assert not older["ok"] and words in older["error"] + "\n".join(older["messages"]), (finding, older)


def test_a_2022_wheel_repaired_for_0_21_installs_there_with_one_copy_of_each_library(
    runtimes: None, realworld: Path, geos_libdir: Path, tmp_path: Path
) -> None:
    """Shapely 1.8.2 (emscripten_3_1_14, built for Pyodide 0.21): as it is, 0.21 fails to
    install it (libgeos_c.so is nowhere); repaired, 0.21 installs it with one instance of each
    vendored library, which the audit predicted."""
    shapely = realworld / "Shapely-1.8.2-cp310-cp310-emscripten_3_1_14_wasm32.whl"
    with pytest.raises(AssertionError, match=r"libgeos_c\.so"):
        instances_made("pyodide-0.21", shapely, tmp_path)
    repaired = paw.repair(shapely, paw.RepairRequest(libdirs=[geos_libdir], output_dir=tmp_path / "out")).output
    assert repaired is not None
    report = audit(repaired)
    assert report.loads and report.install is not None
    made = instances_made("pyodide-0.21", repaired, tmp_path)
    for library in ("libgeos_c-", "libgeos-"):
        assert len([names for names in made if any(library in name for name in names)]) == 1, made
    assert len(made) == len(report.install.instances), (made, report.install)


DATA_PROBE = """
import os, sys
site = next(p for p in sys.path if p.endswith("site-packages"))
sorted(os.path.relpath(os.path.join(root, name), site)
       for root, _dirs, names in os.walk(site) for name in names if "datapkg" in root)
"""


@pytest.mark.parametrize("runtime", list(ALL_RUNTIMES))
def test_the_install_leaves_the_data_directory_where_it_is(runtime: str, runtimes: None, tmp_path: Path) -> None:
    """``datapkg-1.0.data/platlib/datapkg/libstate.so`` is installed there, not as
    ``datapkg/libstate.so`` (pip's way): every release unpacks the wheel as it is, which the
    model says (wheel.installed_path), and the audit never says "loads" where the install
    fails (0.21, and 0.27 on: the module beside which the library was meant to land misses it)."""
    from conformance import side_module, strings, subsection

    def module(needed: list[str], cid: str) -> bytes:
        return side_module(
            subsection(1, b"\0\0\0\0") + subsection(2, strings(needed)) + subsection(5, strings(["$ORIGIN"])), cid
        )

    abi, _release = ALL_RUNTIMES[runtime]
    wheel = wheelbuilder.write_wheel(
        tmp_path,
        "datapkg",
        "1.0",
        wheelbuilder.PLATFORM_TAGS[abi],
        {
            "datapkg/__init__.py": b"",
            "datapkg/_ext.so": module(["libstate.so"], "ext"),
            "datapkg-1.0.data/platlib/datapkg/libstate.so": module([], "state"),
            "datapkg-1.0.data/purelib/datapkg/extra.py": b"X = 1\n",
        },
    )
    outcome = run_in_pyodide(runtime, DATA_PROBE, wheel)
    installed = outcome.get("result", "")
    assert "datapkg-1.0.data/platlib/datapkg/libstate.so" in installed or runtime == "pyodide-0.21", outcome
    assert "'datapkg/libstate.so'" not in installed and "'datapkg/extra.py'" not in installed, outcome
    report = audit(wheel, discover=False)
    install_failed = any("Failed to load datapkg" in message for message in outcome["messages"])
    assert install_failed == (runtime in ("pyodide-0.21", "pyodide-0.27", "pyodide-0.29", "pyodide-314", "pyodide-315"))
    if install_failed:
        assert not report.loads, report.findings
        assert {f.subject for f in report.findings if f.kind == "missing-library"} == {"libstate.so"}
