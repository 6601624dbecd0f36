"""The Python API: ``show`` and ``repair``, what the CLI calls and what scripts may call."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .analysis import Analysis, analyze_tree
from .errors import AuditwheelError
from .libsearch import libdirs_from_env
from .wheel import WheelArchive, open_input

if TYPE_CHECKING:
    from .apply import ProgressHook
    from .plan import RepairOptions, RepairPlan

PathLike = str | os.PathLike[str]


def _all_libdirs(libdirs: Sequence[PathLike]) -> list[Path]:
    return [Path(item) for item in libdirs] + libdirs_from_env()


def show(path: PathLike, libdirs: Sequence[PathLike] = (), exclude: Sequence[str] = ()) -> Analysis:
    """Analyse a wheel, an unpacked wheel directory or a single module.

    Each module's NEEDED libraries are classified as included (in the input, where the target
    runtime will look), found (in one of ``libdirs`` or ``$PYODIDE_AUDITWHEEL_LIBDIR``),
    excluded (matches a glob of ``exclude``) or missing.
    """
    tree = open_input(Path(path))
    try:
        return analyze_tree(tree, _all_libdirs(libdirs), exclude)
    finally:
        tree.close()


@dataclass(frozen=True)
class RepairResult:
    input: Path
    output: Path | None
    plan: RepairPlan
    changed: bool
    stripped_bytes: int = 0
    record_problems: tuple[str, ...] = ()


def repair(
    wheel: PathLike,
    libdirs: Sequence[PathLike] = (),
    *,
    output_dir: PathLike | None = None,
    exclude: Sequence[str] = (),
    options: RepairOptions | None = None,
    dry_run: bool = False,
    verify_record: bool = False,
    allow_bad_record: bool = False,
    progress: ProgressHook | None = None,
) -> RepairResult:
    """Make ``wheel`` self-contained; in place unless ``output_dir`` is given.

    Raises :class:`~pyodide_auditwheel.errors.MissingLibrariesError` (listing all of them) and
    writes nothing when a library cannot be found.  With ``dry_run`` only the plan is made.
    """
    # Imported here so that `show` does not load the repair machinery.
    from .apply import WheelRewriter
    from .plan import RepairOptions, make_plan

    source_path = Path(wheel)
    if source_path.suffix != ".whl":
        raise AuditwheelError(f"cannot repair {source_path}: repair takes .whl files.")
    tree = open_input(source_path)
    assert isinstance(tree, WheelArchive)
    try:
        analysis = analyze_tree(tree, _all_libdirs(libdirs), exclude)
        plan = make_plan(analysis, options or RepairOptions())
        if dry_run:
            return RepairResult(source_path, None, plan, not plan.is_noop)
        output = Path(output_dir) / source_path.name if output_dir is not None else source_path
        rewriter = WheelRewriter(
            tree, plan, verify_record=verify_record, allow_bad_record=allow_bad_record, progress=progress
        )
        outcome = rewriter.write(output)
        return RepairResult(source_path, outcome.output, plan, outcome.changed, outcome.stripped_bytes, outcome.record_problems)
    finally:
        tree.close()
