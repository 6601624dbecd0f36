"""Several wheels repaired in one call, all or nothing: what ``repair dist/`` promises, offered
to scripts as it is to the command line.

Every input is checked and planned before any is written; one that cannot be repaired means
none is written.  Inputs are taken by identity, not by name: one file named twice is repaired
once, and two names of one file (a link) are refused before anything is written.  A library
one wheel takes from another wheel of the call is read before any wheel is replaced, so the
order in which the wheels are written (or the processes writing them) cannot take it away.
A pure-Python wheel among wasm wheels needs no repair: it is passed over (copied as it is when
the wheels go to an output directory).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import AuditwheelError, MissingLibrariesError
from ..graph.libsearch import library_chunks, wheel_member
from ..wheel.inputs import PathLike, pure_python_wheel
from .single import (
    PlannedRepair,
    RepairOutcome,
    RepairRequest,
    apply_each,
    output_path,
    repair,
    repair_each,
    repair_jobs,
)

if TYPE_CHECKING:
    from .apply import ProgressHook


@dataclass(frozen=True)
class Refusal:
    """An input that cannot be repaired, and why (the sentence the command prints)."""

    input: Path
    error: AuditwheelError

    @property
    def missing(self) -> dict[str, list[str]] | None:
        return self.error.missing if isinstance(self.error, MissingLibrariesError) else None


@dataclass(frozen=True)
class PassedOver:
    """An input that needs no repair (a pure-Python wheel among wasm ones): ``copied_to`` is
    where it was copied as it is, when the call writes to an output directory."""

    input: Path
    reason: str
    copied_to: Path | None = None


@dataclass(frozen=True)
class WheelhouseResult:
    """What a call did, all or nothing.

    Attributes:
        repaired: with no refusals, every input repaired (or, on a dry run, planned), in
            input order.
        refusals: the inputs that could not be repaired, each with its error; when there are
            any, nothing was written.
        passed_over: pure-Python wheels, which need no repair, each with why.
        not_written: with refusals, the inputs that could have been repaired.
    """

    repaired: tuple[RepairOutcome, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    passed_over: tuple[PassedOver, ...] = ()
    not_written: tuple[Path, ...] = ()

    @property
    def written(self) -> bool:
        return not self.refusals


def repair_wheelhouse(
    wheels: Sequence[PathLike],
    request: RepairRequest | None = None,
    *,
    dry_run: bool = False,
    jobs: int | None = None,
    progress: ProgressHook | None = None,
) -> WheelhouseResult:
    """Repair every wheel of ``wheels`` as ``request`` asks, or none (see the module's doc).
    The other wheels of the call are searched for libraries unless ``request`` says which to
    search (``companions``) or turns discovery off.  ``jobs``: see :func:`.single.repair_jobs`;
    ``progress`` is given to the repair of a lone wheel."""
    request = request or RepairRequest()
    inputs = _first_of_each_name(wheels)
    if len(inputs) > 1 and not request.companions and request.discover:
        request = replace(request, companions=tuple(inputs))
    refusals = _one_file_each(inputs) + _one_target_each(inputs, request)
    passed_over = [
        PassedOver(path, reason) for path in inputs if len(inputs) > 1 and (reason := _needs_no_repair(path))
    ]
    skipped = {refusal.input for refusal in refusals} | {entry.input for entry in passed_over}
    to_plan = [path for path in inputs if path not in skipped]
    if len(inputs) == 1 and not refusals:
        try:
            return WheelhouseResult((repair(inputs[0], request, dry_run=dry_run, progress=progress),))
        except AuditwheelError as error:
            return WheelhouseResult(refusals=(Refusal(inputs[0], error),))
    workers = repair_jobs(to_plan, jobs)
    plans: list[PlannedRepair] = []
    for path, outcome in zip(to_plan, repair_each(to_plan, request, dry_run=True, jobs=workers), strict=True):
        if isinstance(outcome, AuditwheelError):
            refusals.append(Refusal(path, outcome))
        elif isinstance(outcome, PlannedRepair):
            plans.append(outcome)
    if refusals:
        order = {path: index for index, path in enumerate(inputs)}
        return WheelhouseResult(
            refusals=tuple(sorted(refusals, key=lambda refusal: order[refusal.input])),
            passed_over=tuple(passed_over),
            not_written=tuple(plan.input for plan in plans),
        )
    if dry_run:
        return WheelhouseResult(tuple(plans), passed_over=tuple(passed_over))
    plans = [_with_libraries_read(plan, inputs) for plan in plans]
    repaired: list[RepairOutcome] = []
    try:
        for plan, outcome in zip(plans, apply_each(plans, request, jobs=workers), strict=True):
            if isinstance(outcome, AuditwheelError):
                refusals.append(Refusal(plan.input, outcome))
            else:
                repaired.append(outcome)
    except AuditwheelError as error:  # the workers could not go on: each wheel not reported is refused
        reported = {outcome.input for outcome in repaired} | {refusal.input for refusal in refusals}
        refusals += [Refusal(plan.input, error) for plan in plans if plan.input not in reported]
    if not refusals:
        try:
            passed_over = [_copied(entry, request) for entry in passed_over]
        except _CopyFailed as failure:
            refusals.append(Refusal(failure.input, failure.error))
    return WheelhouseResult(tuple(repaired), tuple(refusals), tuple(passed_over))


class _CopyFailed(Exception):
    def __init__(self, path: Path, error: AuditwheelError) -> None:
        super().__init__(str(error))
        self.input = path
        self.error = error


def _first_of_each_name(wheels: Sequence[PathLike]) -> list[Path]:
    """The inputs, a path named twice (``repair W W``) taken once."""
    seen: set[str] = set()
    inputs = []
    for wheel in wheels:
        key = os.path.abspath(wheel)
        if key not in seen:
            seen.add(key)
            inputs.append(Path(wheel))
    return inputs


def _one_file_each(inputs: list[Path]) -> list[Refusal]:
    """Two names of one file (a symbolic or hard link): refused, since repairing it once would
    leave one name with the old wheel or write one file twice."""
    first: dict[tuple[int, int], Path] = {}
    refusals = []
    for path in inputs:
        try:
            status = path.stat()
        except OSError:
            continue  # the repair says what is wrong with it
        key = (status.st_dev, status.st_ino)
        if key in first:
            refusals.append(
                Refusal(path, AuditwheelError(f"not repaired: {path} is the same file as {first[key]}; name it once."))
            )
        else:
            first[key] = path
    return refusals


def _one_target_each(inputs: list[Path], request: RepairRequest) -> list[Refusal]:
    """Two inputs that would be written to one file (``a/x.whl`` and ``b/x.whl`` into one
    output directory): the second is refused."""
    targets: dict[Path, Path] = {}
    refusals = []
    for path in inputs:
        target = _written_file(path, request)
        if target is not None and targets.setdefault(target, path) != path:
            message = (
                f"not repaired: {targets[target]} is written to {target} too; repair them into different directories."
            )
            refusals.append(Refusal(path, AuditwheelError(message)))
    return refusals


def _written_file(wheel: Path, request: RepairRequest) -> Path | None:
    """The file a repair of ``wheel`` writes (:func:`.single.output_path`, under the retagged
    name where ``request`` retags), its directory resolved, so that two spellings of one place
    are one; None where the plan itself will refuse the output."""
    from .retag import retagged_filename

    name = (
        retagged_filename(wheel.name, request.platform) if request.platform and wheel.suffix == ".whl" else wheel.name
    )
    try:
        target = output_path(wheel, name, request.output_dir)
    except AuditwheelError:
        return None
    return _real(target.parent) / target.name


def _needs_no_repair(path: Path) -> str:
    """Why ``path`` needs no repair, or ""."""
    return "a pure-Python wheel (tagged any, no module): it needs no repair" if pure_python_wheel(path) else ""


def _with_libraries_read(planned: PlannedRepair, inputs: list[Path]) -> PlannedRepair:
    """The plan with the bytes of each library it takes from another wheel of the call: that
    wheel may be replaced (its copies merged away) before this one is written."""
    inputs_by_file = {_real(path) for path in inputs}
    vendored = []
    for library in planned.plan.vendored:
        located = wheel_member(library.source) if library.member is None else None
        if located is not None and _real(located[0]) in inputs_by_file:
            library = replace(library, data=b"".join(library_chunks(library.source)))
        vendored.append(library)
    return replace(planned, plan=replace(planned.plan, vendored=tuple(vendored)))


def _copied(entry: PassedOver, request: RepairRequest) -> PassedOver:
    """A wheel that needs no repair, copied as it is into the output directory (if any)."""
    if request.output_dir is None:
        return entry
    from ..wheel.atomic import atomic_output, make_directories

    target = output_path(entry.input, entry.input.name, request.output_dir)
    if _real(target) == _real(entry.input):
        return entry
    try:
        make_directories(Path(request.output_dir))
        with open(entry.input, "rb") as source, atomic_output(target, 0o644, durable=False) as out:
            shutil.copyfileobj(source, out)
    except OSError as error:
        failure = AuditwheelError(f"cannot copy {entry.input} to {target}: {error.strerror or error}.")
        raise _CopyFailed(entry.input, failure) from None
    return replace(entry, copied_to=target)


def _real(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))
