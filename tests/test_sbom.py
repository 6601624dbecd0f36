"""The SBOM a repair writes (PEP 770, CycloneDX): every vendored library with its path in the
wheel and sha256, no machine paths, reproducible, kept across repairs, and optional."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest
import wheelbuilder
from clirun import cli
from wheelcheck import check_wheel_valid

import pyodide_auditwheel as paw
from pyodide_auditwheel.rewriter.plan import RepairOptions

SBOM = "chainpkg-1.0.dist-info/sboms/pyodide-auditwheel.cdx.json"


def sbom_of(wheel: Path) -> dict:  # type: ignore[type-arg]
    return json.loads(check_wheel_valid(wheel)[SBOM])


def test_sbom_names_every_vendored_library(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    result = paw.repair(wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "out"))
    assert result.output is not None
    contents = check_wheel_valid(result.output)
    document = json.loads(contents[SBOM])
    assert (document["bomFormat"], document["specVersion"]) == ("CycloneDX", "1.4")
    assert document["metadata"]["component"]["purl"] == f"pkg:pypi/chainpkg@1.0?file_name={wheel.name}"
    assert document["metadata"]["tools"] == [{"name": "pyodide-auditwheel", "version": paw.__version__}]
    by_path = {c["bom-ref"]: c for c in document["components"]}
    assert set(by_path) == {library.dest for library in result.plan.vendored}
    for library in result.plan.vendored:
        component = by_path[library.dest]
        assert component["hashes"] == [
            {"alg": "SHA-256", "content": hashlib.sha256(contents[library.dest]).hexdigest()}
        ]
        properties = {p["name"]: p["value"] for p in component["properties"]}
        assert properties == {
            "pyodide-auditwheel:path": library.dest,
            "pyodide-auditwheel:source-file-name": library.source.name,
            "pyodide-auditwheel:source-sha256": hashlib.sha256(library.source.read_bytes()).hexdigest(),
        }
    assert (
        str(tmp_path) not in contents[SBOM].decode() and "/" + fixture_libs.libdir.name not in contents[SBOM].decode()
    )
    assert document["dependencies"] == [
        {"ref": document["metadata"]["component"]["bom-ref"], "dependsOn": sorted(by_path)}
    ]
    # The SBOM sits among the metadata, just before RECORD.
    with zipfile.ZipFile(result.output) as archive:
        names = archive.namelist()
    assert names[-2:] == [SBOM, "chainpkg-1.0.dist-info/RECORD"]


def test_sbom_is_reproducible_and_idempotent(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    elsewhere = tmp_path / "elsewhere" / "lib"
    shutil.copytree(fixture_libs.libdir, elsewhere)
    first = paw.repair(wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "one")).output
    second = paw.repair(wheel, paw.RepairRequest(libdirs=[elsewhere], output_dir=tmp_path / "two")).output
    assert first is not None and second is not None
    assert first.read_bytes() == second.read_bytes()  # the library's directory is not in the wheel
    again = paw.repair(first, paw.RepairRequest(output_dir=tmp_path / "again"))
    assert not again.changed and (tmp_path / "again" / first.name).read_bytes() == first.read_bytes()


def test_a_later_repair_keeps_the_earlier_components(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """Repair once vendoring one library, then again vendoring the other: the SBOM lists
    both; a retag rewrites it for the new file name."""
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    only_outer = tmp_path / "only-outer"
    only_outer.mkdir()
    shutil.copy(fixture_libs.outer, only_outer / "libouter.so")
    first = paw.repair(
        wheel, paw.RepairRequest(libdirs=[only_outer], exclude=["libcounter.so"], output_dir=tmp_path / "one")
    ).output
    assert first is not None and [c["name"].split("-")[0] for c in sbom_of(first)["components"]] == ["libouter"]
    second = paw.repair(first, paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "two")).output
    assert second is not None
    assert sorted(c["name"].split("-")[0] for c in sbom_of(second)["components"]) == ["libcounter", "libouter"]
    retagged = paw.repair(
        second, paw.RepairRequest(platform="pyemscripten_2025_0_wasm32", output_dir=tmp_path / "three")
    ).output
    assert retagged is not None
    document = sbom_of(retagged)
    assert document["metadata"]["component"]["purl"].endswith(
        "file_name=chainpkg-1.0-cp313-cp313-pyemscripten_2025_0_wasm32.whl"
    )
    assert len(document["components"]) == 2


def test_no_sbom(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    result = cli("repair", str(wheel), "--libdir", str(fixture_libs.libdir), "-o", str(tmp_path / "out"), "--no-sbom")
    assert result.returncode == 0
    assert SBOM not in check_wheel_valid(tmp_path / "out" / wheel.name)
    assert (
        paw.repair(
            wheel, paw.RepairRequest(libdirs=[fixture_libs.libdir], options=RepairOptions(sbom=False)), dry_run=True
        ).plan.sbom
        is None
    )


DEEP = b'{"components": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b'{"components": 3}',
        b'{"components": [{"bom-ref": ["a"]}]}',
        b'{"components": [{"bom-ref": {"a": 1}}]}',
        b'{"components": [{"bom-ref": 1}, {"bom-ref": "x"}]}',
        DEEP,
        b"[1, 2]",
    ],
    ids=["text", "number", "list-ref", "dict-ref", "mixed-refs", "200000-deep", "array"],
)
def test_a_foreign_sbom_of_that_name_is_one_sentence(
    content: bytes, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    files = {"chainpkg/_ext.so": fixture_libs.ext.read_bytes(), SBOM: content}
    wheel = wheelbuilder.write_wheel(tmp_path / "in", "chainpkg", "1.0", "cp313-cp313-pyodide_2025_0_wasm32", files)
    result = cli("repair", str(wheel), "--libdir", str(fixture_libs.libdir), "-o", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    assert f"cannot update {SBOM}: it is not a CycloneDX document this tool wrote" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    if content == b"[1, 2]":
        assert "(it is not a JSON object)" in result.stderr
    if content == DEEP:
        assert "(it is nested too deeply to read)" in result.stderr
    if content.startswith(b'{"components": 3'):
        assert "components is not a list of components, each with a bom-ref string" in result.stderr


@pytest.mark.parametrize(
    ("member", "named"),
    [
        ("chainpkg-1.0.dist-info/sboms", "chainpkg-1.0.dist-info/sboms"),
        ("chainpkg-1.0.dist-info/sboms/Pyodide-Auditwheel.cdx.json", "Pyodide-Auditwheel.cdx.json"),
    ],
    ids=["a-file-named-sboms", "case-twin"],
)
def test_an_sbom_the_wheel_cannot_hold_is_refused_before_writing(
    member: str, named: str, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    """The SBOM a repair adds must not clash with a member: a file where its directory goes,
    or a name equal to it but for case (one file on macOS and Windows)."""
    files = {"chainpkg/_ext.so": fixture_libs.ext.read_bytes(), member: b"{}"}
    wheel = wheelbuilder.write_wheel(tmp_path / "in", "chainpkg", "1.0", "cp313-cp313-pyodide_2025_0_wasm32", files)
    before = wheel.read_bytes()
    result = cli("repair", str(wheel), "--libdir", str(fixture_libs.libdir), "-o", str(tmp_path / "out"))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert f"cannot add {SBOM}: the wheel already has" in result.stderr and named in result.stderr
    assert wheel.read_bytes() == before and not (tmp_path / "out").exists()
    ok = cli("repair", str(wheel), "--libdir", str(fixture_libs.libdir), "-o", str(tmp_path / "out"), "--no-sbom")
    assert ok.returncode == 0, ok.stderr


def chain_wheel(libs: wheelbuilder.FixtureLibs, where: Path) -> Path:
    return wheelbuilder.build_chain_wheel(libs, where, "pyodide_2025_0")


def test_a_tampered_sbom_is_not_merged_into_a_fresh_hash(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    """The earlier SBOM is read to be merged: bytes that do not match RECORD are refused, not
    written again with a valid hash (RECORD laundering)."""
    first = paw.repair(
        chain_wheel(fixture_libs, tmp_path / "in"),
        paw.RepairRequest(libdirs=[fixture_libs.libdir], output_dir=tmp_path / "one"),
    )
    assert first.output is not None
    tampered = tmp_path / "two" / first.output.name
    tampered.parent.mkdir()
    with zipfile.ZipFile(first.output) as source, zipfile.ZipFile(tampered, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith("sboms/pyodide-auditwheel.cdx.json"):
                data = data.replace(b'"name"', b'"nom"', 1)
            target.writestr(info, data)
    result = cli("repair", str(tampered), "--plat", "pyemscripten_2025_0_wasm32", "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "sboms/pyodide-auditwheel.cdx.json' does not match its RECORD hash" in result.stderr
    assert not (tmp_path / "out").exists()
