"""What a CI script can rely on: the exit codes and the environment variables the tool reads.
``--help`` and the docs' CLI reference are made from these tables."""

from __future__ import annotations

from ..errors import AuditwheelError, InternalError, MissingLibrariesError

EXIT_MISSING = 1
EXIT_BAD_INPUT = 2
EXIT_REPORT_LOST = 3
EXIT_INTERNAL = 4
EXIT_CODES = {
    0: "fine: nothing missing (show), it will load (audit), repaired or nothing to do (repair), it loaded (verify)",
    EXIT_MISSING: (
        "libraries missing (show, repair; repair then writes nothing), findings (audit), "
        "an import failed or a library loaded twice (verify)"
    ),
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
    "PYODIDE_AUDITWHEEL_RUNTIME": "verify: the installed npm pyodide package to run in, when --runtime is not given",
    "PYODIDE_AUDITWHEEL_CACHE": "verify: where releases are installed (default $XDG_CACHE_HOME/pyodide-auditwheel)",
}


def exit_code_of(error: AuditwheelError) -> int:
    """2 for an input that cannot be used, 1 for missing libraries, 4 for a bug of ours."""
    if isinstance(error, InternalError):
        return EXIT_INTERNAL
    return EXIT_MISSING if isinstance(error, MissingLibrariesError) else EXIT_BAD_INPUT
