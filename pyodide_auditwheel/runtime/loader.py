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

from dataclasses import dataclass
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


# --- the virtual file system a wheel is installed into ------------------------------------------


# --- which files Pyodide loads at install ---------------------------------------------------------


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


def call_through_a_stub(imported: str | None, exported: str | None) -> str:
    """What a call does when the loader binds an import to another module's export through a
    JavaScript stub (which checks no types): JavaScript converts each value between the two
    types, and a BigInt (i64) and a Number do not convert into each other."""
    stub = "the loader binds it through a JavaScript stub that checks no types, so "
    if imported is None or exported is None:
        return stub + "the call gets converted arguments and results"
    (import_params, import_results), (export_params, export_results) = (
        [[value for value in side.split(",") if value] for side in text.split("->")] for text in (imported, exported)
    )
    pairs = [*zip(import_params, export_params, strict=False), *zip(export_results, import_results, strict=False)]
    if any((given == "i64") != (wanted == "i64") for given, wanted in pairs):
        big = next(given == "i64" for given, wanted in pairs if (given == "i64") != (wanted == "i64"))
        words = "Cannot convert a BigInt value to a number" if big else "Cannot convert <value> to a BigInt"
        return stub + f"the call fails with TypeError: {words}"
    return stub + "the call gets converted arguments and results (missing ones undefined, extra ones dropped)"
