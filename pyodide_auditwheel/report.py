"""Turning analyses and repair results into rich tables and versioned JSON."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from . import __version__
from .analysis import Analysis, ModuleReport
from .api import RepairResult

STATUS_STYLE = {"included": "green", "found": "cyan", "excluded": "yellow", "missing": "bold red"}
SCHEMA_VERSION = 1


def analysis_json(analysis: Analysis) -> dict[str, Any]:
    wheel = analysis.wheel
    return {
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


def document(inputs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "tool": "pyodide-auditwheel", "version": __version__, "inputs": inputs}


def render_analysis(console: Console, analysis: Analysis, with_runtime_paths: bool, list_all: bool = False) -> None:
    """One row per needed library.  Modules that need nothing are counted, not listed, unless
    ``list_all``: in a large wheel they are most of the table and none of the news (rendering
    them also costs more than the whole analysis)."""
    title = f"{analysis.input} [dim]({analysis.kind}, ABI {analysis.abi.name})[/dim]"
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
        console.print(f"[dim]{quiet} module(s) need no shared library (--all lists them)[/dim]")
    missing = analysis.missing
    summary = f"{len(analysis.wheel_modules)} module(s), {len(missing)} missing librar{'y' if len(missing) == 1 else 'ies'}"
    if missing:
        summary += ": " + ", ".join(sorted(missing))
    console.print(summary, style="bold red" if missing else "bold green")


def _add_module_rows(table: Table, module: ModuleReport, with_runtime_paths: bool) -> None:
    label = module.path if module.origin == "wheel" else f"{module.path} [dim](from libdir)[/dim]"
    rpath = "\n".join(module.runtime_paths)
    if not module.dependencies:
        table.add_row(label, "[dim]-[/dim]", "[dim]no needs[/dim]", "", *([rpath] if with_runtime_paths else []))
    for index, dep in enumerate(module.dependencies):
        where = dep.location or ""
        if dep.status == "missing" and dep.location:
            where = f"{dep.location} is in the wheel but not on the runtime's search path"
        cells = [label if index == 0 else "", dep.name, f"[{STATUS_STYLE[dep.status]}]{dep.status}[/]", where]
        if with_runtime_paths:
            cells.append(rpath if index == 0 else "")
        table.add_row(*cells)


def repair_json(result: RepairResult) -> dict[str, Any]:
    plan = result.plan
    return {
        "input": str(result.input),
        "output": None if result.output is None else str(result.output),
        "changed": result.changed,
        "abi": plan.abi.name,
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
    if plan.is_noop:
        console.print(f"{result.input}: already self-contained, nothing to change" + ("" if dry_run or result.output == result.input else f"; copied to {result.output}"))
        return
    verb = "would vendor" if dry_run else "vendored"
    table = Table(title=f"{result.input} → {result.output or '(dry run)'} [dim](ABI {plan.abi.name})[/dim]", title_justify="left")
    table.add_column("action")
    table.add_column("what", overflow="fold")
    table.add_column("detail", overflow="fold")
    for lib in plan.vendored:
        table.add_row(verb, lib.dest, str(lib.source))
    for patch in plan.patches.values():
        details = [f"NEEDED {old} → {new}" for old, new in patch.renames.items()]
        details += [f"RUNTIME_PATH += {entry}" for entry in patch.added_runtime_paths]
        if patch.strip:
            details.append("strip debug sections")
        table.add_row("would patch" if dry_run else "patched", patch.path, "\n".join(details))
    console.print(table)
    if result.stripped_bytes:
        console.print(f"stripping saved {result.stripped_bytes} bytes")
    for problem in result.record_problems:
        console.print(f"[yellow]warning:[/] {problem} (--allow-bad-record)")
