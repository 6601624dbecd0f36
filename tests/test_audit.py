"""The audit: tags, libraries and every import judged against the runtime's generated data, on
modules built by a real toolchain (their verdicts are confirmed in the real runtimes by
test_runtime.py), and retagging under PEP 783."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import wheelbuilder
from clirun import cli
from jsonschemas import validate
from packaging.tags import Tag
from runtime_driver import ALL_RUNTIMES, DATA_RUNTIMES, RUNTIME_DIR
from wheelcheck import check_wheel_valid

import pyodide_auditwheel as paw
from pyodide_auditwheel.api import audit
from pyodide_auditwheel.errors import AuditwheelError
from pyodide_auditwheel.policy import python_tags_fit
from pyodide_auditwheel.runtime import generate as generate_runtime_data
from pyodide_auditwheel.runtime import offers as runtime_data
from pyodide_auditwheel.runtime.abi import AbiDataError, abi_for_tag, known_abis, parse_table
from pyodide_auditwheel.wasm.dylink import read_head

ABI_TAGS = {
    "pyodide_2024_0": "pyodide_2024_0_wasm32",
    "pyodide_2025_0": "pyodide_2025_0_wasm32",
    "pyemscripten_2026_0": "pyemscripten_2026_0_wasm32",
}


# --- the ABI table ---------------------------------------------------------------------------


def test_every_real_tag_names_its_abi() -> None:
    expected = {
        "pyodide_2024_0_wasm32": "pyodide_2024_0",
        "emscripten_3_1_58_wasm32": "pyodide_2024_0",
        "pyodide_2025_0_wasm32": "pyodide_2025_0",
        "emscripten_4_0_9_wasm32": "pyodide_2025_0",
        "pyemscripten_2025_0_wasm32": "pyodide_2025_0",
        "pyemscripten_2026_0_wasm32": "pyemscripten_2026_0",
        "emscripten_3_1_14_wasm32": "emscripten_3_1_14",
        "emscripten_3_1_27_wasm32": "emscripten_3_1_27",
        "emscripten_3_1_32_wasm32": "emscripten_3_1_32",
        "emscripten_3_1_45_wasm32": "emscripten_3_1_45",
        "emscripten_3_1_46_wasm32": "emscripten_3_1_46",
        "pyemscripten_2026_5_wasm32": "pyemscripten_2026_5",
    }
    assert {tag: getattr(abi_for_tag(tag), "name", None) for tag in expected} == expected
    assert abi_for_tag("emscripten_3_1_20_wasm32") is None and abi_for_tag("pyemscripten_2099_0_wasm32") is None


def _table() -> dict[str, Any]:
    return json.loads((Path(paw.__file__).parent / "runtime" / "data" / "abis.json").read_text())


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.update(schema_version=1), "data/abis.json: expected schema_version 2 with a list of abis"),
        (lambda t: t["abis"].__setitem__(0, "x"), "abis[0] is not an object"),
        (lambda t: t["abis"][0].update(serach=[]), "has unknown keys ['serach']"),
        (lambda t: t["abis"][0].pop("python"), "or lacks ['python']"),
        (lambda t: t["abis"][0].update(python=3.12), "abis[0].python is not a str"),
        (lambda t: t["abis"][0].update(python="3.x"), "abis[0].python '3.x' is not of the form"),
        (lambda t: t["abis"][2].update(emscripten="latest"), "abis[2].emscripten 'latest' is not of the form"),
        (
            lambda t: t["abis"][3].update(site_packages="/lib/python3.12/site-packages"),
            "abis[3].site_packages is not its Python's /lib/pythonX.Y/site-packages.",
        ),
        (
            lambda t: t["abis"][0]["platform_tags"].update(emscripten_3_1_45_wasm32="soon"),
            "platform_tags must map Emscripten platform tags to versions",
        ),
        (
            lambda t: t["abis"][1]["loader"].update(search="rpath"),
            "abis[1].loader names an unknown needed or search rule",
        ),
        (lambda t: t["abis"][0].update(runtime_path_scheme="absolute"), "runtime_path_scheme 'absolute' is unknown"),
        (
            lambda t: t["abis"][0]["platform_tags"].update(manylinux_2_17_x86_64="1"),
            "platform_tags must map Emscripten platform tags to versions",
        ),
        (
            lambda t: t["abis"][1]["platform_tags"].update(pyodide_2024_0_wasm32="0.28.0"),
            "data/abis.json: a platform tag is listed for two ABIs",
        ),
    ],
)
def test_abi_table_is_validated(mutate: Any, message: str) -> None:
    table = _table()
    mutate(table)
    with pytest.raises(AbiDataError) as error:
        parse_table(table)
    assert message in str(error.value)


def test_python_tags_follow_the_packaging_spec() -> None:
    abi_313 = abi_for_tag("pyodide_2025_0_wasm32")
    assert abi_313 is not None

    def fits(*tags: str) -> bool:
        return python_tags_fit([Tag(*tag.split("-"), "any") for tag in tags], abi_313)  # type: ignore[misc]

    assert fits("cp313-cp313") and fits("cp312-abi3") and fits("cp38-abi3") and fits("py3-none") and fits("cp313-none")
    assert not fits("cp312-cp312") and not fits("cp314-cp314") and not fits("cp314-abi3") and not fits("py2-none")
    assert fits("cp312-cp312", "cp313-cp313")


# --- the runtime data ------------------------------------------------------------------------


@pytest.mark.parametrize("package", list(DATA_RUNTIMES))
def test_stored_runtime_data_is_what_the_generator_makes(package: str, runtimes: None) -> None:
    """Regenerate from the ABI's pinned npm packages and compare with what the package ships."""
    pins = [name for name, (abi, _release) in ALL_RUNTIMES.items() if abi == DATA_RUNTIMES[package]]
    (generated,) = generate_runtime_data.by_abi(RUNTIME_DIR / "node_modules" / name for name in pins)
    assert generated.abi == DATA_RUNTIMES[package] and len(generated.releases) == len(pins)
    assert generated == runtime_data.load_offer(generated.abi)
    assert runtime_data.decode(runtime_data.encode(generated), generated.abi) == generated


