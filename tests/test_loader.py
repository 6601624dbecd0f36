"""The loader model on each class the real loaders showed us wrong (issue 16), without Node.

Every case here failed on the model before it followed the loader's code; the conformance
harness (test_conformance.py) and test_copies_in_runtime.py hold the same cases against the
runtimes themselves.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
import wheelbuilder
from clirun import cli
from conformance import side_module, strings, subsection

import pyodide_auditwheel as paw
from pyodide_auditwheel.errors import MalformedModuleError
from pyodide_auditwheel.runtime.abi import AbiDataError, parse_table
from pyodide_auditwheel.runtime.install import simulate_install
from pyodide_auditwheel.runtime.loader import LoaderRules, LoaderView, read_dylink, view_of_module
from pyodide_auditwheel.runtime.vfs import VirtualFS, js_dirname, js_normalize
from pyodide_auditwheel.wasm.dylink import read_head

TAGS = {
    "pyodide_2024_0": "cp312-cp312-pyodide_2024_0_wasm32",
    "pyodide_2025_0": "cp313-cp313-pyodide_2025_0_wasm32",
    "pyemscripten_2026_0": "cp314-cp314-pyemscripten_2026_0_wasm32",
}
SITE = {
    "pyodide_2024_0": "/lib/python3.12/site-packages",
    "pyodide_2025_0": "/lib/python3.13/site-packages",
    "pyemscripten_2026_0": "/lib/python3.14/site-packages",
}


def module(needed: list[str], runtime_paths: list[str] | None = None, cid: str = "m") -> bytes:
    body = subsection(1, b"\0\0\0\0") + subsection(2, strings(needed))
    if runtime_paths is not None:
        body += subsection(5, strings(runtime_paths))
    return side_module(body, cid)


def library(cid: str = "lib") -> bytes:
    return module([], None, cid)


def wheel(tmp_path: Path, abi: str, files: dict[str, bytes], tag: str | None = None) -> Path:
    return wheelbuilder.write_wheel(tmp_path / abi, "pkg", "1.0", tag or TAGS[abi], files)


def statuses(analysis: paw.Analysis) -> dict[str, list[tuple[str, str]]]:
    return {m.path: [(d.name, d.status) for d in m.dependencies] for m in analysis.wheel_modules if m.needed}


# --- reading dylink.0 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("abi", "needed"), [("pyodide_2024_0", ["liba.so", "libb.so"]), ("pyodide_2025_0", ["libb.so"])]
)
def test_several_needed_subsections_as_each_loader_reads_them(tmp_path: Path, abi: str, needed: list[str]) -> None:
    """emscripten 4 and 5 keep the last NEEDED subsection; 3.1.58 (0.27) adds them up."""
    body = subsection(1, b"\0\0\0\0") + subsection(2, strings(["liba.so"])) + subsection(2, strings(["libb.so"]))
    files = {"pkg/_m.so": side_module(body, "m"), "pkg.libs/liba.so": library("a"), "pkg.libs/libb.so": library("b")}
    analysis = paw.show(wheel(tmp_path, abi, files))
    assert [m.needed for m in analysis.wheel_modules if m.path == "pkg/_m.so"] == [tuple(needed)]


@pytest.mark.parametrize(
    ("abi", "needed"), [("pyodide_2024_0", ["liba.so", "libpad.so"]), ("pyodide_2025_0", ["libpad.so"])]
)
def test_padding_of_a_subsection_is_read_as_another(tmp_path: Path, abi: str, needed: list[str]) -> None:
    """A NEEDED subsection whose declared size covers more than its strings: the loader reads
    the rest as the next subsection (here a second NEEDED the producer hid in the padding)."""
    body = subsection(1, b"\0\0\0\0") + subsection(2, strings(["liba.so"]), subsection(2, strings(["libpad.so"])))
    files = {"pkg/_m.so": side_module(body, "m"), "pkg.libs/liba.so": library("a"), "pkg.libs/libpad.so": library("p")}
    analysis = paw.show(wheel(tmp_path, abi, files))
    assert [m.needed for m in analysis.wheel_modules if m.path == "pkg/_m.so"] == [tuple(needed)]


def test_weak_is_a_binding_not_a_bit() -> None:
    """(flags & 3) == 1: LOCAL|WEAK (3) is not weak, WEAK|UNDEFINED (0x11) is."""
    entries = [("env", "local_weak", 3), ("env", "weak", 0x11), ("GOT.mem", "plain", 0)]
    info = strings([])[:0] + bytes([len(entries)])
    for module_name, field, flags in entries:
        info += strings([module_name])[1:] + strings([field])[1:] + bytes([flags])
    data = side_module(subsection(4, info))
    assert read_head(data).dylink.weak_imports == {"weak"}
    rules = LoaderRules("last", True, False, "emscripten", False)
    assert view_of_module(data, rules).weak_imports == {"weak"}


def test_what_the_loader_cannot_read_is_refused_in_one_sentence() -> None:
    rules = LoaderRules("last", True, False, "emscripten", False)
    with pytest.raises(MalformedModuleError, match=r"too short to be read by the loader \(byte length of Uint32Array"):
        view_of_module(b"\0asm\1\0\0\0\0", rules)
    with pytest.raises(MalformedModuleError, match="not wasm: need to see wasm magic number"):
        view_of_module(b"\x7fELF" + b"\0" * 20, rules)
    with pytest.raises(MalformedModuleError, match="need the dylink section to be first"):
        view_of_module(b"\0asm\1\0\0\0\1\0" + b"\0" * 14, rules)
    with pytest.raises(MalformedModuleError, match="need dylink section: the first section is 'name'"):
        view_of_module(side_module(b"\0" * 16, name="name"), rules)
    with pytest.raises(MalformedModuleError, match="not read by this runtime's loader"):
        read_dylink("dylink", b"\0\0\0\0\0", rules)


def test_a_needed_file_that_is_not_a_module_stops_the_install() -> None:
    fs = VirtualFS()
    fs.add_file("/lib/python3.13/site-packages/pkg/_m.so", LoaderView(("notes.txt",), ("$ORIGIN",), frozenset()))
    fs.add_file("/lib/python3.13/site-packages/pkg/notes.txt", None)
    rules = LoaderRules("last", True, False, "emscripten", False)
    outcome = simulate_install(
        fs, ["/lib/python3.13/site-packages/pkg/_m.so"], rules, "/lib/python3.13/site-packages", ""
    )
    assert outcome.instances == ()
    assert outcome.error == (
        "/lib/python3.13/site-packages/pkg/notes.txt is not a wasm side module (need to see wasm magic number)"
    )


def test_emscripten_path_functions_are_emscriptens() -> None:
    assert js_dirname("/a/b//libx.so") == "/a/b/"
    assert js_dirname("/a/b/c/..") == "/a/b/c"
    assert js_normalize("/a/b/../c//d/") == "/a/c/d/"
    assert js_normalize("/../a") == "/a"


def test_loader_rules_in_the_abi_data_are_checked() -> None:
    def table(loader: dict[str, object]) -> dict[str, object]:
        entry = {
            "name": "x",
            "pyodide": "1",
            "python": "3.13",
            "emscripten": "4.0.9",
            "platform_tags": {},
            "site_packages": "/lib/python3.13/site-packages",
            "runtime_path_scheme": "origin",
            "loader": loader,
            "release_loaders": {},
            "prerelease": False,
        }
        return {"schema_version": 2, "abis": [entry], "unknown": {**entry, "site_packages": ""}}

    good = {"needed": "last", "reads_runtime_path": True, "reads_legacy_dylink": False, "search": "emscripten"}
    with pytest.raises(AbiDataError, match="loader must have exactly"):
        parse_table(table(good))
    with pytest.raises(AbiDataError, match="loader names an unknown needed or search rule"):
        parse_table(table({**good, "normalizes_names": False, "search": "guess"}))


# --- where libraries are found --------------------------------------------------------------------


def test_pyodide_0_27_does_not_read_runtime_path(tmp_path: Path) -> None:
    files = {"pkg/a/_m.so": module(["libx.so"], ["$ORIGIN/../../other"]), "other/libx.so": library("x")}
    assert statuses(paw.show(wheel(tmp_path, "pyodide_2024_0", files))) == {"pkg/a/_m.so": [("libx.so", "missing")]}
    assert statuses(paw.show(wheel(tmp_path, "pyodide_2025_0", files))) == {"pkg/a/_m.so": [("libx.so", "included")]}


def test_pyodide_0_27_finds_libraries_under_the_module_directory(tmp_path: Path) -> None:
    """Its file system walks every directory under the module's: no RUNTIME_PATH needed."""
    files = {"pkg/_m.so": module(["libx.so"]), "pkg/deep/er/libx.so": library("x")}
    assert statuses(paw.show(wheel(tmp_path, "pyodide_2024_0", files))) == {"pkg/_m.so": [("libx.so", "included")]}
    assert statuses(paw.show(wheel(tmp_path, "pyodide_2025_0", files))) == {"pkg/_m.so": [("libx.so", "missing")]}


