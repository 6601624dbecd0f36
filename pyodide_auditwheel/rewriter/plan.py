"""From an analysis to a repair plan: what to copy, rename and patch.

The plan is plain data, so ``--dry-run`` can print it and tests can check it, and one writer
(:mod:`pyodide_auditwheel.apply`) carries it out.  Its decisions:

* every library found in ``--libdir`` (transitively) is vendored into ``<libs dir>/``, named
  ``<stem>-<8 hex of its sha256><suffix>`` unless mangling is off for it;
* every module (wheel's own or vendored) whose NEEDED names a vendored library gets that entry
  renamed, and RUNTIME_PATH entries that reach the libs directory, following the ABI's scheme
  (see ``docs/abi.md``); existing entries are kept and none is written twice;
* nothing else changes, so repairing a repaired wheel plans nothing.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from ..errors import MissingLibrariesError, NotAWheelError, UnsafePathError
from ..graph.analysis import (
    Analysis,
    LibraryCode,
    libraries_keyed_twice,
    libraries_loaded_after_a_user,
)
from ..graph.libsearch import library_digest, library_name
from ..runtime.abi import Abi
from ..wheel.inputs import WheelArchive
from ..wheel.zipio import check_member_name, folded
from .options import RepairOptions
from .patch import ModulePatch, patch_for
from .retag import Retag
from .sbom import previous_components, sbom_path

# Letters and digits of any script (a project may be named ``café``), '_', '.', '+', '-'.
SAFE_DIR_COMPONENT = re.compile(r"^[\w.+-]+$")


@dataclass(frozen=True)
class VendoredLibrary:
    """A library written into the libs directory.

    Attributes:
        source: the file it is read from: a libdir file, or the wheel's member.
        original_name: its file name where it was found.
        dest: its path in the repaired wheel (``<dist>.libs/<name>``, mangled unless asked
            not to be).
        sha256_hex: the SHA-256 of its source's bytes (the mangled name carries 8 of them).
        size: its source's size.
        member: set when it comes from the wheel's own copies of one library, merged
            (``source`` is then that member's path).
        data: its bytes, read before the write, when ``source`` is in another wheel of the
            call that may be replaced first (see :mod:`.wheelhouse`).
    """

    source: Path
    original_name: str
    dest: str
    sha256_hex: str
    size: int
    member: str | None = None
    data: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class SbomPlan:
    """The SBOM to write; its content waits for the digests of the libraries as written
    (patched, so not the digests of their sources)."""

    path: str
    replaces: bool
    dist: str
    version: str
    filename: str
    previous: bytes | None

    def render(self, libraries: list[tuple[str, str, str, str]]) -> bytes:
        """(path in the wheel, its SHA-256, the source's file name, the source's SHA-256) each."""
        from .sbom import build_sbom

        return build_sbom(self.dist, self.version, self.filename, libraries, self.previous, self.path)


@dataclass(frozen=True)
class RepairPlan:
    """Everything a repair will do, decided before a byte is written: plain data, so that
    ``--dry-run`` prints it and one writer carries it out.

    Attributes:
        wheel: the input.
        abi: the ABI the layout is planned for (the wheel's, or the retag's).
        libs_dir: the directory the libraries are vendored into.
        vendored: the libraries written there, one per distinct content.
        patches: module path (as written) → the changes to its ``dylink.0``.
        excluded: library name → the modules needing it, left out by ``--exclude``: the
            runtime must provide them.
        retag: the new platform tag, file name and WHEEL text, if any.
        sbom: the SBOM to write, if any.
        moved_first: the wheel's own libraries written first (after the vendored ones),
            each after those it needs: Pyodide 0.26/0.27 load a library a module NEEDs by
            name, so one that comes after its users in the archive is loaded again by its path.
        merged: the wheel's copies of a vendored library (member → the vendored file): each
            would be instantiated at install beside it; their users are patched to find the
            vendored file, and the copies are not written.
        compression_level: the deflate level of the members the writer compresses
            (``RepairOptions.compression_level``).
    """

    wheel: str
    abi: Abi
    libs_dir: str
    vendored: tuple[VendoredLibrary, ...]
    patches: dict[str, ModulePatch] = field(default_factory=dict)
    excluded: dict[str, list[str]] = field(default_factory=dict)
    retag: Retag | None = None
    sbom: SbomPlan | None = None
    moved_first: tuple[str, ...] = ()
    merged: dict[str, str] = field(default_factory=dict)
    compression_level: int = 6

    @property
    def removed(self) -> tuple[str, ...]:
        return tuple(self.merged)

    @property
    def is_noop(self) -> bool:
        return not self.vendored and not self.patches and self.retag is None and not self.moved_first

    @property
    def new_metadata_paths(self) -> tuple[str, ...]:
        """``.dist-info`` files the repair adds (placed just before RECORD)."""
        return (self.sbom.path,) if self.sbom is not None and not self.sbom.replaces else ()

    @property
    def rewritten_metadata_paths(self) -> tuple[str, ...]:
        """``.dist-info`` files the repair writes whole in place of the input's."""
        paths = [self.retag.wheel_file] if self.retag is not None else []
        return (*paths, *([self.sbom.path] if self.sbom is not None and self.sbom.replaces else []))


def libs_dir_name(lib_sdir: str | None, dist: str) -> str:
    """The libs directory: ``<dist>.libs`` by default; a value that starts with ``.`` is a
    suffix to the distribution name, as pypa/auditwheel reads ``--lib-sdir`` (``-L .libs``
    is ``<dist>.libs``, never a top-level ``.libs``); any other value is the whole name."""
    if lib_sdir is None:
        return f"{dist}.libs"
    return f"{dist}{lib_sdir}" if lib_sdir.startswith(".") and lib_sdir.strip(".") else lib_sdir


def validate_lib_sdir(value: str) -> str:
    """A libs directory name must stay one level inside the wheel root and outside the
    wheel's metadata (``.dist-info``, ``.data``), where installers would refuse it.  (The
    default, ``<name>.libs``, always passes: packaging allows no other characters in names.)"""
    cleaned = value.rstrip("/")
    folded = cleaned.casefold()
    if cleaned and (folded.endswith(".dist-info") or folded.endswith(".data")):
        raise UnsafePathError(
            f"unsafe --lib-sdir {value!r}: the wheel's .dist-info and .data directories are not for libraries."
        )
    if not cleaned or "/" in cleaned or not SAFE_DIR_COMPONENT.match(cleaned) or cleaned in (".", ".."):
        raise UnsafePathError(
            f"unsafe --lib-sdir {value!r}: give a single directory name of letters, digits, '.', '_', '+' or '-'."
        )
    return cleaned


def check_against_wheel(
    holds_folded: Callable[[str], str | None],
    libs_dir: str,
    vendored: Iterable[VendoredLibrary],
    merged: Collection[str] = (),
    holds_under: Callable[[str], str | None] = lambda _path: None,
) -> None:
    """Refuse, before anything is written, a plan whose output we (or pip) would refuse: a file
    where the libs directory goes, a vendored name equal to a member's but for case (or Unicode
    normalisation), or a directory of the wheel where a vendored library goes.
    ``holds_folded(path)`` is the wheel's member equal to ``path`` once folded, and
    ``holds_under(path)`` one inside the directory ``path``; ``merged`` members are not written."""
    existing = holds_folded(libs_dir)
    if existing is not None:
        raise UnsafePathError(
            f"cannot vendor into {libs_dir}/: the wheel has a file named {existing}; give --lib-sdir."
        )
    for library in vendored:
        existing = holds_folded(library.dest)
        if existing is not None and existing not in merged:
            raise UnsafePathError(
                f"cannot vendor {library.original_name} as {library.dest}: the wheel already has {existing}, "
                "the same name but for case, which a case-insensitive file system cannot hold."
            )
        inside = holds_under(library.dest)
        if inside is not None:
            raise UnsafePathError(
                f"cannot vendor {library.original_name} as {library.dest}: the wheel has a directory of that name "
                f"(it holds {inside})."
            )


def mangled_name(name: str, digest_hex: str, so_last: bool = False) -> str:
    """``libfoo.so.1.2`` → ``libfoo-1a2b3c4d.so.1.2``: unique per content, still a ``.so``.
    With ``so_last`` (a wheel for Pyodide 0.21, which loads at install only names that end in
    ``.so``) the version moves before it: ``libfoo-1a2b3c4d-1.2.so``."""
    base = posixpath.basename(name)
    index = base.find(".so")
    stem, suffix = (base[:index], base[index:]) if index > 0 else posixpath.splitext(base)
    if so_last and suffix.startswith(".so.") and index > 0:
        return f"{stem}-{digest_hex[:8]}-{suffix.removeprefix('.so.')}.so"
    return f"{stem}-{digest_hex[:8]}{suffix}"


def _keeps_name(name: str, options: RepairOptions) -> bool:
    if not options.mangle:
        return True
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in options.no_mangle)


