"""The conformance harness: the tool's model of each loader (pyodide_auditwheel.loader) against
the loader itself, in every pinned runtime under Node, on generated inputs.

The runtime side (tests/runtime/conformance.mjs) calls the runtime's own functions, one
instance for every case: ``getDylinkMetadata`` on module bytes, ``findLibraryFS`` on a file
system it populates, and Pyodide's install step (unpack, then dlopen every ``.so`` in archive
order) on whole wheels, reporting every library instance it made (``LDSO``) and which file each
came from.  Any disagreement fails the test, with the case's id and both answers.

These tests are runtime-independent of the host's Python, so they run once per CI run (see
``conftest.run_once_per_ci``).
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conformance import GeneratedWheel, dylink_cases, random_wheel, search_cases, symbol_wheel
from loader_model import ANSWERS, RECORDED, abi_of, model_install, model_search, other_site_packages, runtime_install
from record_runtime_answers import answers_now
from runtime_driver import ALL_RUNTIMES, DATA_RUNTIMES, ask_runtime

import pyodide_auditwheel as paw
from pyodide_auditwheel.errors import AuditwheelError, WasmError
from pyodide_auditwheel.runtime.abi import Abi, known_abis
from pyodide_auditwheel.runtime.loader import view_of_module
from pyodide_auditwheel.runtime.offers import load_offer

pytestmark = [pytest.mark.runtime, pytest.mark.usefixtures("runtimes")]

DYLINK_CASES = 2500
SEARCH_CASES = 2500
INSTALL_CASES = 600
SYMBOL_CASES = 300
# The export each generated module carries (tests/conformance.py): which content a file holds.
CONTENT_ID = re.compile(rb"__cf_([0-9A-Za-z_.]+)")
REPAIRED_ONCE = "repaired, one copy of each library"
REPAIRED_WITH_COPIES = "repaired, copies left (flagged by the audit)"
# Where the report of the last run is written (docs/reliability.md quotes it).
REPORT = Path(__file__).parent / "runtime" / "conformance-report.json"


def model_dylink(case: dict[str, Any], abi: Abi) -> dict[str, Any] | None:
    """The model's reading; None when the tool refuses the module as malformed."""
    try:
        view = view_of_module(base64.b64decode(case["module"]), abi.loader)
    except WasmError:
        return None
    answer: dict[str, Any] = {
        "needed": list(view.needed),
        "weak": sorted(view.weak_imports),
        "tls": sorted(view.tls_exports),
    }
    if abi.loader.reads_runtime_path:
        answer["runtime_paths"] = list(view.runtime_paths)
    return answer


