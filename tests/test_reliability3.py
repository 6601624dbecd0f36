"""Reliability, round 3 (issue 17): each class that broke a rule gets a test here (the one-sentence
errors are cases in test_errors.py)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import wheelbuilder
from clirun import cli
from conformance import side_module, strings, subsection
from wheelcheck import check_wheel_valid

import pyodide_auditwheel as paw
from pyodide_auditwheel.wheel.record import Record

TAG = "cp313-cp313-pyodide_2025_0_wasm32"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def chain_wheel(libs: wheelbuilder.FixtureLibs, where: Path) -> Path:
    return wheelbuilder.build_chain_wheel(libs, where, "pyodide_2025_0")


def test_no_mangle_is_a_flag_as_the_peer_users_write_it(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """`repair W --libdir L --no-mangle -o out` once rewrote W in place (``--no-mangle`` took
    ``-o`` as its glob); now it is a flag, and W is left as it was."""
    wheel = chain_wheel(fixture_libs, tmp_path / "in")
    before = digest(wheel)
    result = cli("repair", str(wheel), "--libdir", str(fixture_libs.libdir), "--no-mangle", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert digest(wheel) == before
    names = (tmp_path / "out" / wheel.name).read_bytes()
    assert b"chainpkg.libs/libcounter.so" in names and b"chainpkg.libs/libouter.so" in names


def test_no_option_swallows_another_option(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    wheel = chain_wheel(fixture_libs, tmp_path / "in")
    before = digest(wheel)
    for option in ("--libdir", "--no-mangle-name", "--lib-sdir", "--exclude", "--plat"):
        result = cli("repair", str(wheel), option, "-o", str(tmp_path / "out"))
        assert result.returncode == 2, (option, result.stdout, result.stderr)
        assert result.stderr.strip().splitlines() == [
            f"error: {option} takes a value, and -o looks like an option: write {option}=-o if it is the value."
        ]
        assert digest(wheel) == before and not (tmp_path / "out").exists()
    # Written with "=", a value may start with "-".
    odd = tmp_path / "-libs"
    odd.mkdir()
    (odd / "libouter.so").write_bytes(fixture_libs.outer.read_bytes())
    (odd / "libcounter.so").write_bytes(fixture_libs.counter.read_bytes())
    result = cli("show", str(wheel), f"--libdir={odd}")
    assert result.returncode == 0, result.stderr


def test_several_inputs_one_refused_writes_nothing(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """`repair A.whl typo.whl` repaired A in place and then exited 2 for typo.whl."""
    wheel = chain_wheel(fixture_libs, tmp_path / "in")
    before = digest(wheel)
    result = cli("repair", str(wheel), str(tmp_path / "typo.whl"), "--libdir", str(fixture_libs.libdir))
    assert result.returncode == 2
    assert digest(wheel) == before
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == "error: nothing was written: 1 of 2 inputs cannot be repaired."
    assert sorted(path.name for path in (tmp_path / "in").iterdir()) == [wheel.name]


def test_several_inputs_one_missing_a_library_writes_nothing_and_exits_1(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    good = chain_wheel(fixture_libs, tmp_path / "good")
    needy = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "needy", "pyodide_2025_0", dist="needypkg")
    out = tmp_path / "out"
    # libouter.so is found for the first through --libdir; the second is repaired against an
    # empty directory, so both use one: the good wheel alone is repairable with it.
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("repair", str(good), str(needy), "--libdir", str(empty), "-o", str(out))
    assert result.returncode == 1
    assert not out.exists() or not any(out.iterdir())
    assert "nothing was written: 2 of 2 inputs cannot be repaired." in result.stderr
    both = cli("repair", str(good), str(needy), "--libdir", str(fixture_libs.libdir), "-o", str(out))
    assert both.returncode == 0, both.stderr
    assert sorted(path.name for path in out.iterdir()) == sorted([good.name, needy.name])


def run_cli(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    pyodide = Path(sys.executable).parent / "pyodide"
    return subprocess.run([str(pyodide), "auditwheel", *args], text=True, check=False, **kwargs)  # type: ignore[call-overload]


def test_a_report_that_cannot_be_encoded_is_escaped(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """PYTHONIOENCODING=ascii: the in-place repair was done when the traceback came."""
    wheel = chain_wheel(fixture_libs, tmp_path / "in")
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    result = run_cli(["repair", str(wheel), "--libdir", str(fixture_libs.libdir)], capture_output=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "\\u2192" in result.stdout  # the arrow, escaped


@pytest.mark.parametrize("stdout", ["full", "closed"])
def test_a_report_that_cannot_be_printed_is_one_line_and_exit_3(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path, stdout: str
) -> None:
    wheel = chain_wheel(fixture_libs, tmp_path / "in")
    before = digest(wheel)
    args = ["repair", str(wheel), "--libdir", str(fixture_libs.libdir)]
    if stdout == "full":
        with open("/dev/full", "w") as full:
            result = run_cli(args, stdout=full, stderr=subprocess.PIPE)
    else:
        result = run_cli(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1))
    reason = "No space left on device" if stdout == "full" else "stdout is closed"
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        f"error: the report could not be printed ({reason}); what the command did stands."
    ]
    assert digest(wheel) != before  # the repair was done, and is a valid wheel
    check_wheel_valid(wheel)


# --- costs follow the work: a size four times larger costs about four times more, not sixteen ---


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
        wheel = wheelbuilder.write_wheel(tmp_path / str(count), "pkg", "1.0", TAG, {"pkg/_m.so": module})
        return len(paw.show(wheel).missing)

    assert scaling(analyse, 3000) < 8


# --- links and FIFOs -------------------------------------------------------------------------------


def test_in_place_repair_of_a_linked_wheel_repairs_its_target(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    """The link was replaced by a file, and the wheel it pointed at left as it was."""
    wheel = chain_wheel(fixture_libs, tmp_path / "store")
    before = digest(wheel)
    link = tmp_path / "dist" / wheel.name
    link.parent.mkdir()
    link.symlink_to(wheel)
    result = cli("repair", str(link), "--libdir", str(fixture_libs.libdir))
    assert result.returncode == 0, result.stderr
    assert link.is_symlink() and link.resolve() == wheel
    assert digest(wheel) != before
    check_wheel_valid(wheel)


def test_linked_modules_of_an_unpacked_wheel_are_seen(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """A link to a module inside the directory is that module (it was skipped without a word);
    a link out of the directory is refused."""
    root = tmp_path / "unpacked"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "_real.so").write_bytes(fixture_libs.ext.read_bytes())
    (root / "pkg" / "_linked.so").symlink_to("_real.so")
    shown = paw.show(root)
    assert sorted(module.path for module in shown.wheel_modules) == ["pkg/_linked.so", "pkg/_real.so"]
    (root / "pkg" / "_out.so").symlink_to(fixture_libs.ext)
    result = cli("show", str(root))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {root / 'pkg' / '_out.so'} is a symbolic link out of {root}."
    ]


def test_a_library_swapped_for_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "libswapped.so"
    os.mkfifo(fifo)
    code = f"from pyodide_auditwheel.graph.libsearch import library_chunks; list(library_chunks({str(fifo)!r}))"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("reading a library that is a FIFO blocked")
    assert done.returncode != 0 and "cannot read library" in done.stderr and "not a regular file" in done.stderr


def test_a_tampered_sbom_is_not_merged_into_a_fresh_hash(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    """The earlier SBOM is read to be merged: bytes that do not match RECORD are refused, not
    written again with a valid hash (RECORD laundering)."""
    first = paw.repair(
        chain_wheel(fixture_libs, tmp_path / "in"),
        paw.RepairRequest([fixture_libs.libdir], output_dir=tmp_path / "one"),
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


@pytest.mark.parametrize("portable", [False, True], ids=["o_tmpfile", "portable-io"])
def test_a_wheel_with_a_253_byte_name_is_repaired_in_place(
    portable: bool, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temporary name beside the target (a dot, the name, a random part, ``.tmp``) must
    fit in 255 bytes even when the target's own name takes 253."""
    dist = "p" * (253 - len("-1.0-cp313-cp313-pyodide_2025_0_wasm32.whl"))
    files = {f"{dist}/_ext.so": fixture_libs.ext.read_bytes()}
    wheel = wheelbuilder.write_wheel(tmp_path, dist, "1.0", "cp313-cp313-pyodide_2025_0_wasm32", files)
    assert len(wheel.name.encode()) == 253
    if portable:
        monkeypatch.setenv("PYODIDE_AUDITWHEEL_PORTABLE_IO", "1")
    result = paw.repair(wheel, paw.RepairRequest([fixture_libs.libdir]))
    assert result.output == wheel and result.changed
    check_wheel_valid(wheel)
    assert sorted(path.name for path in tmp_path.iterdir()) == [wheel.name]


