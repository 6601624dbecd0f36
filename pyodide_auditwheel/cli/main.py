"""The command line: a thin typer layer over :mod:`pyodide_auditwheel.api`.

Exit codes: 0 success, 1 libraries missing, 2 unusable input (one sentence on stderr, never a
traceback).
"""

from __future__ import annotations

import errno
import functools
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TextIO, TypeVar, cast

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
from rich.console import Console
from typer.core import TyperGroup

from ..api import RepairRequest
from ..api import audit as api_audit
from ..api import interfaces as api_interfaces
from ..errors import AuditwheelError, InternalError, MissingLibrariesError
from ..naming import PLUGIN, SCRIPT, ran_as
from ..version import __version__
from .render import (
    analysis_json,
    audit_json,
    different_builds,
    document,
    envelope,
    error_line,
    inert,
    render_analysis,
    render_audit,
    render_notes,
    render_repair,
    repair_json,
    visible,
    warning_line,
    wheelhouse_summary,
)

if TYPE_CHECKING:
    from rich.progress import Progress

    from ..policy import AuditReport
    from ..rewriter.wheelhouse import WheelhouseResult

# The imports are done: the hook goes, so that pyodide-cli, which imports every plugin to list
# its commands, runs the other plugins' commands with the excepthook they expect.
sys.excepthook = _python_excepthook

EXIT_MISSING = 1
EXIT_BAD_INPUT = 2
EXIT_REPORT_LOST = 3
EXIT_INTERNAL = 4
# What the exit codes and environment variables mean: shown by --help and in the docs' CLI
# reference, both made from these.
EXIT_CODES = {
    0: "fine: nothing missing (show), it will load (audit), repaired or nothing to do (repair)",
    EXIT_MISSING: "libraries missing (show, repair; repair then writes nothing), findings (audit)",
    EXIT_BAD_INPUT: "an input or option cannot be used: one sentence on stderr, nothing written",
    EXIT_REPORT_LOST: (
        "the report could not be printed (stdout closed or full): what was done stands; a reader that "
        "stops early (| head) is not this: the output then ends quietly, with the command's own code"
    ),
    EXIT_INTERNAL: "a check of the tool's own work failed (a bug: please report it); nothing written",
}
ENVIRONMENT = {
    "PYODIDE_AUDITWHEEL_LIBDIR": "more library directories, searched after every --libdir (os.pathsep-separated)",
    "SOURCE_DATE_EPOCH": "the time of members a repair adds (default: the newest time in the input wheel)",
    "PYODIDE_AUDITWHEEL_PROGRESS_DELAY": (
        "seconds a repair runs before its progress bar appears on a terminal (default 1)"
    ),
    "COLUMNS": "the width of tables and lists when the output is not a terminal (default: wide enough for any name)",
    "PYODIDE_AUDITWHEEL_PORTABLE_IO": "1: write without O_TMPFILE and copy_file_range, as on macOS (for tests)",
}


class _Commands(TyperGroup):
    """Our command group.  click >= 8.2 suggests a command for a typo itself, and typer >= 0.16
    adds the same suggestion again ("Did you mean 'show'? Did you mean 'show'?"), whatever
    ``suggest_commands`` says once pyodide-cli mounts the app: click's lookup is used as it is."""

    if hasattr(click.exceptions, "NoSuchCommand"):
        resolve_command = click.Group.resolve_command

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        # Help and usage errors are printed while the context is made (also when pyodide-cli
        # mounts us): through the same stdout as our reports, without rich's trailing padding.
        if sys.stdout is not None and not isinstance(sys.stdout, _TrimmedLines):
            sys.stdout = cast(TextIO, _TrimmedLines(sys.stdout))
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


def _no_option_as_value(ctx: typer.Context, param: Any, value: Any) -> Any:
    """An option's value that starts with ``-`` is another option the user meant (as in
    ``--no-mangle -o out`` written for a tool where ``--no-mangle`` is a flag), not a value:
    refused, unless written ``--opt=-value`` (or ``-x-value``)."""
    for item in value if isinstance(value, (list, tuple)) else [value]:
        text = "" if item is None else str(item)
        if not text.startswith("-"):
            continue
        written = {f"{opt}={text}" if opt.startswith("--") else f"{opt}{text}" for opt in param.opts}
        if not written & set(sys.argv):
            name = max(param.opts, key=len)
            _error(f"{name} takes a value, and {text} looks like an option: write {name}={text} if it is the value.")
            raise typer.Exit(EXIT_BAD_INPUT)
    return value


