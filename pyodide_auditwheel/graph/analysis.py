"""Dependency analysis: what each module needs and whether the runtime will find it.

Resolution follows the target ABI's own search order (``abi.search``), on the wheel's paths as
they will sit under site-packages.  Libraries found in ``--libdir`` are followed transitively,
since vendoring one brings its own needs along.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import os
import posixpath
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import AuditwheelError, WasmError
from ..runtime.abi import Abi
from ..runtime.install import InstallOutcome, find_library, loaded_at_install, resolve_in_dynlib_fs, simulate_install
from ..runtime.loader import LoaderView, view_of_section
from ..runtime.vfs import VirtualFS
from ..wasm.dylink import ModuleHead
from ..wheel.inputs import InputKind, InputTree
from ..wheel.names import WheelName, installed_at
from .libsearch import SYSROOT_SUBDIRS, LibrarySearch, SearchPath, library_chunks, library_head
from .model import Dependency, DependencyGraph, ModuleReport, Origin, Status

# Where a lone module or directory of unknown Python is taken to be installed.
UNKNOWN_SITE_PACKAGES = "/lib/python3/site-packages"


@dataclass(frozen=True)
class Analysis:
    """What one input needs, resolved for one ABI's loader.

    Attributes:
        input: the input as the user named it.
        kind: a wheel, an unpacked wheel's directory, or a lone module.
        wheel: the wheel's parsed file name (None for a lone module).
        abi: the ABI whose loader resolved the entries.
        modules: the input's side modules, then the libraries found outside it (followed
            for their own needs), each with its resolved NEEDED entries.
        notes: what ``-v`` shows: files passed over and why, where missing libraries were
            looked for.
    """

    input: str
    kind: InputKind
    wheel: WheelName | None
    abi: Abi
    modules: tuple[ModuleReport, ...]
    notes: tuple[str, ...] = ()

    @functools.cached_property
    def graph(self) -> DependencyGraph:
        """The modules and their resolved edges (built on first use, once)."""
        return DependencyGraph(self.modules)

    def dependencies_with(self, status: Status) -> dict[str, list[str]]:
        """Library name → the modules needing it, for one status."""
        return self.graph.with_status(status)

    @property
    def missing(self) -> dict[str, list[str]]:
        return self.dependencies_with("missing")

    @property
    def wheel_modules(self) -> tuple[ModuleReport, ...]:
        return tuple(module for module in self.modules if module.origin == "wheel")

    @property
    def found_libraries(self) -> tuple[ModuleReport, ...]:
        return tuple(module for module in self.modules if module.origin == "libdir")


def site_packages_of(abi: Abi, wheel: WheelName | None) -> str:
    """Where the runtime installs the wheel: the ABI's site-packages, or for an unknown ABI the
    one of the Python the wheel's tag names (``cp310`` → ``/lib/python3.10/site-packages``)."""
    if abi.site_packages:
        return abi.site_packages
    for tag in sorted(wheel.tags, key=str) if wheel else ():
        if tag.interpreter.startswith("cp3") and tag.interpreter[3:].isdigit():
            return f"/lib/python3.{tag.interpreter[3:]}/site-packages"
    return UNKNOWN_SITE_PACKAGES


def python_of(site_packages: str) -> str:
    """``3.12`` of ``/lib/python3.12/site-packages``: the Python whose extension suffixes the
    install loads."""
    return site_packages.removeprefix("/lib/python").split("/", 1)[0]