def test_runtime_data_facts() -> None:
    """What the loader offers, as the notes measured it: the loader's own globals everywhere,
    the 3.14-only C API from 314 on, the C API 3.12 removed only before it, JS-exception
    trampolines only on emscripten 3 (0.24 to 0.27)."""
    offers = {abi.name: runtime_data.load_offer(abi.name) for abi in known_abis()}
    for offer in offers.values():
        for name in (
            "memory",
            "__indirect_function_table",
            "__memory_base",
            "__table_base",
            "__stack_pointer",
            "malloc",
            "PyLong_FromLong",
        ):
            assert offer.provides(name), (offer.abi, name)
        assert not offer.provides("pyodide_auditwheel_absent_function")
    assert [name for name, offer in offers.items() if offer.provides("PyCode_New")] == [
        "emscripten_3_1_14",
        "emscripten_3_1_27",
        "emscripten_3_1_32",
        "emscripten_3_1_45",
        "emscripten_3_1_46",
    ]
    assert [name for name, offer in offers.items() if offer.provides("PyBytes_Join")] == [
        "pyemscripten_2026_0",
        "pyemscripten_2026_5",
    ]
    assert {name: offer.exception_model for name, offer in offers.items()} == {
        "emscripten_3_1_14": "js",
        "emscripten_3_1_27": "js",
        "emscripten_3_1_32": "js",
        "emscripten_3_1_45": "js",
        "emscripten_3_1_46": "js",
        "pyodide_2024_0": "js",
        "pyodide_2025_0": "wasm",
        "pyemscripten_2026_0": "wasm",
        "pyemscripten_2026_5": "wasm",
    }
    assert offers["pyodide_2024_0"].provides("invoke_vijjdi") and not offers["pyodide_2025_0"].provides("invoke_vijjdi")
    assert (offers["pyodide_2025_0"].python, offers["pyodide_2025_0"].emscripten) == ("3.13.2", "4.0.9")
    # Read from the loader: only 0.21's never applies a module's data relocations; the stub for
    # a function nothing provides names it from emscripten 3.1.45 (0.24) on.
    assert [name for name, offer in offers.items() if not offer.applies_data_relocs] == ["emscripten_3_1_14"]
    assert [name for name, offer in offers.items() if "cannot resolve symbol" not in offer.unresolved_call] == [
        "emscripten_3_1_14",
        "emscripten_3_1_27",
        "emscripten_3_1_32",
    ]
    data_dir = Path(runtime_data.__file__).parent / runtime_data.DATA_PACKAGE_DIR
    assert sum(path.stat().st_size for path in data_dir.iterdir()) < 1_000_000


def _fake_package(root: Path, script: str, abi_version: str = "2025_0", script_name: str = "pyodide.asm.js") -> Path:
    package = root / "pyodide"
    package.mkdir()
    (package / "package.json").write_text('{"version": "0.0.1"}')
    (package / "pyodide-lock.json").write_text(
        json.dumps({"info": {"abi_version": abi_version, "python": "3.13.0", "platform": "emscripten_4_0_9"}})
    )
    if script_name:
        (package / script_name).write_text(script)
    (package / "pyodide.asm.wasm").write_bytes(b"\0asm\x01\0\0\0")
    return package


PROXY = (
    'var proxyHandler={get(stubs,prop){switch(prop){case"__memory_base":return memoryBase;'
    'case"__table_base":return tableBase}'
)
RESOLVER = (
    'var resolveGlobalSymbol=(symName,direct=false)=>{var sym;if(symName.startsWith("invoke_")){sym=1}'
    "return{sym:sym,name:symName}};"
    # the loader's words for an undefined GOT entry and for a call nothing provides
    "throw new Error(`bad export type for '${symName}': ${typeof value}`);"
    "throw new Error(`Dynamic linking error: cannot resolve symbol ${prop}`)"
)