# Paths are not checked by click (readable=False): our own checks say what is wrong in one
# sentence, the same way for the command line and the Python API.
LibdirOption = Annotated[
    list[Path],
    typer.Option(
        "--libdir",
        "-l",
        help="Directory (or Emscripten sysroot) to search for libraries; repeatable.",
        readable=False,
        callback=_no_option_as_value,
    ),
]
NoDiscoveryOption = Annotated[
    bool,
    typer.Option(
        "--no-discovery",
        help="Search only --libdir and PYODIDE_AUDITWHEEL_LIBDIR, not the directories the build announces "
        "(WASM_LIBRARY_DIR, pkg-config files, the emscripten sysroot, absolute RUNTIME_PATH entries).",
    ),
]
ExcludeOption = Annotated[
    list[str],
    typer.Option(
        "--exclude", "-e", help="Glob of library names never to vendor; repeatable.", callback=_no_option_as_value
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON for scripts (schema in pyodide_auditwheel/schemas).")
]


# Set when the reader of stdout stopped reading (``| head``): the rest of the report goes to
# the null device, and the command ends with its own exit code, quietly.
_READER_GONE: list[bool] = []


def _reader_gone() -> bool:
    return bool(_READER_GONE)


class _TrimmedLines:
    """stdout without the spaces rich leaves at the end of a wrapped line, which a CI log
    keeps (the ANSI codes of a terminal may follow them).

    A closed pipe is the reader's choice, not a failure: its ``EPIPE`` is taken here, before
    rich's own handler would turn it into exit 1 (which means "libraries missing")."""

    TRAILING = re.compile(r"[ \t]+(?=(?:\x1b\[[0-9;]*m)*\n)")

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            self.stream.write(self.TRAILING.sub("", text))
        except BrokenPipeError:
            _stop_writing_to_the_pipe(self.stream)
        return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            _stop_writing_to_the_pipe(self.stream)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _stop_writing_to_the_pipe(stream: Any) -> None:
    """The reader is gone: stdout's descriptor becomes the null device (so that what is still
    buffered, and the interpreter's last flush, go nowhere instead of failing again)."""
    _READER_GONE.append(True)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


# The options given before the command (`pyodide-auditwheel -q repair …`, as pypa/auditwheel
# takes them): -v adds every command's notes, -q keeps only errors, warnings and --json.
_GLOBAL = {"verbose": False, "quiet": False}


def _stdout() -> Console:
    """Tables for people; when piped (CI logs), wide enough that names are not folded, unless
    COLUMNS says how wide."""
    return Console(
        file=cast(TextIO, _TrimmedLines(sys.stdout)),
        highlight=False,
        width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 240,
        quiet=_GLOBAL["quiet"],
    )


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _error(message: str) -> None:
    _stderr().print(error_line(message))


def about(path: Path, error: Exception) -> str:
    """``<path>: <what is wrong>``, without the path twice when the sentence names it."""
    message = str(error)
    return message if str(path) in message else f"{path}: {message}"


def exit_code_of(error: AuditwheelError) -> int:
    """2 for an input that cannot be used, 1 for missing libraries, 4 for a bug of ours."""
    if isinstance(error, InternalError):
        return EXIT_INTERNAL
    return EXIT_MISSING if isinstance(error, MissingLibrariesError) else EXIT_BAD_INPUT


def _fail(error: Exception, code: int = EXIT_BAD_INPUT) -> NoReturn:
    _error(str(error) or type(error).__name__)
    raise typer.Exit(code)


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
        _stderr().print(
            inert(
                f"note: pyodide-auditwheel {__version__} is answering; {', '.join(others)} also registers "
                "`pyodide auditwheel`, and the one pyodide-cli loads last (in sys.path order) answers: run "
                "`pyodide-auditwheel` to always get this one.",
                "yellow",
            ),
            soft_wrap=True,
        )


def _safe_streams() -> None:
    """Output that cannot fail for its characters: a stream whose encoding cannot hold a
    character (``PYTHONIOENCODING=ascii``) writes it as an escape; a closed stdout (``>&-``)
    becomes the null device, and the report is lost, not the work."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))
            if name == "stdout":
                _REPORT_LOST.append("stdout is closed")
        elif hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


REPORT_ERRNOS = (errno.ENOSPC, errno.EPIPE, errno.EIO, errno.EDQUOT, errno.EBADF)
# Why this run's report could not be printed (set once, when it happens).
_REPORT_LOST: list[str] = []


def _report_lost(error: BaseException | None = None) -> NoReturn:
    """One line on stderr and exit 3: the command did its work, its report is lost.  stdout is
    replaced by the null device, so the interpreter's last flush cannot fail again."""
    reason = _REPORT_LOST[0] if _REPORT_LOST else getattr(error, "strerror", None) or str(error)
    sys.stdout = open(os.devnull, "w", encoding="utf-8")
    try:
        _error(f"the report could not be printed ({reason}); what the command did stands.")
    except (OSError, ValueError):
        pass
    raise typer.Exit(EXIT_REPORT_LOST)


def _stdout_fails() -> bool:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _stop_writing_to_the_pipe(sys.stdout)
    except (OSError, ValueError):
        return True
    return bool(_REPORT_LOST)


F = TypeVar("F", bound=Callable[..., None])


def _reports_safely(command: F) -> F:
    """A command whose report fails (stdout full or closed) after it did its work (an in-place
    repair, say) ends with one line and exit 3, never a traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except typer.Exit as done:
            # An unusable input (2) said so on stderr: its code stands.
            if done.exit_code != EXIT_BAD_INPUT and _stdout_fails():
                _report_lost()
            raise
        except BrokenPipeError:
            _stop_writing_to_the_pipe(sys.stdout)  # printed without the wrapper: as above
            raise typer.Exit(0) from None
        except (OSError, ValueError) as error:
            # Every other I/O error is translated into one sentence where it happens (reading
            # inputs, writing the wheel): a raw one comes from printing the report.
            if _stdout_fails() or getattr(error, "errno", None) in REPORT_ERRNOS:
                _report_lost(error)
            raise
        if _stdout_fails():
            _report_lost()

    return cast(F, run)


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
    _GLOBAL.update(verbose=verbose, quiet=quiet)
    _safe_streams()
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


VerboseOption = Annotated[
    bool,
    typer.Option(
        "--verbose",
        "-v",
        help="Explain resolution: files passed over and why, where missing libraries were looked for.",
    ),
]


PlatOption = Annotated[
    str | None,
    typer.Option(
        "--plat",
        help="Platform tag of the runtime to audit against (default: the wheel's own tag).",
        callback=_no_option_as_value,
    ),
]


@app.command()
@_reports_safely
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
    console = _stdout()
    outcome = _Outcome(as_json)
    # Tags and libraries only: show reads module heads, the symbol audit reads more.
    inputs = expand_wheelhouses(inputs)  # the other wheels may hold a library one needs
    for report in outcome.reports(
        inputs,
        lambda path: api_audit(
            path, libdir, exclude, plat, check_symbols=False, discover=not no_discovery, companions=inputs
        ),
    ):
        analysis = report.analysis
        if analysis.missing:
            outcome.worst = max(outcome.worst, EXIT_MISSING)
        if as_json:
            outcome.documents.append(analysis_json(analysis, report))
        else:
            render_analysis(console, analysis, with_runtime_paths, list_all, report)
            if verbose or _GLOBAL["verbose"]:
                render_notes(console, analysis.notes)
    outcome.finish()


def expand_wheelhouses(paths: list[Path]) -> list[Path]:
    """A directory that holds wheels and no ``.dist-info`` (a wheelhouse: ``dist/``) stands
    for its wheels, in name order; an unpacked wheel directory is one input, as before."""
    expanded: list[Path] = []
    for path in paths:
        if path.is_dir() and not any(path.glob("*.dist-info")):
            wheels = sorted(child for child in path.glob("*.whl") if child.is_file())
            if wheels:
                expanded += wheels
                continue
        expanded.append(path)
    return expanded


class _Outcome:
    """What a command over several inputs prints at the end (its JSON document) and its exit
    code; an input that cannot be used is one line (or one JSON entry) and the rest go on."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.documents: list[dict[str, Any]] = []
        self.worst = 0

    def reports(self, inputs: list[Path], make: Callable[[Path], AuditReport]) -> Iterator[AuditReport]:
        for path in inputs:
            try:
                report = make(path)
            except AuditwheelError as error:
                self.worst = max(self.worst, exit_code_of(error))
                if self.as_json:
                    self.documents.append({"input": str(path), "error": str(error)})
                else:
                    _error(about(path, error))
                continue
            yield report

    def finish(self) -> NoReturn:
        if self.as_json:
            sys.stdout.write(json.dumps(document(self.documents), indent=2) + "\n")
        raise typer.Exit(self.worst)


@app.command()
@_reports_safely
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
    from ..policy import target_abi

    if plat is not None:
        try:
            target_abi(plat)
        except AuditwheelError as error:
            _fail(error)
    console = _stdout()
    outcome = _Outcome(as_json)
    inputs = expand_wheelhouses(inputs)  # the other wheels may hold a library one needs
    for report in outcome.reports(
        inputs, lambda path: api_audit(path, libdir, exclude, plat, discover=not no_discovery, companions=inputs)
    ):
        if not report.loads:
            outcome.worst = max(outcome.worst, EXIT_MISSING)
        if as_json:
            outcome.documents.append(audit_json(report))
        else:
            render_audit(console, report)
            if verbose or _GLOBAL["verbose"]:
                render_notes(console, report.analysis.notes)
    outcome.finish()


@app.command()
@_reports_safely
def repair(
    wheels: Annotated[list[Path], typer.Argument(readable=False, metavar="WHEEL...")],
    libdir: LibdirOption = [],  # noqa: B006
    exclude: ExcludeOption = [],  # noqa: B006
    no_discovery: NoDiscoveryOption = False,
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir",
            "-o",
            "--wheel-dir",
            "-w",
            help="Write repaired wheels here (created if missing) instead of in place.",
            readable=False,
            callback=_no_option_as_value,
        ),
    ] = None,
    lib_sdir: Annotated[
        str | None,
        typer.Option(
            "--lib-sdir",
            "-L",
            help=(
                "Directory for vendored libraries (default: DIST.libs, DIST the name before the wheel's "
                "first dash); a value starting with '.' is a suffix to DIST, as in pypa/auditwheel."
            ),
            callback=_no_option_as_value,
        ),
    ] = None,
    # A flag, as in auditwheel-emscripten (--mangle/--no-mangle): its users write
    # `--no-mangle -o out`; the per-library globs have a spelling of their own.
    mangle: Annotated[
        bool,
        typer.Option(
            "--mangle/--no-mangle", help="Give vendored libraries content-hashed names (default) or keep their names."
        ),
    ] = True,
    no_mangle_name: Annotated[
        list[str],
        typer.Option(
            "--no-mangle-name",
            help="Keep this library's name (glob; repeatable).",
            callback=_no_option_as_value,
        ),
    ] = [],  # noqa: B006
    no_mangle_all: Annotated[
        bool, typer.Option("--no-mangle-all", help="Keep every vendored library's name (as --no-mangle).")
    ] = False,
    strip: Annotated[
        bool, typer.Option("--strip", help="Drop name and .debug_* sections from vendored libraries.")
    ] = False,
    strip_wheel_modules: Annotated[
        bool, typer.Option("--strip-wheel-modules", help="Also strip the wheel's own modules.")
    ] = False,
    no_sbom: Annotated[
        bool,
        typer.Option("--no-sbom", help="Do not write the SBOM of vendored libraries (.dist-info/sboms/, PEP 770)."),
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan, write nothing.")] = False,
    verify_record: Annotated[bool, typer.Option("--verify-record", help="Check every member against RECORD.")] = False,
    allow_bad_record: Annotated[
        bool, typer.Option("--allow-bad-record", help="Repair even when RECORD hashes do not match.")
    ] = False,
    plat: Annotated[
        str | None,
        typer.Option(
            "--plat",
            help=(
                "Write the wheel under this platform tag of its own ABI (e.g. pyemscripten_2025_0_wasm32 "
                "for PyPI); refused unless the audit passes."
            ),
            callback=_no_option_as_value,
        ),
    ] = None,
    only_plat: Annotated[
        bool,
        typer.Option(
            "--only-plat",
            help="As in pypa/auditwheel: write only the --plat tag (what --plat does here anyway).",
        ),
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            help="Processes repairing several wheels at once (default: one per core for wheels of 16 MiB "
            "or more in all, else one).",
        ),
    ] = None,
    as_json: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Vendor missing libraries into the wheel and patch its modules so every runtime finds them.

    Each WHEEL is a .whl file, or a directory of them (dist/); with several, nothing is written
    unless every one can be repaired."""
    from ..rewriter.malloc import one_arena_for_all_threads
    from ..rewriter.plan import RepairOptions
    from ..rewriter.wheelhouse import repair_wheelhouse

    if only_plat and plat is None:
        _error("--only-plat writes only the --plat tag: give --plat TAG too.")
        raise typer.Exit(EXIT_BAD_INPUT)
    one_arena_for_all_threads()  # a setting for this whole process (and its workers): ours to make
    console = _stdout()
    options = RepairOptions(
        lib_sdir=lib_sdir,
        mangle=mangle and not no_mangle_all,
        no_mangle=tuple(no_mangle_name),
        strip=strip,
        strip_wheel_modules=strip_wheel_modules,
        sbom=not no_sbom,
    )
    wheels = expand_wheelhouses(wheels)
    request = RepairRequest(
        tuple(libdir),
        output_dir,
        tuple(exclude),
        options,
        verify_record,
        allow_bad_record,
        plat,
        discover=not no_discovery,
    )
    with _ProgressBar(wheels[0] if len(wheels) == 1 else None) as hook:
        outcome = repair_wheelhouse(wheels, request, dry_run=dry_run, jobs=jobs, progress=hook)
    worst = max((exit_code_of(refusal.error) for refusal in outcome.refusals), default=0)
    for refusal in outcome.refusals:
        _error(about(refusal.input, refusal.error))
    if not outcome.written and len(wheels) > 1:
        _error(f"nothing was written: {len(outcome.refusals)} of {len(wheels)} inputs cannot be repaired.")
    if as_json:
        order = {str(path): index for index, path in enumerate(wheels)}
        entries = sorted(_repair_entries(outcome), key=lambda entry: order.get(entry["input"], len(order)))
        sys.stdout.write(json.dumps(envelope("inputs", entries), indent=2) + "\n")
        raise typer.Exit(worst)
    if not outcome.written:
        raise typer.Exit(worst)
    for result in outcome.repaired:
        render_repair(console, result, dry_run)
        if verbose or _GLOBAL["verbose"]:
            render_notes(console, result.notes)
    for entry in outcome.passed_over:
        copied = f"; copied to {entry.copied_to}" if entry.copied_to else ""
        console.print(inert(f"{entry.input}: {entry.reason}, passed over{copied}"), soft_wrap=True)
    if len(wheels) > 1:
        console.print(inert(wheelhouse_summary(list(outcome.repaired), dry_run)), style="bold", soft_wrap=True)
    for sentence in different_builds(list(outcome.repaired)):
        _stderr().print(warning_line(sentence), soft_wrap=True)
    raise typer.Exit(worst)


NOT_WRITTEN = "not written: with several inputs, nothing is written unless every one can be repaired."


def _repair_entries(outcome: WheelhouseResult) -> list[dict[str, Any]]:
    """The JSON entries of a repair call: each input's result, or why it was not written."""
    entries: list[dict[str, Any]] = []
    for refusal in outcome.refusals:
        entry: dict[str, Any] = {"input": str(refusal.input), "error": str(refusal.error)}
        if refusal.missing is not None:
            entry["missing"] = refusal.missing
        entries.append(entry)
    entries += [{"input": str(path), "error": NOT_WRITTEN} for path in outcome.not_written]
    return entries if not outcome.written else [repair_json(result) for result in outcome.repaired]