def test_another_pythons_site_packages_is_not_this_wheels(tmp_path: Path) -> None:
    """/lib/python3.12/... in a 3.13 wheel: the runtime looks there, and nothing is there."""
    files = {
        "pkg/_m.so": module(["libx.so"], ["/lib/python3.12/site-packages/pkg.libs"]),
        "pkg.libs/libx.so": library(),
    }
    assert statuses(paw.show(wheel(tmp_path, "pyodide_2025_0", files))) == {"pkg/_m.so": [("libx.so", "missing")]}


def test_origin_counts_only_as_a_prefix_and_is_plain_text(tmp_path: Path) -> None:
    """``$ORIGINfoo`` is the module's directory with ``foo`` appended, as the loader makes it."""
    files = {"pkg/_m.so": module(["libx.so"], ["$ORIGINlibs"]), "pkglibs/libx.so": library()}
    assert statuses(paw.show(wheel(tmp_path, "pyodide_2025_0", files))) == {"pkg/_m.so": [("libx.so", "included")]}


# --- copies ---------------------------------------------------------------------------------------


def peer_repaired_files(abi: str) -> dict[str, bytes]:
    """What auditwheel-emscripten 0.3.0 writes: the library in pkg.libs and $ORIGIN-relative
    paths only, from modules at two depths (the vendored library after its users)."""
    return {
        "pkg/_a.so": module(["libstate.so"], ["$ORIGIN/../pkg.libs"], "a"),
        "pkg/sub/_b.so": module(["libstate.so"], ["$ORIGIN/../../pkg.libs"], "b"),
        "pkg.libs/libstate.so": library("state"),
    }


