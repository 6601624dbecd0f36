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
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import AuditwheelError, MissingLibrariesError, NotAWheelError, UnsafePathError
from ..graph.analysis import (
    Analysis,
    Dependency,
    LibraryCode,
    ModuleReport,
    libraries_keyed_twice,
    libraries_loaded_after_a_user,
    needed_closure,
)
from ..graph.libsearch import SearchPath, library_digest, library_name
from ..naming import command
from ..policy import audit_tree, target_abi
from ..runtime.abi import Abi
from ..runtime.loader import js_normalize, runtime_path_directories
from ..wheel.inputs import WheelArchive
from ..wheel.names import installed_path
from ..wheel.zipio import check_member_name, folded
from .options import RepairOptions
from .sbom import previous_components, sbom_path

# Letters and digits of any script (a project may be named ``café``), '_', '.', '+', '-'.
SAFE_DIR_COMPONENT = re.compile(r"^[\w.+-]+$")


@dataclass(frozen=True)
class VendoredLibrary:
    """A library written into the libs directory: from a libdir file, or (``member``) from
    the wheel's own copies of one library, merged (``source`` is then the member's path).
    ``data``: its bytes, read before the write, when ``source`` is in another wheel of the
    call that may be replaced first (see :mod:`.wheelhouse`)."""

    source: Path
    original_name: str
    dest: str
    sha256_hex: str
    size: int
    member: str | None = None
    data: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ModulePatch:
    """Changes to one module: the NEEDED and RUNTIME_PATH lists to write (``None``: keep), and
    the renames and added entries they make (what ``--dry-run`` and the summary show).  The
    lists are whole: the module gets one subsection of each, saying what every loader reads."""

    path: str
    renames: dict[str, str]
    runtime_paths: tuple[str, ...] | None
    added_runtime_paths: tuple[str, ...]
    strip: bool = False
    needed: tuple[str, ...] | None = None

    @property
    def changes_dylink(self) -> bool:
        return self.needed is not None or self.runtime_paths is not None


@dataclass(frozen=True)
class Retag:
    """A new platform tag: the wheel's new file name and the new text of its WHEEL file."""

    platform: str
    filename: str
    wheel_file: str
    wheel_text: bytes


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
    wheel: str
    abi: Abi
    libs_dir: str
    vendored: tuple[VendoredLibrary, ...]
    patches: dict[str, ModulePatch] = field(default_factory=dict)
    excluded: dict[str, list[str]] = field(default_factory=dict)
    retag: Retag | None = None
    sbom: SbomPlan | None = None
    # The wheel's own libraries written first (after the vendored ones), each after those it
    # needs: Pyodide 0.26/0.27 load a library a module NEEDs by name, so one that comes after
    # its users in the archive is loaded again by its path (see record.vendored_first).
    moved_first: tuple[str, ...] = ()
    # The wheel's copies of a vendored library (member -> the vendored file), merged into it:
    # each copy would be instantiated at install beside it; their users are patched to find
    # the vendored file, and the copies are not written.
    merged: dict[str, str] = field(default_factory=dict)

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


def retagged(filename: str, wheel_file: str, wheel_text: bytes, platform: str) -> Retag | None:
    """The retag to ``platform``, or None when the wheel already has exactly that tag.

    Every ``Tag:`` line gets the new platform (lines that become equal are written once);
    every other byte of WHEEL is kept.
    """
    new_lines: list[bytes] = []
    seen: set[bytes] = set()
    tags = 0
    for line in wheel_text.splitlines(keepends=True):
        if line.startswith(b"Tag:"):
            tags += 1
            body = line[len(b"Tag:") :].strip()
            ending = line[len(line.rstrip(b"\r\n")) :]
            line = b"Tag: " + body.rsplit(b"-", 1)[0] + b"-" + platform.encode() + ending
            if line.rstrip(b"\r\n") in seen:
                continue
            seen.add(line.rstrip(b"\r\n"))
        new_lines.append(line)
    if not tags:
        raise AuditwheelError(f"cannot retag: {wheel_file} has no Tag lines.")
    text = b"".join(new_lines)
    new_name = retagged_filename(filename, platform)
    if new_name == filename and text == wheel_text:
        return None
    return Retag(platform, new_name, wheel_file, text)