PROGRESS_DELAY_ENV = "PYODIDE_AUDITWHEEL_PROGRESS_DELAY"
PROGRESS_DELAY = 1.0  # seconds a repair runs before its bar appears
PROGRESS_STEP = 4 << 20  # bytes between two updates of the bar


class _ProgressBar:
    """A byte progress bar on stderr for long repairs: only when stderr is a terminal, only
    once the repair has run for PROGRESS_DELAY seconds (a quick repair shows none), and
    updated every PROGRESS_STEP bytes (the hook is called once per member)."""

    def __init__(self, wheel: Path | None) -> None:
        self.wheel = wheel
        self.bar: Progress | None = None

    def __enter__(self) -> Any:
        console = _stderr()
        if self.wheel is None or not console.is_terminal:
            return None
        try:
            total = self.wheel.stat().st_size
            delay = float(os.environ.get(PROGRESS_DELAY_ENV, PROGRESS_DELAY))
        except (OSError, ValueError):
            return None
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

        bar = Progress(
            TextColumn(visible(self.wheel.name), markup=False),
            BarColumn(),
            DownloadColumn(),
            console=console,
            transient=True,
        )
        task = bar.add_task("repair", total=total)
        shown_after = time.monotonic() + delay
        pending = 0

        def advance(size: int) -> None:
            nonlocal pending
            pending += size
            if self.bar is None:
                if time.monotonic() < shown_after:
                    return
                self.bar = bar
                bar.start()
            elif pending < PROGRESS_STEP:
                return
            bar.advance(task, pending)
            pending = 0

        return advance

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