@pytest.mark.parametrize("abi", ["pyodide_2024_0", "pyodide_2025_0"])
def test_a_peer_repaired_wheel_loads_its_library_twice_and_repair_fixes_it(tmp_path: Path, abi: str) -> None:
    """0.29: two spellings of one path; 0.27: the library loaded by NEEDED before its own turn
    in archive order.  Both are duplicate-load findings; a repair gives one copy."""
    source = wheel(tmp_path, abi, peer_repaired_files(abi))
    report = paw.audit(source)
    assert [(f.kind, f.subject) for f in report.findings] == [("duplicate-load", "libstate.so")]
    assert "more than one copy of libstate.so" in report.verdict
    result = paw.repair(source, paw.RepairRequest(output_dir=tmp_path / "out"))
    assert result.changed
    assert result.output is not None
    fixed = paw.audit(result.output)
    assert fixed.loads, fixed.findings
    assert fixed.verdict.endswith("one copy of each library")
    if abi == "pyodide_2024_0":  # the library moved ahead of its users; nothing else to change
        assert result.plan.moved_first == ("pkg.libs/libstate.so",)
        assert not result.plan.patches or all(p.runtime_paths for p in result.plan.patches.values())
    again = paw.repair(result.output, paw.RepairRequest(output_dir=tmp_path / "again"))
    assert not again.changed and again.plan.is_noop


def test_a_normalising_runtime_loads_the_peer_layout_once(tmp_path: Path) -> None:
    """And a repair leaves such a wheel as it is: nothing to change where one copy loads."""
    source = wheel(tmp_path, "pyemscripten_2026_0", peer_repaired_files("pyemscripten_2026_0"))
    report = paw.audit(source)
    assert report.loads, report.findings
    result = paw.repair(source, paw.RepairRequest(output_dir=tmp_path / "out"))
    assert result.plan.is_noop and not result.copies_left


def test_a_relative_entry_before_the_absolute_one_is_put_after_it(tmp_path: Path) -> None:
    site = SITE["pyodide_2025_0"]
    files = {
        "pkg/_a.so": module(["libstate.so"], ["$ORIGIN/../pkg.libs", f"{site}/pkg.libs"], "a"),
        "pkg/sub/_b.so": module(["libstate.so"], [f"{site}/pkg.libs"], "b"),
        "pkg.libs/libstate.so": library("state"),
    }
    source = wheel(tmp_path, "pyodide_2025_0", files)
    assert [f.kind for f in paw.audit(source).findings] == ["duplicate-load"]
    result = paw.repair(source, paw.RepairRequest(output_dir=tmp_path / "out"))
    assert result.plan.patches["pkg/_a.so"].runtime_paths == (f"{site}/pkg.libs", "$ORIGIN/../pkg.libs")
    assert result.output is not None
    assert paw.audit(result.output).loads


