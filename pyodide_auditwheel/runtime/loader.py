"""The runtime's loader as a model: what it reads of ``dylink.0``, where it finds a NEEDED
library, and how many instances of each library it makes when it installs a wheel.

Everything here follows the loader's own code (``getDylinkMetadata``, ``findLibraryFS``,
``loadDynamicLibrary`` in ``pyodide.asm.js``, Pyodide's ``DynlibLoader`` and
``_package_loader.get_dynlibs``) and is held against it by the conformance harness
(``tests/test_conformance.py``), which drives those functions in each pinned runtime on
thousands of generated inputs.  Where the model and a runtime disagree, the model is wrong.

Four loader families exist (``LoaderRules.search``):

* ``pyodide-preload`` (Pyodide 0.21): each ``.so`` of the wheel, in archive order, is
  instantiated from its own file (``loadDynlib`` → ``loadWebAssemblyModule``) and then known to
  later NEEDED entries by its path and its base name (``preloadedWasm``); a NEEDED name is
  looked for among those, then only in ``/usr/lib``.  A library listed after its first user
  is not found, and one that an earlier module already loaded from ``/usr/lib`` is
  instantiated again.
* ``pyodide-fs-global`` (Pyodide 0.24/0.25): as ``pyodide-fs`` below, but the wheel's ``.so``
  files that another one NEEDs are loaded first, globally (and known by their base name), and
  the file system does not walk the module's subdirectories.
* ``pyodide-fs`` (Pyodide 0.26/0.27, emscripten 3.1.58): Pyodide passes emscripten a file
  system whose lookup tries ``<wheel name>.libs``, ``/usr/lib``, site-packages and the
  installed module's directory, then every directory under it; RUNTIME_PATH is never read; a
  library is keyed by its NEEDED string as written, a module loaded by path also by its base
  name.
* ``emscripten`` (0.28 and later): ``findLibraryFS`` searches ``LD_LIBRARY_PATH`` and the
  needing module's RUNTIME_PATH (``$ORIGIN`` replaced by the directory of the *name* the
  parent was loaded by) and keys the library by the path it found, as written (0.28/0.29)
  or normalised (314 and later).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ..errors import MalformedModuleError
from ..wasm.sections import ByteReader

if TYPE_CHECKING:
    from ..wasm.dylink import DylinkSection

NeededRule = Literal["merge", "last"]
SearchRule = Literal["pyodide-preload", "pyodide-fs-global", "pyodide-fs", "emscripten"]

MEM_INFO, NEEDED, EXPORT_INFO, IMPORT_INFO, RUNTIME_PATH = 1, 2, 3, 4, 5
SYMBOL_BINDING_MASK = 0x3
SYMBOL_BINDING_WEAK = 0x1
SYMBOL_TLS = 0x100


@dataclass(frozen=True)
class LoaderRules:
    """How one ABI's loader reads and finds libraries (``loader`` in ``data/abis.json``)."""

    needed: NeededRule
    reads_runtime_path: bool
    reads_legacy_dylink: bool
    search: SearchRule
    normalizes_names: bool


@dataclass(frozen=True)
class LoaderView:
    """What ``getDylinkMetadata`` returns for a module: the fields the loader acts on."""

    needed: tuple[str, ...]
    runtime_paths: tuple[str, ...]
    weak_imports: frozenset[str]
    tls_exports: frozenset[str] = frozenset()


