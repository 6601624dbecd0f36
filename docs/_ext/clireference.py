"""The CLI reference: every command and option of the typer app, its exit codes and
environment variables, written from the app when the docs are built (``cli.md`` includes
``_generated/cli-reference.md``)."""

from __future__ import annotations

import typing

import click
import typer
from sphinx.application import Sphinx

from pyodide_auditwheel.cli import app, contract


def _declared_help(command: click.Command, name: str | None) -> str:
    """The help written in the command function's ``Annotated`` parameter (click keeps no
    help for arguments)."""
    hints = typing.get_type_hints(command.callback, include_extras=True) if command.callback else {}
    for extra in getattr(hints.get(name or ""), "__metadata__", ()):
        if getattr(extra, "help", None):
            return str(extra.help)
    return ""


def _option_row(command: click.Command, param: click.Parameter) -> str:
    names = ", ".join(f"`{opt}`" for opt in [*param.opts, *param.secondary_opts])
    if isinstance(param, click.Argument):
        names = f"`{param.human_readable_name}`" + (" …" if param.nargs == -1 else "")
    help_text = getattr(param, "help", None) or _declared_help(command, param.name)
    if isinstance(param, click.Option) and param.multiple and "repeatable" not in help_text.lower():
        help_text += " Repeatable."
    kind = "flag" if isinstance(param, click.Option) and param.is_flag else param.type.name.lower()
    # Markdown: a '|' would end the cell, a '<name>' would be taken for HTML.
    escaped = help_text.replace("|", "/").replace("<", "\\<")
    return f"| {names} | {kind} | {escaped} |"


def reference_markdown() -> str:
    group = typer.main.get_command(app)
    if not isinstance(group, click.Group):
        raise TypeError("the typer app is expected to be a group of commands")
    lines = ["```text", "pyodide auditwheel [--version] COMMAND …   (or: pyodide-auditwheel COMMAND …)", "```", ""]
    with click.Context(group, info_name="pyodide auditwheel") as context:
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            if command is None:
                continue
            with click.Context(command, info_name=name, parent=context) as sub:
                usage = " ".join(command.collect_usage_pieces(sub))
            lines += [f"### `{name}`", "", f"`pyodide auditwheel {name} {usage}`", "", (command.help or "").strip(), ""]
            lines += ["| argument / option | type | meaning |", "|---|---|---|"]
            lines += [_option_row(command, param) for param in command.params if param.name != "help"]
            lines.append("")
    lines += ["### Exit codes", "", "| code | meaning |", "|---|---|"]
    lines += [f"| {code} | {meaning} |" for code, meaning in contract.EXIT_CODES.items()]
    lines += ["", "### Environment variables", "", "| variable | meaning |", "|---|---|"]
    lines += [f"| `{name}` | {meaning} |" for name, meaning in contract.ENVIRONMENT.items()]
    return "\n".join(lines) + "\n"


GENERATED = "_generated/cli-reference.md"


def write_reference(app: Sphinx) -> None:
    """Write the reference before the sources are read; ``cli.md`` includes it."""
    target = app.srcdir / GENERATED
    target.parent.mkdir(exist_ok=True)
    text = reference_markdown()
    if not target.is_file() or target.read_text() != text:
        target.write_text(text)


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("builder-inited", write_reference)
    return {"parallel_read_safe": True}
