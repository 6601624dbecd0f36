"""The command group: the typer app, its global options, and the commands it mounts (one
module each). pyodide-cli mounts this app as ``pyodide auditwheel``; the
``pyodide-auditwheel`` script runs it alone."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Annotated, Any, TextIO, cast

_python_excepthook = sys.excepthook


def _quiet_interrupt(kind: type[BaseException], value: BaseException, traceback: TracebackType | None) -> None:
    """Ctrl-C while the (slow) imports below run: one line, not a traceback; Python still
    exits as killed by SIGINT.  (Once they are done, click turns Ctrl-C into "Aborted!".)"""
    if issubclass(kind, KeyboardInterrupt):
        sys.stderr.write("interrupted\n")
        return
    _python_excepthook(kind, value, traceback)


sys.excepthook = _quiet_interrupt

import click  # after the hook, which must cover this import and those below
import typer
from typer.core import TyperCommand, TyperGroup

from ..naming import PLUGIN, SCRIPT, ran_as
from ..version import __version__
from . import audit, interfaces, repair, show, verify
from .contract import EXIT_CODES
from .output import SETTINGS, TrimmedLines, safe_streams, stderr_console
from .text import inert

# The imports are done: the hook goes, so that pyodide-cli, which imports every plugin to list
# its commands, runs the other plugins' commands with the excepthook they expect.
sys.excepthook = _python_excepthook


def _wrapped(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` columns, broken at spaces only: never inside a
    word, an option name (``--no-mangle``) or a variable (``PYODIDE_AUDITWHEEL_LIBDIR``),
    which then overruns a narrow terminal whole rather than in pieces."""
    wrapper = textwrap.TextWrapper(max(width, 1), break_long_words=False, break_on_hyphens=False)
    return wrapper.wrap(" ".join(text.split()))


class _HelpFormatter(click.HelpFormatter):
    """click's plain help layout (rich's panels cut ``--output-dir,--w…`` at 80 columns),
    with every text broken at spaces only."""

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        paragraphs = [paragraph for paragraph in text.split("\n\n") if paragraph.strip()]
        for number, paragraph in enumerate(paragraphs):
            if number:
                self.write("\n")
            for line in _wrapped(paragraph, self.width - self.current_indent):
                self.write(f"{indent}{line}\n")

    def write_dl(self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        rows = list(rows)
        widths = [len(term) for term, _ in rows]
        first = min(max(widths, default=0), col_max) + col_spacing
        indent = " " * self.current_indent
        for (term, text), width in zip(rows, widths, strict=True):
            lines = _wrapped(text, self.width - self.current_indent - first) if text else []
            if width <= first - col_spacing:
                self.write(f"{indent}{term}{' ' * (first - width)}{lines[0] if lines else ''}".rstrip() + "\n")
                lines = lines[1:]
            else:
                self.write(f"{indent}{term}\n")
            for line in lines:
                self.write(f"{indent}{' ' * first}{line}\n")


class _Context(click.Context):
    formatter_class = _HelpFormatter


class _Command(TyperCommand):
    """Help in click's layout, wherever the app is mounted: pyodide-cli's own Typer would
    otherwise draw rich's panels, which cut names at 80 columns."""

    context_class = _Context

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        click.Command.format_help(self, ctx, formatter)


class _Commands(TyperGroup):
    """Our command group.  click >= 8.2 suggests a command for a typo itself, and typer >= 0.16
    adds the same suggestion again ("Did you mean 'show'? Did you mean 'show'?"), whatever
    ``suggest_commands`` says once pyodide-cli mounts the app: click's lookup is used as it is."""

    context_class = _Context

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        click.Group.format_help(self, ctx, formatter)

    if hasattr(click.exceptions, "NoSuchCommand"):
        resolve_command = click.Group.resolve_command

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        # Help and usage errors are printed while the context is made (also when pyodide-cli
        # mounts us): through the same stdout as our reports, without rich's trailing padding.
        if sys.stdout is not None and not isinstance(sys.stdout, TrimmedLines):
            sys.stdout = cast(TextIO, TrimmedLines(sys.stdout))
        return super().make_context(info_name, args, parent, **extra)


app = typer.Typer(
    name="auditwheel",
    help="Show, audit and repair the shared-library and symbol needs of Emscripten/Pyodide wheels.",
    epilog="Exit codes: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items()) + ".",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # -h as pypa/auditwheel and delocate take it; the subcommands' contexts inherit it
    context_settings={"help_option_names": ["-h", "--help"]},
    cls=_Commands,
)


def _version(ctx: typer.Context, value: bool) -> None:
    if value:
        _note_if_name_shared(ctx)
        typer.echo(f"pyodide-auditwheel {__version__}")
        raise typer.Exit(0)


_NOTED: list[bool] = []


def _note_if_name_shared(ctx: typer.Context) -> None:
    """Say who answers when run as `pyodide auditwheel` (mounted by pyodide-cli) while
    another distribution registers that name too: once per process, on one line."""
    others = other_auditwheel_plugins() if ctx.parent is not None and not _NOTED else []
    if others:
        _NOTED.append(True)
        stderr_console().print(
            inert(
                f"note: pyodide-auditwheel {__version__} is answering; {', '.join(others)} also registers "
                "`pyodide auditwheel`, and the one pyodide-cli loads last (in sys.path order) answers: run "
                "`pyodide-auditwheel` to always get this one.",
                "yellow",
            ),
            soft_wrap=True,
        )


@app.callback()
def main(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the tool's name and version."),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="As each command's -v.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only errors, warnings and --json; the exit code says the rest.")
    ] = False,
) -> None:
    """Show, audit and repair the shared-library and symbol needs of Emscripten/Pyodide wheels."""
    SETTINGS.update(verbose=verbose, quiet=quiet)
    safe_streams()
    ran_as(PLUGIN if ctx.parent is not None else SCRIPT)
    _note_if_name_shared(ctx)


def other_auditwheel_plugins() -> list[str]:
    """Other distributions registering ``auditwheel`` under pyodide-cli's ``pyodide.cli``
    entry points (auditwheel-emscripten, which pyodide-build depends on): pyodide-cli keeps
    whichever it loads last, without a word."""
    from importlib.metadata import entry_points

    others = []
    for entry in entry_points(group="pyodide.cli", name="auditwheel"):
        if entry.value.split(".", 1)[0].split(":", 1)[0] == __name__.split(".", 1)[0]:
            continue
        dist = getattr(entry, "dist", None)
        others.append(f"{dist.metadata['Name']} {dist.version}" if dist is not None else entry.value)
    return sorted(set(others))


# The command list's one line each, short enough for 80 columns whole (click cuts a longer
# first sentence with "...").
_SUMMARIES: dict[Callable[..., None], str] = {
    show.show: "What each module needs, and where it is found.",
    audit.audit: "Whether each input will load on its runtime.",
    repair.repair: "Vendor the missing libraries and patch the modules.",
    verify.verify: "Run each wheel in a real Pyodide (runs its code).",
    interfaces.exports: "What each module exports, with types.",
    interfaces.imports: "What each module imports, with types.",
}
for command, summary in _SUMMARIES.items():
    app.command(cls=_Command, short_help=summary)(command)
