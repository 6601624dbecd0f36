"""The reader's compact sets of folded-name hashes (``HashSet``) answer as sets do, and the
name checks a repair's plan makes through them still find a case twin among many names."""

from __future__ import annotations

from pathlib import Path

import wheelbuilder
from hypothesis import given
from hypothesis import strategies as st

from pyodide_auditwheel.wheel.inputs import open_input
from pyodide_auditwheel.wheel.zipio.names import HashSet

HASHES = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@given(st.lists(HASHES), st.lists(HASHES))
def test_hash_set_holds_what_a_set_holds(values: list[int], probes: list[int]) -> None:
    compact, plain = HashSet(values), set(values)
    assert len(compact) == len(plain)
    for probe in [*values, *probes]:
        assert (probe in compact) == (probe in plain)
    assert "not an int" not in compact


def test_a_case_twin_is_found_among_many_names(tmp_path: Path) -> None:
    files = {f"pkg/sub{index % 40}/file{index}.py": b"" for index in range(3000)}
    wheel = wheelbuilder.write_wheel(tmp_path, "pkg", "1.0", "cp313-cp313-pyodide_2025_0_wasm32", files)
    tree = open_input(wheel)
    try:
        assert tree.holds_folded("PKG/Sub7/FILE7.py") == "pkg/sub7/file7.py"
        assert tree.holds_folded("pkg/sub7/file8.py") is None
        assert tree.holds_under("PKG/SUB39") is not None
        assert tree.holds_under("pkg/sub40") is None
    finally:
        tree.close()