def read_dylink(name: str, body: bytes, rules: LoaderRules) -> LoaderView:
    """The loader's reading of a dylink section body (the bytes after its name).

    Known subsections are read field by field, as the loader reads them, so a declared size
    larger than the fields leaves the rest to be read as further subsections; only unknown
    subsections are skipped by their size.  With ``needed == "last"`` each NEEDED (and
    RUNTIME_PATH) subsection replaces what an earlier one said; with ``"merge"`` NEEDED
    subsections add up.  Where the loader would read past the section, this raises
    :class:`MalformedModuleError`: the tool refuses what the runtime would read as garbage.
    """
    reader = ByteReader(body, what="dylink section")
    needed: list[str] = []
    runtime_paths: list[str] = []
    weak: set[str] = set()
    tls: set[str] = set()
    if name == "dylink":
        if not rules.reads_legacy_dylink:
            raise MalformedModuleError(
                "the legacy 'dylink' section (emscripten < 2.0.30) is not read by this runtime's loader, which "
                "fails with 'need dylink section'; rebuild the module with emscripten >= 2.0.30."
            )
        for _ in range(4):
            reader.uleb32()
        needed = [reader.name() for _ in range(reader.count())]
        return LoaderView(tuple(needed), (), frozenset())
    while not reader.at_end():
        kind = reader.u8()
        size = reader.uleb32()
        if kind == MEM_INFO:
            for _ in range(4):
                reader.uleb32()
        elif kind == NEEDED:
            names = [reader.name() for _ in range(reader.count())]
            needed = [*needed, *names] if rules.needed == "merge" else names
        elif kind == EXPORT_INFO:
            for _ in range(reader.count(2)):
                symbol, flags = reader.name(), reader.uleb32()
                if flags & SYMBOL_TLS:
                    tls.add(symbol)
        elif kind == IMPORT_INFO:
            for _ in range(reader.count(3)):
                reader.name()
                symbol, flags = reader.name(), reader.uleb32()
                if flags & SYMBOL_BINDING_MASK == SYMBOL_BINDING_WEAK:
                    weak.add(symbol)
        elif kind == RUNTIME_PATH and rules.reads_runtime_path:
            runtime_paths = [reader.name() for _ in range(reader.count())]
        else:
            reader.take(size)
    return LoaderView(tuple(needed), tuple(runtime_paths), frozenset(weak), frozenset(tls))


def view_of_section(section: DylinkSection, rules: LoaderRules) -> LoaderView:
    """What the loader of ``rules`` reads of a decoded section, from the bytes it re-encodes to.
    It can differ from the decoder's subsections: several NEEDED, padding read as a
    subsection (see :func:`read_dylink`)."""
    return read_dylink(section.section_name, section.encode_body(), rules)


# --- emscripten's PATH, exactly: its dirname keeps what posixpath.dirname would strip ----------

_SPLIT_PATH = re.compile(r"^(/?|)([\s\S]*?)((?:\.{1,2}|[^/]+?|)(\.[^./]*|))(?:[/]*)$")


def js_dirname(path: str) -> str:
    """emscripten's ``PATH.dirname``: ``/a/b//c`` → ``/a/b/`` (one slash dropped, no more)."""
    head, slash, _base = path.rpartition("/")
    if slash and not head.endswith("/") and not path.endswith("/"):
        return head or "/"  # the common case, without the regular expression
    match = _SPLIT_PATH.match(path)
    root, directory = (match.group(1), match.group(2)) if match else ("", "")
    if not root and not directory:
        return "."
    return root + directory[:-1] if directory else root


def js_normalize(path: str) -> str:
    """emscripten's ``PATH.normalize`` (``..`` above the root is dropped, trailing ``/`` kept)."""
    absolute = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if not part or part == ".":
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not absolute:
                parts.append(part)
        else:
            parts.append(part)
    joined = "/".join(parts)
    if not joined and not absolute:
        joined = "."
    if joined and path.endswith("/"):
        joined += "/"
    return ("/" if absolute else "") + joined


def replace_origin(parent_name: str, entry: str) -> str:
    """emscripten's ``replaceORIGIN``: only a leading ``$ORIGIN`` counts, replaced by text."""
    if entry.startswith("$ORIGIN"):
        return entry.replace("$ORIGIN", js_dirname(parent_name), 1)
    return entry


# --- the virtual file system a wheel is installed into ------------------------------------------


