"""``audit``: whether each input will load on its runtime: tags, libraries and every import."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import AuditwheelError
from .contract import EXIT_MISSING
from .documents import audit_json
from .options import ExcludeOption, JsonOption, LibdirOption, NoDiscoveryOption, PlatOption, VerboseOption
from .output import SETTINGS, Outcome, fail, reports_safely, stdout_console
from .render import render_audit
from .text import render_notes


@reports_safely
def audit(
    inputs: Annotated[list[Path], typer.Argument(readable=False, metavar="INPUT...")],
    libdir: LibdirOption = [],  # noqa: B006
    exclude: ExcludeOption = [],  # noqa: B006
    no_discovery: NoDiscoveryOption = False,
    plat: PlatOption = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Say whether each input will load on its runtime: tags, libraries and every import.

    Each INPUT is a wheel, a .so/.wasm module, an unpacked wheel directory or a directory of
    wheels (dist/).

    Exit 0: it will load; 1: findings, each listed; 2: unusable input.
    """
    from ..api import audit as audit_input  # loaded by the command that runs it
    from ..api import check_platform, expand_wheelhouses

    if plat is not None:
        try:
            check_platform(plat)
        except AuditwheelError as error:
            fail(error)
    console = stdout_console()
    outcome = Outcome(as_json)
    inputs = expand_wheelhouses(inputs)  # the other wheels may hold a library one needs
    for report in outcome.reports(
        inputs,
        lambda path: audit_input(
            path, libdirs=libdir, exclude=exclude, platform=plat, discover=not no_discovery, companions=inputs
        ),
    ):
        if not report.loads:
            outcome.worst = max(outcome.worst, EXIT_MISSING)
        if as_json:
            outcome.documents.append(audit_json(report))
        else:
            render_audit(console, report)
            if verbose or SETTINGS["verbose"]:
                render_notes(console, report.analysis.notes)
    outcome.finish()
