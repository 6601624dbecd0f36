"""Turning analyses, audits and repair results into rich tables and versioned JSON.

Every string that comes from a wheel, a module or a path reaches the terminal through
:func:`inert`: a rich ``Text`` (never parsed as markup) whose control characters are shown as
escapes, so a member named ``a[/b]`` or one holding ``ESC ] 0 ;`` is printed, not obeyed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import __version__
from .analysis import Analysis, ModuleReport

if TYPE_CHECKING:
    from .api import RepairResult
    from .policy import AuditReport

STATUS_STYLE = {"included": "green", "found": "cyan", "excluded": "yellow", "missing": "bold red"}
SCHEMA_VERSION = 1
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


def error_line(message: str) -> Text:
    """``error: <message>``, the message capitalised and inert."""
    message = message[:1].upper() + message[1:]
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
        "abi": analysis.abi.name,
        "wheel": None if wheel is None else {"name": wheel.dist, "version": wheel.version, "platforms": sorted(wheel.platforms)},
        "modules": [
            {
                "path": module.path,
                "origin": module.origin,
                "needed": list(module.needed),
                "runtime_paths": list(module.runtime_paths),
                "dependencies": [
                    {"name": dep.name, "status": dep.status, "location": dep.location} for dep in module.dependencies
                ],
            }
            for module in analysis.modules
        ],
        "summary": {"modules": len(analysis.wheel_modules), "missing": sorted(analysis.missing)},
    }
    if audit is not None:
        result["audit"] = audit_json(audit)
    return result


def render_analysis(
    console: Console, analysis: Analysis, with_runtime_paths: bool, list_all: bool = False, audit: AuditReport | None = None
) -> None:
    """One row per needed library.  Modules that need nothing are counted, not listed, unless
    ``list_all``: in a large wheel they are most of the table and none of the news (rendering
    them also costs more than the whole analysis)."""
    title = Text.assemble(inert(analysis.input), (f" ({analysis.kind}, ABI {analysis.abi.name})", "dim"))
    shown = [m for m in analysis.modules if list_all or m.dependencies or (with_runtime_paths and m.runtime_paths)]
    quiet = len(analysis.modules) - len(shown)
    if shown:
        table = Table(title=title, title_justify="left", show_lines=False)
        table.add_column("module", overflow="fold")
        table.add_column("needs", overflow="fold")
        table.add_column("status")
        table.add_column("where", overflow="fold")
        if with_runtime_paths:
            table.add_column("RUNTIME_PATH", overflow="fold")
        for module in shown:
            _add_module_rows(table, module, with_runtime_paths)
        console.print(table)
    else:
        console.print(title)
    if quiet:
        console.print(f"{quiet} module(s) need no shared library (--all lists them)", style="dim")
    missing = analysis.missing
    summary = f"{len(analysis.wheel_modules)} module(s), {len(missing)} missing librar{'y' if len(missing) == 1 else 'ies'}"
    if missing:
        summary += ": " + ", ".join(sorted(missing))
    console.print(inert(summary, "bold red" if missing else "bold green"))
    if audit is not None:
        _render_verdict(console, audit)


def _add_module_rows(table: Table, module: ModuleReport, with_runtime_paths: bool) -> None:
    label = inert(module.path) if module.origin == "wheel" else Text.assemble(inert(module.path), (" (from libdir)", "dim"))
    rpath = inert_lines(module.runtime_paths)
    if not module.dependencies:
        table.add_row(label, Text("-", "dim"), Text("no needs", "dim"), "", *([rpath] if with_runtime_paths else []))
    for index, dep in enumerate(module.dependencies):
        where = inert(dep.location or "")
        if dep.status == "missing" and dep.location:
            where = inert(f"{dep.location} is in the wheel but not on the runtime's search path")
        cells: list[Text | str] = [label if index == 0 else "", inert(dep.name), Text(dep.status, STATUS_STYLE[dep.status]), where]
        if with_runtime_paths:
            cells.append(rpath if index == 0 else "")
        table.add_row(*cells)


# --- audit -----------------------------------------------------------------------------------


def audit_json(report: AuditReport) -> dict[str, Any]:
    runtime = report.runtime
    return {
        "input": report.input,
        "platform": report.platform,
        "abi": None if report.abi is None else report.abi.name,
        "runtime": None if runtime is None else {"pyodide": runtime.pyodide, "python": runtime.python, "emscripten": runtime.emscripten},
        "loads": report.loads,
        "verdict": report.verdict,
        "symbols_checked": report.symbols_checked,
        "consistent_platform_tags": list(report.consistent_tags),
        "findings": [
            {"kind": finding.kind, "module": finding.module, "subject": finding.subject, "reason": finding.reason}
            for finding in report.findings
        ],
    }


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
        lines.append(Text.assemble("    ", inert(finding.subject, "bold red"), ": ", inert(finding.reason)))
    console.print(Text("\n").join(lines))
    if report.abi is not None:
        console.print(inert(f"{report.symbols_checked} import(s) checked against Pyodide {report.runtime.pyodide if report.runtime else '?'}"), style="dim")
    _render_verdict(console, report)


# --- repair ----------------------------------------------------------------------------------


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
            {"name": lib.original_name, "source": str(lib.source), "dest": lib.dest, "sha256": lib.sha256} for lib in plan.vendored
        ],
        "patched": [
            {"path": patch.path, "renamed_needed": patch.renames, "added_runtime_paths": list(patch.added_runtime_paths), "stripped": patch.strip}
            for patch in plan.patches.values()
        ],
        "excluded": sorted(plan.excluded),
        "stripped_bytes": result.stripped_bytes,
        "record_problems": list(result.record_problems),
    }


def render_repair(console: Console, result: RepairResult, dry_run: bool) -> None:
    plan = result.plan
    if plan.is_noop and result.platform is None:
        copied = "" if dry_run or result.output == result.input else f"; copied to {result.output}"
        console.print(inert(f"{result.input}: already self-contained, nothing to change{copied}"))
        return
    verb = "would vendor" if dry_run else "vendored"
    title = Text.assemble(inert(f"{result.input} → {result.output or '(dry run)'}"), (f" (ABI {plan.abi.name})", "dim"))
    table = Table(title=title, title_justify="left")
    table.add_column("action")
    table.add_column("what", overflow="fold")
    table.add_column("detail", overflow="fold")
    for lib in plan.vendored:
        table.add_row(verb, inert(lib.dest), inert(lib.source))
    for patch in plan.patches.values():
        details = [f"NEEDED {old} → {new}" for old, new in patch.renames.items()]
        details += [f"RUNTIME_PATH += {entry}" for entry in patch.added_runtime_paths]
        if patch.strip:
            details.append("strip debug sections")
        table.add_row("would patch" if dry_run else "patched", inert(patch.path), inert_lines(details))
    if result.platform is not None:
        table.add_row("would retag" if dry_run else "retagged", inert(result.platform), "file name and WHEEL Tag lines")
    console.print(table)
    if result.stripped_bytes:
        console.print(f"stripping saved {result.stripped_bytes} bytes")
    for problem in result.record_problems:
        console.print(Text.assemble(("warning:", "yellow"), " ", inert(problem), " (--allow-bad-record)"))