def retagged_filename(filename: str, platform: str) -> str:
    """``pkg-1.0-cp313-cp313-pyodide_2025_0_wasm32.whl`` → ``…-<platform>.whl``."""
    stem = filename[: -len(".whl")].rsplit("-", 1)[0]
    return f"{stem}-{platform}.whl"


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


def runtime_path_entries(abis: Sequence[Abi], module_dir: str, libs_dir: str) -> tuple[tuple[str, ...], str]:
    """The absolute RUNTIME_PATH entries that reach ``libs_dir`` for each ABI of the wheel, and
    the ``$ORIGIN`` entry that reaches it from a module in ``module_dir``.

    With ``absolute-then-origin`` the absolute site-packages path comes first: every module,
    whatever its depth, then names a vendored library by the same string, which is what the
    0.28/0.29 loader de-duplicates on (an entry for another ABI's Python does not exist there,
    and is passed over).  The ``$ORIGIN`` entry keeps the wheel working when installed
    somewhere else (a virtual environment).
    """
    relative = posixpath.relpath(libs_dir, module_dir or ".")
    origin = "$ORIGIN" if relative == "." else f"$ORIGIN/{relative}"
    absolute = tuple(
        dict.fromkeys(
            f"{abi.site_packages}/{libs_dir}"
            for abi in abis
            if abi.runtime_path_scheme == "absolute-then-origin" and abi.site_packages
        )
    )
    return absolute, origin


def runtime_path_order(existing: Sequence[str], absolute: Sequence[str], origin: str | None) -> tuple[str, ...]:
    """The absolute entries first, then the module's own entries (kept, in their order), then
    the ``$ORIGIN`` entry if the module has none like it.  A relative entry *before* the
    absolute one would be found first on 0.28/0.29 and name the library by a second spelling
    (a second copy): this order makes every module name it by the absolute path."""
    kept = [entry for entry in existing if entry not in absolute]
    return (*absolute, *kept, *([] if origin is None or origin in existing else [origin]))


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