class Resolver:
    """Resolves NEEDED entries as the ABI's loader does (:mod:`pyodide_auditwheel.loader`), on
    the input's files as they will be installed, then in the library search path."""

    def __init__(self, tree: InputTree, abi: Abi, search: LibrarySearch, exclude: Sequence[str]) -> None:
        self.tree = tree
        self.abi = abi
        self.search = search
        self.exclude = tuple(exclude)
        self.libs_dir = f"{tree.wheel.file_dist}.libs" if tree.wheel else ""
        self.site_packages = site_packages_of(abi, tree.wheel)
        self._fs: VirtualFS | None = None
        self._archive_path: dict[str, str] = {}
        # Wheel files by base name, only for the names some module needs (the hint of a
        # missing library: a file of that name the runtime does not look at).
        self._by_basename: dict[str, list[str]] = {}
        self._preloaded: dict[str, str] | None = None

    @property
    def fs(self) -> VirtualFS:
        """The input's files where the runtime installs them (built on first use)."""
        if self._fs is None:
            self._fs, self._archive_path = self.tree.installed(self.site_packages)
        return self._fs

    def index_names(self, names: Iterable[str]) -> None:
        """Learn where files with these base names are, in one pass over the input."""
        # Tested one by one: a set difference with the keys would copy them on every call
        # (quadratic for a module with 30,000 NEEDED entries).
        bases = set(map(posixpath.basename, names))
        wanted = {base for base in bases if base not in self._by_basename}
        if wanted:
            self._by_basename.update(self.tree.files_named(wanted))
        if bases and self.abi.loader.search != "pyodide-preload":  # 0.21 looks in no file system of the wheel
            self.fs.expect(bases)

    def paths_named(self, base: str) -> list[str]:
        self.index_names([base])
        return self._by_basename[base]

    def in_wheel(self, name: str, module_path: str, runtime_paths: Sequence[str], in_wheel: bool) -> str | None:
        """The input file the loader finds for ``name`` needed by ``module_path``; a library
        from ``--libdir`` is looked for where it will be vendored, beside its siblings."""
        parent = (
            installed_at(self.site_packages, module_path)
            if in_wheel
            else f"{self.site_packages}/{self.libs_dir}/{name}"
        )
        rules = self.abi.loader
        if rules.search == "pyodide-preload":
            return self.preloaded(name)
        if rules.search != "emscripten":
            libs_dir = f"{self.site_packages}/{self.libs_dir}" if self.libs_dir else ""
            found = resolve_in_dynlib_fs(
                self.fs, self.site_packages, libs_dir, name, parent, walks_subdirs=rules.search == "pyodide-fs"
            )
        else:
            paths = runtime_paths if in_wheel else (*runtime_paths, "$ORIGIN")
            found = find_library(self.fs, self.site_packages, name, parent, paths)
        canonical = self.fs.lookup(found) if found is not None else None
        return self._archive_path.get(canonical) if canonical is not None else None

    def preloaded(self, name: str) -> str | None:
        """Pyodide 0.21: the member a NEEDED name reaches, a ``.so`` of the wheel that the
        install loads (by its installed path or its base name); the rest of 0.21's search is
        ``/usr/lib``, which holds nothing of the wheel.  Whether it is loaded before its user
        (archive order) is the install model's to say (:func:`predict_install`)."""
        if self._preloaded is None:
            # The wheel's modules (every .so is one), where they are installed: no file system
            # of all its members is needed, and none of them is installed in /usr/lib.
            python = python_of(self.site_packages)
            installed = {installed_at(self.site_packages, path): path for path in self.tree.module_paths()}
            loaded = [where for where in installed if loaded_at_install(where, python, self.abi.loader)]
            self._preloaded = {
                key: installed[where] for where in reversed(loaded) for key in (posixpath.basename(where), where)
            }
        return self._preloaded.get(name)

    def is_excluded(self, name: str) -> bool:
        base = name.rsplit("/", 1)[-1]
        return any(fnmatch.fnmatchcase(base, pattern) or fnmatch.fnmatchcase(name, pattern) for pattern in self.exclude)

    def resolve(
        self, name: str, module_path: str, runtime_paths: Sequence[str], in_wheel: bool
    ) -> tuple[Dependency, tuple[Path, ModuleHead] | None]:
        included = self.in_wheel(name, module_path, runtime_paths, in_wheel)
        if included is not None:
            return Dependency(name, "included", included), None
        if self.is_excluded(name):
            return Dependency(name, "excluded"), None
        found = self.search.find(name)
        if found is not None:
            return Dependency(name, "found", str(found[0]), self.search.source_of(found[0])), found
        elsewhere = self.paths_named(name.rsplit("/", 1)[-1])
        return Dependency(name, "missing", elsewhere[0] if elsewhere else None), None


Needs = tuple[tuple[str, ...], tuple[str, ...]]


def _needs(head: ModuleHead, abi: Abi, what: str) -> Needs:
    """(NEEDED, RUNTIME_PATH) of a module as the ABI's loader reads them; RUNTIME_PATH as the
    module declares it even where the loader ignores it (0.26/0.27), for ``show -r`` and so
    that a repair keeps it."""
    try:
        view = view_of_section(head.dylink, replace(abi.loader, reads_runtime_path=True))
    except WasmError as error:
        raise type(error)(f"{str(error).rstrip('.')} (the loader's reading of {what}).") from None
    return view.needed, view.runtime_paths


def _where_searched(name: str, runtime_paths: Sequence[str], abi: Abi, search: LibrarySearch) -> str:
    if abi.loader.search == "pyodide-preload":
        in_wheel = "the wheel's .so files loaded at install (by path or base name) and /usr/lib"
    elif abi.loader.search != "emscripten":
        under = " and the directories under it" if abi.loader.search == "pyodide-fs" else ""
        in_wheel = f"the <name>.libs directory, site-packages, the module's directory{under}"
    else:
        in_wheel = "LD_LIBRARY_PATH (/usr/lib, site-packages) and RUNTIME_PATH " + (
            ", ".join(runtime_paths) if runtime_paths else "(none)"
        )
    libdirs = ", ".join(f"{libdir.path} ({libdir.source})" for libdir in search.searched_sources())
    subdirs = ", ".join(SYSROOT_SUBDIRS[1:])
    where = f"in {libdirs} (each also as a sysroot: {subdirs})" if libdirs else "in no library directory"
    return f"{name}: missing; looked for as {abi.name}'s loader does, in {in_wheel}, and {where}"