def _interface_command(kind: str, paths: list[Path], show_type: bool) -> None:
    """The list, input by input (each headed ``# INPUT`` when there are several); an input
    that cannot be read is one line naming it, and the others are still listed (exit 2)."""
    inputs = expand_wheelhouses(paths)
    worst = 0
    for path in inputs:
        if _reader_gone():
            break  # as `nm | head`: the reader has what it wanted
        if len(inputs) > 1:
            typer.echo(f"# {visible(str(path))}")
        try:
            _list_interface(kind, path, show_type)
        except AuditwheelError as error:
            worst = max(worst, exit_code_of(error))
            _error(about(path, error))
    raise typer.Exit(worst)


def _list_interface(kind: str, path: Path, show_type: bool) -> None:
    for module, interface in api_interfaces(path):
        if _reader_gone():
            return
        entries = interface.exports if kind == "exports" else interface.imports
        typer.echo(f"{visible(module)}:")
        for entry in entries:
            name = entry.name if kind == "exports" else f"{entry.module}.{entry.field}"  # type: ignore[union-attr]
            suffix = f" {entry.type}" if show_type and entry.type is not None else ""
            typer.echo(f"\t{entry.kind}\t{visible(name)}{suffix}")


@app.command()
@_reports_safely
def exports(
    inputs: Annotated[list[Path], typer.Argument(readable=False, metavar="INPUT...")],
    show_type: Annotated[bool, typer.Option("--show-type", help="Print function signatures.")] = False,
) -> None:
    """List what each module exports (tab-separated: kind, name[, signature]).

    Each INPUT is a wheel, a module, an unpacked wheel or a directory of wheels (dist/)."""
    _interface_command("exports", inputs, show_type)


@app.command()
@_reports_safely
def imports(
    inputs: Annotated[list[Path], typer.Argument(readable=False, metavar="INPUT...")],
    show_type: Annotated[bool, typer.Option("--show-type", help="Print function signatures.")] = False,
) -> None:
    """List what each module imports (tab-separated: kind, module.field[, signature]).

    Each INPUT is a wheel, a module, an unpacked wheel or a directory of wheels (dist/)."""
    _interface_command("imports", inputs, show_type)