@pytest.mark.parametrize(
    ("script", "abi_version", "script_name", "message"),
    [
        (
            PROXY + 'var wasmImports={a:b,"c":d,e};',
            "2025_0",
            "",
            "has no pyodide.asm.js or pyodide.asm.mjs: not an npm pyodide package",
        ),
        (PROXY, "2025_0", "pyodide.asm.js", "the loader's wasmImports or import proxy was not found"),
        (
            PROXY + "var wasmImports={a:b,c:{d:e}",
            "2025_0",
            "pyodide.asm.js",
            "the wasmImports object literal never closes",
        ),
        (
            PROXY + "var wasmImports={a:b};",
            "2025_0",
            "pyodide.asm.js",
            "the loader's resolveGlobalSymbol was not found",
        ),
        (
            PROXY + "var wasmImports={a:b};",
            "1999_0",
            "pyodide.asm.js",
            "has ABI 1999_0, which data/abis.json does not list",
        ),
        (
            PROXY + RESOLVER.split("throw")[0] + "var wasmImports={a:b};",
            "2025_0",
            "pyodide.asm.js",
            "the loader's message for an undefined GOT entry was not found",
        ),
    ],
)
def test_generator_refuses_what_it_cannot_read(
    script: str, abi_version: str, script_name: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(runtime_data.RuntimeDataError) as error:
        generate_runtime_data.generate(_fake_package(tmp_path, script, abi_version, script_name), known_abis())
    assert message in str(error.value)


def test_generator_reads_keys_past_strings_and_nesting(tmp_path: Path) -> None:
    script = PROXY + RESOLVER + 'var wasmImports={a:b,"q":"x,}",n:{d:[1,2]},short};var other={z:1};'
    offer = generate_runtime_data.generate(_fake_package(tmp_path, script, script_name="pyodide.asm.mjs"), known_abis())
    assert offer.js_library == {"a", "q", "n", "short"} and offer.proxy_values == {"__memory_base", "__table_base"}
    assert offer.on_demand_prefixes == ("invoke_",)


def _gzipped(data: bytes) -> bytes:
    """Gzip with no time stamp: these bytes name parametrized cases, and pytest-xdist collects
    on each worker, whose ids must agree (a second between two collections made them differ)."""
    return runtime_data.gzip.compress(data, mtime=0)


def _damaged_offer(damage: Any) -> bytes:
    """pyodide_2024_0's stored data (it has an older release), damaged by ``damage``."""
    raw = runtime_data.load_offer("pyodide_2024_0").to_json()
    damage(raw)
    return _gzipped(json.dumps(raw).encode())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not gzip", "damaged runtime data for ABI x"),
        (_gzipped(b'{"schema_version": 9}'), "schema_version 9"),
        (_gzipped(b'{"schema_version": 1}'), "damaged runtime data x"),
        (
            _gzipped(
                json.dumps(
                    {
                        **runtime_data.load_offer("pyodide_2025_0").to_json(),
                        "function_types": {"table": [], "of_func": []},
                    }
                ).encode()
            ),
            "function_types.of_func does not match exports.func",
        ),
        (
            _gzipped(json.dumps({**runtime_data.load_offer("pyodide_2025_0").to_json(), "js_library": "abc"}).encode()),
            "expected a list of strings",
        ),
        (_damaged_offer(lambda raw: raw.update(older_releases={})), "older_releases is not a list"),
        (_damaged_offer(lambda raw: raw["loader"].update(applies_data_relocs=1)), "expected true or false"),
        (
            _damaged_offer(lambda raw: raw["older_releases"][0].update(python=3.12)),
            "expected a string",
        ),
    ],
)
def test_damaged_runtime_data_is_one_sentence(data: bytes, message: str) -> None:
    with pytest.raises(runtime_data.RuntimeDataError) as error:
        runtime_data.decode(data, "x")
    assert message in str(error.value) and "reinstall pyodide-auditwheel" in str(error.value)


def test_absent_runtime_data_is_one_sentence() -> None:
    with pytest.raises(runtime_data.RuntimeDataError, match="no runtime data for ABI nope"):
        runtime_data.load_offer("nope")


# --- symbols, on modules built by the toolchain ------------------------------------------------


def _subjects(report: Any) -> list[str]:
    return [finding.subject for finding in report.findings]


def test_an_import_an_older_release_of_the_abi_lacks_is_named_with_that_release(
    symbol_modules: wheelbuilder.SymbolModules, tmp_path: Path
) -> None:
    """pyodide_2024_0 is 0.26.x and 0.27.x: the audit checks every pinned release of it, and a
    finding that only 0.26.4 has names 0.26.4 (the runtime agrees: tests/test_runtime.py)."""
    assert [release.pyodide for release in runtime_data.load_offer("pyodide_2024_0").releases] == ["0.27.8", "0.26.4"]
    wheel = wheelbuilder.build_module_wheel(symbol_modules.intern, tmp_path, "pyodide_2024_0_wasm32")
    (finding,) = audit(wheel).findings
    assert finding.subject == "GOT.func._PyUnicode_InternImmortal" and "Pyodide 0.26.4" in finding.reason
    assert "bad export type for '_PyUnicode_InternImmortal': undefined" in finding.reason
    # 0.29.5 and 314 have it: one release each, nothing to add
    later = wheelbuilder.build_module_wheel(symbol_modules.intern, tmp_path / "later", "pyodide_2025_0_wasm32")
    assert audit(later).loads