@dataclass
class VirtualFS:
    """Files by absolute path, with directories in creation order (MEMFS lists a directory's
    entries in the order they were made, which is the order Pyodide 0.27 walks them).

    ``complete``, when given, is told the base names a lookup is about to ask for before it
    asks, and adds the files of those names: a wheel's file system then holds its directories
    and only the files something looks for, not every member (a quarter of the memory of
    ``show`` and ``audit`` grew with the wheel that way).  A lookup's answer depends only on
    the files of its last component's name: a file anywhere else in the path ends the walk
    whether or not it was added."""

    files: dict[str, LoaderView | None] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=lambda: {"/": []})
    views: Mapping[str, LoaderView | None] = field(default_factory=dict)
    complete: Callable[[Collection[str]], None] | None = None
    # Whether some path is both a file and a directory (shared with with_views' copies): only
    # then must a lookup walk its path a step at a time.
    overlaps: list[bool] = field(default_factory=lambda: [False])

    def with_views(self, views: Mapping[str, LoaderView | None]) -> VirtualFS:
        """The same tree with these files' views (files and directories are shared, not
        copied: files one of them adds, the other has too)."""
        return VirtualFS(self.files, self.children, {**self.views, **views}, self.complete, self.overlaps)

    def view(self, path: str) -> LoaderView | None:
        """What the loader reads of the file at ``path`` (None: not a side module, or no file)."""
        return self.views[path] if path in self.views else self.files.get(path)

    def expect(self, bases: Collection[str]) -> None:
        """Files of these base names are about to be looked for (one pass for all of them)."""
        if self.complete is not None:
            self.complete(bases)

    def add_dir(self, path: str) -> None:
        if path in self.children:
            return
        if path in self.files:
            self.overlaps[0] = True
        parent = js_dirname(path)
        self.add_dir(parent)
        self.children[parent].append(path)
        self.children[path] = []

    def add_file(self, path: str, view: LoaderView | None) -> None:
        directory = js_dirname(path)
        if directory not in self.children:
            self.add_dir(directory)
        if path not in self.files:
            self.children[directory].append(path)
        if path in self.children:
            self.overlaps[0] = True
        self.files[path] = view

    def lookup(self, path: str) -> str | None:
        """The node a path names, walking it as the FS does (each ``..`` from a directory that
        exists), as a canonical path; None when any step does not exist."""
        if not path.startswith("/"):
            return None
        current = "/"
        parts = [part for part in path.split("/") if part and part != "."]
        if parts and parts[-1] != ".." and self.complete is not None:
            self.complete((parts[-1],))
        if ".." not in parts and not self.overlaps[0]:
            # Every node's parents are directories (add_file and add_dir make them), and no
            # directory is a file: the path names its node, if there is one, as it is.
            canonical = "/" + "/".join(parts)
            return canonical if canonical in self.files or canonical in self.children else None
        for index, part in enumerate(parts):
            if current in self.files:
                return None  # a file in the middle of a path
            if part == "..":
                current = js_dirname(current) if current != "/" else "/"
                continue
            child = (current.rstrip("/") + "/" + part) if current != "/" else "/" + part
            if child not in self.children and child not in self.files:
                return None
            current = child
            if index < len(parts) - 1 and current in self.files:
                return None
        return current

    def subdirs(self, path: str) -> Iterable[str]:
        """Every directory under ``path``, depth first, in creation order (``getSubDirs``)."""
        for child in self.children.get(path, []):
            if child in self.children:
                yield child
                yield from self.subdirs(child)


# --- which files Pyodide loads at install ---------------------------------------------------------

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


def view_of_module(data: bytes, rules: LoaderRules) -> LoaderView:
    """The loader's view of a whole module (or its first bytes): the first section must be a
    custom section, whose name selects the reader, as ``getDylinkMetadata`` requires."""
    if len(data) < 24 and len(data) % 4:
        # The loader views the first 24 bytes as 32-bit words to test the magic number.
        raise MalformedModuleError("too short to be read by the loader (byte length of Uint32Array).")
    if data[:4] != b"\0asm":
        raise MalformedModuleError("not wasm: need to see wasm magic number.")
    if len(data) < 9 or data[8] != 0:
        raise MalformedModuleError("need the dylink section to be first.")
    reader = ByteReader(data, 9, what="first section")
    section = ByteReader(reader.take(reader.uleb32()), what="first section")
    name = section.name()
    if name not in ("dylink.0", "dylink"):
        raise MalformedModuleError(f"need dylink section: the first section is {name!r}.")
    return read_dylink(name, section.take(section.remaining), rules)