def _module_needs(tree: InputTree, path: str, abi: Abi, assets: list[str]) -> Needs | None:
    """A module's needs; None for a ``.wasm`` file that is not a side module (an asset the
    runtime never loads as a library), which is noted in ``assets``."""
    try:
        return _needs(tree.read_module_head(path), abi, f"module {path}")
    except WasmError:
        if not path.endswith(".wasm") or tree.kind == "module":
            raise
        assets.append(f"{path}: a .wasm file that is not a side module (not loaded as a library)")
        return None


def analyze_tree(
    tree: InputTree, libdirs: SearchPath | Sequence[Path] = (), exclude: Sequence[str] = (), abi: Abi | None = None
) -> Analysis:
    """Resolve every module's needs as the runtime of ``abi`` (default: the wheel's tag) would."""
    abi = abi or tree.abi
    search = LibrarySearch(libdirs if isinstance(libdirs, SearchPath) else SearchPath.of(libdirs))
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
        dependencies = []
        for name in needed:
            dependency, found = resolver.resolve(name, path, runtime_paths, origin == "wheel")
            if found is not None:
                real = found[0].resolve()
                if real not in first_found:
                    first_found[real] = found[0]
                    pending.append(found)
                dependency = replace(
                    dependency, location=str(first_found[real]), source=search.source_of(first_found[real])
                )
            elif dependency.status == "missing" and name not in searched:
                searched[name] = _where_searched(name, runtime_paths, abi, search)
            dependencies.append(dependency)
        reports.append(ModuleReport(path, origin, needed, runtime_paths, tuple(dependencies)))

    # Only what resolution needs is kept of each head (a wheel may hold thousands of modules).
    assets: list[str] = []
    wheel_needs = [
        (path, needs) for path in tree.module_paths() if (needs := _module_needs(tree, path, abi, assets)) is not None
    ]
    # The names are indexed before they are resolved: one pass over the input for all the
    # wheel's modules, then one per library found outside it.
    resolver.index_names(name for _, (needed, _paths) in wheel_needs for name in needed)
    search.add_runtime_paths(entry for _, (_needed, runtime_paths) in wheel_needs for entry in runtime_paths)
    for path, needs in wheel_needs:
        report(path, "wheel", needs)
    while pending:
        library_path, head = pending.pop(0)
        needs = _needs(head, abi, f"library {library_path}")
        resolver.index_names(needs[0])
        report(str(library_path), "libdir", needs)
    notes = (*assets, *search.skipped, *searched.values())
    return Analysis(tree.display, tree.kind, tree.wheel, abi, tuple(reports), notes)


def predict_install(tree: InputTree, analysis: Analysis) -> InstallOutcome | None:
    """The library instances the analysis' ABI makes when Pyodide installs this wheel: every
    ``.so`` it loads at install, in archive order, through the loader model.  None for an input
    that is not a wheel (nothing installs a directory or a lone module)."""
    if analysis.kind != "wheel" or analysis.wheel is None:
        return None
    abi = analysis.abi
    site_packages = site_packages_of(abi, analysis.wheel)
    python = python_of(site_packages)
    views = {
        module.path: LoaderView(module.needed, module.runtime_paths, frozenset()) for module in analysis.wheel_modules
    }
    files, members = tree.installed(site_packages)
    files.expect({posixpath.basename(name) for view in views.values() for name in view.needed})
    fs = files.with_views({installed_at(site_packages, path): view for path, view in views.items()})
    dynlibs = [
        where for where, path in members.items() if path in views and loaded_at_install(where, python, abi.loader)
    ]
    libs_dir = f"{site_packages}/{analysis.wheel.file_dist}.libs"
    return simulate_install(fs, dynlibs, abi.loader, site_packages, libs_dir)


def same_content(tree: InputTree, outcome: InstallOutcome, analysis: Analysis) -> dict[str, str]:
    """Installed file → the first file holding the same library among the instances' files.

    Two files are one library when their code is equal (:func:`library_twins`): each copy is
    instantiated with its own globals."""
    _fs, members = tree.installed(site_packages_of(analysis.abi, analysis.wheel))
    loaded = {members[file] for file in dict.fromkeys(i.file for i in outcome.instances) if file in members}
    twins = library_twins(tree, analysis, loaded)
    first_of: dict[str, str] = {}
    return {
        file: first_of.setdefault(twins[member].code_sha256, file)
        for file, member in members.items()
        if member in twins and member in loaded
    }


