"""``verify``: the runtime's own word: each wheel run in a real Pyodide under Node."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import AuditwheelError
from .contract import EXIT_MISSING
from .documents import verify_json
from .options import JsonOption, no_option_as_value
from .output import Outcome, reports_safely, stdout_console
from .render import render_verify

if TYPE_CHECKING:
    from ..verifier.run import VerifyReport


@reports_safely
def verify(
    inputs: Annotated[list[Path], typer.Argument(readable=False, metavar="WHEEL...")],
    runtime: Annotated[
        Path | None,
        typer.Option(
            "--runtime",
            help="An installed npm pyodide package (its folder, or a node_modules above it); "
            "else $PYODIDE_AUDITWHEEL_RUNTIME.",
            readable=False,
            callback=no_option_as_value,
        ),
    ] = None,
    pyodide: Annotated[
        str | None,
        typer.Option(
            "--pyodide",
            help="A Pyodide release to run in (314.0.8), installed with npm into the user's cache once.",
            callback=no_option_as_value,
        ),
    ] = None,
    before: Annotated[
        list[Path],
        typer.Option(
            "--with",
            help="A wheel to install first (a dependency), not verified itself; repeatable.",
            readable=False,
            callback=no_option_as_value,
        ),
    ] = [],  # noqa: B006
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=1.0, help="Seconds one wheel may take, install and imports (default 120)."),
    ] = 120.0,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Node processes running wheels at once (default: one per core, at most 4); "
            "each runs up to 8 wheels, one after another.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run each wheel in a real Pyodide under Node and say what the runtime did.

    Each wheel is installed as the release installs packages (pyodide.loadPackage), each of
    its top-level packages is imported and each extension module the imports did not reach
    is loaded; the copies the loader made of each library are counted, and what audit
    predicted is set beside each. This RUNS THE WHEEL'S OWN CODE, with your rights: verify
    only wheels you would install. Nothing of the host is mounted into the runtime. Needs
    Node.js 18 or newer (and npm, to install a release). By default the runtime is the
    newest release of the ABI the wheel's tag names.

    Exit 0: every module imported, one copy of each library; 1: otherwise; 2: unusable input
    or no runtime.
    """
    from ..api import expand_wheelhouses, verify_each  # loaded by the command that runs it

    console = stdout_console()
    outcome = Outcome(as_json)
    wheels = expand_wheelhouses(inputs)
    ran = iter(verify_each(wheels, runtime=runtime, pyodide=pyodide, before=before, timeout=timeout, jobs=jobs))
    for report in outcome.reports(wheels, lambda _: _raised_or_report(next(ran))):
        if not report.ok:
            outcome.worst = max(outcome.worst, EXIT_MISSING)
        if as_json:
            outcome.documents.append(verify_json(report))
        else:
            render_verify(console, report)
    outcome.finish()


def _raised_or_report(outcome: VerifyReport | AuditwheelError) -> VerifyReport:
    if isinstance(outcome, AuditwheelError):
        raise outcome
    return outcome