def test_an_identical_copy_of_a_library_is_vendored_once(tmp_path: Path) -> None:
    """A second name that is a copy (or a hard link, once zipped), not a symbolic link."""
    libdir = tmp_path / "libdir"
    libdir.mkdir()
    (libdir / "libstate.so").write_bytes(library("state"))
    shutil.copy(libdir / "libstate.so", libdir / "libstate.so.1")
    files = {"pkg/_a.so": module(["libstate.so"], [], "a"), "pkg/_b.so": module(["libstate.so.1"], [], "b")}
    result = paw.repair(
        wheel(tmp_path, "pyodide_2025_0", files), paw.RepairRequest(libdirs=[libdir], output_dir=tmp_path / "out")
    )
    assert [library.dest for library in result.plan.vendored] == [f"pkg.libs/{library_name(result)}"]
    assert result.output is not None
    assert paw.audit(result.output).loads


def library_name(result: paw.RepairResult) -> str:
    return result.plan.vendored[0].dest.rsplit("/", 1)[-1]


def two_copies_of_libstate(first: str = "pkg/libstate.so") -> dict[str, bytes]:
    """Two identical copies of a library in two folders (the first at ``first``), each found
    by its neighbour through ``$ORIGIN``: both are instantiated."""
    return {
        "pkg/_a.so": module(["libstate.so"], ["$ORIGIN"], "a"),
        "pkg/sub/_b.so": module(["libstate.so"], ["$ORIGIN"], "b"),
        first: library("state"),
        "pkg/sub/libstate.so": library("state"),
    }


def test_an_identical_copy_inside_the_wheel_is_a_duplicate_load(tmp_path: Path) -> None:
    files = two_copies_of_libstate()
    findings = paw.audit(wheel(tmp_path, "pyemscripten_2026_0", files)).findings
    assert [(f.kind, f.subject) for f in findings] == [("duplicate-load", "libstate.so")]


def test_a_wheel_tagged_for_two_abis_is_laid_out_and_audited_for_both(tmp_path: Path) -> None:
    tag = "cp312-abi3-pyodide_2024_0_wasm32.pyodide_2025_0_wasm32"
    libdir = tmp_path / "libdir"
    libdir.mkdir()
    (libdir / "libstate.so").write_bytes(library("state"))
    files = {"pkg/_a.abi3.so": module(["libstate.so"], [], "a"), "pkg/sub/_b.abi3.so": module(["libstate.so"], [], "b")}
    source = wheel(tmp_path, "both", files, tag)
    result = paw.repair(source, paw.RepairRequest(libdirs=[libdir], output_dir=tmp_path / "out"))
    entries = result.plan.patches["pkg/sub/_b.abi3.so"].runtime_paths
    assert entries is not None
    assert entries[:2] == (f"{SITE['pyodide_2024_0']}/pkg.libs", f"{SITE['pyodide_2025_0']}/pkg.libs")
    assert result.output is not None
    assert paw.audit(result.output).loads
    # The same wheel laid out for its first ABI only loads twice on the second.
    only_first = {
        "pkg.libs/libstate.so": library("state"),
        "pkg/_a.abi3.so": module(["libstate.so"], [f"{SITE['pyodide_2024_0']}/pkg.libs", "$ORIGIN/../pkg.libs"], "a"),
        "pkg/sub/_b.abi3.so": module(
            ["libstate.so"], [f"{SITE['pyodide_2024_0']}/pkg.libs", "$ORIGIN/../../pkg.libs"], "b"
        ),
    }
    findings = paw.audit(wheel(tmp_path, "first", only_first, tag)).findings
    assert [(f.kind, f.subject) for f in findings] == [("duplicate-load", "libstate.so")]
    assert "pyodide_2025_0's loader" in findings[0].reason


@pytest.mark.parametrize("abi", sorted(TAGS))
def test_our_repair_loads_one_copy_on_every_abi(tmp_path: Path, abi: str) -> None:
    """Vendored libraries go first in the archive, each after those it needs: 0.27 then knows
    each by its base name before a module NEEDs it."""
    libdir = tmp_path / "libdir"
    libdir.mkdir()
    (libdir / "libouter.so").write_bytes(module(["libcounter.so"], [], "outer"))
    (libdir / "libcounter.so").write_bytes(library("counter"))
    files = {"pkg/_a.so": module(["libouter.so"], [], "a"), "pkg/sub/_b.so": module(["libcounter.so"], [], "b")}
    result = paw.repair(wheel(tmp_path, abi, files), paw.RepairRequest(libdirs=[libdir], output_dir=tmp_path / "out"))
    assert [lib.original_name for lib in result.plan.vendored] == ["libcounter.so", "libouter.so"]
    assert result.output is not None
    report = paw.audit(result.output)
    assert report.loads, report.findings