def libraries_that_move(analysis: Analysis, abis: Sequence[Abi] = ()) -> set[str]:
    """The wheel's libraries a repair moves into the libs directory, copies or not, for the
    loaders of the analysis' ABI and ``abis``: those 0.21-0.27 key by a second name, and
    those 0.21 reaches before it loads them."""
    layout = (analysis.abi, *abis)
    moving = set()
    if any(abi.loader.search != "emscripten" for abi in layout):
        moving |= libraries_keyed_twice(analysis)
    if any(abi.loader.search == "pyodide-preload" for abi in layout):
        moving |= libraries_loaded_after_a_user(analysis)
    return moving


class WheelNames(Protocol):
    """What the plan asks of the wheel's names (a :class:`~pyodide_auditwheel.wheel.inputs.WheelArchive`
    answers): the member equal to a path once folded, and one inside a directory."""

    def holds_folded(self, path: str) -> str | None: ...

    def holds_under(self, path: str) -> str | None: ...


class _NoNames:
    def holds_folded(self, path: str) -> str | None:
        return None

    def holds_under(self, path: str) -> str | None:
        return None


NO_NAMES = _NoNames()


@dataclass(frozen=True)
class _Merge:
    """The wheel's copies of a library that the repair merges into one vendored file.

    ``copies``: code digest → the wheel's members with that code; ``found_by_code``: code
    digest → the libdir file of that code; ``from_member``: the digests vendored from their
    first member (no libdir file has their code)."""

    copies: dict[str, list[str]]
    found_by_code: dict[str, str]
    from_member: set[str]

    def source_of(self) -> dict[str, str]:
        """Where each merged copy's bytes come from: a library that needs a copy comes after it."""
        return {path: self.found_by_code.get(code, paths[0]) for code, paths in self.copies.items() for path in paths}