@pytest.mark.parametrize("runtime", sorted(ALL_RUNTIMES))
def test_the_model_agrees_with_the_runtime_loader(runtime: str, tmp_path: Path) -> None:
    abi = abi_of(runtime)
    rng = random.Random(f"conformance-{runtime}")
    cases: list[dict[str, Any]] = dylink_cases(rng, DYLINK_CASES, legacy_share=0.1)
    if abi.loader.search == "emscripten":
        cases += search_cases(rng, SEARCH_CASES, abi.site_packages, other_site_packages(abi))
    wheels = {}
    repaired: dict[str, GeneratedWheel] = {}
    refused = 0
    platform = next(iter(abi.platform_tags))
    for index in range(INSTALL_CASES):
        draw = (abi.python, abi.site_packages, other_site_packages(abi), platform)
        wheel = random_wheel(random.Random(f"{runtime}-{index}"), index, tmp_path, *draw)
        wheels[f"w{index}"] = wheel
        cases.append({"id": f"w{index}", "kind": "install", "wheel": str(wheel.path)})
        # The same wheel under another name, some tagged for a second ABI too, repaired with
        # every library it needs in a libdir (second names as hard links).
        twin = random_wheel(
            random.Random(f"{runtime}-{index}"), index, tmp_path, *draw, prefix="r", other_platform=second_tag(abi)
        )
        output = repair_with_libraries(twin, tmp_path / "repaired")
        if output is None:
            refused += 1
        else:
            repaired[f"r{index}"] = output
            cases.append({"id": f"r{index}", "kind": "install", "wheel": str(output.path)})
    symbol_wheels = {}
    if runtime in DATA_RUNTIMES:  # the audit's data is this runtime's
        offer = load_offer(abi.name)
        others = sorted(offer.js_library - set(offer.exports))
        for index in range(SYMBOL_CASES):
            path = symbol_wheel(rng, index, tmp_path, dict(offer.function_types), others, abi.python, platform)
            symbol_wheels[f"y{index}"] = path
            module = f"{abi.site_packages}/y{index}/_m.so"
            cases.append({"id": f"y{index}", "kind": "install", "wheel": str(path), "dlopen": [module]})
    answers = ask_runtime(runtime, cases, tmp_path)

    disagreements: list[str] = []
    compared = {
        "dylink": 0,
        "dylink refused by the tool and the runtime": 0,
        "dylink refused by the tool only": 0,
        "search": 0,
        "install": 0,
        "install with several copies": 0,
        "repaired, then installed": 0,
        REPAIRED_ONCE: 0,
        REPAIRED_WITH_COPIES: 0,
        "repair refused (a NEEDED path no libdir file matches)": refused,
        "imports": 0,
    }
    for case in cases:
        answer = answers[case["id"]]
        if case["kind"] == "dylink":
            expected = model_dylink(case, abi)
            if expected is None:
                # Stricter than the loader is allowed (the tool refuses what the loader would read
                # as garbage), never the other way round.
                compared["dylink refused by the tool" + (" and the runtime" if "error" in answer else " only")] += 1
                continue
            compared["dylink"] += 1
            seen = {key: answer.get(key) for key in expected}
            if "error" in answer or seen != expected:
                disagreements.append(f"{case['id']}: model {expected}, runtime {answer}")
        elif case["id"] in symbol_wheels:
            compared["imports"] += 1
            report = paw.audit(symbol_wheels[case["id"]])
            # this runtime's findings, not those the audit adds for an older release of the ABI
            older = [f"Pyodide {release.pyodide}" for release in offer.older]
            fails = [
                f for f in report.findings if "fails at load" in f.reason and not any(r in f.reason for r in older)
            ]
            if bool(fails) == answer["ok"]:
                disagreements.append(f"{case['id']}: audit {fails or report.findings}, runtime {answer['error'][:300]}")
        elif case["id"] in repaired:
            compared["repaired, then installed"] += 1
            output = repaired[case["id"]]
            ok, made = runtime_install(answer)
            copies = len({content for _names, content in made}) < len(made)
            flagged = [
                f
                for f in paw.audit(output.path).findings
                if f.kind == "duplicate-load" and f.reason.startswith(loader_label(runtime))
            ]
            expected_install = model_install(output, abi)
            if (ok, made) != expected_install or not ok or copies != bool(flagged):
                layout = [(name, output.content_ids.get(name)) for name, _ in output.members]
                disagreements.append(
                    f"{case['id']} repaired {layout}: model {expected_install}, runtime {(ok, made)}, "
                    f"audit {flagged} ({answer['error'][:300]})"
                )
            compared[REPAIRED_WITH_COPIES if copies else REPAIRED_ONCE] += 1
        elif case["kind"] == "search":
            compared["search"] += 1
            expected_path = model_search(case, abi)
            if expected_path != answer["found"]:
                disagreements.append(f"{case['id']} {case}: model {expected_path!r}, runtime {answer['found']!r}")
        else:
            compared["install"] += 1
            wheel = wheels[case["id"]]
            expected_install = model_install(wheel, abi)
            seen_install = runtime_install(answer)
            if len({content for _names, content in seen_install[1]}) < len(seen_install[1]):
                compared["install with several copies"] += 1
            if expected_install != seen_install:
                layout = [(name, wheel.content_ids.get(name)) for name, _ in wheel.members]
                disagreements.append(
                    f"{case['id']} {layout}: model {expected_install}, runtime {seen_install} ({answer['error'][:300]})"
                )
    report = json.loads(REPORT.read_text()) if REPORT.is_file() else {}
    report[runtime] = compared
    REPORT.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    assert not disagreements, f"{len(disagreements)} disagreements, e.g.:\n" + "\n".join(disagreements[:8])
    # The generator must reach the cases that matter, not only the easy ones.
    assert compared["dylink"] > DYLINK_CASES // 2
    assert compared["install with several copies"] > 0
    assert compared[REPAIRED_ONCE] > INSTALL_CASES // 2


def second_tag(abi: Abi) -> str:
    """A platform tag of an ABI whose loader finds libraries the other way (0.27's, or
    emscripten's): a wheel tagged for both must be laid out for both."""
    other = "pyodide_2025_0" if abi.loader.search != "emscripten" else "pyodide_2024_0"
    return f"{other}_wasm32"


def loader_label(runtime: str) -> str:
    """How the audit names this runtime's loader in its findings."""
    name, release = ALL_RUNTIMES[runtime]
    abi = next(abi for abi in known_abis() if abi.name == name)
    return f"Pyodide {release}'s loader" if release in abi.release_loaders else f"{name}'s loader"


def repair_with_libraries(wheel: GeneratedWheel, out_dir: Path) -> GeneratedWheel | None:
    """``wheel`` repaired with a libdir holding each library it needs (a second name,
    ``lib….so.1``, as a hard link to the first), read back with each member's content id;
    None when the repair refuses it."""
    libdir = out_dir / "libs" / wheel.path.name.split("-")[0]
    libdir.mkdir(parents=True)
    for name, data in wheel.libraries.items():
        if name.endswith(".1"):
            os.link(libdir / name.removesuffix(".1"), libdir / name)
        else:
            (libdir / name).write_bytes(data)
    try:
        result = paw.repair(wheel.path, paw.RepairRequest(libdirs=[libdir], output_dir=out_dir))
    except AuditwheelError:
        return None
    output = result.output or wheel.path
    with zipfile.ZipFile(output) as archive:
        members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    content_ids = {name: match.group(1).decode() for name, data in members if (match := CONTENT_ID.search(data))}
    return GeneratedWheel(output, members, content_ids)


@pytest.mark.parametrize("runtime", list(RECORDED))
def test_the_recorded_answers_are_still_the_runtimes(runtime: str, tmp_path: Path) -> None:
    """tests/data/runtime-answers.json, which the fast tier replays against the model, is
    what the runtime says today (re-record with ``nox -s runtime_answers``)."""
    recorded = json.loads(ANSWERS.read_text())[runtime]
    assert answers_now(runtime, tmp_path) == recorded
