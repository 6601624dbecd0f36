"""Where the reports go, and what happens when they cannot: consoles, a reader that stops
early (``| head``), a stdout that is closed or full, an unusable input reported as one line.
Every command prints through these."""

from __future__ import annotations

import errno
import functools
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, TypeVar, cast

import typer
from rich.console import Console

from ..errors import AuditwheelError
from .contract import EXIT_BAD_INPUT, EXIT_REPORT_LOST, exit_code_of
from .documents import document
from .text import error_line

if TYPE_CHECKING:
    pass

# Set when the reader of stdout stopped reading (``| head``): the rest of the report goes to
# the null device, and the command ends with its own exit code, quietly.
_READER_GONE: list[bool] = []


def reader_gone() -> bool:
    return bool(_READER_GONE)


class TrimmedLines:
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
            stop_writing_to_the_pipe(self.stream)
        return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            stop_writing_to_the_pipe(self.stream)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def stop_writing_to_the_pipe(stream: Any) -> None:
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
SETTINGS = {"verbose": False, "quiet": False}


def stdout_console() -> Console:
    """Tables for people; when piped (CI logs), wide enough that names are not folded, unless
    COLUMNS says how wide."""
    return Console(
        file=cast(TextIO, TrimmedLines(sys.stdout)),
        highlight=False,
        width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 240,
        quiet=SETTINGS["quiet"],
    )


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def print_error(message: str) -> None:
    stderr_console().print(error_line(message))


def about(path: Path, error: Exception) -> str:
    """``<path>: <what is wrong>``, without the path twice when the sentence names it."""
    message = str(error)
    return message if str(path) in message else f"{path}: {message}"


def fail(error: Exception, code: int = EXIT_BAD_INPUT) -> NoReturn:
    print_error(str(error) or type(error).__name__)
    raise typer.Exit(code)


def safe_streams() -> None:
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
        print_error(f"the report could not be printed ({reason}); what the command did stands.")
    except (OSError, ValueError):
        pass
    raise typer.Exit(EXIT_REPORT_LOST)


def _stdout_fails() -> bool:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        stop_writing_to_the_pipe(sys.stdout)
    except (OSError, ValueError):
        return True
    return bool(_REPORT_LOST)


F = TypeVar("F", bound=Callable[..., None])
R = TypeVar("R")


def reports_safely(command: F) -> F:
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
            stop_writing_to_the_pipe(sys.stdout)  # printed without the wrapper: as above
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


class Outcome:
    """What a command over several inputs prints at the end (its JSON document) and its exit
    code; an input that cannot be used is one line (or one JSON entry) and the rest go on."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.documents: list[dict[str, Any]] = []
        self.worst = 0

    def reports(self, inputs: list[Path], make: Callable[[Path], R]) -> Iterator[R]:
        for path in inputs:
            try:
                report = make(path)
            except AuditwheelError as error:
                self.worst = max(self.worst, exit_code_of(error))
                if self.as_json:
                    self.documents.append({"input": str(path), "error": str(error)})
                else:
                    print_error(about(path, error))
                continue
            yield report

    def finish(self) -> NoReturn:
        if self.as_json:
            sys.stdout.write(json.dumps(document(self.documents), indent=2) + "\n")
        raise typer.Exit(self.worst)
