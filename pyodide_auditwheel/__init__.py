"""pyodide-auditwheel: show, audit and repair the needs of Emscripten/Pyodide wheels.

The public names are imported on first use: ``pyodide auditwheel show`` should not pay for
loading the repair machinery (start-up is a visible share of a run on small wheels).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_HOMES = {
    "Analysis": "analysis",
    "Dependency": "analysis",
    "ModuleReport": "analysis",
    "AuditReport": "policy",
    "Finding": "policy",
    "RepairResult": "api",
    "audit": "api",
    "interfaces": "api",
    "repair": "api",
    "show": "api",
    "AuditwheelError": "errors",
    "MissingLibrariesError": "errors",
    "Interface": "wasm",
    "RepairOptions": "plan",
    "RepairPlan": "plan",
}

if TYPE_CHECKING:
    from .analysis import Analysis, Dependency, ModuleReport
    from .api import RepairResult, audit, interfaces, repair, show
    from .errors import AuditwheelError, MissingLibrariesError
    from .plan import RepairOptions, RepairPlan
    from .policy import AuditReport, Finding
    from .wasm import Interface


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{home}", __name__), name)


__all__ = [
    "Analysis",
    "AuditReport",
    "AuditwheelError",
    "Dependency",
    "Finding",
    "Interface",
    "MissingLibrariesError",
    "ModuleReport",
    "RepairOptions",
    "RepairPlan",
    "RepairResult",
    "__version__",
    "audit",
    "interfaces",
    "repair",
    "show",
]
