"""The command line, a thin typer face over :mod:`pyodide_auditwheel.api`: the commands
(:mod:`.main`) and how results are rendered (:mod:`.render`)."""

from .main import app as app
