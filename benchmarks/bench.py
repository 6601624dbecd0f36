"""Benchmark: `show` and `repair` of ours vs auditwheel-emscripten vs `cp`, and our `audit`, on one large wheel.

The wheel is built deterministically from ../shared/realworld: numpy's members replicated into
N packages (≈90 MB, ≈12,000 members at N=30) plus Shapely's two extension modules copied into
ten subpackages (they need libgeos_c.so -> libgeos.so.3.10.3); then twice as many copies; then
the first wheel again with libgeos.so.3.10.3 grown to 64 MiB (a large library must be streamed
into the wheel, not held); then 20 copies of the first wheel, repaired in one call and in 20
calls (a wheelhouse on every core).  Beside each wheel's commands run their anchors: `cp` of
the wheel (for repair) and a bare `zipfile` read of its central directory (for show).  Every
command runs as a child process several times, the commands taking turns; we report the
median wall time and the child's peak RSS (ru_maxrss).

usage: python benchmarks/bench.py --theirs PATH_TO_THEIR_pyodide [--copies 30] [--runs 5] [--wheelhouse 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from pyodide_auditwheel.wheel.zipio import ZipReader

# The wheel builder is shared with the tests, which use it on a small instance.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bigwheel import REALWORLD, build_big_wheel, pad_library

# Linux carries a process's peak RSS across fork and exec, so a command started straight from
# this (large) process would report at least our own peak.  The command is therefore started
# by a small trampoline, whose child starts from the trampoline's few MB; the trampoline
# reports that child's peak and wall time.  Figures below ~7 MB are the trampoline's floor.
TRAMPOLINE = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - start
with open(sys.argv[1], "w") as report:
    report.write(f"{usage.ru_maxrss} {elapsed}")
os._exit(os.waitstatus_to_exitcode(status))
"""


BIG_LIBRARY = 64 << 20
# Issue 34's floors: the least a Python tool on typer must do for each command.
# show: start typer and rich's console, read the central directory, read every local header.
SHOW_FLOOR = """
import sys, zipfile
import typer, rich.console
with zipfile.ZipFile(sys.argv[1]) as archive:
    handle = archive.fp
    for info in archive.infolist():
        handle.seek(info.header_offset)
        head = handle.read(30)
        handle.read(int.from_bytes(head[26:28], "little") + int.from_bytes(head[28:30], "little"))
"""
# repair (beside a cp of the wheel): start typer, read the central directory, inflate and
# CRC-check every member, on every core, with the fastest inflate installed.
REPAIR_FLOOR = """
import mmap, os, sys, threading, zipfile, zlib
import typer
try:
    from deflate import crc32, deflate_decompress
except ImportError:
    deflate_decompress = None
    from zlib import crc32

def check(view, infos):
    for info in infos:
        head = info.header_offset
        name_size = int.from_bytes(view[head + 26 : head + 28], "little")
        start = head + 30 + name_size + int.from_bytes(view[head + 28 : head + 30], "little")
        raw = view[start : start + info.compress_size]
        if info.compress_type != zipfile.ZIP_DEFLATED:
            data = raw
        elif deflate_decompress is not None:
            data = deflate_decompress(raw, info.file_size)
        else:
            data = zlib.decompress(raw, -15)
        assert crc32(data) == info.CRC, info.filename

with open(sys.argv[1], "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view:
    infos = zipfile.ZipFile(handle).infolist()
    cores = os.cpu_count() or 1
    threads = [threading.Thread(target=check, args=(view, infos[core::cores])) for core in range(cores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
"""
ZIPFILE_READ = "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).infolist()"
AUDIT_PLATFORM = "pyodide_2024_0_wasm32"
Command = tuple[list[str], list[str] | None]  # the command, and one to run before each run


