"""The versioned JSON documents of show, audit, repair and verify (``--json``): the shapes
``docs/schemas/`` describe, kept apart from the terminal rendering so each can change alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..version import __version__

if TYPE_CHECKING:
    from ..api import RepairOutcome
    from ..graph.analysis import Analysis
    from ..policy import AuditReport
    from ..verifier.run import VerifyReport


SCHEMA_VERSION = 2


TOOL = "pyodide-auditwheel"


def envelope(key: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """The versioned envelope every ``--json`` document shares."""
    return {"schema_version": SCHEMA_VERSION, "tool": TOOL, "version": __version__, key: items}


def document(inputs: list[dict[str, Any]]) -> dict[str, Any]:
    return envelope("inputs", inputs)


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
            {
                "kind": finding.kind,
                "module": finding.module,
                "subject": finding.subject,
                "reason": finding.reason,
                "when": finding.when,
            }
            for finding in report.findings
        ],
        "causes": [
            {
                "kind": cause.kind,
                "module": cause.module,
                "modules": list(cause.modules or ([cause.module] if cause.module else [])),
                "subject": cause.subject,
                "reason": cause.reason,
                "imports": cause.imports,
            }
            for cause in report.causes
        ],
    }


def repair_json(result: RepairOutcome) -> dict[str, Any]:
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


def verify_json(report: VerifyReport) -> dict[str, Any]:
    return {
        "input": report.input,
        "runtime": {
            "pyodide": report.runtime.version,
            "directory": str(report.runtime.directory),
            "abi": None if report.runtime.abi is None else report.runtime.abi.name,
        },
        "install": report.install,
        "install_errors": list(report.install_errors),
        "modules": [
            {
                "name": module.name,
                "path": module.path,
                "imported": module.imported,
                "error": module.error,
                "predicted": module.predicted,
                "agreement": module.agreement,
            }
            for module in report.modules
        ],
        "libraries": [
            {"names": list(library.names), "copies": library.copies, "predicted_copies": library.predicted_copies}
            for library in report.libraries
        ],
        "problem": report.problem,
        "ok": report.ok,
        "agrees": report.agrees,
    }