@pytest.mark.parametrize("abi", list(ABI_TAGS))
def test_a_314_only_function_is_a_finding_before_314(
    abi: str, symbol_modules: wheelbuilder.SymbolModules, tmp_path: Path
) -> None:
    for module, subject in (
        (symbol_modules.calls, "env.PyBytes_Join"),
        (symbol_modules.address, "GOT.func.PyBytes_Join"),
    ):
        wheel = wheelbuilder.build_module_wheel(module, tmp_path / module.stem / abi, ABI_TAGS[abi])
        report = audit(wheel)
        assert report.abi is not None and report.abi.name == abi
        if abi == "pyemscripten_2026_0":
            assert report.loads and report.findings == () and report.symbols_checked >= 3
            assert report.consistent_tags == tuple(sorted(report.abi.platform_tags))
        else:
            assert _subjects(report) == [subject]
            finding = report.findings[0]
            assert finding.kind == "unresolved-symbol" and finding.module == f"symbols/{module.name}"
            expected = (
                "bad export type for 'PyBytes_Join': undefined"
                if subject.startswith("GOT")
                else "Dynamic linking error: cannot resolve symbol PyBytes_Join"
            )
            assert expected in finding.reason and report.consistent_tags == ()


def test_a_weak_undefined_function_is_clean_everywhere(symbol_modules: wheelbuilder.SymbolModules) -> None:
    flags = dict(((m, f), fl) for m, f, fl in read_head(symbol_modules.weak.read_bytes()).dylink.import_info)
    assert flags[("env", "pyodide_auditwheel_absent_function")] & 0x1
    for tag in ABI_TAGS.values():
        report = audit(symbol_modules.weak, platform=tag)
        assert report.loads, report.findings


def test_plat_asks_about_another_runtime(symbol_modules: wheelbuilder.SymbolModules, tmp_path: Path) -> None:
    wheel = wheelbuilder.build_module_wheel(symbol_modules.calls, tmp_path, ABI_TAGS["pyodide_2025_0"])
    assert not audit(wheel).loads
    assert audit(wheel, platform="pyemscripten_2026_0_wasm32").loads


def test_a_symbol_from_a_vendored_library_resolves(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    unrepaired = audit(wheel)
    kinds = {(finding.kind, finding.subject) for finding in unrepaired.findings}
    assert ("missing-library", "libouter.so") in kinds
    assert ("unresolved-symbol", "env.outer_next") in kinds
    assert any(
        "perhaps in the missing libouter.so" in f.reason for f in unrepaired.findings if f.subject == "env.outer_next"
    )
    with_libdir = audit(wheel, libdirs=[fixture_libs.libdir])
    assert with_libdir.loads, with_libdir.findings
    repaired = paw.repair(wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "out")).output
    assert repaired is not None
    report = audit(repaired)
    assert report.loads and report.symbols_checked > 10


