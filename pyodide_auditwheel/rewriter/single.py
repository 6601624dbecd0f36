"""One wheel's repair, as the API offers it: the request, the planned and the written result,
and the helpers that run it for each wheel of a call (on worker processes where that pays).
The all-or-nothing repair of several wheels (:mod:`.wheelhouse`) is built on these."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar, overload

from ..errors import AuditwheelError, NotAWheelError
from ..graph.analysis import Analysis, analyze_tree, library_twins
from ..graph.libsearch import search_path_for
from ..policy import LoaderAnalysis, analyses_by_other_loaders
from ..wheel.inputs import PathLike, WheelArchive, as_tuple, open_input

if TYPE_CHECKING:
    from .apply import ProgressHook
    from .options import RepairOptions
    from .plan import RepairPlan


@dataclass(frozen=True, kw_only=True)
class RepairRequest:
    """Everything :func:`repair` takes besides the wheel.  One request serves every wheel of
    a call, and is sent as it is to the worker processes of :func:`repair_each`; its
    sequences are kept as tuples, so it can be shared.  Made by keyword only; one directory
    or one glob may be given alone.

    Attributes:
        libdirs: the directories looked in first for the libraries a module needs.
        output_dir: where the repaired wheel is written (None: in place).
        exclude: globs of library names left out: the runtime provides them.
        options: how the vendored libraries are laid out (:class:`RepairOptions`).
        verify_record: check every member against RECORD, not only those rewritten.
        allow_bad_record: repair even so when RECORD is wrong, and say where.
        platform: a platform tag to retag to (it must name the wheel's ABI).
        discover: after ``libdirs``, look where the build announces its libraries.
        companions: the other wheels of the call, looked in last (a library one needs may be
            in another).
    """

    libdirs: Sequence[PathLike] = ()
    output_dir: PathLike | None = None
    exclude: Sequence[str] = ()
    options: RepairOptions | None = None
    verify_record: bool = False
    allow_bad_record: bool = False
    platform: str | None = None
    discover: bool = True
    companions: Sequence[PathLike] = ()

    def __post_init__(self) -> None:
        for name in ("libdirs", "exclude", "companions"):
            object.__setattr__(self, name, as_tuple(getattr(self, name), name))


@dataclass(frozen=True)
class PlannedRepair:
    """One wheel's repair, decided and not written: what :func:`repair` returns with
    ``dry_run``, and what :func:`apply_plan` writes.

    Attributes:
        input: the wheel to repair.
        plan: what the repair does.
        changed: whether writing it changes the wheel.
        platform: the platform tag it writes, when it retags.
        notes: what ``-v`` shows: files passed over, where missing libraries were looked for.
        copies_left: when the plan changes nothing, the libraries a runtime the tags name
            still loads more than once (what no repair can fix, such as a NEEDED entry spelt
            as a relative path).
        input_identity: (device, inode, size, mtime in ns) of the input the plan was made
            from: it is applied only to that same file, unchanged.
        output, stripped_bytes, record_problems, removed_input: what a planned repair has
            not done yet (None, 0, none, None), as :class:`RepairResult` names what it did.
    """

    input: Path
    plan: RepairPlan
    changed: bool
    platform: str | None = None
    notes: tuple[str, ...] = ()
    copies_left: tuple[str, ...] = ()
    input_identity: tuple[int, int, int, int] | None = None

    output: None = None
    stripped_bytes: int = 0
    record_problems: tuple[str, ...] = ()
    removed_input: None = None


@dataclass(frozen=True)
class RepairResult:
    """One wheel's repair, written.

    Attributes:
        planned: the repair as it was decided.
        output: the wheel written (the input itself, for an in-place repair).
        changed: whether the output differs from the input.
        stripped_bytes: what ``--strip`` took out.
        record_problems: the RECORD rows ``--allow-bad-record`` let through.
        removed_input: after an in-place retag, the input under its old tag, removed once
            the new wheel was written.
    """

    planned: PlannedRepair
    output: Path
    changed: bool
    stripped_bytes: int = 0
    record_problems: tuple[str, ...] = ()
    removed_input: Path | None = None

    @property
    def input(self) -> Path:
        return self.planned.input

    @property
    def plan(self) -> RepairPlan:
        return self.planned.plan

    @property
    def platform(self) -> str | None:
        return self.planned.platform

    @property
    def notes(self) -> tuple[str, ...]:
        return self.planned.notes

    @property
    def copies_left(self) -> tuple[str, ...]:
        return self.planned.copies_left


# What one wheel's repair call hands back: planned (a dry run), or written.
RepairOutcome = PlannedRepair | RepairResult


def _identity(tree: WheelArchive) -> tuple[int, int, int, int]:
    status = os.fstat(tree.file.fileno())
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns


@overload
def repair(
    wheel: PathLike,
    request: RepairRequest | None = None,
    *,
    dry_run: Literal[False] = False,
    progress: ProgressHook | None = None,
) -> RepairResult: ...


@overload
def repair(
    wheel: PathLike,
    request: RepairRequest | None = None,
    *,
    dry_run: Literal[True],
    progress: ProgressHook | None = None,
) -> PlannedRepair: ...


@overload
def repair(
    wheel: PathLike, request: RepairRequest | None = None, *, dry_run: bool, progress: ProgressHook | None = None
) -> RepairOutcome: ...


def repair(
    wheel: PathLike,
    request: RepairRequest | None = None,
    *,
    dry_run: bool = False,
    progress: ProgressHook | None = None,
) -> RepairOutcome:
    """Make ``wheel`` self-contained, as ``request`` asks (by default: in place, the
    libraries looked for by discovery alone).

    Raises :class:`~pyodide_auditwheel.errors.MissingLibrariesError` (listing all of them) and
    writes nothing when a library cannot be found.  With ``dry_run`` only the plan is made
    (:func:`apply_plan` writes it).  A ``request.platform`` retags the wheel (see
    :func:`~pyodide_auditwheel.rewriter.retag.checked_retag`); the retagged wheel gets its new name,
    in ``output_dir``, or in place: beside the input, which is then removed (so that
    ``twine upload dist/*`` does not upload the old tag too).
    """
    # Imported here so that `show` does not load the repair machinery.
    from .options import RepairOptions
    from .plan import libraries_that_move, make_plan, with_sbom
    from .retag import checked_retag

    request = request or RepairRequest()
    output_dir, exclude, platform = request.output_dir, request.exclude, request.platform
    source_path = Path(wheel)
    if source_path.suffix != ".whl":
        if source_path.is_dir():
            open_input(source_path).close()  # an empty dist/ is "no wheels in", not "not a wheel"
        raise NotAWheelError(source_path)
    if source_path.is_dir():
        raise AuditwheelError(f"cannot repair {source_path}: it is not a wheel file.")
    if output_dir is not None and os.path.lexists(output_dir) and not os.path.isdir(output_dir):
        raise AuditwheelError(
            f"cannot write to {output_dir}: it exists and is not a directory; the output location must be a directory "
            "(it is made if it does not exist)."
        )
    tree = open_input(source_path)
    if not isinstance(tree, WheelArchive):
        raise AuditwheelError(f"cannot repair {source_path}: it is not a wheel file.")
    try:
        tree.check_dist_info()
        search = search_path_for(request.libdirs, request.discover, request.companions, wheel)
        if platform is None:
            analysis, retag = analyze_tree(tree, search, exclude), None
            sweep = analyses_by_other_loaders(tree, search, exclude, analysis.abi)
        else:  # the audit of the retagged wheel made the sweep
            analysis, sweep, retag = checked_retag(tree, search, exclude, platform)
        options = request.options or RepairOptions()
        unreachable = _unreachable_elsewhere(analysis, sweep)
        abis = tree.wheel.abis if tree.wheel is not None else ()
        twins = library_twins(tree, analysis, also=libraries_that_move(analysis, abis) | unreachable)
        plan = make_plan(analysis, options, retag=retag, names=tree, abis=abis, twins=twins, unreachable=unreachable)
        name = retag.filename if retag is not None else source_path.name
        if options.sbom:
            plan = with_sbom(plan, tree, name)
        output_path(source_path, name, output_dir)  # refused now, before any wheel of a call is written
        copies_left = _copies_left(tree, analysis, sweep) if plan.is_noop else ()
        planned = PlannedRepair(
            source_path,
            plan,
            not plan.is_noop,
            platform=platform,
            notes=analysis.notes,
            copies_left=copies_left,
            input_identity=_identity(tree),
        )
        if dry_run:
            return planned
        return _write(tree, planned, request, progress)
    finally:
        tree.close()


def apply_plan(
    planned: PlannedRepair, request: RepairRequest | None = None, *, progress: ProgressHook | None = None
) -> RepairResult:
    """Write the repair a ``dry_run`` of :func:`repair` planned, without planning it again;
    refused (nothing written) if the input is no longer the file the plan was made from.  Of
    ``request``, what says how to write counts (``output_dir``, ``verify_record``,
    ``allow_bad_record``): what the plan decided stays decided."""
    tree = open_input(planned.input)
    try:
        if not isinstance(tree, WheelArchive) or _identity(tree) != planned.input_identity:
            raise AuditwheelError(
                f"not repaired: {planned.input} changed after its repair was planned; run the repair again."
            )
        return _write(tree, planned, request or RepairRequest(), progress)
    finally:
        tree.close()


def _write(
    tree: WheelArchive, planned: PlannedRepair, request: RepairRequest, progress: ProgressHook | None
) -> RepairResult:
    from .apply import WheelRewriter

    source_path, plan = planned.input, planned.plan
    name = plan.retag.filename if plan.retag is not None else source_path.name
    # In place under a new name (a retag): the new wheel replaces the input, which is removed
    # once the new one is whole and on disk (a crash in between leaves both, never neither).
    retagged_in_place = request.output_dir is None and name != source_path.name
    output = output_path(source_path, name, request.output_dir)
    rewriter = WheelRewriter(
        tree,
        plan,
        verify_record=request.verify_record,
        allow_bad_record=request.allow_bad_record,
        progress=progress,
        replaces_input=retagged_in_place,
    )
    outcome = rewriter.write(output)
    removed = None
    if retagged_in_place:
        try:
            source_path.unlink()
        except OSError as error:
            raise AuditwheelError(
                f"wrote {output}, but cannot remove {source_path} (the wheel under its old tag): "
                f"{error.strerror or error}; remove it before uploading."
            ) from None
        removed = source_path
    return RepairResult(
        planned,
        output=outcome.output,
        changed=outcome.changed,
        stripped_bytes=outcome.stripped_bytes,
        record_problems=outcome.record_problems,
        removed_input=removed,
    )


def output_path(source_path: Path, name: str, output_dir: PathLike | None) -> Path:
    """The file a repair writes: ``name`` in ``output_dir``; in place, the input itself (a
    symbolic link to a wheel stays a link, and its target is repaired), or beside it under a
    new name.  An output name that is a symbolic link loop is refused here, at plan time, in
    one sentence on every Python (``Path.resolve`` raises RuntimeError on some, OSError on
    others, nothing on 3.13)."""
    if output_dir is not None:
        output = Path(output_dir) / name
    elif name == source_path.name:
        output = source_path
    else:
        output = source_path.with_name(name)
    try:
        os.stat(output)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise AuditwheelError(f"cannot write {output}: it is a symbolic link loop.") from None
    return output.resolve() if output is source_path else output


# A wheelhouse smaller than this is repaired in this process: starting workers would cost
# more than they save (the wheels of a cibuildwheel run are small).
PARALLEL_MIN_BYTES = 16 << 20


def repair_jobs(wheels: Sequence[PathLike], jobs: int | None = None) -> int:
    """How many processes repair these wheels: ``jobs`` if given, else one per core for a
    wheelhouse of several wheels holding at least PARALLEL_MIN_BYTES, else one."""
    if jobs is not None:
        return max(1, min(jobs, len(wheels)))
    if len(wheels) < 2:
        return 1
    total = 0
    for wheel in wheels:
        try:
            total += os.stat(wheel).st_size
        except OSError:
            continue
    from ..wheel.atomic import usable_cores

    return min(usable_cores(), len(wheels)) if total >= PARALLEL_MIN_BYTES else 1


def _repair_or_refusal(wheel: PathLike, request: RepairRequest, dry_run: bool) -> RepairOutcome | AuditwheelError:
    """One wheel's repair, or the error that refuses it (returned, so that a worker process
    hands it back like a result)."""
    try:
        return repair(wheel, request, dry_run=dry_run)
    except AuditwheelError as error:
        return error


def _apply_or_refusal(planned: PlannedRepair, request: RepairRequest) -> RepairResult | AuditwheelError:
    try:
        return apply_plan(planned, request)
    except AuditwheelError as error:
        return error


def repair_each(
    wheels: Sequence[PathLike], request: RepairRequest, *, dry_run: bool = False, jobs: int = 1
) -> Iterator[RepairOutcome | AuditwheelError]:
    """Each wheel's :func:`repair` (or the error refusing it), in input order, on ``jobs``
    processes (see :func:`repair_jobs`).  Each wheel is written atomically by its own process;
    Ctrl-C reaches every worker (they share the terminal's process group), and a SIGTERM to
    this process is passed on to them (see :mod:`.workers`)."""
    return _each(_repair_or_refusal, list(wheels), (request, dry_run), jobs)


def apply_each(
    plans: Sequence[PlannedRepair], request: RepairRequest, *, jobs: int = 1
) -> Iterator[RepairResult | AuditwheelError]:
    """:func:`apply_plan` for each of the dry runs :func:`repair_each` returned, as it runs."""
    return _each(_apply_or_refusal, list(plans), (request,), jobs)


T = TypeVar("T")


R = TypeVar("R")


def _each(function: Callable[..., R], items: list[T], shared: tuple[object, ...], jobs: int) -> Iterator[R]:
    if jobs <= 1 or len(items) <= 1:
        for item in items:
            yield function(item, *shared)
        return
    from .workers import worker_pool

    with worker_pool(jobs) as pool:
        yield from pool.map(function, items, *([value] * len(items) for value in shared))


def _copies_left(tree: WheelArchive, analysis: Analysis, sweep: Sequence[LoaderAnalysis]) -> tuple[str, ...]:
    """For a wheel the plan leaves as it is: each library that a loader the wheel's tags name
    (an ABI's, or a release's within one) loads twice."""
    from ..graph.analysis import predict_install
    from ..policy import duplicate_findings

    if not tree.abi.known:
        return ()
    left = []
    for loader, resolved in [
        (f"{tree.abi.name}'s loader", analysis),
        *((each.loader, each.analysis) for each in sweep),
    ]:
        outcome = predict_install(tree, resolved)
        if outcome is not None:
            left += [f"{finding.subject} ({loader})" for finding in duplicate_findings(tree, resolved, outcome)]
    return tuple(dict.fromkeys(left))


def _unreachable_elsewhere(analysis: Analysis, sweep: Sequence[LoaderAnalysis]) -> set[str]:
    """The wheel's libraries that the analysis' loader finds for a module but another loader
    the wheel's tags name does not find in the wheel (0.27 looks in the directories under a
    module's, 0.26 and 0.28+ do not; a libdir copy found instead would be a second one): the
    repair moves them where every loader looks."""
    if not analysis.abi.known:
        return set()
    found_here = {
        (edge.user.path, edge.dependency.name): edge.target
        for edge in analysis.graph.edges
        if edge.in_wheel and edge.user.origin == "wheel"
    }
    unreachable = set()
    for elsewhere in (each.analysis for each in sweep):
        for module in elsewhere.wheel_modules:
            for dependency in module.dependencies:
                location = found_here.get((module.path, dependency.name))
                if location is not None and dependency.status in ("missing", "found"):
                    unreachable.add(location)
    return unreachable