def measure(commands: dict[str, Command], runs: int) -> dict[str, dict[str, float]]:
    """Median wall seconds and max peak RSS (MB) of each command over ``runs`` runs.

    The commands take turns (run 1 of each, then run 2 of each, ...), so that a change in the
    machine's speed while the benchmark runs (a shared VM's speed drifts by a third over a day)
    falls on all of them alike instead of on whichever ran at the time."""
    times: dict[str, list[float]] = {label: [] for label in commands}
    rss: dict[str, list[float]] = {label: [] for label in commands}
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "rss"
        for _ in range(runs):
            for label, (command, before) in commands.items():
                if before:
                    subprocess.run(before, check=True)
                # Each run starts with no write-back pending (of the wheels just built, of the
                # previous run's output), which would otherwise slow whichever command runs next.
                os.sync()
                process = subprocess.run(
                    [sys.executable, "-S", "-c", TRAMPOLINE, str(report), *command],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    check=False,
                )
                if process.returncode not in (0, 1):
                    raise SystemExit(
                        f"{' '.join(command)} failed ({process.returncode}): {process.stderr.decode()[-2000:]}"
                    )
                peak_kb, seconds = report.read_text().split()
                rss[label].append(int(peak_kb) / 1024)
                times[label].append(float(seconds))
    return {label: {"seconds": statistics.median(times[label]), "peak_rss_mb": max(rss[label])} for label in commands}


def measure_wheelhouse(ours: str, work: Path, libdir: Path, count: int, runs: int) -> dict[str, dict[str, float]]:
    """``count`` copies of the wheel, each in a directory of its own and repaired in place:
    in one call (on every core), and in ``count`` calls one after the other; the copies are
    put back before each run."""
    source = next((work / "wheel").glob("*.whl"))
    wheels = [work / "house" / f"{index:02d}" / source.name for index in range(count)]
    for wheel in wheels:
        wheel.parent.mkdir(parents=True, exist_ok=True)
    restore = ["sh", "-c", 'for w in "$@"; do cp "$0" "$w"; done', str(source), *map(str, wheels)]
    one_by_one = (
        f'for w in "$@"; do {shlex.quote(ours)} repair "$w" --libdir {shlex.quote(str(libdir))} || exit $?; done'
    )
    commands: dict[str, Command] = {
        "ours_wheelhouse": ([ours, "repair", *map(str, wheels), "--libdir", str(libdir)], restore),
        "ours_separately": (["sh", "-c", one_by_one, "sh", *map(str, wheels)], restore),
    }
    row = measure(commands, runs)
    shutil.rmtree(work / "house", ignore_errors=True)
    return row


ABI_LOAD = """
import sys, time
from pyodide_auditwheel.runtime.abi import known_abis
from pyodide_auditwheel.runtime.offers import load_offer
known_abis()  # as an audit does first, from its package data: the resource machinery is loaded
start = time.perf_counter()
load_offer(sys.argv[1])
print((time.perf_counter() - start) * 1000)
"""


def measure_abi_loads(runs: int) -> dict[str, float]:
    """Milliseconds to load each ABI's runtime data in a process that has read the ABI table
    and loaded no runtime data yet (what an audit pays for it), median of ``runs`` processes
    (issue 18: at most 20 ms)."""
    from pyodide_auditwheel.runtime.abi import known_abis

    loads = {}
    for abi in known_abis():
        times = [
            float(
                subprocess.run(
                    [sys.executable, "-c", ABI_LOAD, abi.name], capture_output=True, text=True, check=True
                ).stdout
            )
            for _ in range(runs)
        ]
        loads[abi.name] = statistics.median(times)
    return loads


# verify's anchor (issue 33): a bare Node script that starts that Pyodide, installs the wheel
# and imports its module, which is the least verify must do.
BARE_VERIFY = """
const { loadPyodide } = require(process.argv[2] + "/pyodide.js");
(async () => {
  const pyodide = await loadPyodide({ stdout: () => {}, stderr: () => {} });
  await pyodide.loadPackage(process.argv[3], { messageCallback: () => {}, errorCallback: () => {} });
  pyodide.runPython("import msgpack");
})();
"""
VERIFY_WHEEL = "msgpack==1.2.4"
# verify of several wheels in one call (one Node process, a Pyodide instance for each) against
# as many calls.
VERIFY_BATCH = 4


def fetch_one_module_wheel(work: Path) -> Path | None:
    """msgpack 1.2.4 from PyPI, a wheel of one extension module (None without the network)."""
    target = work / "one-module"
    download = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--platform"]
    download += ["pyemscripten_2026_0_wasm32", "--python-version", "3.14", "-d", str(target), VERIFY_WHEEL]
    if subprocess.run(download, capture_output=True, check=False).returncode != 0:
        print(f"{VERIFY_WHEEL}: no download", flush=True)
        return None
    return next(target.glob("msgpack-*.whl"))


