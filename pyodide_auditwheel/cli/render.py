"""Turning analyses, audits and repair results into rich tables and versioned JSON.

Every string that comes from a wheel, a module or a path reaches the terminal through
:func:`inert`: a rich ``Text`` (never parsed as markup) whose control characters are shown as
escapes, so a member named ``a[/b]`` or one holding ``ESC ] 0 ;`` is printed, not obeyed.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from ..naming import command
from .text import BLANK, inert, inert_lines, print_table, wrap_at_spaces

if TYPE_CHECKING:
    from ..api import RepairOutcome
    from ..graph.analysis import Analysis
    from ..graph.model import Dependency, ModuleReport
    from ..policy import AuditReport
    from ..rewriter.plan import VendoredLibrary
    from ..verifier.run import VerifyReport

STATUS_STYLE = {"included": "green", "found": "cyan", "excluded": "yellow", "missing": "bold red"}


# --- show ------------------------------------------------------------------------------------


def render_analysis(
    console: Console,
    analysis: Analysis,
    with_runtime_paths: bool,
    list_all: bool = False,
    audit: AuditReport | None = None,
) -> None:
    """One row per needed library.  Modules that need nothing are counted, not listed, unless
    ``list_all``: in a large wheel they are most of the table and none of the news (rendering
    them also costs more than the whole analysis).  A table whose names would not fit the
    terminal becomes a list, so a name is never cut across lines."""
    title = Text.assemble(
        inert(analysis.input),
        (f" ({analysis.kind}, ABI {analysis.abi.named_for(_platforms(analysis))}{_runtimes(analysis)})", "dim"),
    )
    shown = [m for m in analysis.modules if list_all or m.dependencies or (with_runtime_paths and m.runtime_paths)]
    # Counted as the summary counts: the input's own modules (a libdir library is always shown).
    shown += [m for m in analysis.found_libraries if m not in shown]
    shown.sort(key=analysis.modules.index)
    quiet = len(analysis.wheel_modules) - sum(module.origin == "wheel" for module in shown)
    if shown:
        rows = [row for module in shown for row in _module_rows(module, with_runtime_paths)]
        headers = ["module", "needs", "status", "where", *(["RUNTIME_PATH"] if with_runtime_paths else [])]
        print_table(console, title, headers, rows, labelled=[4] if with_runtime_paths else [])
    else:
        console.print(title, soft_wrap=True)
    if quiet:
        console.print(f"{quiet} module(s) need no shared library (--all lists them)", style="dim")
    repeated = sorted({name for module in shown for name, count in Counter(module.needed).items() if count > 1})
    if repeated:
        users = sum(len(set(module.needed)) < len(module.needed) for module in shown)
        note = f"{users} module(s) list a library more than once in NEEDED, shown once: {', '.join(repeated)}"
        console.print(inert(note, "dim"))
    missing = analysis.missing
    found = len(analysis.found_libraries)
    summary = (
        f"{len(analysis.wheel_modules)} module(s)"
        + (f", {found} librar{'y' if found == 1 else 'ies'} found outside the wheel" if found else "")
        + f", {len(missing)} missing librar{'y' if len(missing) == 1 else 'ies'}"
    )
    if missing:
        summary += ": " + ", ".join(sorted(missing))
    console.print(inert(summary, "bold red" if missing else "bold green"))
    if audit is not None:
        _render_verdict(console, audit)


def _platforms(analysis: Analysis) -> frozenset[str]:
    return analysis.wheel.platforms if analysis.wheel is not None else frozenset()


def _runtimes(analysis: Analysis) -> str:
    """``: Pyodide 0.28.x, 0.29.x (from 0.29.4)``: the releases that install the wheel as tagged."""
    abi, wheel = analysis.abi, analysis.wheel
    if not abi.known:
        return ""
    tags = sorted(wheel.platforms & abi.platform_tags.keys()) if wheel is not None else []
    return ": " + (abi.runtimes_for(tags[0]) if tags else f"Pyodide {abi.pyodide}")


def _where(dep: Dependency) -> str:
    if dep.hint:
        return f"{dep.hint} is in the wheel but not on the runtime's search path"
    return dep.location or ""


@functools.lru_cache(maxsize=64)
def _status(status: str, source: str | None) -> Text:
    """``found (WASM_LIBRARY_DIR)``: a found library says which source's directory it is in.
    One text per status and source, shared by the rows (a table of a large wheel has hundreds
    of thousands; no renderer changes a cell)."""
    text = Text(status, STATUS_STYLE[status])
    return Text.assemble(text, " (", inert(source), ")") if source else text


def _module_rows(module: ModuleReport, with_runtime_paths: bool) -> list[list[Text]]:
    label = (
        inert(module.path)
        if module.origin == "wheel"
        else Text.assemble(inert(module.path), (" (found outside the wheel)", "dim"))
    )
    extra = [inert_lines(module.runtime_paths)] if with_runtime_paths else []
    if not module.dependencies:
        return [[label, Text("-", "dim"), Text("no needs", "dim"), BLANK, *extra]]
    # One row per library: a NEEDED list may name one several times (python-flint's do),
    # and the loader loads it once.
    distinct = list({dep.name: dep for dep in module.dependencies}.values())
    return [
        [
            label if index == 0 else BLANK,
            inert(dep.name),
            _status(dep.status, dep.source),
            inert(_where(dep)),
            *(extra if index == 0 else [BLANK] * len(extra)),
        ]
        for index, dep in enumerate(distinct)
    ]


# --- audit -----------------------------------------------------------------------------------


def _render_verdict(console: Console, report: AuditReport) -> None:
    console.print(inert(f"audit: {report.verdict}", "bold green" if report.loads else "bold red"))
    if report.consistent_tags:
        console.print(inert(f"consistent with the platform tags: {', '.join(report.consistent_tags)}"))


def render_audit(console: Console, report: AuditReport) -> None:
    """Causes grouped by module (a missing library once, not once per import it would have
    provided: the JSON keeps those), one line each, the name first: a list, not a table, so no
    name is ever cut across lines, whatever the terminal's width (and a thousand findings
    print at once)."""
    abi = "ABI unknown" if report.abi is None else f"ABI {report.abi.named_for(_platforms(report.analysis))}"
    lines = [Text.assemble(inert(report.input, "bold"), (f" (audit against {abi})", "dim"))]
    module: str | None = ""
    for finding in report.causes:
        if finding.module != module:
            module = finding.module
            lines.append(Text.assemble("  ", inert(module) if module is not None else Text("(the wheel)", "dim")))
        line = Text.assemble("    ", inert(finding.subject, "bold red"), ": ", inert(finding.reason))
        lines += wrap_at_spaces(line, console.width, "      ")
    console.print(Text("\n").join(lines), soft_wrap=True)
    if report.abi is not None:
        console.print(
            inert(
                f"{report.symbols_checked} import(s) checked against "
                f"Pyodide {report.runtime.pyodide if report.runtime else '?'}"
            ),
            style="dim",
        )
    _render_verdict(console, report)


# --- repair ----------------------------------------------------------------------------------


def different_builds(results: Iterable[RepairOutcome]) -> list[str]:
    """One sentence per library that the wheels of one call vendor with different contents:
    Pyodide keeps one library of a name per process, so whichever wheel is imported first
    decides which build every other wheel gets (h5py and netCDF4 each bundling HDF5)."""
    digests: dict[str, dict[str, list[str]]] = {}
    for result in results:
        for lib in result.plan.vendored:
            wheels = digests.setdefault(lib.original_name, {}).setdefault(lib.sha256_hex, [])
            wheels.append(result.input.name)
    return [
        f"{name} is vendored with different contents: "
        + "; ".join(f"sha256 {digest[:16]} in {', '.join(wheels)}" for digest, wheels in builds.items())
        + ". Pyodide loads one library of a name per process: the wheel imported first decides which build "
        "the others get."
        for name, builds in sorted(digests.items())
        if len(builds) > 1
    ]


def wheelhouse_summary(results: Sequence[RepairOutcome], dry_run: bool) -> str:
    """The one line after the reports of several wheels."""
    changed = sum(result.changed for result in results)
    libraries = {(lib.original_name, lib.sha256_hex) for result in results for lib in result.plan.vendored}
    verb = "would repair" if dry_run else "repaired"
    return (
        f"{len(results)} wheels: {verb} {changed}, {len(results) - changed} left as they were; "
        f"{len(libraries)} distinct librar{'y' if len(libraries) == 1 else 'ies'} vendored"
    )


def _vendored_detail(lib: VendoredLibrary) -> str:
    """Where a vendored library came from, and its digest (what tells two builds apart)."""
    origin = " (the wheel's)" if lib.member else ""
    return f"{lib.source}{origin}, sha256 {lib.sha256_hex[:16]}"


def render_repair(console: Console, result: RepairOutcome, dry_run: bool) -> None:
    plan = result.plan
    if plan.is_noop and result.platform is None:
        _render_unchanged(console, result, dry_run)
        return
    verb = "would vendor" if dry_run else "vendored"
    title = Text.assemble(inert(f"{result.input} → {result.output or '(dry run)'}"), (f" (ABI {plan.abi.name})", "dim"))
    rows: list[list[Text]] = [
        [
            inert(lib.dest),
            Text(verb),
            inert(_vendored_detail(lib)),
        ]
        for lib in plan.vendored
    ]
    merged = "would merge" if dry_run else "merged"
    rows += [
        [inert(path), Text(merged), inert(f"into {plan.merged[path]}, a copy of one library")] for path in plan.merged
    ]
    for patch in plan.patches.values():
        details = [f"NEEDED {old} → {new}" for old, new in patch.renames.items()]
        details += [f"RUNTIME_PATH += {entry}" for entry in patch.added_runtime_paths]
        if patch.runtime_paths is not None and not patch.added_runtime_paths:
            details.append("RUNTIME_PATH reordered: " + ", ".join(patch.runtime_paths))
        if patch.strip:
            details.append("strip debug sections")
        rows.append([inert(patch.path), Text("would patch" if dry_run else "patched"), inert_lines(details)])
    moved = "would move ahead" if dry_run else "moved ahead"
    rows += [[inert(path), Text(moved), Text("of the modules that need it")] for path in plan.moved_first]
    if result.platform is not None:
        retag = ("would retag" if dry_run else "retagged") if plan.retag is not None else "already tagged"
        rows.append([inert(result.platform), Text(retag), Text("file name and WHEEL Tag lines")])
    if result.removed_input is not None:
        rows.append([inert(result.removed_input.name), Text("removed"), Text("the wheel under its old tag")])
    print_table(console, title, ["what", "action", "detail"], rows)
    if result.stripped_bytes:
        console.print(f"stripping saved {result.stripped_bytes} bytes")
    for problem in result.record_problems:
        console.print(Text.assemble(("warning:", "yellow"), " ", inert(problem), " (--allow-bad-record)"))
    console.print(inert(repair_summary(result, dry_run)), style="bold green", soft_wrap=True)


def _render_unchanged(console: Console, result: RepairOutcome, dry_run: bool) -> None:
    """A repair that changes nothing: why (nothing needed, or what it was told to leave out),
    and what no repair can fix."""
    plan = result.plan
    copied = "" if dry_run or _same_file(result.output, result.input) else f"; copied to {result.output}"
    if result.copies_left:
        console.print(
            inert(
                f"{result.input}: nothing a repair can change{copied}, but more than one copy is loaded of "
                f"{', '.join(result.copies_left)}; {command('audit')} says why"
            ),
            style="bold yellow",
            soft_wrap=True,
        )
        return
    if plan.excluded:
        console.print(
            inert(f"{result.input}: nothing to vendor{copied}; {_excluded(plan.excluded)}"),
            style="bold yellow",
            soft_wrap=True,
        )
        return
    console.print(
        inert(f"{result.input}: already self-contained, nothing to change{copied}"),
        style="bold green",
        soft_wrap=True,
    )


def repair_summary(result: RepairOutcome, dry_run: bool) -> str:
    """The one line a repair ends with, as ``show`` ends with its count."""
    plan = result.plan
    libraries = f"{len(plan.vendored)} librar{'y' if len(plan.vendored) == 1 else 'ies'}"
    done = [
        f"{'would vendor' if dry_run else 'vendored'} {libraries}",
        f"{'would patch' if dry_run else 'patched'} {len(plan.patches)} module(s)",
    ]
    if plan.moved_first:
        count = len(plan.moved_first)
        done.append(
            f"{'would move' if dry_run else 'moved'} {count} librar{'y' if count == 1 else 'ies'} ahead of their users"
        )
    if plan.merged:
        done.append(f"{'would merge' if dry_run else 'merged'} {len(plan.merged)} copies into the libs directory")
    if result.platform is not None and plan.retag is None:
        done.append(f"already tagged {result.platform}")
    elif result.platform is not None:
        done.append(f"{'would retag' if dry_run else 'retagged'} {result.platform}")
    if result.removed_input is not None:
        done.append(f"removed {result.removed_input} (its old tag)")
    if plan.excluded:
        done.append(_excluded(plan.excluded))
    where = "" if dry_run or result.output is None else f" → {result.output}"
    return f"{result.input}{where}: {', '.join(done)}"


def _excluded(excluded: Mapping[str, object]) -> str:
    """``libGL.so excluded (--exclude): the runtime must provide it``: what the wheel still
    needs that the repair was told to leave out."""
    names = sorted(excluded)
    it = "it" if len(names) == 1 else "them"
    return f"still needs {', '.join(names)}, excluded (--exclude): the runtime must provide {it}"


def _same_file(output: Path | None, source: Path) -> bool:
    """Whether the output is the input itself (an in-place repair), however either is spelt."""
    if output is None:
        return True
    try:
        return os.path.samefile(output, source)
    except OSError:
        return os.path.abspath(output) == os.path.abspath(source)


def render_verify(console: Console, report: VerifyReport) -> None:
    """What the runtime did, beside what the audit predicted: one row per import, one line
    per library loaded more than once, and the verdict."""
    runtime = report.runtime
    abi = "" if runtime.abi is None else f", ABI {runtime.abi.name}"
    title = Text.assemble(
        inert(report.input, "bold"),
        (f" (Pyodide {runtime.version}{abi}, installed with {report.install})", "dim"),
    )
    rows = [
        [
            inert(module.name),
            inert("imported" if module.imported else "not run" if module.imported is None else "failed"),
            inert(module.predicted),
            inert(module.agreement),
            inert(module.error.strip().splitlines()[-1] if module.error.strip() else ""),
        ]
        for module in report.modules
    ]
    print_table(console, title, ["module", "runtime", "audit predicted", "match", "runtime's words"], rows)
    for message in report.install_errors:
        for line in message.splitlines():
            if line.strip():
                console.print(inert(f"install: {line.strip()}", "red"))
    for library in report.libraries:
        if library.copies == 0:
            console.print(inert(f"did not load (a call into it fails): {', '.join(library.names)}", "red"))
        elif library.copies > 1:
            predicted = "predicted" if library.predicted_copies else "not predicted by audit"
            console.print(
                inert(f"{library.copies} copies of one library ({predicted}): {', '.join(library.names)}", "red")
            )
    if report.problem:
        console.print(inert(report.problem, "bold red"))
    loaded = sum(bool(module.imported) for module in report.modules)
    verdict = (
        f"verify: {loaded} of {len(report.modules)} import(s) succeeded"
        + (", one copy of each library" if all(lib.copies == 1 for lib in report.libraries) else "")
        + (", a library did not load" if any(lib.copies == 0 for lib in report.libraries) else "")
        + ("; the audit agrees" if report.agrees else "; the audit said otherwise (see the rows marked differs)")
    )
    console.print(inert(verdict, "bold green" if report.ok else "bold red"))