def make_plan(
    analysis: Analysis,
    options: RepairOptions,
    retag: Retag | None = None,
    holds_folded: Callable[[str], str | None] = lambda _path: None,
    abis: Sequence[Abi] = (),
    twins: Mapping[str, LibraryCode] | None = None,
    holds_under: Callable[[str], str | None] = lambda _path: None,
    unreachable: Collection[str] = (),
) -> RepairPlan:
    """Decide the repair; raises :class:`MissingLibrariesError` listing *every* missing library.
    What the plan adds is checked against the wheel's names through ``holds_folded``.  The
    layout serves every ABI in ``abis`` (the wheel's tags may name several), besides the
    analysis' own.  ``twins`` (:func:`~pyodide_auditwheel.analysis.library_twins`) are the
    libraries that share their code with another: they are merged into one vendored file.
    ``unreachable`` are the wheel's libraries some loader of the tags does not find where they
    are: they move into the libs directory."""
    if analysis.kind != "wheel" or analysis.wheel is None:
        raise NotAWheelError(analysis.input)
    missing = analysis.missing
    if missing:
        raise MissingLibrariesError(missing)
    abi = analysis.abi
    libs_dir = libs_dir_name(
        validate_lib_sdir(options.lib_sdir) if options.lib_sdir is not None else None, analysis.wheel.file_dist
    )
    wheel_files = {module.path for module in analysis.wheel_modules}

    layout_abis = tuple({abi.name: abi for abi in (analysis.abi, *abis)}.values())
    twins = twins or {}
    wheel_copies: dict[str, list[str]] = {}  # code digest -> the wheel's members with that code
    for module in analysis.wheel_modules:
        if module.path in twins:
            wheel_copies.setdefault(twins[module.path].code_sha256, []).append(module.path)
    found_by_code = {twins[lib.path].code_sha256: lib.path for lib in analysis.found_libraries if lib.path in twins}
    found_codes = set(found_by_code)
    # A library of one copy moves where a loader keys it by a second name (NEEDed by a path,
    # or by a vendored library), where a loader does not find it, and with the copies that
    # need it; elsewhere it stays.
    must_move = libraries_that_move(analysis, layout_abis) | set(unreachable)
    moving = [path for paths in wheel_copies.values() if len(paths) > 1 or paths[0] in must_move for path in paths]
    needed = needed_closure(analysis, moving)
    wheel_copies = {
        code: paths
        for code, paths in wheel_copies.items()
        if len(paths) > 1 or code in found_codes or paths[0] in must_move or paths[0] in needed
    }
    # A group of copies is vendored from a libdir file of its code if there is one, else from
    # its first member.
    into_found = {path for code, paths in wheel_copies.items() if code in found_codes for path in paths}
    movable = _movable(
        {code: paths for code, paths in wheel_copies.items() if code not in found_codes}, analysis, into_found
    )
    wheel_copies = {code: paths for code, paths in wheel_copies.items() if code in found_codes or code in movable}
    merged_from = {paths[0] for code, paths in wheel_copies.items() if code in movable}
    vendored: dict[str, VendoredLibrary] = {}  # libdir file or merged member -> where it goes
    # One file per distinct library, by content: a second name of the same bytes (a hard link
    # or a copy, which a symbolic link check does not see) is the same library.
    by_digest: dict[str, VendoredLibrary] = {}
    sources = [module for module in analysis.modules if module.origin == "libdir" or module.path in merged_from]
    so_last = any(abi.loader.search == "pyodide-preload" for abi in layout_abis)
    # Where each merged copy's bytes come from: a library that needs a copy comes after it.
    source_of = {path: found_by_code.get(code, paths[0]) for code, paths in wheel_copies.items() for path in paths}
    for library in _dependencies_first(sources, source_of):
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
        copies = wheel_copies.get(twins[library.path].code_sha256, []) if library.path in twins else []
        if dest in wheel_files and dest not in copies:
            raise UnsafePathError(f"cannot vendor {name}: the wheel already has a different file at {dest}.")
        vendored[library.path] = by_digest[digest] = VendoredLibrary(source, name, dest, digest, size, member)
        for copy in copies:
            vendored[copy] = by_digest[digest]
    merged = {copy: vendored[copy].dest for copies in wheel_copies.values() for copy in copies if copy in vendored}

    dest_names = [folded(lib.dest) for lib in by_digest.values()]
    if len(set(dest_names)) != len(dest_names):
        raise UnsafePathError(
            "cannot vendor: two libraries would get the same name in the libs directory; use mangling."
        )
    if vendored:
        check_against_wheel(holds_folded, libs_dir, by_digest.values(), merged, holds_under)

    patches: dict[str, ModulePatch] = {}
    for module in analysis.modules:
        in_wheel = module.origin == "wheel"
        if in_wheel and module.path in vendored and vendored[module.path].member != module.path:
            continue  # a copy merged into a library vendored from elsewhere: not written
        path = vendored[module.path].dest if module.path in vendored else module.path
        if path in patches:
            continue  # a second name of a library already planned
        patch = _patch_for(module, path, vendored, layout_abis, libs_dir)
        strip = (options.strip and not in_wheel) or (options.strip_wheel_modules and in_wheel)
        if patch.changes_dylink or strip:
            patches[path] = replace(patch, strip=strip)
    return RepairPlan(
        moved_first=tuple(path for path in _libraries_to_move_first(analysis, layout_abis) if path not in vendored),
        merged=merged,
        wheel=analysis.input,
        abi=abi,
        libs_dir=libs_dir,
        vendored=tuple(by_digest.values()),
        patches=patches,
        excluded=analysis.dependencies_with("excluded"),
        retag=retag,
    )


