"""pyodide-auditwheel: show, audit and repair the needs of Emscripten/Pyodide wheels.

The public names are imported on first use: ``pyodide auditwheel show`` should not pay for
loading the repair machinery (start-up is a visible share of a run on small wheels).
"""

from __future__ import annotations

import importlib as _importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_HOMES = {
    "Analysis": "analysis",
    "Dependency": "analysis",
    "ModuleReport": "analysis",
    "AuditReport": "policy",
    "Finding": "policy",
    "RepairResult": "api",
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
    "Abi": "abi",
    "RuntimeOffer": "runtimes",
    "InstallOutcome": "loader",
    "VendoredLibrary": "plan",
    "Interface": "wasm",
    "RepairOptions": "plan",
    "RepairPlan": "plan",
    "repair_wheelhouse": "wheelhouse",
    "WheelhouseResult": "wheelhouse",
}

if TYPE_CHECKING:
    from .abi import Abi
    from .analysis import Analysis, Dependency, ModuleReport
    from .api import RepairRequest, RepairResult, apply_each, apply_plan, audit, interfaces, repair, repair_each, show
    from .errors import AuditwheelError, InternalError, MissingLibrariesError
    from .loader import InstallOutcome
    from .plan import RepairOptions, RepairPlan, VendoredLibrary
    from .policy import AuditReport, Finding
    from .runtimes import RuntimeOffer
    from .wasm import Interface
    from .wheelhouse import WheelhouseResult, repair_wheelhouse


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
    "Finding",
    "InstallOutcome",
    "Interface",
    "InternalError",
    "MissingLibrariesError",
    "ModuleReport",
    "RepairOptions",
    "RepairPlan",
    "RepairRequest",
    "RepairResult",
    "RuntimeOffer",
    "VendoredLibrary",
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
]
