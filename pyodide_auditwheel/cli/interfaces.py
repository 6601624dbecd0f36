"""``exports`` and ``imports``: each module's interface as tab-separated lines, for grep and
diff; a reader that stops early ends the list quietly, as with ``nm | head``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import AuditwheelError
from .contract import exit_code_of
from .output import about, print_error, reader_gone, reports_safely
from .text import visible


def _interface_command(kind: str, paths: list[Path], show_type: bool) -> None:
    """The list, input by input (each headed ``# INPUT`` when there are several); an input
    that cannot be read is one line naming it, and the others are still listed (exit 2)."""
    from ..api import expand_wheelhouses  # loaded by the command that runs it

    inputs = expand_wheelhouses(paths)
    worst = 0
    for path in inputs:
        if reader_gone():
            break  # as `nm | head`: the reader has what it wanted
        if len(inputs) > 1:
            typer.echo(f"# {visible(str(path))}")
        try:
            _list_interface(kind, path, show_type)
        except AuditwheelError as error:
            worst = max(worst, exit_code_of(error))
            print_error(about(path, error))
    raise typer.Exit(worst)


def _list_interface(kind: str, path: Path, show_type: bool) -> None:
    from ..api import interfaces  # loaded by the command that runs it

    for module, interface in interfaces(path):
        if reader_gone():
            return
        entries = interface.exports if kind == "exports" else interface.imports
        typer.echo(f"{visible(module)}:")
        for entry in entries:
            name = entry.name if kind == "exports" else f"{entry.module}.{entry.field}"  # type: ignore[union-attr]
            suffix = f" {entry.type}" if show_type and entry.type is not None else ""
            typer.echo(f"\t{entry.kind}\t{visible(name)}{suffix}")


@reports_safely
def exports(
    inputs: Annotated[list[Path], typer.Argument(readable=False, metavar="INPUT...")],
    show_type: Annotated[bool, typer.Option("--show-type", help="Print function signatures.")] = False,
) -> None:
    """List what each module exports (tab-separated: kind, name[, signature]).

    Each INPUT is a wheel, a module, an unpacked wheel or a directory of wheels (dist/)."""
    _interface_command("exports", inputs, show_type)


@reports_safely
def imports(
    inputs: Annotated[list[Path], typer.Argument(readable=False, metavar="INPUT...")],
    show_type: Annotated[bool, typer.Option("--show-type", help="Print function signatures.")] = False,
) -> None:
    """List what each module imports (tab-separated: kind, module.field[, signature]).

    Each INPUT is a wheel, a module, an unpacked wheel or a directory of wheels (dist/)."""
    _interface_command("imports", inputs, show_type)