def _libraries_to_move_first(analysis: Analysis, abis: Sequence[Abi]) -> tuple[str, ...]:
    """The wheel's libraries that some module NEEDs, each after those it needs, when a loader
    of ``abis`` keys NEEDed libraries by name (0.26/0.27) and one of them comes after a module
    that needs it; otherwise none (the archive order is already right, or does not matter)."""
    if not any(abi.loader.search == "pyodide-fs" for abi in abis):
        return ()
    modules = analysis.wheel_modules
    position = {module.path: index for index, module in enumerate(modules)}
    needed_by: dict[str, list[str]] = {}
    for module in modules:
        for dependency in module.dependencies:
            if dependency.status == "included" and dependency.location in position:
                needed_by.setdefault(dependency.location, []).append(module.path)
    if all(position[library] < min(position[user] for user in users) for library, users in needed_by.items()):
        return ()
    libraries = [module for module in modules if module.path in needed_by]
    return tuple(library.path for library in _dependencies_first(libraries))


def _movable(groups: Mapping[str, list[str]], analysis: Analysis, moving: set[str]) -> set[str]:
    """The groups of copies (by code) that may move into the libs directory, from their first
    member: each finds what it needs there too, because every library of the wheel it needs
    moves with it (a copy of a moving group, or one of ``moving``).  (From its new place a
    loader may not find a library of the wheel that stays where it is: 0.26 looks in no
    directory under the module's.)"""
    dependencies = {module.path: module.dependencies for module in analysis.wheel_modules}
    movable = set(groups)
    while True:
        moved = moving | {path for code in movable for path in groups[code]}
        stuck = {
            code
            for code in movable
            if any(d.status == "included" and d.location not in moved for d in dependencies[groups[code][0]])
        }
        if not stuck:
            return movable
        movable -= stuck


def _dependencies_first(
    libraries: Sequence[ModuleReport], alias: Mapping[str, str] | None = None
) -> list[ModuleReport]:
    """The libraries, each after those of them it needs (a dependency on a path of ``alias``
    is one on the library it names): the archive order of libraries written first (see
    :func:`~pyodide_auditwheel.record.vendored_first`)."""
    alias = alias or {}
    by_path = {library.path: library for library in libraries}
    ordered: dict[str, ModuleReport] = {}
    visiting: set[str] = set()

    def needs(library: ModuleReport) -> Iterator[ModuleReport]:
        for dependency in library.dependencies:
            location = dependency.location or ""
            needed = by_path.get(alias.get(location, location))
            if needed is not None:
                yield needed

    # A depth-first post-order with a stack of its own: a chain of libraries as long as a
    # build makes it must not meet Python's recursion limit.
    for root in libraries:
        if root.path in ordered or root.path in visiting:
            continue
        visiting.add(root.path)
        stack = [(root, needs(root))]
        while stack:
            library, pending = stack[-1]
            needed = next((item for item in pending if item.path not in ordered and item.path not in visiting), None)
            if needed is None:
                stack.pop()
                ordered[library.path] = library
            else:
                visiting.add(needed.path)
                stack.append((needed, needs(needed)))
    return list(ordered.values())


def _spellings_matter(abi: Abi) -> bool:
    """Whether the ABI's loader names a library by the spelling that found it (0.28/0.29)."""
    return abi.loader.search == "emscripten" and not abi.loader.normalizes_names


def _found_by_another_spelling(module: ModuleReport, dependency: Dependency, abi: Abi) -> bool:
    """Whether the loader finds the wheel's library through RUNTIME_PATH by a spelling that is
    not its full path (``…/pkg/sub/../lib/libx.so``), so that it is a second name beside the
    one the install loaded it by."""
    if dependency.location is None or "/" in dependency.name or posixpath.dirname(dependency.location) == "":
        return False
    parent = f"{abi.site_packages}/{installed_path(module.path)}"
    canonical = f"{abi.site_packages}/{installed_path(dependency.location)}"
    directories = runtime_path_directories(parent, module.runtime_paths)
    spellings = [f"{directory}/{dependency.name}" for directory in directories]
    return next((spelling != canonical for spelling in spellings if js_normalize(spelling) == canonical), False)


