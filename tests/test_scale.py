"""Costs that follow the work at the sizes real builds reach: a chain of a thousand libraries,
a wheelhouse whose wheels each miss a library, a mesh of modules each needing the same
hundreds of libraries.  Complexity checks count this process's CPU time and compare two
sizes, or two parts of one run: never a wall-clock limit (the bench measures speed)."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import wheelbuilder
from clirun import cli
from conformance import side_module, strings, subsection
from rich.console import Console

import pyodide_auditwheel as paw
from pyodide_auditwheel.cli.render import render_analysis
from pyodide_auditwheel.wheel.record import Record

TAG = wheelbuilder.PLATFORM_TAGS["pyemscripten_2026_0"]


def module(needed: list[str], runtime_paths: list[str] | None = None, cid: str = "m") -> bytes:
    body = subsection(1, b"\0\0\0\0") + subsection(2, strings(needed))
    if runtime_paths is not None:
        body += subsection(5, strings(runtime_paths))
    return side_module(body, cid)


def cpu(work: Callable[[], object]) -> float:
    """The least CPU time of three runs of ``work``."""
    times = []
    for _ in range(3):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return min(times)


def test_a_chain_of_a_thousand_libraries_is_repaired(tmp_path: Path) -> None:
    """lib0 needs lib1, … lib998 needs lib999: the order the libraries are written in (each
    after those it needs) was found by recursion, which Python's limit ended."""
    libdir = tmp_path / "libs"
    libdir.mkdir()
    count = 1000
    for index in range(count):
        needed = [f"lib{index + 1}.so"] if index + 1 < count else []
        (libdir / f"lib{index}.so").write_bytes(module(needed, None, f"l{index}"))
    wheel = wheelbuilder.write_wheel(tmp_path / "dist", "chain", "1.0", TAG, {"chain/_m.so": module(["lib0.so"])})
    result = cli("repair", str(wheel), "--libdir", str(libdir), "-w", str(tmp_path / "out"), "--no-discovery")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    repaired = paw.audit(tmp_path / "out" / wheel.name, discover=False)
    assert repaired.loads and not repaired.findings


def test_a_wheelhouse_whose_wheels_each_miss_a_library_is_shown_in_linear_time(tmp_path: Path) -> None:
    """Each wheel's miss is also looked for in the other wheels of the call: each was opened
    again for every miss (60, 120, 240 wheels: 3.8, 13.4, 49.1 s)."""

    def wheelhouse(count: int) -> list[Path]:
        where = tmp_path / str(count)
        return [
            wheelbuilder.write_wheel(where, f"pkg{i}", "1.0", TAG, {f"pkg{i}/_m.so": module([f"libmiss{i}.so"])})
            for i in range(count)
        ]

    def show_all(wheels: list[Path]) -> None:
        for wheel in wheels:
            assert paw.show(wheel, companions=wheels).missing

    small, large = wheelhouse(40), wheelhouse(160)
    # linear is 4, quadratic 16: 9 leaves room for a busy machine's noise
    assert cpu(lambda: show_all(large)) / cpu(lambda: show_all(small)) < 9


def test_the_table_of_a_mesh_costs_less_than_its_analysis(tmp_path: Path) -> None:
    """100 modules each needing the same 100 libraries: 10,000 rows.  rich's table layout
    took nine times the analysis (a 400 x 400 mesh: 40 s); drawing the rows, about one and a
    half (three on a busy machine): five leaves room for that noise and still fails rich's
    layout."""
    count = 100
    libs = [f"lib{j}.so" for j in range(count)]
    files = {f"pkg/_m{i}.so": module(libs, ["$ORIGIN"], f"m{i}") for i in range(count)}
    files.update({f"pkg/{name}": module([], None, name) for name in libs})
    wheel = wheelbuilder.write_wheel(tmp_path, "mesh", "1.0", TAG, files)
    analysis = paw.show(wheel, discover=False)
    out = io.StringIO()

    def render() -> None:
        out.seek(0)
        render_analysis(Console(file=out, width=240, highlight=False), analysis, False)

    assert cpu(render) < 5 * cpu(lambda: paw.show(wheel, discover=False))
    assert out.getvalue().count("│ included │") == count * count


TAG_2025 = "cp313-cp313-pyodide_2025_0_wasm32"


def scaling(work: Callable[[int], object], small: int) -> float:
    """How much more CPU ``work(4 * small)`` costs than ``work(small)``: about 4 when the cost
    is linear, 16 when quadratic, whatever the machine's speed.  A check of complexity, not a
    speed measurement: it counts this process's CPU time (which other work on a busy CI
    machine does not inflate, as it does wall time), the best of five each."""

    def best(size: int) -> float:
        times = []
        for _ in range(5):
            start = time.process_time()
            work(size)
            times.append(time.process_time() - start)
        return min(times)

    return best(4 * small) / best(small)


def test_record_with_a_literal_quote_reads_in_linear_time() -> None:
    """One unquoted field holding a quote (csv and pip read it as a character), then many rows:
    every later line was joined and counted again (40,000 rows took 102 s)."""

    def parse(rows: int) -> object:
        text = b'pkg/a"b.py,,\n' + b"".join(b"pkg/f%d.py,sha256=x,1\n" % i for i in range(rows))
        record = Record("pkg-1.0.dist-info/RECORD", lambda: [text])
        assert sum(1 for _ in record.rows()) == rows + 1
        return record

    # linear is 4, quadratic 16: 10 leaves room for a busy machine's noise on a small input
    assert scaling(parse, 20000) < 10


def test_a_module_needing_many_libraries_is_analysed_in_linear_time(tmp_path: Path) -> None:
    """One module NEEDing 30,000 distinct names (a 66 KB wheel) took 27 s: the resolver's
    index copied its keys for every name."""

    def analyse(count: int) -> object:
        names = [f"lib{i}.so" for i in range(count)]
        module = side_module(subsection(1, b"\0\0\0\0") + subsection(2, strings(names)), "m")
        wheel = wheelbuilder.write_wheel(tmp_path / str(count), "pkg", "1.0", TAG_2025, {"pkg/_m.so": module})
        return len(paw.show(wheel).missing)

    assert scaling(analyse, 3000) < 8
