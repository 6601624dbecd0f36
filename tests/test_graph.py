"""The dependency graph an analysis builds: what its readers (the audit, the plan, the
duplicate-load checks) ask of it, on wheels whose modules the loader model resolved."""

from __future__ import annotations

from pathlib import Path

import wheelbuilder
from conformance import side_module, strings, subsection

import pyodide_auditwheel as paw

TAG = wheelbuilder.PLATFORM_TAGS["pyemscripten_2026_0"]


def module(needed: list[str], cid: str) -> bytes:
    return side_module(
        subsection(1, b"\0\0\0\0") + subsection(2, strings(needed)) + subsection(5, strings(["$ORIGIN"])), cid
    )


def diamond(tmp_path: Path) -> paw.Analysis:
    """``_m`` needs liba and libc; liba needs libb and libc; libb needs libc; libgone is
    missing, and a file of its name sits where the loader does not look."""
    files = {
        "pkg/_m.so": module(["liba.so", "libc.so", "libgone.so"], "m"),
        "pkg/liba.so": module(["libb.so", "libc.so"], "a"),
        "pkg/libb.so": module(["libc.so"], "b"),
        "pkg/libc.so": module([], "c"),
        "other/libgone.so": module([], "gone"),
    }
    return paw.show(wheelbuilder.write_wheel(tmp_path, "diamond", "1.0", TAG, files), discover=False)


def test_the_graph_answers_closure_order_and_users(tmp_path: Path) -> None:
    graph = diamond(tmp_path).graph
    assert isinstance(graph, paw.DependencyGraph)
    assert graph.closure(["pkg/_m.so"]) == {"pkg/liba.so", "pkg/libb.so", "pkg/libc.so"}
    assert graph.closure(["pkg/libb.so"]) == {"pkg/libc.so"}
    libraries = [graph.node(path) for path in ("pkg/liba.so", "pkg/libb.so", "pkg/libc.so")]
    ordered = graph.dependencies_first([library for library in libraries if library is not None])
    assert [library.path for library in ordered] == ["pkg/libc.so", "pkg/libb.so", "pkg/liba.so"]
    user = graph.node("pkg/_m.so")
    assert user is not None
    # breadth first, as the loader loads them: _m's own NEEDED first, then liba's
    assert [library.path for library in graph.load_order(user)] == ["pkg/liba.so", "pkg/libc.so", "pkg/libb.so"]
    assert {module.path for module in graph.users_of("pkg/libc.so")} == {"pkg/_m.so", "pkg/liba.so", "pkg/libb.so"}
    assert graph.needed_members == {"pkg/liba.so", "pkg/libb.so", "pkg/libc.so"}
    assert graph.with_status("missing") == {"libgone.so": ["pkg/_m.so"]}


def test_a_dependency_says_what_its_location_is(tmp_path: Path) -> None:
    analysis = diamond(tmp_path)
    user = analysis.graph.node("pkg/_m.so")
    assert user is not None
    by_name = {dependency.name: dependency for dependency in user.dependencies}
    included, missing = by_name["liba.so"], by_name["libgone.so"]
    assert (included.member, included.host_path, included.hint) == ("pkg/liba.so", None, None)
    assert (missing.member, missing.target, missing.hint) == (None, None, "other/libgone.so")
    assert analysis.graph is analysis.graph  # built once


def test_a_chain_longer_than_the_recursion_limit_is_ordered(tmp_path: Path) -> None:
    count = 1500
    files = {f"pkg/lib{i}.so": module([f"lib{i + 1}.so"] if i + 1 < count else [], f"l{i}") for i in range(count)}
    analysis = paw.show(wheelbuilder.write_wheel(tmp_path, "chain", "1.0", TAG, files), discover=False)
    graph = analysis.graph
    ordered = graph.dependencies_first(list(analysis.wheel_modules))
    assert [library.path for library in ordered] == [f"pkg/lib{i}.so" for i in reversed(range(count))]
    assert len(graph.closure(["pkg/lib0.so"])) == count - 1