def _patch_for(
    module: ModuleReport, path: str, vendored: dict[str, VendoredLibrary], abis: Sequence[Abi], libs_dir: str
) -> ModulePatch:
    """NEEDED renamed to the vendored names, and RUNTIME_PATH that reaches the libs directory
    by the absolute path first, for every module that needs a library there, whether this
    repair vendors it or an earlier one (ours or another tool's) did."""
    renames: dict[str, str] = {}
    for dependency in module.dependencies:
        if dependency.location in vendored:
            new_name = posixpath.basename(vendored[dependency.location].dest)
            if new_name != dependency.name:
                renames[dependency.name] = new_name
    needed = tuple(renames.get(name, name) for name in module.needed) if renames else None
    # A library already in the libs directory needs the absolute entry only where spellings
    # make copies (0.28/0.29); a 314-only wheel that finds it through $ORIGIN is left alone.
    spellings_matter = any(map(_spellings_matter, abis))
    reaches_libs = any(
        dependency.location in vendored
        or (
            spellings_matter
            and dependency.status == "included"
            and posixpath.dirname(dependency.location or "") == libs_dir
        )
        for dependency in module.dependencies
    )
    # A library of the wheel found elsewhere through RUNTIME_PATH is named by the spelling
    # that found it (``…/pkg/sub/../lib/libx.so``) on 0.28/0.29, beside the full path the
    # install loaded it by: the absolute entry of its directory first names it by that path.
    elsewhere = dict.fromkeys(
        posixpath.dirname(installed_path(dependency.location or ""))
        for dependency in module.dependencies
        if dependency.status == "included"
        and dependency.location not in vendored
        and any(_found_by_another_spelling(module, dependency, abi) for abi in abis if _spellings_matter(abi))
    )
    if not reaches_libs and not elsewhere:
        return ModulePatch(path, renames, None, (), needed=needed)
    module_dir = posixpath.dirname(installed_path(path))
    absolute, origin = runtime_path_entries(abis, module_dir, libs_dir) if reaches_libs else ((), None)
    for directory in elsewhere:
        absolute += runtime_path_entries(abis, module_dir, directory)[0]
    absolute = tuple(dict.fromkeys(absolute))
    existing = module.runtime_paths
    wanted = runtime_path_order(existing, absolute, origin)
    added = tuple(entry for entry in wanted if entry not in existing)
    return ModulePatch(path, renames, wanted if wanted != existing else None, added, needed=needed)


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


def checked_retag(
    tree: WheelArchive, libdirs: SearchPath, exclude: Sequence[str], platform: str
) -> tuple[Analysis, Retag | None]:
    """Check that ``platform`` may be written, and how.

    The default (no ``platform``) keeps the wheel's tags: a repair never names a runtime the
    wheel was not built for.  A new tag must name the ABI the wheel is already tagged for (as
    ``pyemscripten_2025_0`` names ``pyodide_2025_0``'s), and the audit of the repaired wheel
    (the input plus the libraries that will be vendored) must find nothing.  Anything else is
    refused before a byte is written.
    """
    abi = target_abi(platform)
    if tree.abi.name != abi.name:
        platforms = ", ".join(sorted(tree.wheel.platforms)) if tree.wheel else "no platform"
        built_for = f"ABI {tree.abi.name}" if tree.abi.known else f"{platforms} (no known ABI)"
        raise AuditwheelError(
            f"cannot retag to {platform}: it names ABI {abi.name}, but the wheel is built for {built_for}; "
            "rebuild it for that runtime instead."
        )
    report = audit_tree(tree, libdirs, exclude, platform)
    blocking = [finding for finding in report.findings if finding.kind != "missing-library"]
    if blocking:
        first = blocking[0]
        raise AuditwheelError(
            f"cannot retag to {platform}: the audit has {len(blocking)} finding(s), the first: "
            f"{first.module or 'the wheel'}: {first.subject}: {first.reason}; run {command('audit')} for all."
        )
    wheel_file = f"{tree.dist_info}/WHEEL"
    if not tree.holds_metadata(wheel_file):
        raise AuditwheelError(f"cannot retag: the wheel has no {wheel_file}.")
    return report.analysis, retagged(tree.path.name, wheel_file, tree.read_recorded(wheel_file), platform)
