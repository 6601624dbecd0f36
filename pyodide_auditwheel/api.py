"""The Python API, the door for everything the command line does: ``show``, ``audit``,
``interfaces`` here; the repair of one wheel (:mod:`.rewriter.single`) and of several, all or
nothing (:mod:`.rewriter.wheelhouse`), handed on from where they are made."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from .errors import AuditwheelError
from .graph.analysis import Analysis, analyze_tree
from .graph.libsearch import search_path_for
from .wheel.inputs import PathLike, as_tuple, expand_wheelhouses, open_input

if TYPE_CHECKING:
    from .policy import AuditReport
    from .rewriter.malloc import one_arena_for_all_threads
    from .rewriter.options import RepairOptions
    from .rewriter.single import (
        PlannedRepair,
        RepairOutcome,
        RepairRequest,
        RepairResult,
        apply_each,
        apply_plan,
        repair,
        repair_each,
        repair_jobs,
    )
    from .rewriter.wheelhouse import WheelhouseResult, repair_wheelhouse
    from .verifier.run import VerifyReport
    from .wasm.sections import Interface

# The repair's names, handed on from the rewriter when first asked for: ``show`` and ``audit``
# never load the repair machinery (a tenth of a one-module show's time).
_FROM_THE_REWRITER = {
    "one_arena_for_all_threads": "malloc",
    "RepairOptions": "options",
    **dict.fromkeys(
        (
            "PlannedRepair",
            "RepairOutcome",
            "RepairRequest",
            "RepairResult",
            "apply_each",
            "apply_plan",
            "repair",
            "repair_each",
            "repair_jobs",
        ),
        "single",
    ),
    "WheelhouseResult": "wheelhouse",
    "repair_wheelhouse": "wheelhouse",
}


def __getattr__(name: str) -> object:
    import importlib

    room = _FROM_THE_REWRITER.get(name)
    if room is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".rewriter.{room}", __package__), name)
    globals()[name] = value
    return value


__all__ = [
    "PlannedRepair",
    "RepairOptions",
    "RepairOutcome",
    "RepairRequest",
    "RepairResult",
    "WheelhouseResult",
    "apply_each",
    "apply_plan",
    "audit",
    "check_platform",
    "expand_wheelhouses",
    "interfaces",
    "one_arena_for_all_threads",
    "repair",
    "repair_each",
    "repair_jobs",
    "repair_wheelhouse",
    "show",
    "verify",
    "verify_each",
]


def show(
    path: PathLike,
    *,
    libdirs: Sequence[PathLike] | PathLike = (),
    exclude: Sequence[str] | str = (),
    discover: bool = True,
    companions: Sequence[PathLike] | PathLike = (),
    platform: str | None = None,
) -> Analysis:
    """Analyse a wheel, an unpacked wheel directory or a single module.

    Each module's NEEDED libraries are classified as included (in the input, where the target
    runtime will look), found (in one of ``libdirs`` or ``$PYODIDE_AUDITWHEEL_LIBDIR``),
    excluded (matches a glob of ``exclude``) or missing.  One directory or one glob may be
    given alone.  ``platform``: resolve as that tag's runtime does, not the input's own.

    The ``show`` command prints this analysis, then the verdict of
    ``audit(..., check_symbols=False)``, whose ``analysis`` is this one.
    """
    search = search_path_for(as_tuple(libdirs, "libdirs"), discover, as_tuple(companions, "companions"), path)
    globs = [str(glob) for glob in as_tuple(exclude, "exclude")]
    abi = None
    if platform is not None:
        from .policy import target_abi

        abi = target_abi(platform)
    tree = open_input(Path(path))
    try:
        return analyze_tree(tree, search, globs, abi)
    finally:
        tree.close()


def interfaces(path: PathLike) -> Iterator[tuple[str, Interface]]:
    """Each module's imports and exports, with their signatures, streamed: read from the
    sections before the code (a module's first bytes), never its code and data, so a module
    of any size costs the memory of its declarations."""
    from .wasm.sections import read_interface_prefix

    tree = open_input(Path(path))
    try:
        for module in tree.module_paths():
            read = functools.partial(tree.read_prefix, module)
            interface, _prefix = read_interface_prefix(read, f"module {module}", signatures=True)
            yield module, interface
    finally:
        tree.close()


def audit(
    path: PathLike,
    *,
    libdirs: Sequence[PathLike] | PathLike = (),
    exclude: Sequence[str] | str = (),
    platform: str | None = None,
    check_symbols: bool = True,
    discover: bool = True,
    companions: Sequence[PathLike] | PathLike = (),
) -> AuditReport:
    """Whether the input will load on the runtime its tag names (or ``platform``'s).

    Findings are returned, not raised: an unknown tag, a Python tag that does not fit, a missing
    library, an import nothing provides.  Unusable input raises :class:`AuditwheelError`.
    """
    from .policy import audit_tree

    search = search_path_for(as_tuple(libdirs, "libdirs"), discover, as_tuple(companions, "companions"), path)
    globs = [str(glob) for glob in as_tuple(exclude, "exclude")]
    tree = open_input(Path(path))
    try:
        return audit_tree(tree, search, globs, platform, check_symbols=check_symbols)
    finally:
        tree.close()


def verify(
    path: PathLike,
    *,
    runtime: PathLike | None = None,
    pyodide: str | None = None,
    before: Sequence[PathLike] | PathLike = (),
    timeout: float | None = None,
) -> VerifyReport:
    """Run the wheel in a real Pyodide under Node: install it as that release installs
    packages, import each top-level package, load each extension module the imports did not
    reach, and count the copies of each library; beside each, what :func:`audit` predicted.

    This runs the wheel's own code (see :mod:`pyodide_auditwheel.verifier.run`).  ``runtime``:
    the folder of an installed npm ``pyodide`` (else ``$PYODIDE_AUDITWHEEL_RUNTIME``);
    ``pyodide``: a release to install with npm into the user's cache; by default, the newest
    release of the ABI the wheel's tag names.  ``before``: wheels installed first (its
    dependencies), not verified.  ``timeout``: seconds for the whole run (default 120).
    Raises :class:`~pyodide_auditwheel.errors.RuntimeUnavailableError` when there is no
    Node, npm or runtime, :class:`AuditwheelError` for a file that is not a wheel.
    """
    (outcome,) = verify_each([path], runtime=runtime, pyodide=pyodide, before=before, timeout=timeout)
    if isinstance(outcome, AuditwheelError):
        raise outcome
    return outcome


def verify_each(
    paths: Sequence[PathLike],
    *,
    runtime: PathLike | None = None,
    pyodide: str | None = None,
    before: Sequence[PathLike] | PathLike = (),
    timeout: float | None = None,
    jobs: int | None = None,
) -> list[VerifyReport | AuditwheelError]:
    """:func:`verify` of several wheels, in the order given: for each, its report, or the
    error that made it unusable (the others go on).  The wheels that run in one runtime share
    Node processes, up to eight wheels to a process, one after another, each in a Pyodide
    instance of its own: they share the process (its JavaScript globals, its environment)
    and the runtime's compiled code, not Python, the file system or the loader's tables.  A
    wheel that hangs or ends Node ends its process; the wheels after it get a new one.
    ``jobs``: Node processes at once (by default one per core, at most four).
    """
    import os

    from .verifier.run import DEFAULT_TIMEOUT, PreparedWheel, prepare, resolved_runtime, verify_prepared
    from .verifier.runtimes import Runtime, check_node
    from .wheel.names import WheelName

    outcomes: list[VerifyReport | AuditwheelError | None] = [None] * len(paths)
    extra = [Path(item) for item in as_tuple(before, "before")]
    groups: dict[Path, tuple[Runtime, list[tuple[int, PreparedWheel]]]] = {}
    node: str | None = None
    for index, path in enumerate(paths):
        wheel = Path(path)
        try:
            if not wheel.is_file() or wheel.suffix != ".whl":
                if wheel.is_dir():
                    open_input(wheel).close()  # an empty dist/ is "no wheels in", as for every command
                raise AuditwheelError(f"cannot verify {wheel}: verify takes .whl files.")
            node = node or check_node(os.environ)
            abis = WheelName.parse(wheel.name).abis
            chosen = resolved_runtime(Path(runtime) if runtime is not None else None, pyodide, abis, os.environ)
            prepared = prepare(wheel, chosen, before=extra)
        except AuditwheelError as error:
            outcomes[index] = error
            continue
        groups.setdefault(chosen.directory, (chosen, []))[1].append((index, prepared))
    for chosen, members in groups.values():
        assert node is not None  # a wheel was prepared
        try:
            wheels = [prepared for _, prepared in members]
            reports = verify_prepared(wheels, chosen, node, timeout=timeout or DEFAULT_TIMEOUT, jobs=jobs)
        except AuditwheelError as error:
            for index, _ in members:
                outcomes[index] = error
            continue
        for (index, _), report in zip(members, reports, strict=True):
            outcomes[index] = report
    return cast("list[VerifyReport | AuditwheelError]", outcomes)  # every input has its outcome


def check_platform(platform: str) -> None:
    """Refuse a ``--plat`` tag that names no known Emscripten ABI (one sentence, raised as
    :class:`AuditwheelError`), before any input is read: a typo is one error, not one per
    wheel."""
    from .policy import target_abi

    target_abi(platform)