def measure_verify(ours: str, work: Path, runs: int) -> dict[str, dict[str, float]] | None:
    """``verify`` of a one-module wheel from PyPI on Pyodide 314, beside the bare script."""
    runtime = Path(__file__).resolve().parents[1] / "tests" / "runtime" / "node_modules" / "pyodide-314"
    wheel = fetch_one_module_wheel(work)
    if not runtime.is_dir() or wheel is None:
        print("verify: no runtime or no download; skipped", flush=True)
        return None
    target = wheel.parent
    script = target / "bare.cjs"
    script.write_text(BARE_VERIFY)
    one_call = [ours, "verify", *[str(wheel)] * VERIFY_BATCH, "--runtime", str(runtime)]
    one_by_one = " && ".join([shlex.join([ours, "verify", str(wheel), "--runtime", str(runtime)])] * VERIFY_BATCH)
    return measure(
        {
            "ours_verify": ([ours, "verify", str(wheel), "--runtime", str(runtime)], None),
            "bare_node_import": (["node", str(script), str(runtime), str(wheel)], None),
            f"ours_verify_{VERIFY_BATCH}_in_one_call": (one_call, None),
            f"ours_verify_{VERIFY_BATCH}_calls": (["sh", "-c", one_by_one], None),
        },
        runs,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--theirs", required=True, help="the `pyodide` script of a venv with auditwheel-emscripten")
    parser.add_argument("--copies", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default="bench-out")
    parser.add_argument("--wheelhouse", type=int, default=20, help="copies of the wheel repaired in one call")
    parser.add_argument("--wheelhouse-runs", type=int, default=3)
    args = parser.parse_args()
    ours = str(Path(sys.executable).parent / "pyodide-auditwheel")
    # auditwheel-emscripten 0.3.0 runs the `wheel` command of its own venv
    os.environ["PATH"] = str(Path(args.theirs).parent) + os.pathsep + os.environ["PATH"]
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="paw-bench-"))
    libdir = work / "libs"
    libdir.mkdir()
    big_libdir = work / "biglibs"
    big_libdir.mkdir()
    for name in ("libgeos_c.so", "libgeos.so.3.10.3"):
        shutil.copy(REALWORLD / name, libdir / name)
    shutil.copy(REALWORLD / "libgeos_c.so", big_libdir / "libgeos_c.so")
    pad_library(REALWORLD / "libgeos.so.3.10.3", big_libdir / "libgeos.so.3.10.3", BIG_LIBRARY)
    results: dict[str, object] = {}
    cases = (
        ("wheel", args.copies, libdir),
        ("double", args.copies * 2, libdir),
        ("big_library", args.copies, big_libdir),
    )
    for label, copies, case_libdir in cases:
        wheel = build_big_wheel(work / label, copies)
        with open(wheel, "rb") as handle:
            members = len(ZipReader(handle))
        size_mb = wheel.stat().st_size / 1e6
        print(f"{label}: {wheel.name}: {size_mb:.1f} MB, {members} members", flush=True)
        commands: dict[str, Command] = {
            "ours_show": ([ours, "show", str(wheel), "--libdir", str(case_libdir)], None),
            # Against 0.26/0.27's ABI: every import is checked against both pinned releases.
            "ours_audit": ([ours, "audit", str(wheel), "--libdir", str(case_libdir), "--plat", AUDIT_PLATFORM], None),
            "ours_repair": (
                [ours, "repair", str(wheel), "--libdir", str(case_libdir), "-o", str(work / "ours-out")],
                ["rm", "-rf", str(work / "ours-out")],
            ),
            "cp": (["cp", str(wheel), str(work / "copy.whl")], ["rm", "-f", str(work / "copy.whl")]),
            # show's anchor (issue 22): a bare read of the central directory, start-up included.
            "zipfile_infolist": ([sys.executable, "-c", ZIPFILE_READ, str(wheel)], None),
            "show_floor": ([sys.executable, "-c", SHOW_FLOOR, str(wheel)], None),
            "repair_floor_script": ([sys.executable, "-c", REPAIR_FLOOR, str(wheel)], None),
        }
        if label == "wheel":
            commands["theirs_show"] = ([args.theirs, "auditwheel", "show", str(wheel)], None)
            commands["theirs_repair"] = (
                [
                    args.theirs,
                    "auditwheel",
                    "repair",
                    str(wheel),
                    "--libdir",
                    str(libdir),
                    "--output-dir",
                    str(work / "theirs-out"),
                ],
                ["rm", "-rf", str(work / "theirs-out")],
            )
        row: dict[str, object] = {"size_mb": size_mb, "members": members, **measure(commands, args.runs)}
        results[label] = row
        print(json.dumps(row, indent=1), flush=True)
    # Start-up: a cibuildwheel run's wheels are small, so this is what its users wait for.
    small = REALWORLD / "Shapely-1.8.2-cp310-cp310-emscripten_3_1_14_wasm32.whl"
    one_module = fetch_one_module_wheel(work)
    startup_commands: dict[str, Command] = {
        "ours_show_small_wheel": ([ours, "show", str(small), "--libdir", str(libdir)], None),
        "python_pass": ([sys.executable, "-c", "pass"], None),
        "typer_rich_import": ([sys.executable, "-c", "import typer, rich.console"], None),
    }
    if one_module is not None:
        startup_commands["ours_show_one_module"] = ([ours, "show", str(one_module)], None)
    startup = measure(startup_commands, args.runs)
    results["startup"] = startup
    print(json.dumps(startup, indent=1), flush=True)
    abi_loads = measure_abi_loads(args.runs)
    results["abi_data_ms"] = abi_loads
    print(json.dumps(abi_loads, indent=1), flush=True)
    house = measure_wheelhouse(ours, work, libdir, args.wheelhouse, args.wheelhouse_runs)
    results["wheelhouse"] = house
    print(json.dumps(house, indent=1), flush=True)
    verified = measure_verify(ours, work, args.runs)
    results["verify"] = verified
    print(json.dumps(verified, indent=1), flush=True)
    base = results["wheel"]
    assert isinstance(base, dict)
    double = results["double"]
    assert isinstance(double, dict)
    big = results["big_library"]
    assert isinstance(big, dict)
    summary = {
        "show_speedup": base["theirs_show"]["seconds"] / base["ours_show"]["seconds"],
        "repair_speedup": base["theirs_repair"]["seconds"] / base["ours_repair"]["seconds"],
        "ours_peak_rss_mb": max(base["ours_show"]["peak_rss_mb"], base["ours_repair"]["peak_rss_mb"]),
        "rss_growth_when_doubled": {
            command: double[f"ours_{command}"]["peak_rss_mb"] / base[f"ours_{command}"]["peak_rss_mb"] - 1
            for command in ("show", "audit", "repair")
        },
        "rss_growth_with_64mib_library": big["ours_repair"]["peak_rss_mb"] / base["ours_repair"]["peak_rss_mb"] - 1,
        "repair_vs_cp": base["ours_repair"]["seconds"] / base["cp"]["seconds"],
        "repair_vs_floor": base["ours_repair"]["seconds"]
        / (base["cp"]["seconds"] + base["repair_floor_script"]["seconds"]),
        "show_vs_floor": base["ours_show"]["seconds"] / base["show_floor"]["seconds"],
        "one_module_show_vs_typer_rich": startup["ours_show_one_module"]["seconds"]
        / startup["typer_rich_import"]["seconds"]
        if "ours_show_one_module" in startup
        else None,
        "audit_vs_show": base["ours_audit"]["seconds"] / base["ours_show"]["seconds"],
        "show_vs_zipfile": base["ours_show"]["seconds"] / base["zipfile_infolist"]["seconds"],
        "audit_peak_rss_mb": max(case["ours_audit"]["peak_rss_mb"] for case in (base, double, big)),
        "wheelhouse_vs_separate_calls": house["ours_wheelhouse"]["seconds"] / house["ours_separately"]["seconds"],
        "small_show_vs_python_pass": startup["ours_show_small_wheel"]["seconds"] / startup["python_pass"]["seconds"],
        "slowest_abi_data_ms": max(abi_loads.values()),
        "verify_vs_bare_node": None
        if verified is None
        else verified["ours_verify"]["seconds"] / verified["bare_node_import"]["seconds"],
        "verify_one_call_vs_separate_calls": None
        if verified is None
        else verified[f"ours_verify_{VERIFY_BATCH}_in_one_call"]["seconds"]
        / verified[f"ours_verify_{VERIFY_BATCH}_calls"]["seconds"],
    }
    results["summary"] = summary
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(summary, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
