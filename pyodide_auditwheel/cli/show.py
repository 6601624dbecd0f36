"""``show``: what each module needs, and whether it is included, found, excluded or missing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .contract import EXIT_MISSING
from .documents import analysis_json
from .options import ExcludeOption, JsonOption, LibdirOption, NoDiscoveryOption, PlatOption, VerboseOption
from .output import SETTINGS, Outcome, reports_safely, stdout_console
from .render import render_analysis
from .text import render_notes


@reports_safely
def show(
    inputs: Annotated[list[Path], typer.Argument(readable=False, metavar="INPUT...")],
    libdir: LibdirOption = [],  # noqa: B006 - typer reads defaults, never mutates them
    exclude: ExcludeOption = [],  # noqa: B006
    no_discovery: NoDiscoveryOption = False,
    with_runtime_paths: Annotated[
        bool, typer.Option("--with-runtime-paths", "-r", help="Show each module's RUNTIME_PATH.")
    ] = False,
    list_all: Annotated[
        bool, typer.Option("--all", "-a", help="Also list the modules that need no shared library.")
    ] = False,
    plat: PlatOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Show what each module needs and whether it is included, found, excluded or missing.

    Each INPUT is a wheel, a .so/.wasm module, an unpacked wheel directory or a directory of
    wheels (dist/)."""
    from ..api import audit, expand_wheelhouses  # loaded by the command that runs it

    console = stdout_console()
    outcome = Outcome(as_json)
    # Tags and libraries only: show reads module heads, the symbol audit reads more.
    inputs = expand_wheelhouses(inputs)  # the other wheels may hold a library one needs
    for report in outcome.reports(
        inputs,
        lambda path: audit(
            path,
            libdirs=libdir,
            exclude=exclude,
            platform=plat,
            check_symbols=False,
            discover=not no_discovery,
            companions=inputs,
        ),
    ):
        analysis = report.analysis
        if analysis.missing:
            outcome.worst = max(outcome.worst, EXIT_MISSING)
        if as_json:
            outcome.documents.append(analysis_json(analysis, report))
        else:
            render_analysis(console, analysis, with_runtime_paths, list_all, report)
            if verbose or SETTINGS["verbose"]:
                render_notes(console, analysis.notes)
    outcome.finish()
