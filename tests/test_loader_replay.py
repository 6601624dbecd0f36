"""The loader model against answers recorded from the real runtimes (no Node): a fast-tier
test that fails when the model's search order or install rules change.

tests/data/runtime-answers.json holds, per loader family, where ``findLibraryFS`` found each of
a sample of libraries and which instances Pyodide's install step made for a sample of
generated wheels; the cases are made again from their seeds (tests/loader_model.py).
``python tests/record_runtime_answers.py`` records them again; the runtime tier checks the
file still says what the runtimes say (test_conformance.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from loader_model import ANSWERS, RECORDED, abi_of, model_install, model_search, recorded_cases, runtime_install


def recorded() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ANSWERS.read_text())
    return data


@pytest.mark.parametrize("runtime", list(RECORDED))
def test_the_model_gives_the_recorded_runtime_answers(runtime: str, tmp_path: Path) -> None:
    answers = recorded()[runtime]
    abi = abi_of(runtime)
    cases, wheels = recorded_cases(runtime, tmp_path)
    assert len(answers["search"]) == len(cases) and len(answers["install"]) == len(wheels)
    disagreements = []
    for case in cases:
        expected = answers["search"][case["id"]]
        if model_search(case, abi) != expected:
            disagreements.append(f"{case}: model {model_search(case, abi)!r}, runtime {expected!r}")
    for key, wheel in wheels.items():
        seen = runtime_install(answers["install"][key])
        if model_install(wheel, abi) != seen:
            layout = [(name, wheel.content_ids.get(name)) for name, _ in wheel.members]
            disagreements.append(f"{key} {layout}: model {model_install(wheel, abi)}, runtime {seen}")
    assert not disagreements, f"{len(disagreements)} disagreements, e.g.:\n" + "\n".join(disagreements[:5])