def test_python_tag_and_extension_suffix_findings(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    files = {
        "pkg/_ext.cpython-312-wasm32-emscripten.so": fixture_libs.standalone.read_bytes(),
        "pkg/_ok.abi3.so": fixture_libs.standalone.read_bytes(),
    }
    wheel = wheelbuilder.write_wheel(tmp_path, "pkg", "1.0", "cp312-cp312-pyodide_2025_0_wasm32", files)
    report = audit(wheel)
    assert [(f.kind, f.module, f.subject) for f in report.findings] == [
        ("python-tag", None, "cp312-cp312"),
        ("extension-suffix", "pkg/_ext.cpython-312-wasm32-emscripten.so", ".cpython-312-wasm32-emscripten.so"),
    ]
    assert "Python 3.13" in report.findings[0].reason
    assert audit(wheel, platform="pyodide_2024_0_wasm32").loads


def test_an_unknown_tag_is_reported_not_guessed(realworld: Path, tmp_path: Path) -> None:
    numpy = realworld / "numpy-1.22.4-cp310-cp310-emscripten_3_1_14_wasm32.whl"
    unknown = tmp_path / numpy.name.replace("emscripten_3_1_14", "emscripten_3_1_20")
    unknown.write_bytes(numpy.read_bytes())
    report = audit(unknown)
    assert report.abi is None and [f.kind for f in report.findings] == ["unknown-abi"]
    assert "names no known ABI" in report.findings[0].reason


def test_the_2022_wheels_get_a_verdict_for_pyodide_0_21(realworld: Path, geos_libdir: Path, tmp_path: Path) -> None:
    """numpy 1.22.4 and galpy 1.8.0 (emscripten_3_1_14) load on 0.21 as they are; Shapely
    needs libgeos_c.so, which a repair vendors (named so that 0.21 loads it at install)."""
    for name in ("numpy-1.22.4", "galpy-1.8.0"):
        report = audit(realworld / f"{name}-cp310-cp310-emscripten_3_1_14_wasm32.whl")
        assert report.abi is not None and report.abi.name == "emscripten_3_1_14" and report.loads, report.findings
        assert report.runtime is not None and report.runtime.pyodide == "0.21.3"
    shapely = realworld / "Shapely-1.8.2-cp310-cp310-emscripten_3_1_14_wasm32.whl"
    assert {f.subject for f in audit(shapely).findings if f.kind == "missing-library"} == {"libgeos_c.so"}
    repaired = paw.repair(shapely, paw.RepairRequest(libdirs=[geos_libdir], output_dir=tmp_path)).output
    assert repaired is not None and audit(repaired).loads
    with zipfile.ZipFile(repaired) as archive:
        vendored = [name for name in archive.namelist() if name.startswith("Shapely.libs/")]
    assert len(vendored) == 2 and all(name.endswith(".so") for name in vendored), vendored
    kept = paw.repair(
        shapely,
        paw.RepairRequest(libdirs=[geos_libdir], output_dir=tmp_path / "kept", options=paw.RepairOptions(mangle=False)),
    )
    assert kept.output is not None
    failure = [f for f in audit(kept.output).findings if f.kind == "missing-library"]
    assert [f.subject for f in failure] == ["libgeos.so.3.10.3"], failure


def test_real_world_wheel_against_a_runtime(realworld: Path, geos_libdir: Path) -> None:
    """Shapely 1.8.2 (Python 3.10) uses C API that 3.12 removed: the audit says so."""
    report = audit(
        realworld / "Shapely-1.8.2-cp310-cp310-emscripten_3_1_14_wasm32.whl",
        libdirs=[geos_libdir],
        platform="pyodide_2024_0_wasm32",
    )
    subjects = _subjects(report)
    assert "cp310-cp310" in subjects and "env._PyUnicode_Ready" in subjects and "env.PyCode_New" in subjects


# --- the command line ------------------------------------------------------------------------


def test_cli_exit_codes_and_json(symbol_modules: wheelbuilder.SymbolModules, tmp_path: Path) -> None:
    good = wheelbuilder.build_module_wheel(symbol_modules.weak, tmp_path / "good", ABI_TAGS["pyodide_2025_0"])
    bad = wheelbuilder.build_module_wheel(symbol_modules.calls, tmp_path / "bad", ABI_TAGS["pyodide_2025_0"])
    ok = cli("audit", str(good))
    assert ok.returncode == 0 and "audit: loads on pyodide_2025_0 (Pyodide 0.29.5, Python 3.13)" in ok.stdout
    assert (
        "consistent with the platform tags: emscripten_4_0_9_wasm32, pyemscripten_2025_0_wasm32, pyodide_2025_0_wasm32"
        in ok.stdout
    )
    flagged = cli("audit", str(bad))
    assert flagged.returncode == 1
    assert "env.PyBytes_Join" in flagged.stdout and "will not load on pyodide_2025_0" in flagged.stdout
    both = cli("audit", "--json", str(good), str(bad), str(tmp_path / "absent.whl"))
    assert both.returncode == 2
    data = json.loads(both.stdout)
    validate(data, "audit")
    assert [entry.get("loads") for entry in data["inputs"]] == [True, False, None]
    assert data["inputs"][1]["findings"][0]["kind"] == "unresolved-symbol"
    unknown = cli("audit", "--plat", "pyodide_2099_0_wasm32", str(good))
    assert unknown.returncode == 2 and "--plat pyodide_2099_0_wasm32 names no known ABI; known tags:" in " ".join(
        unknown.stderr.split()
    )
    assert len(unknown.stderr.strip().splitlines()) == 1 and unknown.stdout == ""


def test_show_summary_has_the_verdict(symbol_modules: wheelbuilder.SymbolModules, tmp_path: Path) -> None:
    wheel = wheelbuilder.build_module_wheel(symbol_modules.calls, tmp_path, "pyemscripten_2025_0_wasm32")
    shown = cli("show", str(wheel))
    assert shown.returncode == 0
    said = " ".join(shown.stdout.split())
    assert "(wheel, ABI pyemscripten_2025_0 (also named pyodide_2025_0): Pyodide 0.28.x, 0.29.x (from 0.29.4))" in said
    assert (
        "audit: tags and libraries fit pyemscripten_2025_0 (Pyodide 0.29.5), one copy of each library; "
        "`pyodide auditwheel audit` checks the symbols" in said
    )
    assert "consistent with the platform tags:" in shown.stdout


# --- retagging (PEP 783) -----------------------------------------------------------------------


def _wheel_tags(path: Path) -> list[str]:
    contents = check_wheel_valid(path)
    wheel_file = next(name for name in contents if name.endswith(".dist-info/WHEEL"))
    return [
        line.split(":", 1)[1].strip() for line in contents[wheel_file].decode().splitlines() if line.startswith("Tag:")
    ]


def test_repair_retags_for_pypi(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    before = wheel.read_bytes()
    result = cli(
        "repair",
        str(wheel),
        "--libdir",
        str(fixture_libs.libdir),
        "--plat",
        "pyemscripten_2025_0_wasm32",
        "-o",
        str(tmp_path / "out"),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    validate(data, "repair")
    output = Path(data["inputs"][0]["output"])
    assert output == tmp_path / "out" / "chainpkg-1.0-cp313-cp313-pyemscripten_2025_0_wasm32.whl"
    assert data["inputs"][0]["platform"] == "pyemscripten_2025_0_wasm32"
    assert _wheel_tags(output) == ["cp313-cp313-pyemscripten_2025_0_wasm32"]
    assert audit(output).loads and wheel.read_bytes() == before
    # Retagging a wheel already so tagged changes nothing.
    again = paw.repair(output, paw.RepairRequest(platform="pyemscripten_2025_0_wasm32", output_dir=tmp_path / "again"))
    assert not again.changed


def test_repair_in_place_with_plat_replaces_the_input(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """In place means the input is replaced: the wheel under its new tag is written beside
    it, then the old one is removed (`twine upload dist/*` must not upload both tags)."""
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path, "pyodide_2025_0")
    result = paw.repair(wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], platform="emscripten_4_0_9_wasm32"))
    assert result.output == tmp_path / "chainpkg-1.0-cp313-cp313-emscripten_4_0_9_wasm32.whl"
    assert _wheel_tags(result.output) == ["cp313-cp313-emscripten_4_0_9_wasm32"]
    assert result.removed_input == wheel and not wheel.exists()
    assert sorted(path.name for path in tmp_path.glob("*.whl")) == [result.output.name]
    # Under -w the input stays where it is.
    again = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    before = again.read_bytes()
    out = paw.repair(
        again,
        paw.RepairRequest(libdirs=[fixture_libs.libdir], platform="emscripten_4_0_9_wasm32", output_dir=tmp_path / "o"),
    )
    assert out.removed_input is None and again.read_bytes() == before


def test_plat_to_the_tag_the_wheel_has_says_already_tagged(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path, "pyodide_2025_0")
    platform = wheel.name[: -len(".whl")].rsplit("-", 1)[1]
    result = cli("repair", str(wheel), "--libdir", str(fixture_libs.libdir), "--plat", platform)
    assert result.returncode == 0, result.stdout + result.stderr
    text = " ".join(result.stdout.split())
    assert f"already tagged {platform}" in text and "retagged" not in text
    assert wheel.exists()


def test_repair_with_a_pep783_tag_writes_the_absolute_runtime_path(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    """pyemscripten_2025_0 is the 0.28/0.29 ABI: the absolute entry is written, not $ORIGIN alone."""
    wheel = wheelbuilder.write_wheel(
        tmp_path / "in",
        "chainpkg",
        "1.0",
        "cp313-cp313-pyemscripten_2025_0_wasm32",
        {"chainpkg/_ext.so": fixture_libs.ext.read_bytes()},
    )
    result = paw.repair(wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "out"))
    assert result.plan.abi.name == "pyodide_2025_0"
    patch = result.plan.patches["chainpkg/_ext.so"]
    assert patch.added_runtime_paths == ("/lib/python3.13/site-packages/chainpkg.libs", "$ORIGIN/../chainpkg.libs")


@pytest.mark.parametrize(
    ("tag", "platform", "message"),
    [
        (
            "pyodide_2025_0",
            "pyemscripten_2026_0_wasm32",
            "cannot retag to pyemscripten_2026_0_wasm32: it names ABI pyemscripten_2026_0, "
            "but the wheel is built for ABI pyodide_2025_0",
        ),
        ("legacy", "pyodide_2024_0_wasm32", "but the wheel is built for emscripten_3_1_20_wasm32 (no known ABI)"),
        ("pyodide_2025_0", "pyodide_2099_0_wasm32", "--plat pyodide_2099_0_wasm32 names no known ABI"),
    ],
)
def test_retag_to_another_abi_is_refused(
    tag: str, platform: str, message: str, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", tag)
    result = cli(
        "repair", str(wheel), "--libdir", str(fixture_libs.libdir), "--plat", platform, "-o", str(tmp_path / "out")
    )
    assert result.returncode == 2 and message in " ".join(result.stderr.split())
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_retag_of_a_wheel_the_audit_fails_is_refused(
    symbol_modules: wheelbuilder.SymbolModules, tmp_path: Path
) -> None:
    wheel = wheelbuilder.build_module_wheel(symbol_modules.calls, tmp_path / "in", ABI_TAGS["pyodide_2025_0"])
    result = cli("repair", str(wheel), "--plat", "pyemscripten_2025_0_wasm32", "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    stderr = " ".join(result.stderr.split())
    assert (
        "cannot retag to pyemscripten_2025_0_wasm32: the audit has 1 finding(s), "
        "the first: symbols/libcalls314.so: env.PyBytes_Join" in stderr
    )
    assert "run `pyodide auditwheel audit` for all" in stderr
    assert not (tmp_path / "out").exists()


def _without_wheel_tags(source: Path, out: Path, wheel_text: bytes | None) -> Path:
    """The wheel with its WHEEL file replaced (or removed, for None) and RECORD rewritten."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}
    wheel_file = next(name for name in contents if name.endswith("WHEEL"))
    record = next(name for name in contents if name.endswith("RECORD"))
    if wheel_text is None:
        del contents[wheel_file]
    else:
        contents[wheel_file] = wheel_text
    del contents[record]
    rows = "".join(f"{name},{wheelbuilder.record_hash(data)},{len(data)}\n" for name, data in contents.items())
    contents[record] = (rows + f"{record},,\n").encode()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    return out


@pytest.mark.parametrize(
    ("wheel_text", "message"),
    [
        (b"Wheel-Version: 1.0\n", "has no Tag lines"),
        (None, "cannot retag: the wheel has no chainpkg-1.0.dist-info/WHEEL"),
    ],
)
def test_retag_needs_a_wheel_file_with_tags(
    wheel_text: bytes | None, message: str, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    built = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "built", "pyodide_2025_0")
    wheel = _without_wheel_tags(built, tmp_path / "in" / built.name, wheel_text)
    with pytest.raises(AuditwheelError, match=message):
        paw.repair(
            wheel,
            paw.RepairRequest(
                libdirs=[fixture_libs.libdir], platform="pyemscripten_2025_0_wasm32", output_dir=tmp_path / "out"
            ),
        )


def test_retag_keeps_every_other_byte_of_wheel() -> None:
    from pyodide_auditwheel.rewriter.retag import retagged

    text = (
        b"Wheel-Version: 1.0\r\nGenerator: x\r\nTag: cp313-cp313-pyodide_2025_0_wasm32\r\n"
        b"Tag: cp313-cp313-emscripten_4_0_9_wasm32\r\nBuild: 1\r\n"
    )
    retag = retagged(
        "p-1.0-cp313-cp313-pyodide_2025_0_wasm32.emscripten_4_0_9_wasm32.whl",
        "p-1.0.dist-info/WHEEL",
        text,
        "pyemscripten_2025_0_wasm32",
    )
    assert retag is not None and retag.filename == "p-1.0-cp313-cp313-pyemscripten_2025_0_wasm32.whl"
    assert (
        retag.wheel_text
        == b"Wheel-Version: 1.0\r\nGenerator: x\r\nTag: cp313-cp313-pyemscripten_2025_0_wasm32\r\nBuild: 1\r\n"
    )


def test_repair_of_a_directory_named_like_a_wheel_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "x-1.0-py3-none-pyodide_2025_0_wasm32.whl").mkdir()
    result = cli("repair", str(tmp_path / "x-1.0-py3-none-pyodide_2025_0_wasm32.whl"))
    assert result.returncode == 2 and "it is not a wheel file" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_hint_names_each_missing_library_once(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """A module and the library it needs both NEED the missing libcounter.so: the hint after
    an unresolved import names it once ("missing libgmp.so, missing libgmp.so" before)."""
    module = wheelbuilder.build_c(
        "outer", tmp_path / "obj", "_mod.so", needs=[fixture_libs.counter, fixture_libs.outer]
    )
    wheel = wheelbuilder.build_module_wheel(module, tmp_path / "dist", "pyodide_2025_0_wasm32", dist="hinted")
    libdir = tmp_path / "libs"
    libdir.mkdir()
    (libdir / "libouter.so").write_bytes(fixture_libs.outer.read_bytes())  # libcounter.so is nowhere
    result = cli("audit", str(wheel), "--libdir", str(libdir), "--json")
    findings = json.loads(result.stdout)["inputs"][0]["findings"]
    hinted = [finding["reason"] for finding in findings if "perhaps in the" in finding["reason"]]
    assert hinted, findings
    assert all(reason.count("missing libcounter.so") == 1 for reason in hinted), hinted


def test_generator_refuses_a_package_without_a_lock_file(tmp_path: Path) -> None:
    package = _fake_package(tmp_path, PROXY + RESOLVER + "var wasmImports={a:b};")
    (package / "pyodide-lock.json").unlink()
    with pytest.raises(runtime_data.RuntimeDataError) as error:
        generate_runtime_data.generate(package, known_abis())
    assert "has neither pyodide-lock.json nor repodata.json: not an npm pyodide package." in str(error.value)


def test_a_missing_library_is_one_finding_whatever_needs_it_and_whoever_misses_it(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    """libouter.so is needed by two modules and missed by both loaders of 2024_0 (0.27's and
    0.26's): one cause, naming both modules, counting the imports it would have provided, and
    ending with the remedy; the JSON's findings keep every detail."""
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path, "pyodide_2024_0")
    report = paw.audit(wheel, discover=False)
    (cause,) = report.causes
    assert (cause.kind, cause.subject, cause.module) == ("missing-library", "libouter.so", None)
    assert cause.modules == ("chainpkg/_ext.so", "chainpkg/sub/deep/libuser.so")
    assert cause.imports == sum(1 for f in report.findings if f.kind == "unresolved-symbol") > 0
    assert cause.reason.endswith("(or --exclude it, if the runtime provides it)")
    missing = [f for f in report.findings if f.kind == "missing-library"]
    assert {f.loader for f in missing} == {None, "Pyodide 0.26's loader"} and len(missing) == 4
    assert report.verdict.endswith(": 1 finding")
    (document,) = json.loads(cli("audit", "--json", "--no-discovery", str(wheel)).stdout)["inputs"]
    assert len(document["findings"]) == len(report.findings) > len(document["causes"]) == 1
    assert document["causes"][0]["imports"] == cause.imports


def test_the_abi_is_named_as_the_wheels_tag_spells_it(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """A pyemscripten_2025_0 wheel was audited "against ABI pyodide_2025_0", and `--plat
    pyemscripten_2026_0_wasm32` on it said it "is built for ABI pyodide_2025_0": the name the
    user's tag spells first, the other beside it where it helps."""
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    spelled = wheel.with_name(wheel.name.replace("pyodide_2025_0", "pyemscripten_2025_0"))
    wheel.rename(spelled)
    libdir = str(fixture_libs.libdir)
    audited = " ".join(cli("audit", str(spelled), "--libdir", libdir).stdout.split())
    assert "(audit against ABI pyemscripten_2025_0 (also named pyodide_2025_0))" in audited
    assert "audit: loads on pyemscripten_2025_0 (Pyodide 0.29.5, Python 3.13)" in audited
    shown = " ".join(cli("show", str(spelled), "--libdir", libdir).stdout.split())
    assert "(wheel, ABI pyemscripten_2025_0 (also named pyodide_2025_0):" in shown
    refused = cli("repair", str(spelled), "--libdir", libdir, "--plat", "pyemscripten_2026_0_wasm32", "--dry-run")
    assert refused.returncode == 2
    assert "but the wheel is built for ABI pyemscripten_2025_0 (also named pyodide_2025_0)" in " ".join(
        refused.stderr.split()
    )
    # the JSON keeps the ABI's own name, for scripts
    (document,) = json.loads(cli("audit", "--json", str(spelled), "--libdir", libdir).stdout)["inputs"]
    assert document["abi"] == "pyodide_2025_0"


REMEDIES = ("build ", "give --", "--plat", "--exclude", "declare it", "repair` ", "repair ", "rebuild")


def test_every_finding_ends_with_what_to_do(
    symbol_modules: wheelbuilder.SymbolModules, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    """The audit said "NEEDED but not in the wheel … nor in any --libdir" and "func not provided"
    without saying what to do: every finding, of every kind an audit of these wheels makes
    (an unresolved call and address, a type that differs, a missing library, a Python tag or
    an extension suffix of another Python), ends with its remedy."""
    platform = "pyodide_2025_0_wasm32"
    wheels = [
        wheelbuilder.build_module_wheel(getattr(symbol_modules, kind), tmp_path / kind, platform)
        for kind in ("calls", "address", "oldtime")
    ]
    wheels.append(wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "chain", "pyodide_2025_0"))
    other_python = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "py312", "pyodide_2025_0")
    wheels.append(other_python.rename(other_python.with_name(other_python.name.replace("cp313-cp313", "cp312-cp312"))))
    suffixed = wheelbuilder.write_wheel(
        tmp_path / "suffix",
        "sfx",
        "1.0",
        wheelbuilder.PLATFORM_TAGS["pyodide_2025_0"],
        {"sfx/_m.cpython-312-wasm32-emscripten.so": symbol_modules.emjs.read_bytes()},
    )
    wheels.append(suffixed)
    kinds = set()
    for wheel in wheels:
        report = paw.audit(wheel, discover=False)
        for finding in (*report.findings, *report.causes):
            kinds.add(finding.kind)
            last = finding.reason.rsplit(";", 1)[-1].rsplit(":", 1)[-1]
            assert any(remedy in last for remedy in REMEDIES), (finding.kind, finding.reason)
    assert {"unresolved-symbol", "signature-mismatch", "missing-library", "python-tag", "extension-suffix"} <= kinds


def test_copies_alone_are_one_verdict_whichever_loaders_make_them(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    """z3-solver 5.3.3 loads on 314 and on 315.0.0a2 with two copies of libz3.so: for 314 the
    verdict read "loads … with more than one copy", for 315 "will not load", because the two
    loaders that copy it (2026_5's and 2026_0's) counted as two subjects to one library."""
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path, "pyemscripten_2026_0")
    report = paw.audit(wheel, libdirs=fixture_libs.libdir, discover=False)
    assert report.loads
    copied = [
        paw.Finding("duplicate-load", "chainpkg/libz3.so", "libz3.so", f"{loader} makes 2 copies of it")
        for loader in ("pyemscripten_2026_5's loader", "pyemscripten_2026_0's loader")
    ]
    twice = dataclasses.replace(report, findings=tuple(copied))
    assert twice.verdict.startswith(
        "loads on pyemscripten_2026_0 (Pyodide 314.0.8) with more than one copy of libz3.so"
    )
    other = paw.Finding("unresolved-symbol", "chainpkg/_ext.so", "env.f", "func not provided")
    assert dataclasses.replace(report, findings=(*copied, other)).verdict.startswith("will not load")


def test_a_cause_names_three_of_its_modules_and_counts_the_rest() -> None:
    """python-flint without its libraries: libmpfr.so is needed by 39 modules, and the line
    named all 39; it names three, and the JSON's `modules` keeps them all."""
    from pyodide_auditwheel.policy import causes_of

    reason = "NEEDED but not in the wheel where the runtime looks, nor in any --libdir; give --libdir …"
    findings = [paw.Finding("missing-library", f"pkg/_m{i}.so", "libx.so", reason) for i in range(5)]
    (cause,) = causes_of(findings)
    assert "NEEDED by 5 modules (pkg/_m0.so, pkg/_m1.so, pkg/_m2.so, and 2 more) but not in the wheel" in cause.reason
    assert cause.modules == tuple(f"pkg/_m{i}.so" for i in range(5))