def make_plan(
    analysis: Analysis,
    options: RepairOptions,
    *,
    retag: Retag | None = None,
    names: WheelNames = NO_NAMES,
    abis: Sequence[Abi] = (),
    twins: Mapping[str, LibraryCode] | None = None,
    unreachable: Collection[str] = (),
) -> RepairPlan:
    """Decide the repair; raises :class:`MissingLibrariesError` listing *every* missing library.

    What the plan adds is checked against the wheel's ``names``.  The layout serves every ABI
    in ``abis`` (the wheel's tags may name several), besides the analysis' own.  ``twins``
    (:func:`~pyodide_auditwheel.graph.analysis.library_twins`) are the libraries that share
    their code with another: they are merged into one vendored file.  ``unreachable`` are the
    wheel's libraries some loader of the tags does not find where they are: they move into
    the libs directory."""
    libs_dir = _libs_dir_of(analysis, options)
    layout_abis = tuple({abi.name: abi for abi in (analysis.abi, *abis)}.values())
    twins = twins or {}
    merge = _copies_to_merge(analysis, twins, layout_abis, unreachable)
    vendored, distinct = _vendor(analysis, options, twins, merge, libs_dir, layout_abis)
    merged = {copy: vendored[copy].dest for copies in merge.copies.values() for copy in copies if copy in vendored}
    _check_layout(distinct, merged, libs_dir, names)
    return RepairPlan(
        moved_first=tuple(path for path in _libraries_to_move_first(analysis, layout_abis) if path not in vendored),
        merged=merged,
        wheel=analysis.input,
        abi=analysis.abi,
        libs_dir=libs_dir,
        vendored=distinct,
        patches=_patches(analysis, options, vendored, layout_abis, libs_dir),
        excluded=analysis.dependencies_with("excluded"),
        retag=retag,
        compression_level=options.compression_level,
    )


