"""Record what the real runtimes answer to the replayed cases (tests/loader_model.RECORDED):
``python tests/record_runtime_answers.py`` (Node and ``npm ci --prefix tests/runtime``
needed).  The answers are kept in tests/data/runtime-answers.json, which the fast tier replays
against the model (tests/test_loader_replay.py) and the runtime tier checks is still what the
runtimes say (tests/test_conformance.py)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from loader_model import ANSWERS, RECORDED, recorded_cases
from runtime_driver import ask_runtime


def answers_now(runtime: str, workdir: Path) -> dict[str, Any]:
    """What ``runtime`` answers to its recorded cases, in the form the file keeps."""
    cases, wheels = recorded_cases(runtime, workdir)
    cases += [{"id": key, "kind": "install", "wheel": str(wheel.path)} for key, wheel in wheels.items()]
    answers = ask_runtime(runtime, cases, workdir)
    return {
        "search": {case["id"]: answers[case["id"]]["found"] for case in cases if case["kind"] == "search"},
        "install": {key: {"ok": bool(answers[key]["ok"]), "instances": answers[key]["instances"]} for key in wheels},
    }


def main() -> None:
    recorded = {}
    for runtime in RECORDED:
        with tempfile.TemporaryDirectory() as workdir:
            recorded[runtime] = answers_now(runtime, Path(workdir))
        print(f"{runtime}: recorded", file=sys.stderr)
    ANSWERS.parent.mkdir(exist_ok=True)
    ANSWERS.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
