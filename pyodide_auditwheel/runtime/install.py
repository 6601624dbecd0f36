"""What a release does installing a wheel: which of its ``.so`` files it loads at install,
where each NEEDED library is found (``findLibraryFS``, Pyodide 0.26/0.27's file system,
0.21's preloaded names), and the instances of each library it makes, for the four loader
families :mod:`.loader` describes.  Held against the real loaders by the conformance
harness, and in the fast tier by their recorded answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .loader import LoaderRules, LoaderView
from .vfs import VirtualFS, js_normalize, replace_origin

_SHAREDLIB = re.compile(r"\.so(.\d+)*$")


_PLATFORM_TAG = re.compile(r"\.(cpython|pypy|jython)-[0-9]{2,}[a-z]*(-[a-z0-9_-]*)?")


def loaded_at_install(path: str, python: str, rules: LoaderRules) -> bool:
    """``_package_loader.should_load_dynlib``: the files Pyodide dlopens when it installs a
    wheel (an extension module for another Python is left alone).  Pyodide 0.21 loads only
    names that end in ``.so``: ``libfoo.so.1`` is unpacked but never loaded."""
    name = path.rsplit("/", 1)[-1]
    if not _SHAREDLIB.search(name):
        return False
    suffixes = ["." + part for part in name.lstrip(".").split(".")[1:]]
    if ".so" not in suffixes or (rules.search == "pyodide-preload" and suffixes[-1] != ".so"):
        return False
    if len(suffixes) == 1:
        return True
    tag = suffixes[suffixes.index(".so") - 1]
    tags = (f".cpython-{python.replace('.', '')}-wasm32-emscripten", ".abi3", "")
    return tag in tags or not _PLATFORM_TAG.match(tag)


@dataclass(frozen=True)
class Instance:
    """One instance of a library in the process: the names the loader keys it by and the file
    it read."""

    names: tuple[str, ...]
    file: str


@dataclass(frozen=True)
class InstallOutcome:
    """What a release's install of a wheel makes, as its loader would.

    Attributes:
        instances: each library instance in the process, in load order.
        error: the loader's own message when the install fails (None: it succeeds).
    """

    instances: tuple[Instance, ...]
    error: str | None

    def copies(self, same_content: Mapping[str, str] | None = None) -> dict[str, list[Instance]]:
        """Instances by library (by content, through ``same_content``: file → content key),
        for libraries with more than one."""
        by_library: dict[str, list[Instance]] = {}
        for instance in self.instances:
            key = same_content.get(instance.file, instance.file) if same_content else instance.file
            by_library.setdefault(key, []).append(instance)
        return {key: found for key, found in by_library.items() if len(found) > 1}


def find_library(fs: VirtualFS, site_packages: str, name: str, parent: str, runtime_paths: Sequence[str]) -> str | None:
    """``findLibraryFS`` (emscripten >= 4): an absolute name as it is, if it exists; a bare
    name through ``LD_LIBRARY_PATH`` (``/usr/lib:<site-packages>``), then RUNTIME_PATH with
    ``$ORIGIN`` replaced, each directory joined to the name with one ``/`` and nothing
    normalised; a relative name with a slash never."""
    if name.startswith("/"):
        return name if fs.lookup(name) is not None else None
    if "/" in name:
        return None
    for directory in ["/usr/lib", site_packages, *runtime_path_directories(parent, runtime_paths)]:
        if fs.lookup(f"{directory}/{name}") is not None:
            return f"{directory}/{name}"
    return None


def runtime_path_directories(parent: str, runtime_paths: Sequence[str]) -> list[str]:
    """The directories RUNTIME_PATH names for a module at ``parent``, in order, as
    ``findLibraryFS`` splits them: ``$ORIGIN`` replaced, entries joined with ``:`` and split
    again (an entry may hold several), empty ones dropped."""
    resolved = ":".join(replace_origin(parent, entry) for entry in runtime_paths)
    return [directory for directory in resolved.split(":") if directory]


def resolve_in_dynlib_fs(
    fs: VirtualFS, site_packages: str, libs_dir: str, name: str, module: str, *, walks_subdirs: bool = True
) -> str | None:
    """Pyodide's ``createDynlibFS(module, [libs dir])``: a name (a slash allowed) in
    ``<wheel name>.libs``, ``/usr/lib``, site-packages and the module's directory, then (0.26/
    0.27) every directory under the module's, depth first.  0.26/0.27 take an absolute name as
    it is; 0.24/0.25 join it to those directories too before they fall back to it."""
    if name.startswith("/") and walks_subdirs:
        return name if fs.lookup(name) is not None else None
    module_dir = module[: module.rfind("/")]
    for directory in [libs_dir, "/usr/lib", site_packages, module_dir]:
        candidate = js_normalize(f"{directory}/{name}")
        if fs.lookup(candidate) is not None:
            return candidate
    if walks_subdirs:
        for directory in fs.subdirs(module_dir or "/"):
            candidate = js_normalize(f"{directory}/{name}")
            if fs.lookup(candidate) is not None:
                return candidate
    return name if name.startswith("/") and fs.lookup(name) is not None else None


class LoadFailed(Exception):
    """The loader gave up: a NEEDED library it cannot find, or a file that is not wasm."""


@dataclass
class _Process:
    fs: VirtualFS
    rules: LoaderRules
    site_packages: str
    libs_dir: str
    by_name: dict[str, int] = field(default_factory=dict)
    instances: list[list[str]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    completed: set[int] = field(default_factory=set)
    # 0.21's ``preloadedWasm``: the instance of each preloaded file, by path and base name.
    preloaded: dict[str, int] = field(default_factory=dict)

    # -- emscripten >= 4 ---------------------------------------------------------------------

    def find_library(self, name: str, parent: str, runtime_paths: Sequence[str]) -> str | None:
        return find_library(self.fs, self.site_packages, name, parent, runtime_paths)

    def key(self, name: str) -> str:
        return js_normalize(name) if self.rules.normalizes_names else name

    def load_emscripten(self, name: str) -> None:
        name = self.key(name)
        if name in self.by_name:
            return
        found = self.find_library(name, "", ())
        view = self.read(found, name)
        instance = self.register(name, found or name)
        for needed in view.needed:
            located = self.find_library(needed, name, view.runtime_paths) or needed
            self.load_emscripten(located)
        self.completed.add(instance)

    # -- Pyodide 0.26/0.27 -------------------------------------------------------------------

    def resolve_pyodide_fs(self, name: str, module: str) -> str | None:
        return resolve_in_dynlib_fs(
            self.fs, self.site_packages, self.libs_dir, name, module, walks_subdirs=self.rules.search == "pyodide-fs"
        )

    def load_pyodide_fs(self, name: str, module: str) -> None:
        if name in self.by_name:
            return
        found = self.resolve_pyodide_fs(name, module)
        view = self.read(found, name)
        instance = self.register(name, found or name)
        for needed in view.needed:
            self.load_pyodide_fs(needed, module)
        self.completed.add(instance)

    # -- Pyodide 0.21 -------------------------------------------------------------------------

    def preload(self, path: str) -> None:
        """``loadDynlib``: the file's NEEDED first, then an instance of the file itself, made
        whatever the process already holds, known by path and base name to later NEEDED."""
        view = self.read(path, path)
        for needed in view.needed:
            self.load_needed_preloaded(needed)
        instance = len(self.instances)
        self.instances.append([])
        self.files.append(self.fs.lookup(path) or path)
        self.preloaded[path] = self.preloaded[path.rsplit("/", 1)[-1]] = instance
        self.completed.add(instance)

    def name_preloaded(self) -> None:
        """Each instance's names as the process holds them at the end: its LDSO keys and its
        ``preloadedWasm`` keys (a later file of the same base name takes that key over)."""
        for names in self.instances:
            names.clear()
        for name, instance in [*self.by_name.items(), *self.preloaded.items()]:
            if instance >= 0 and name not in self.instances[instance]:
                self.instances[instance].append(name)

    def load_needed_preloaded(self, name: str) -> None:
        """``loadDynamicLibrary`` of emscripten 3.1.14 with Pyodide's ``/usr/lib`` file system:
        a name already loaded, else a preloaded file of that name, else ``/usr/lib/<name>``."""
        if name in self.by_name:
            return
        if name in self.preloaded:
            self.by_name[name] = self.preloaded[name]
            return
        found = js_normalize(f"/usr/lib/{name}")
        view = self.read(found, name)
        instance = self.register(name, found)
        for needed in view.needed:
            self.load_needed_preloaded(needed)
        self.completed.add(instance)

    # -- all ---------------------------------------------------------------------------------

    def read(self, found: str | None, name: str) -> LoaderView:
        canonical = self.fs.lookup(found) if found is not None else None
        if canonical is None or canonical not in self.fs.files:
            raise LoadFailed(f'Failed to find dynamic library "{name}"')
        view = self.fs.view(canonical)
        if view is None:
            raise LoadFailed(f"{name} is not a wasm side module (need to see wasm magic number)")
        return view

    def register(self, name: str, file: str) -> int:
        """A new instance, keyed by ``name`` before its own needs are loaded (as ``newDSO``
        is), so a cycle of NEEDED ends; it counts once its load completes."""
        self.by_name[name] = len(self.instances)
        self.instances.append([name])
        self.files.append(self.fs.lookup(file) or file)
        return len(self.instances) - 1

    def alias(self, name: str, of: str) -> None:
        if name not in self.by_name and of in self.by_name:
            self.by_name[name] = self.by_name[of]
            self.instances[self.by_name[of]].append(name)


def simulate_install(
    fs: VirtualFS,
    dynlibs: Sequence[str],
    rules: LoaderRules,
    site_packages: str,
    libs_dir: str,
    preloaded: Iterable[str] = (),
) -> InstallOutcome:
    """The instances the runtime makes when it installs a wheel whose ``dynlibs`` (absolute
    installed paths, archive order) are in ``fs``: Pyodide loads each in turn, and stops at
    the first that fails.  ``preloaded`` are names already known to the process."""
    process = _Process(fs, rules, site_packages, libs_dir)
    for name in preloaded:
        process.by_name[name] = -1
    error = None
    try:
        if rules.search == "pyodide-preload":
            for path in dynlibs:
                process.preload(path)
        elif rules.search == "pyodide-fs-global":
            # calculateGlobalLibs: a .so another one NEEDs (by base name) is loaded first and
            # globally, then known by its base name; the others after, in archive order.
            needed = {name for path in dynlibs if (view := fs.view(path)) for name in view.needed}
            for path in sorted(dynlibs, key=lambda path: path.rsplit("/", 1)[-1] not in needed):
                process.load_pyodide_fs(path, path)
                if path.rsplit("/", 1)[-1] in needed:
                    process.alias(path.rsplit("/", 1)[-1], path)
        for path in dynlibs if rules.search in ("pyodide-fs", "emscripten") else ():
            if rules.search == "pyodide-fs":
                process.load_pyodide_fs(path, path)
                process.alias(path.rsplit("/", 1)[-1], path)
            else:
                process.load_emscripten(path)
    except LoadFailed as failure:
        error = str(failure)
    if rules.search == "pyodide-preload":
        process.name_preloaded()
    instances = tuple(
        Instance(tuple(names), file)
        for number, (names, file) in enumerate(zip(process.instances, process.files, strict=True))
        if number in process.completed
    )
    return InstallOutcome(instances, error)
