"""The options several commands share, as typer annotations, and the check that an option's
value is not another option the user meant."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .contract import EXIT_BAD_INPUT
from .output import print_error


def no_option_as_value(ctx: typer.Context, param: Any, value: Any) -> Any:
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
            print_error(
                f"{name} takes a value, and {text} looks like an option: write {name}={text} if it is the value."
            )
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
        callback=no_option_as_value,
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
        "--exclude", "-e", help="Glob of library names never to vendor; repeatable.", callback=no_option_as_value
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON for scripts (schema in pyodide_auditwheel/schemas).")
]


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
        callback=no_option_as_value,
    ),
]
