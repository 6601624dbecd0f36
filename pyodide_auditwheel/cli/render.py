"""Turning analyses, audits and repair results into rich tables and versioned JSON.

Every string that comes from a wheel, a module or a path reaches the terminal through
:func:`inert`: a rich ``Text`` (never parsed as markup) whose control characters are shown as
escapes, so a member named ``a[/b]`` or one holding ``ESC ] 0 ;`` is printed, not obeyed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len
from rich.console import Console
from rich.text import Span, Text

from ..graph.analysis import Analysis
from ..graph.model import Dependency, ModuleReport
from ..naming import command
from ..version import __version__

if TYPE_CHECKING:
    from ..api import RepairResult
    from ..policy import AuditReport
    from ..rewriter.plan import VendoredLibrary

STATUS_STYLE = {"included": "green", "found": "cyan", "excluded": "yellow", "missing": "bold red"}
SCHEMA_VERSION = 2
TOOL = "pyodide-auditwheel"


def visible(text: str) -> str:
    """``text`` with every non-printable character (C0, C1, DEL, bidi overrides, line breaks)
    written as a Python escape."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def inert(text: object, style: str = "") -> Text:
    return Text(visible(str(text)), style=style)


def inert_lines(items: Iterable[object]) -> Text:
    """One inert line per item (the line breaks are ours, not the items')."""
    return Text("\n").join(inert(item) for item in items)


def warning_line(message: str) -> Text:
    return Text.assemble(("warning:", "bold yellow"), " ", inert(message))


def error_line(message: str) -> Text:
    """``error: <message>``, inert and as written: most messages begin with a path, which a
    capital letter would change into one that does not exist (``Dist/…``)."""
    return Text.assemble(("error:", "bold red"), " ", inert(message))


