"""pyodide-auditwheel: show and repair the shared-library needs of Emscripten/Pyodide wheels."""

from __future__ import annotations

from .analysis import Analysis, Dependency, ModuleReport
from .api import RepairResult, repair, show
from .errors import AuditwheelError, MissingLibrariesError
from .plan import RepairOptions, RepairPlan

__version__ = "0.1.0"

__all__ = [
    "Analysis",
    "AuditwheelError",
    "Dependency",
    "MissingLibrariesError",
    "ModuleReport",
    "RepairOptions",
    "RepairPlan",
    "RepairResult",
    "__version__",
    "repair",
    "show",
]