def _libs_dir_of(analysis: Analysis, options: RepairOptions) -> str:
    """The libs directory of a wheel that can be repaired (a wheel, nothing missing)."""
    if analysis.kind != "wheel" or analysis.wheel is None:
        raise NotAWheelError(analysis.input)
    missing = analysis.missing
    if missing:
        raise MissingLibrariesError(missing)
    lib_sdir = validate_lib_sdir(options.lib_sdir) if options.lib_sdir is not None else None
    return libs_dir_name(lib_sdir, analysis.wheel.file_dist)


def _copies_to_merge(
    analysis: Analysis, twins: Mapping[str, LibraryCode], abis: Sequence[Abi], unreachable: Collection[str]
) -> _Merge:
    """Which of the wheel's libraries move into the libs directory, grouped by code.

    A library of one copy moves where a loader keys it by a second name (NEEDed by a path,
    or by a vendored library), where a loader does not find it, and with the copies that
    need it; elsewhere it stays.  A group moves only if everything of the wheel it needs
    moves with it."""
    copies: dict[str, list[str]] = {}
    for module in analysis.wheel_modules:
        if module.path in twins:
            copies.setdefault(twins[module.path].code_sha256, []).append(module.path)
    found_by_code = {twins[lib.path].code_sha256: lib.path for lib in analysis.found_libraries if lib.path in twins}
    must_move = libraries_that_move(analysis, abis) | set(unreachable)
    moving = [path for paths in copies.values() if len(paths) > 1 or paths[0] in must_move for path in paths]
    needed = analysis.graph.closure(moving)
    copies = {
        code: paths
        for code, paths in copies.items()
        if len(paths) > 1 or code in found_by_code or paths[0] in must_move or paths[0] in needed
    }
    into_found = {path for code, paths in copies.items() if code in found_by_code for path in paths}
    movable = _movable(
        {code: paths for code, paths in copies.items() if code not in found_by_code}, analysis, into_found
    )
    copies = {code: paths for code, paths in copies.items() if code in found_by_code or code in movable}
    return _Merge(copies, found_by_code, movable)


def _vendor(
    analysis: Analysis,
    options: RepairOptions,
    twins: Mapping[str, LibraryCode],
    merge: _Merge,
    libs_dir: str,
    abis: Sequence[Abi],
) -> tuple[dict[str, VendoredLibrary], tuple[VendoredLibrary, ...]]:
    """Where each library goes: libdir file or merged member → its vendored file, and the
    distinct vendored files.  One file per distinct library, by content: a second name of
    the same bytes (a hard link or a copy, which a symbolic link check does not see) is the
    same library.  A group of copies is vendored from a libdir file of its code if there is
    one, else from its first member."""
    wheel_files = {module.path for module in analysis.wheel_modules}
    merged_from = {paths[0] for code, paths in merge.copies.items() if code in merge.from_member}
    sources = [module for module in analysis.modules if module.origin == "libdir" or module.path in merged_from]
    so_last = any(abi.loader.search == "pyodide-preload" for abi in abis)
    vendored: dict[str, VendoredLibrary] = {}
    by_digest: dict[str, VendoredLibrary] = {}
    for library in analysis.graph.dependencies_first(sources, merge.source_of()):
        if library.origin == "libdir":
            source, member = Path(library.path), None
            digest, size = library_digest(source)
        else:
            code = twins[library.path]
            source, member, digest, size = Path(library.path), library.path, code.sha256, code.size
        if digest in by_digest:
            vendored[library.path] = by_digest[digest]
            continue
        name = library_name(source)
        dest_name = name if _keeps_name(name, options) else mangled_name(name, digest, so_last)
        dest = f"{libs_dir}/{dest_name}"
        check_member_name(dest)
        copies = merge.copies.get(twins[library.path].code_sha256, []) if library.path in twins else []
        if dest in wheel_files and dest not in copies:
            raise UnsafePathError(f"cannot vendor {name}: the wheel already has a different file at {dest}.")
        vendored[library.path] = by_digest[digest] = VendoredLibrary(source, name, dest, digest, size, member)
        for copy in copies:
            vendored[copy] = by_digest[digest]
    return vendored, tuple(by_digest.values())


