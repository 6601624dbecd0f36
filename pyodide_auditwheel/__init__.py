"""pyodide-auditwheel: show, audit and repair the needs of Emscripten/Pyodide wheels.

The public names are imported on first use: ``pyodide auditwheel show`` should not pay for
loading the repair machinery (start-up is a visible share of a run on small wheels).
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING, Any

from .version import __version__

_HOMES = {
    "Analysis": "graph.analysis",
    "Dependency": "graph.model",
    "DependencyGraph": "graph.model",
    "ModuleReport": "graph.model",
    "AuditReport": "policy",
    "Finding": "policy",
    "RepairResult": "api",
    "PlannedRepair": "api",
    "RepairRequest": "api",
    "apply_each": "api",
    "apply_plan": "api",
    "repair_each": "api",
    "audit": "api",
    "interfaces": "api",
    "repair": "api",
    "show": "api",
    "AuditwheelError": "errors",
    "InternalError": "errors",
    "MissingLibrariesError": "errors",
    "Abi": "runtime.abi",
    "RuntimeOffer": "runtime.offers",
    "InstallOutcome": "runtime.install",
    "VendoredLibrary": "rewriter.plan",
    "Interface": "wasm.sections",
    "RepairOptions": "rewriter.options",
    "RepairPlan": "rewriter.plan",
    "repair_wheelhouse": "api",
    "WheelhouseResult": "api",
    "verify": "api",
    "verify_each": "api",
    "VerifyReport": "verifier.run",
    "ModuleOutcome": "verifier.run",
    "LibraryOutcome": "verifier.run",
    "Runtime": "verifier.runtimes",
    "RuntimeUnavailableError": "errors",
}

if TYPE_CHECKING:
    from .api import (
        PlannedRepair,
        RepairRequest,
        RepairResult,
        WheelhouseResult,
        apply_each,
        apply_plan,
        audit,
        interfaces,
        repair,
        repair_each,
        repair_wheelhouse,
        show,
        verify,
        verify_each,
    )
    from .errors import AuditwheelError, InternalError, MissingLibrariesError, RuntimeUnavailableError
    from .graph.analysis import Analysis
    from .graph.model import Dependency, DependencyGraph, ModuleReport
    from .policy import AuditReport, Finding
    from .rewriter.options import RepairOptions
    from .rewriter.plan import RepairPlan, VendoredLibrary
    from .runtime.abi import Abi
    from .runtime.install import InstallOutcome
    from .runtime.offers import RuntimeOffer
    from .verifier.run import LibraryOutcome, ModuleOutcome, VerifyReport
    from .verifier.runtimes import Runtime
    from .wasm.sections import Interface


def __dir__() -> list[str]:
    """The public API (what ``__all__`` names), not this module's own imports."""
    return sorted(__all__)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(_importlib.import_module(f".{home}", __name__), name)


__all__ = [
    "Abi",
    "Analysis",
    "AuditReport",
    "AuditwheelError",
    "Dependency",
    "DependencyGraph",
    "Finding",
    "InstallOutcome",
    "Interface",
    "InternalError",
    "LibraryOutcome",
    "MissingLibrariesError",
    "ModuleOutcome",
    "ModuleReport",
    "PlannedRepair",
    "RepairOptions",
    "RepairPlan",
    "RepairRequest",
    "RepairResult",
    "Runtime",
    "RuntimeOffer",
    "RuntimeUnavailableError",
    "VendoredLibrary",
    "VerifyReport",
    "WheelhouseResult",
    "__version__",
    "apply_each",
    "apply_plan",
    "audit",
    "interfaces",
    "repair",
    "repair_each",
    "repair_wheelhouse",
    "show",
    "verify",
    "verify_each",
]