def test_identical_copies_in_the_wheel_are_merged_into_one_vendored_file(tmp_path: Path) -> None:
    """Two identical copies of a library in two folders, each found by its neighbour: both are
    instantiated.  The repair keeps one file, in the libs directory, and points both users at
    it; "nothing to change" is said only of a wheel that loads one copy."""
    files = two_copies_of_libstate()
    source = wheel(tmp_path, "pyemscripten_2026_0", files)
    assert [f.kind for f in paw.audit(source).findings] == ["duplicate-load"]
    result = paw.repair(source, paw.RepairRequest(output_dir=tmp_path / "out"))
    (vendored,) = result.plan.vendored
    assert vendored.member == "pkg/libstate.so" and vendored.dest.startswith("pkg.libs/libstate-")
    assert result.plan.merged == {"pkg/libstate.so": vendored.dest, "pkg/sub/libstate.so": vendored.dest}
    assert result.output is not None
    with zipfile.ZipFile(result.output) as repaired:
        assert not {"pkg/libstate.so", "pkg/sub/libstate.so"} & set(repaired.namelist())
    report = paw.audit(result.output)
    assert report.loads and not report.findings, report.findings
    shown = " ".join(cli("repair", str(source), "--dry-run").stdout.split())
    assert "pkg/sub/libstate.so │ would merge │ into pkg.libs/libstate-" in shown
    assert shown.endswith(
        "would vendor 1 library, would patch 2 module(s), would merge 2 copies into the libs directory"
    )
    assert "already self-contained, nothing to change" in cli("repair", str(result.output), "--dry-run").stdout


def test_a_copy_under_the_data_directory_stays_there(tmp_path: Path) -> None:
    """Pyodide unpacks a wheel as it is: a library under ``<name>.data/platlib`` is not moved
    beside the module that needs it (``test_runtime.py`` proves it in every release), so that
    module misses it; the other copy is found by its neighbour."""
    files = two_copies_of_libstate("pkg-1.0.data/platlib/pkg/libstate.so")
    findings = paw.audit(wheel(tmp_path, "pyemscripten_2026_0", files)).findings
    assert [(f.kind, f.module) for f in findings] == [("missing-library", "pkg/_a.so")]


def dotted_rpath_wheel(tmp_path: Path) -> Path:
    """``pkg/sub/_m.so`` finds ``pkg/lib/libx.so`` through ``$ORIGIN/../lib``: on 0.28/0.29 the
    library is named ``…/pkg/sub/../lib/libx.so``, beside the full path the install loaded it
    by (the library comes first in the archive)."""
    files = {"pkg/lib/libx.so": library("x"), "pkg/sub/_m.so": module(["libx.so"], ["$ORIGIN/../lib"], "m")}
    return wheel(tmp_path, "pyodide_2025_0", files)


def test_a_library_reached_by_a_dotted_runtime_path_gets_its_absolute_entry_first(tmp_path: Path) -> None:
    source = dotted_rpath_wheel(tmp_path)
    (finding,) = paw.audit(source).findings
    assert finding.kind == "duplicate-load" and "/lib/python3.13/site-packages/pkg/sub/../lib/libx.so" in finding.reason
    result = paw.repair(source, paw.RepairRequest(output_dir=tmp_path / "out"))
    patch = result.plan.patches["pkg/sub/_m.so"]
    assert patch.runtime_paths == ("/lib/python3.13/site-packages/pkg/lib", "$ORIGIN/../lib")
    assert not result.plan.vendored and not result.plan.merged
    assert result.output is not None
    assert not paw.audit(result.output).findings
    assert paw.repair(result.output, dry_run=True).plan.is_noop
    # $ORIGIN that already spells the full path needs nothing
    plain = {"pkg/libx.so": library("x"), "pkg/_m.so": module(["libx.so"], ["$ORIGIN"], "m")}
    assert paw.repair(wheel(tmp_path / "plain", "pyodide_2025_0", plain), dry_run=True).plan.is_noop