def test_exports_and_imports_read_the_declarations_not_the_code(tmp_path: Path) -> None:
    """A module with a 3 GiB code section (a sparse file: no disk) lists its imports and
    exports in the memory of its declarations (2.9 GB for a 1.5 GB module before)."""
    from conformance import function_type, section

    from pyodide_auditwheel.wasm.sections import encode_name, encode_uleb

    declarations = (
        side_module(subsection(1, b"\0\0\0\0"))
        + section(1, b"\x01" + function_type("i32->i64"))
        + section(2, b"\x01" + encode_name("env") + encode_name("time") + b"\x00\x00")
        + section(3, b"\x01\x00")
        + section(7, b"\x01" + encode_name("wide") + b"\x00\x01")
    )
    code_size = 3 << 30
    code_head = bytes([10]) + encode_uleb(code_size)
    module = tmp_path / "libhuge.so"
    with open(module, "wb") as handle:
        handle.write(declarations + code_head)
        handle.truncate(handle.tell() + code_size)
    tracemalloc.start()
    try:
        ((path, interface),) = list(paw.interfaces(module))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert path == "libhuge.so"
    assert [(e.module, e.field, str(e.type)) for e in interface.imports] == [("env", "time", "(i32) -> i64")]
    assert [(e.name, e.kind, str(e.type)) for e in interface.exports] == [("wide", "func", "(i32) -> i64")]
    assert peak < 8 << 20, f"peak {peak} bytes"
    listed = cli("exports", str(module), "--show-type")
    assert listed.returncode == 0 and listed.stdout.splitlines()[1].split("\t")[1:] == ["func", "wide (i32) -> i64"]
