"""``repair``: vendor what the wheels need and patch their modules, all or nothing, with a
progress bar for the long ones."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import InternalError
from .contract import EXIT_BAD_INPUT, exit_code_of
from .documents import envelope, repair_json
from .options import ExcludeOption, JsonOption, LibdirOption, NoDiscoveryOption, VerboseOption, no_option_as_value
from .output import SETTINGS, about, print_error, reports_safely, stderr_console, stdout_console
from .render import different_builds, render_repair, wheelhouse_summary
from .text import inert, render_notes, visible, warning_line

if TYPE_CHECKING:
    from rich.progress import Progress

    from ..api import WheelhouseResult


@reports_safely
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
            callback=no_option_as_value,
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
            callback=no_option_as_value,
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
            callback=no_option_as_value,
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
    zip_compression_level: Annotated[
        int,
        typer.Option(
            "--zip-compression-level",
            "-z",
            min=0,
            max=9,
            help="Deflate level (0-9) of the members the repair writes anew; those copied unchanged keep their bytes.",
        ),
    ] = 6,
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
            callback=no_option_as_value,
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
    from ..api import (  # loaded by the command that runs it
        RepairOptions,
        RepairRequest,
        expand_wheelhouses,
        one_arena_for_all_threads,
        repair_wheelhouse,
    )

    if only_plat and plat is None:
        print_error("--only-plat writes only the --plat tag: give --plat TAG too.")
        raise typer.Exit(EXIT_BAD_INPUT)
    one_arena_for_all_threads()  # a setting for this whole process (and its workers): ours to make
    console = stdout_console()
    options = RepairOptions(
        lib_sdir=lib_sdir,
        mangle=mangle and not no_mangle_all,
        no_mangle=tuple(no_mangle_name),
        strip=strip,
        strip_wheel_modules=strip_wheel_modules,
        sbom=not no_sbom,
        compression_level=zip_compression_level,
    )
    wheels = expand_wheelhouses(wheels)
    request = RepairRequest(
        libdirs=libdir,
        output_dir=output_dir,
        exclude=exclude,
        options=options,
        verify_record=verify_record,
        allow_bad_record=allow_bad_record,
        platform=plat,
        discover=not no_discovery,
    )
    with _ProgressBar(wheels[0] if len(wheels) == 1 else None) as hook:
        outcome = repair_wheelhouse(wheels, request, dry_run=dry_run, jobs=jobs, progress=hook)
    worst = max((exit_code_of(refusal.error) for refusal in outcome.refusals), default=0)
    for refusal in outcome.refusals:
        print_error(about(refusal.input, refusal.error))
    if not outcome.written and len(wheels) > 1:
        print_error(_not_written(outcome, len(wheels)))
    if as_json:
        order = {str(path): index for index, path in enumerate(wheels)}
        entries = sorted(_repair_entries(outcome), key=lambda entry: order.get(entry["input"], len(order)))
        sys.stdout.write(json.dumps(envelope("inputs", entries), indent=2) + "\n")
        raise typer.Exit(worst)
    if not outcome.written:
        raise typer.Exit(worst)
    for result in outcome.repaired:
        render_repair(console, result, dry_run)
        if verbose or SETTINGS["verbose"]:
            render_notes(console, result.notes)
    for entry in outcome.passed_over:
        copied = f"; copied to {entry.copied_to}" if entry.copied_to else ""
        console.print(inert(f"{entry.input}: {entry.reason}, passed over{copied}"), soft_wrap=True)
    if len(wheels) > 1:
        console.print(inert(wheelhouse_summary(list(outcome.repaired), dry_run)), style="bold", soft_wrap=True)
    for sentence in different_builds(list(outcome.repaired)):
        stderr_console().print(warning_line(sentence), soft_wrap=True)
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
        console = stderr_console()
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


def _not_written(outcome: WheelhouseResult, inputs: int) -> str:
    """What a refused call wrote: nothing, when a wheel was refused before any was written;
    some, when writing failed part way (a worker lost, a check of a written wheel)."""
    count = f"{len(outcome.refusals)} of {inputs} inputs"
    if outcome.repaired or any(isinstance(refusal.error, InternalError) for refusal in outcome.refusals):
        return f"not every wheel was repaired ({count} were not): each wheel is as it was or repaired whole."
    return f"nothing was written: {count} cannot be repaired."