def envelope(key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The versioned envelope every ``--json`` document shares."""
    return {"schema_version": SCHEMA_VERSION, "tool": TOOL, "version": __version__, key: items}


def document(inputs: list[dict[str, Any]]) -> dict[str, Any]:
    return envelope("inputs", inputs)


# --- show ------------------------------------------------------------------------------------


def analysis_json(analysis: Analysis, audit: AuditReport | None = None) -> dict[str, Any]:
    wheel = analysis.wheel
    result: dict[str, Any] = {
        "input": analysis.input,
        "kind": analysis.kind,
        "abi": analysis.abi.name if analysis.abi.known else None,
        "wheel": None
        if wheel is None
        else {"name": wheel.dist, "version": wheel.version, "platforms": sorted(wheel.platforms)},
        "modules": [
            {
                "path": module.path,
                "origin": module.origin,
                "needed": list(module.needed),
                "runtime_paths": list(module.runtime_paths),
                "dependencies": [
                    {"name": dep.name, "status": dep.status, "location": dep.location, "source": dep.source}
                    for dep in module.dependencies
                ],
            }
            for module in analysis.modules
        ],
        "summary": {
            "modules": len(analysis.wheel_modules),
            "libdir_libraries": len(analysis.found_libraries),
            "missing": sorted(analysis.missing),
        },
    }
    if audit is not None:
        result["audit"] = audit_json(audit)
    return result


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
        inert(analysis.input), (f" ({analysis.kind}, ABI {analysis.abi.name}{_runtimes(analysis)})", "dim")
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


_BLANK = Text("")


def _module_rows(module: ModuleReport, with_runtime_paths: bool) -> list[list[Text]]:
    label = (
        inert(module.path)
        if module.origin == "wheel"
        else Text.assemble(inert(module.path), (" (found outside the wheel)", "dim"))
    )
    extra = [inert_lines(module.runtime_paths)] if with_runtime_paths else []
    if not module.dependencies:
        return [[label, Text("-", "dim"), Text("no needs", "dim"), _BLANK, *extra]]
    return [
        [
            label if index == 0 else _BLANK,
            inert(dep.name),
            _status(dep.status, dep.source),
            inert(_where(dep)),
            *(extra if index == 0 else [_BLANK] * len(extra)),
        ]
        for index, dep in enumerate(module.dependencies)
    ]


def print_text(console: Console, text: Text) -> None:
    """``console.print(text, soft_wrap=True)``; written as its characters when the console
    writes no styles (a pipe, a CI log), which is the same output without rich's layout of
    each span."""
    if console.quiet:
        return
    if console.color_system is None and not console.record:
        console.file.write(text.plain + "\n")
    else:
        console.print(text, soft_wrap=True)


Lines = list[tuple[Text, int, str]]  # a cell's lines: each with its width in columns and its characters


def table_cells(rows: list[list[Text]]) -> list[list[Lines]]:
    """Every cell's lines, split once for both the fit check and the drawing."""
    return [[_cell_lines(cell) for cell in row] for row in rows]


def column_widths(headers: list[str], cells: list[list[Lines]]) -> list[int]:
    widths = [cell_len(header) for header in headers]
    for row in cells:
        for column, lines in enumerate(row):
            for _, width, _ in lines:
                if width > widths[column]:
                    widths[column] = width
    return widths


def box_table(headers: list[str], cells: list[list[Lines]]) -> Text:
    """The lines rich's ``Table`` (its default box, bold headers, cells never wrapped) draws
    for these cells, made as one text from one string and the cells' spans: rich lays a table
    out cell by cell, at a cost per cell many times the analysis's for a wheel whose modules
    each need hundreds of libraries.  ``tests/test_output.py`` holds the two to the same
    output."""
    widths = column_widths(headers, cells)
    pieces: list[str] = []
    spans: list[Span] = []

    def rule(left: str, fill: str, middle: str, right: str) -> str:
        return left + middle.join(fill * (width + 2) for width in widths) + right + "\n"

    pieces.append(rule("┏", "━", "┳", "┓"))
    offset = len(pieces[0]) + 1
    pieces.append("┃")
    for name, width in zip(headers, widths, strict=True):
        cell = f" {name}{' ' * (width - cell_len(name))} "
        spans.append(Span(offset, offset + len(cell), "bold"))  # the header style covers the padding
        pieces.append(cell + "┃")
        offset += len(cell) + 1
    pieces += ["\n", rule("┡", "━", "╇", "┩")]
    offset += 1 + len(pieces[-1])
    blank: tuple[Text, int, str] = (Text(), 0, "")
    for row in cells:
        for index in range(max(len(lines) for lines in row)):
            line = ["│"]
            offset += 1
            for lines, width in zip(row, widths, strict=True):
                piece, piece_width, plain = lines[index] if index < len(lines) else blank
                start = offset + 1
                if piece.style and plain:
                    spans.append(Span(start, start + len(plain), piece.style))
                for span in piece.spans:
                    spans.append(Span(start + span.start, start + span.end, span.style))
                line.append(f" {plain}{' ' * (width - piece_width)} │")
                offset += len(plain) + width - piece_width + 3
            line.append("\n")
            offset += 1
            pieces.append("".join(line))
    pieces.append(rule("└", "─", "┴", "┘"))
    return Text("".join(pieces).removesuffix("\n"), spans=spans)


def _cell_lines(cell: Text) -> Lines:
    lines = [cell] if "\n" not in cell.plain else cell.split("\n", allow_blank=True)
    return [(line, line.cell_len, line.plain) for line in lines]


def print_table(
    console: Console, title: Text, headers: list[str], rows: list[list[Text]], labelled: Iterable[int] = ()
) -> None:
    """A table when it fits the terminal unwrapped, else a list (the first column's cell on a
    line of its own, the others indented under it, a cell of several lines a line each):
    names are never cut across lines.  In the list, the ``labelled`` columns' lines start with
    their header (``RUNTIME_PATH: $ORIGIN/…``), which the table shows above them."""
    split = table_cells(rows)
    # The width with no cell wrapped: the widest line per column, plus borders and padding
    # (three characters a column, one more for the last border).
    if sum(column_widths(headers, split)) + 3 * len(headers) + 1 <= console.width:
        # The title on a line of its own: a table's title would be wrapped inside the name
        # and padded to the table's width.
        console.print(title, soft_wrap=True)
        print_text(console, box_table(headers, split))
        return
    lines = [title]
    labels = {index - 1: f"{headers[index]}: " for index in labelled}
    for first, *cells in rows:
        rest = [
            Text("\n").join(Text.assemble(labels[index], line) for line in cell.split())
            if index in labels and cell.plain
            else cell
            for index, cell in enumerate(cells)
        ]
        if first.plain:
            heading = first.copy()
            heading.stylize("bold")
            lines.append(heading)
        short = [cell for cell in rest if cell.plain and "\n" not in cell.plain]
        if short:
            lines.append(Text.assemble("  ", Text("  ").join(short)))
        lines += [Text.assemble("    ", line) for cell in rest if "\n" in cell.plain for line in cell.split()]
    # soft_wrap: no line break is put into a name; a terminal narrower than a name shows it
    # folded, but it is one line for a log, a copy or a grep.
    print_text(console, Text("\n").join(lines))


def render_notes(console: Console, notes: Iterable[str]) -> None:
    """``-v``: how resolution went (files passed over and why, where libraries were looked for)."""
    for note in notes:
        console.print(Text.assemble(("note: ", "dim"), inert(note)), soft_wrap=True)


# --- audit -----------------------------------------------------------------------------------


def audit_json(report: AuditReport) -> dict[str, Any]:
    runtime = report.runtime
    return {
        "input": report.input,
        "platform": report.platform,
        "abi": None if report.abi is None else report.abi.name,
        "runtime": None
        if runtime is None
        else {"pyodide": runtime.pyodide, "python": runtime.python, "emscripten": runtime.emscripten},
        "loads": report.loads,
        "verdict": report.verdict,
        "symbols_checked": report.symbols_checked,
        "consistent_platform_tags": list(report.consistent_tags),
        "findings": [
            {"kind": finding.kind, "module": finding.module, "subject": finding.subject, "reason": finding.reason}
            for finding in report.findings
        ],
    }


def wrap_at_spaces(line: Text, width: int, indent: str) -> list[Text]:
    """``line`` in lines of at most ``width`` columns, broken at spaces only (a name, which
    has none, is never split: a line holding a longer one is longer), continued after
    ``indent``.  Styles are kept."""
    plain = line.plain
    if len(plain) <= width:
        return [line]
    pieces: list[Text] = []
    start, limit = 0, width
    lead = len(plain) - len(plain.lstrip(" "))  # the line's own indent is not a break
    while len(plain) - start > limit:
        floor = max(start, lead)
        cut = plain.rfind(" ", floor + 1, start + limit + 1)
        if cut < 0:  # no space in reach: break after the long name instead
            cut = plain.find(" ", max(start + limit, floor + 1))
            if cut < 0:
                break
        pieces.append(line[start:cut] if not pieces else Text.assemble(indent, line[start:cut]))
        start = cut + 1
        limit = width - len(indent)
    pieces.append(line[start:] if not pieces else Text.assemble(indent, line[start:]))
    return pieces


def _render_verdict(console: Console, report: AuditReport) -> None:
    console.print(inert(f"audit: {report.verdict}", "bold green" if report.loads else "bold red"))
    if report.consistent_tags:
        console.print(inert(f"consistent with the platform tags: {', '.join(report.consistent_tags)}"))


def render_audit(console: Console, report: AuditReport) -> None:
    """Findings grouped by module, one line each, the name first: a list, not a table, so no
    name is ever cut across lines, whatever the terminal's width (and a thousand findings
    print at once)."""
    abi = "ABI unknown" if report.abi is None else f"ABI {report.abi.name}"
    lines = [Text.assemble(inert(report.input, "bold"), (f" (audit against {abi})", "dim"))]
    module: str | None = ""
    for finding in report.findings:
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


def different_builds(results: Iterable[RepairResult]) -> list[str]:
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


def wheelhouse_summary(results: Sequence[RepairResult], dry_run: bool) -> str:
    """The one line after the reports of several wheels."""
    changed = sum(result.changed for result in results)
    libraries = {(lib.original_name, lib.sha256_hex) for result in results for lib in result.plan.vendored}
    verb = "would repair" if dry_run else "repaired"
    return (
        f"{len(results)} wheels: {verb} {changed}, {len(results) - changed} left as they were; "
        f"{len(libraries)} distinct librar{'y' if len(libraries) == 1 else 'ies'} vendored"
    )


def repair_json(result: RepairResult) -> dict[str, Any]:
    plan = result.plan
    return {
        "input": str(result.input),
        "output": None if result.output is None else str(result.output),
        "changed": result.changed,
        "abi": plan.abi.name,
        "platform": result.platform,
        "libs_dir": plan.libs_dir,
        "vendored": [
            {
                "name": lib.original_name,
                "source": str(lib.source),
                "from_wheel": lib.member is not None,
                "dest": lib.dest,
                "sha256": lib.sha256_hex,
            }
            for lib in plan.vendored
        ],
        "patched": [
            {
                "path": patch.path,
                "renamed_needed": patch.renames,
                "added_runtime_paths": list(patch.added_runtime_paths),
                "runtime_paths": None if patch.runtime_paths is None else list(patch.runtime_paths),
                "stripped": patch.strip,
            }
            for patch in plan.patches.values()
        ],
        "moved_first": list(plan.moved_first),
        "merged": dict(plan.merged),
        "excluded": sorted(plan.excluded),
        "stripped_bytes": result.stripped_bytes,
        "record_problems": list(result.record_problems),
        "removed_input": None if result.removed_input is None else str(result.removed_input),
    }


def _vendored_detail(lib: VendoredLibrary) -> str:
    """Where a vendored library came from, and its digest (what tells two builds apart)."""
    origin = " (the wheel's)" if lib.member else ""
    return f"{lib.source}{origin}, sha256 {lib.sha256_hex[:16]}"


def render_repair(console: Console, result: RepairResult, dry_run: bool) -> None:
    plan = result.plan
    if plan.is_noop and result.platform is None:
        copied = "" if dry_run or result.output == result.input else f"; copied to {result.output}"
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
        console.print(
            inert(f"{result.input}: already self-contained, nothing to change{copied}"),
            style="bold green",
            soft_wrap=True,
        )
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


def repair_summary(result: RepairResult, dry_run: bool) -> str:
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
    where = "" if dry_run or result.output is None else f" → {result.output}"
    return f"{result.input}{where}: {', '.join(done)}"