@dataclass(frozen=True)
class LibraryCode:
    """What identifies a library across copies: the digest of its code (the bytes after the
    dylink section, which a repair rewrites), and the digest and size of the whole file."""

    code_sha256: str
    sha256: str
    size: int

    @classmethod
    def of(cls, data: bytes, code_start: int) -> LibraryCode:
        return cls(hashlib.sha256(data[code_start:]).hexdigest(), hashlib.sha256(data).hexdigest(), len(data))


def library_members(analysis: Analysis) -> set[str]:
    """The wheel's modules that are libraries, not Python extension modules: those some module
    NEEDs, those named as a NEEDED entry is, and those named as libraries are (``lib*``).  Only
    these are compared as copies, and merged by a repair: an extension module is imported by
    its own path."""
    needed_bases = {posixpath.basename(name) for module in analysis.modules for name in module.needed}
    reached = analysis.graph.needed_members
    return {
        module.path
        for module in analysis.wheel_modules
        if module.path in reached or (base := posixpath.basename(module.path)) in needed_bases or base.startswith("lib")
    }


def libraries_keyed_twice(analysis: Analysis) -> set[str]:
    """The wheel's libraries that Pyodide 0.24-0.27 key by a second name beside the full path
    the install loads them by (a second instance): those a module NEEDs by a path
    (``pkg/a/libfoo.so``), and those a library from a libdir NEEDs (vendored first, it loads
    them by name before the install reaches them)."""
    return {
        edge.target
        for edge in analysis.graph.edges
        if edge.in_wheel and ("/" in edge.dependency.name or edge.user.origin == "libdir")
    }


def libraries_loaded_after_a_user(analysis: Analysis) -> set[str]:
    """The wheel's libraries that Pyodide 0.21 does not find: it loads the wheel's ``.so``
    files in archive order, each after its NEEDED, so a library listed after a module that
    needs it is looked for before it is loaded (and then only in ``/usr/lib``)."""
    position = {module.path: index for index, module in enumerate(analysis.wheel_modules)}
    return {
        edge.target
        for edge in analysis.graph.edges
        if edge.in_wheel and edge.user.path in position and position.get(edge.target, -1) > position[edge.user.path]
    }


def library_twins(
    tree: InputTree, analysis: Analysis, members: Collection[str] | None = None, also: Collection[str] = ()
) -> dict[str, LibraryCode]:
    """The libraries that share their code with another: wheel members (by path) and libdir
    files (by absolute path), each with its :class:`LibraryCode`.

    These are what a repair merges into one vendored file: two copies in the wheel, or a copy
    in the wheel that a module cannot reach beside the libdir file the analysis found, are each
    instantiated at install.  The wheel's candidates are its :func:`library_members` (of
    ``members``, when given); ``also`` are members included whether they have a twin or not.
    Only files whose code is of equal size are read whole."""
    candidates = library_members(analysis)
    if members is not None:
        candidates &= set(members)
    readers: dict[str, tuple[int, int, Callable[[], bytes]]] = {}  # path -> (code size, code start, read)
    for module in analysis.modules:
        path = module.path
        try:
            if module.origin == "libdir" and members is None:
                start = library_head(Path(path)).first_section_end
                size = os.stat(path).st_size
                readers[path] = (size - start, start, functools.partial(_read_library, Path(path)))
            elif path in candidates:
                start = tree.read_module_head(path).first_section_end
                readers[path] = (tree.size(path) - start, start, functools.partial(tree.read, path))
        except (AuditwheelError, OSError):
            continue  # unreadable: the analysis has said so already
    by_code_size: dict[int, list[str]] = {}
    for path, (code_size, _start, _read) in readers.items():
        by_code_size.setdefault(code_size, []).append(path)
    codes: dict[str, LibraryCode] = {}
    for paths in by_code_size.values():
        if len(paths) < 2 and not set(paths) & set(also):
            continue
        for path in paths:
            _size, start, read = readers[path]
            codes[path] = LibraryCode.of(read(), start)
    shared = Counter(code.code_sha256 for code in codes.values())
    twins = {path: code for path, code in codes.items() if shared[code.code_sha256] > 1 or path in also}
    if members is None:  # for a repair: the wheel's libraries they need move with them
        for path in analysis.graph.closure(twins) - twins.keys():
            twins[path] = LibraryCode.of(tree.read(path), tree.read_module_head(path).first_section_end)
    return twins


def _read_library(path: Path) -> bytes:
    return b"".join(library_chunks(path))