def _check_layout(
    distinct: Sequence[VendoredLibrary], merged: Collection[str], libs_dir: str, names: WheelNames
) -> None:
    """No two vendored files of one name once folded, none clashing with the wheel's."""
    dest_names = [folded(lib.dest) for lib in distinct]
    if len(set(dest_names)) != len(dest_names):
        raise UnsafePathError(
            "cannot vendor: two libraries would get the same name in the libs directory; use mangling."
        )
    if distinct:
        check_against_wheel(names.holds_folded, libs_dir, distinct, merged, names.holds_under)


def _patches(
    analysis: Analysis,
    options: RepairOptions,
    vendored: Mapping[str, VendoredLibrary],
    abis: Sequence[Abi],
    libs_dir: str,
) -> dict[str, ModulePatch]:
    """The changes to each module written: its own, or a vendored library's (by its new path)."""
    patches: dict[str, ModulePatch] = {}
    new_paths = {source: library.dest for source, library in vendored.items()}
    for module in analysis.modules:
        in_wheel = module.origin == "wheel"
        if in_wheel and module.path in vendored and vendored[module.path].member != module.path:
            continue  # a copy merged into a library vendored from elsewhere: not written
        path = vendored[module.path].dest if module.path in vendored else module.path
        if path in patches:
            continue  # a second name of a library already planned
        patch = patch_for(module, path, new_paths, abis, libs_dir)
        strip = (options.strip and not in_wheel) or (options.strip_wheel_modules and in_wheel)
        if patch.changes_dylink or strip:
            patches[path] = replace(patch, strip=strip)
    return patches


def _libraries_to_move_first(analysis: Analysis, abis: Sequence[Abi]) -> tuple[str, ...]:
    """The wheel's libraries that some module NEEDs, each after those it needs, when a loader
    of ``abis`` keys NEEDed libraries by name (0.26/0.27) and one of them comes after a module
    that needs it; otherwise none (the archive order is already right, or does not matter)."""
    if not any(abi.loader.search == "pyodide-fs" for abi in abis):
        return ()
    modules = analysis.wheel_modules
    position = {module.path: index for index, module in enumerate(modules)}
    graph = analysis.graph
    needed_by = {path: users for path in position if (users := graph.users_of(path, in_wheel=True))}
    if all(position[library] < min(position[user.path] for user in users) for library, users in needed_by.items()):
        return ()
    libraries = [module for module in modules if module.path in needed_by]
    return tuple(library.path for library in graph.dependencies_first(libraries))


def _movable(groups: Mapping[str, list[str]], analysis: Analysis, moving: set[str]) -> set[str]:
    """The groups of copies (by code) that may move into the libs directory, from their first
    member: each finds what it needs there too, because every library of the wheel it needs
    moves with it (a copy of a moving group, or one of ``moving``).  (From its new place a
    loader may not find a library of the wheel that stays where it is: 0.26 looks in no
    directory under the module's.)"""
    movable = set(groups)
    while stuck := analysis.graph.stuck({code: groups[code] for code in movable}, moving):
        movable -= stuck
    return movable


def with_sbom(plan: RepairPlan, tree: WheelArchive, filename: str) -> RepairPlan:
    """The plan with the SBOM the repaired wheel carries, when the repair vendors libraries
    (or retags a wheel whose SBOM names its file)."""
    path = sbom_path(tree.dist_info)
    exists = tree.holds_metadata(path)
    if tree.wheel is None or not (plan.vendored or (plan.retag is not None and exists)):
        return plan
    if not exists:
        _check_new_metadata_path(tree, path)
    previous = tree.read_recorded(path) if exists else None
    previous_components(previous, path)  # refused now, not half way through writing
    return replace(plan, sbom=SbomPlan(path, exists, tree.wheel.dist, tree.wheel.version, filename, previous))


def _check_new_metadata_path(tree: WheelArchive, path: str) -> None:
    """A file the repair adds to ``.dist-info`` must not clash with what the wheel has: a
    member equal to it but for case or normalisation, or a file where one of its directories
    goes (a ``sboms`` file)."""
    parts = path.split("/")
    for depth in range(1, len(parts) + 1):
        prefix = "/".join(parts[:depth])
        existing = tree.holds_folded(prefix)
        if existing is not None and not (existing.endswith("/") and depth < len(parts)):
            raise UnsafePathError(
                f"cannot add {path}: the wheel already has {existing}, which a file system cannot hold beside it; "
                "repair with --no-sbom."
            )
