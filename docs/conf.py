"""Sphinx + MyST: the docs site (``nox -s docs`` builds it into docs/_build/html, warnings
are errors).  The CLI reference is made from the typer app itself, so it cannot drift."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "_ext"))

project = "pyodide-auditwheel"
author = "the pyodide-auditwheel developers"
copyright = "2026, the pyodide-auditwheel developers"

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "clireference"]
source_suffix = {".md": "markdown"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "_ext", "_generated", "README.md"]
html_theme = "furo"
html_title = "pyodide-auditwheel"
autodoc_member_order = "bysource"
autodoc_typehints = "description"
nitpicky = False
suppress_warnings = ["myst.xref_missing"]
