"""Dependency analysis: what each module needs and whether the runtime will find it.

Resolution follows the target ABI's own search order (``abi.search``), on the wheel's paths as
they will sit under site-packages.  Libraries found in ``--libdir`` are followed transitively,
since vendoring one brings its own needs along.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from .abi import Abi
from .dylink import ModuleHead
from .errors import WasmError
from .inputs import InputKind, InputTree
from .libsearch import LibrarySearch
from .wheel import WheelName, installed_path

Status = Literal["included", "found", "excluded", "missing"]
Origin = Literal["wheel", "libdir"]
SITE_PACKAGES_PREFIX = "/lib/python3."


@dataclass(frozen=True)
class Dependency:
    """One NEEDED entry of a module and where it resolves.

    ``location`` is a path inside the input for *included*, a file-system path for *found*,
    and, for *missing*, a file of that name elsewhere in the wheel that the runtime will not
    look at (a hint), else None.
    """

    name: str
    status: Status
    location: str | None = None


@dataclass(frozen=True)
class ModuleReport:
    path: str
    origin: Origin
    needed: tuple[str, ...]
    runtime_paths: tuple[str, ...]
    dependencies: tuple[Dependency, ...]


@dataclass(frozen=True)
class Analysis:
    input: str
    kind: InputKind
    wheel: WheelName | None
    abi: Abi
    modules: tuple[ModuleReport, ...]
    # What -v shows: files passed over and why, where missing libraries were looked for.
    notes: tuple[str, ...] = ()

    def dependencies_with(self, status: Status) -> dict[str, list[str]]:
        """Library name → the modules needing it, for one status."""
        result: dict[str, list[str]] = {}
        for module in self.modules:
            for dependency in module.dependencies:
                if dependency.status == status:
                    result.setdefault(dependency.name, []).append(module.path)
        return result

    @property
    def missing(self) -> dict[str, list[str]]:
        return self.dependencies_with("missing")

    @property
    def wheel_modules(self) -> tuple[ModuleReport, ...]:
        return tuple(module for module in self.modules if module.origin == "wheel")

    @property
    def found_libraries(self) -> tuple[ModuleReport, ...]:
        return tuple(module for module in self.modules if module.origin == "libdir")


def wheel_path_of_runtime_dir(entry: str, module_dir: str, site_packages: str) -> str | None:
    """The wheel-relative directory a RUNTIME_PATH entry points at, if inside the wheel.

    ``$ORIGIN`` counts only as a prefix (as in emscripten's ``replaceORIGIN``); absolute
    entries under any ``/lib/python3.N/site-packages`` map onto the wheel root.  None means
    the entry points outside the wheel.
    """
    if entry.startswith("$ORIGIN"):
        rest = entry[len("$ORIGIN") :]
        if rest and not rest.startswith("/"):
            return None
        joined = posixpath.normpath(posixpath.join(module_dir or ".", rest.lstrip("/") or "."))
    elif entry.startswith(SITE_PACKAGES_PREFIX) or (site_packages and entry.startswith(site_packages)):
        parts = entry.split("/")
        if len(parts) < 4 or parts[3] != "site-packages":
            return None
        joined = posixpath.normpath("/".join(parts[4:]) or ".")
    else:
        return None
    if joined == ".." or joined.startswith("../"):
        return None
    return "" if joined == "." else joined


def _join(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


class Resolver:
    """Resolves NEEDED entries against one input tree, one ABI and the library search path."""

    def __init__(self, tree: InputTree, abi: Abi, search: LibrarySearch, exclude: Sequence[str]) -> None:
        self.tree = tree
        self.abi = abi
        self.search = search
        self.exclude = tuple(exclude)
        self.libs_dir = f"{tree.wheel.file_dist}.libs" if tree.wheel else ""
        # Wheel files by base name, only for the names some module needs: a NEEDED entry can
        # only ever resolve to a file of that name, and indexing every file of a large wheel
        # would cost memory for nothing.
        self._by_basename: dict[str, list[str]] = {}

    def index_names(self, names: Iterable[str]) -> None:
        """Learn where files with these base names are, in one pass over the input."""
        wanted = {posixpath.basename(name) for name in names} - self._by_basename.keys()
        if not wanted:
            return
        self._by_basename.update(self.tree.files_named(wanted))

    def paths_named(self, base: str) -> list[str]:
        self.index_names([base])
        return self._by_basename[base]

    def has_file(self, path: str) -> bool:
        return path in self.paths_named(path.rsplit("/", 1)[-1])

    def candidate_dirs(self, module_path: str, runtime_paths: Sequence[str], in_wheel: bool) -> list[str]:
        """Wheel directories the runtime searches for this module, in order."""
        module_dir = posixpath.dirname(installed_path(module_path)) if in_wheel else ""
        dirs: list[str] = []
        for step in self.abi.search:
            if step in ("ld_library_path", "site_packages"):
                dirs.append("")
            elif step == "libs_dir" and self.libs_dir:
                dirs.append(self.libs_dir)
            elif step == "own_dir" and in_wheel:
                dirs.append(module_dir)
            elif step == "runtime_path":
                for entry in runtime_paths:
                    resolved = wheel_path_of_runtime_dir(entry, module_dir, self.abi.site_packages)
                    if resolved is not None:
                        dirs.append(resolved)
        return dirs

    def in_wheel(self, name: str, dirs: Sequence[str]) -> str | None:
        if name.startswith("/"):
            resolved = wheel_path_of_runtime_dir(posixpath.dirname(name), "", self.abi.site_packages)
            candidate = None if resolved is None else _join(resolved, posixpath.basename(name))
            return candidate if candidate is not None and self.has_file(candidate) else None
        if "/" in name:
            return None
        return next((path for path in (_join(d, name) for d in dirs) if self.has_file(path)), None)

    def is_excluded(self, name: str) -> bool:
        base = name.rsplit("/", 1)[-1]
        return any(fnmatch.fnmatchcase(base, pattern) or fnmatch.fnmatchcase(name, pattern) for pattern in self.exclude)

    def resolve(self, name: str, dirs: Sequence[str]) -> tuple[Dependency, tuple[Path, ModuleHead] | None]:
        included = self.in_wheel(name, dirs)
        if included is not None:
            return Dependency(name, "included", included), None
        if self.is_excluded(name):
            return Dependency(name, "excluded"), None
        found = self.search.find(name)
        if found is not None:
            return Dependency(name, "found", str(found[0])), found
        elsewhere = self.paths_named(name.rsplit("/", 1)[-1])
        return Dependency(name, "missing", elsewhere[0] if elsewhere else None), None


Needs = tuple[tuple[str, ...], tuple[str, ...]]


def _needs(head: ModuleHead) -> Needs:
    """(NEEDED, RUNTIME_PATH) of a module."""
    return head.dylink.needed, head.dylink.runtime_paths


def _where_searched(name: str, dirs: Sequence[str], search: LibrarySearch) -> str:
    in_wheel = ", ".join(f"{d}/" if d else "(the wheel's root)" for d in dict.fromkeys(dirs)) or "nowhere in the wheel"
    libdirs = ", ".join(str(d) for d in search.search_path()) or "no --libdir"
    return f"{name}: missing; looked for in the wheel at {in_wheel} and in {libdirs}"


def _module_needs(tree: InputTree, path: str, assets: list[str]) -> Needs | None:
    """A module's needs; None for a ``.wasm`` file that is not a side module (an asset the
    runtime never loads as a library), which is noted in ``assets``."""
    try:
        return _needs(tree.read_module_head(path))
    except WasmError:
        if not path.endswith(".wasm") or tree.kind == "module":
            raise
        assets.append(f"{path}: a .wasm file that is not a side module (not loaded as a library)")
        return None


def analyze_tree(
    tree: InputTree, libdirs: Sequence[Path] = (), exclude: Sequence[str] = (), abi: Abi | None = None
) -> Analysis:
    """Resolve every module's needs as the runtime of ``abi`` (default: the wheel's tag) would."""
    abi = abi or tree.abi
    search = LibrarySearch(list(libdirs))
    resolver = Resolver(tree, abi, search, exclude)
    reports: list[ModuleReport] = []
    pending: list[tuple[Path, ModuleHead]] = []
    # A library reached under two names (libfoo.so -> libfoo.so.1 in a sysroot) is one file:
    # every name maps to the path it was first found by, so it is vendored, and loaded, once.
    first_found: dict[Path, Path] = {}
    # For -v: where each missing library was looked for.
    searched: dict[str, str] = {}

    def report(path: str, origin: Origin, needs: Needs) -> None:
        needed, runtime_paths = needs
        dirs = resolver.candidate_dirs(path, runtime_paths, origin == "wheel")
        if origin == "libdir":
            # Once vendored, a library sits in the libs directory beside its siblings.
            dirs = [*dirs, resolver.libs_dir] if resolver.libs_dir else dirs
        dependencies = []
        for name in needed:
            dependency, found = resolver.resolve(name, dirs)
            if found is not None:
                real = found[0].resolve()
                if real not in first_found:
                    first_found[real] = found[0]
                    pending.append(found)
                dependency = replace(dependency, location=str(first_found[real]))
            elif dependency.status == "missing" and name not in searched:
                searched[name] = _where_searched(name, dirs, search)
            dependencies.append(dependency)
        reports.append(ModuleReport(path, origin, needed, runtime_paths, tuple(dependencies)))

    # Only what resolution needs is kept of each head (a wheel may hold thousands of modules).
    assets: list[str] = []
    wheel_needs = [
        (path, needs) for path in tree.module_paths() if (needs := _module_needs(tree, path, assets)) is not None
    ]
    resolver.index_names(name for _, (needed, _paths) in wheel_needs for name in needed)
    for path, needs in wheel_needs:
        report(path, "wheel", needs)
    while pending:
        library_path, head = pending.pop(0)
        report(str(library_path), "libdir", _needs(head))
    notes = (*assets, *search.skipped, *searched.values())
    return Analysis(tree.display, tree.kind, tree.wheel, abi, tuple(reports), notes)
