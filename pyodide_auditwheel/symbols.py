"""The symbol check: each import of a module bound the way emscripten's loader binds it (see
:mod:`pyodide_auditwheel.runtime.offers`), to the runtime's offer, to the module's own exports,
or to a library in its NEEDED closure (asked of the dependency graph), with the type each
provider gives it.  What fails, and when (at load, or when called), in the runtime's words.

Apart from the audit's other checks (:mod:`.policy`) because it is the one that reads past a
module's head: its imports and exports, and those of the libraries it loads.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .errors import AuditwheelError
from .graph.analysis import Analysis
from .graph.model import ModuleReport
from .runtime.loader import LoaderRules, call_through_a_stub, view_of_section
from .runtime.offers import RuntimeOffer, function_type_text
from .wasm.calls import LoadTimeCalls, load_time_calls_of
from .wasm.dylink import read_head
from .wasm.sections import Import, Interface, read_interface_prefix
from .wheel.inputs import InputTree, open_input_file

FindingKind = Literal[
    "unknown-abi",
    "python-tag",
    "extension-suffix",
    "missing-library",
    "unresolved-symbol",
    "signature-mismatch",
    "foreign-import",
    "duplicate-load",
    "data-relocations",
    "exception-model",
    "shared-memory",
]
# The export in which a newer wasm-ld than emscripten 3.1.14's puts a side module's data relocations.
APPLY_DATA_RELOCS = "__wasm_apply_data_relocs"
# Import modules the loader answers: its proxy serves both, GOT.* are made from symbols.
PROXIED_MODULES = ("env", "wasi_snapshot_preview1")
GOT_MODULES = ("GOT.mem", "GOT.func")


def _field_of(subject: str) -> str:
    """The field of an import finding's ``module.field`` subject (``GOT.mem.x`` → ``x``)."""
    for module in (*GOT_MODULES, *PROXIED_MODULES):
        if subject.startswith(f"{module}."):
            return subject[len(module) + 1 :]
    return subject


# What a module built for WebAssembly exception handling (-fwasm-exceptions, and its setjmp)
# imports: the C++ exception tag, the landing-pad context, the personality call, longjmp's tag.
WASM_EH_IMPORTS = frozenset({"__cpp_exception", "__wasm_lpad_context", "_Unwind_CallPersonality", "__c_longjmp"})
# What one built for JavaScript exceptions (-fexceptions) imports: the invoke_* trampolines.
JS_EH_PREFIX = "invoke_"


@dataclass(frozen=True)
class Finding:
    """One reason the wheel will not load (or not import): where, what, and why.

    Attributes:
        kind: the class of finding (``missing-library``, ``unresolved-symbol``,
            ``duplicate-load``, ``unknown-abi``, …), for a consumer to count or filter.
        module: the module it is about (None: the wheel as a whole).
        subject: what is wrong: a library, a symbol, a tag.
        reason: why, in a sentence, ending with what to do.
        loader: for a library another loader the wheel must load right on misses, that
            loader (``Pyodide 0.26's loader``); None for the audited ABI's own.
        awaits: for an unresolved import, the missing libraries of the module's closure it
            may have come from (a cause of its own: see :func:`~pyodide_auditwheel.policy.causes_of`).
        modules: for a cause, every module it is about.
        imports: for a missing library's cause, how many imports of the modules that need it
            it may have provided (not findings of their own).
        when: ``load`` when the runtime fails as it loads the module (its import fails),
            ``call`` when the module loads and a call fails or runs wrong (an import stubbed by the
            loader, or bound through a stub that converts values): ``verify``, which imports
            each module, cannot tell a ``call`` finding from success without calling it.
    """

    kind: FindingKind
    module: str | None
    subject: str
    reason: str
    loader: str | None = None
    awaits: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    imports: int = 0
    when: Literal["load", "call"] = "load"


# The loader turns a module's export ``__em_js__NAME`` (the address of EM_JS's text) into the
# JavaScript function NAME, among that module's exports.
EM_JS_PREFIX = "__em_js__"


@dataclass(frozen=True)
class _Exports:
    """What a module offers others: its export names (and the functions its EM_JS exports
    become), and the type of each wasm function export."""

    names: frozenset[str]
    types: Mapping[str, str]


def _exports_of(interface: Interface) -> _Exports:
    names: set[str] = set()
    types: dict[str, str] = {}
    for export in interface.exports:
        names.add(export.name)
        if export.name.startswith(EM_JS_PREFIX):
            names.add(export.name[len(EM_JS_PREFIX) :])
        elif export.kind == "func" and export.type is not None:
            types[export.name] = function_type_text(export.type)
    return _Exports(frozenset(names), types)


@dataclass(frozen=True)
class _Linkage:
    """What the audit needs of one module: its imports (with their types), its exports and
    its weak imports."""

    imports: tuple[Import, ...]
    exports: _Exports
    weak: frozenset[str]


class _Interfaces:
    """Reads modules' imports and exports.  Only the exports of libraries are kept (they are
    asked for once per module that needs them); a module's imports are read when it is
    checked and dropped after, so memory does not grow with the wheel."""

    def __init__(self, tree: InputTree, rules: LoaderRules) -> None:
        self.tree = tree
        self.rules = rules
        self._exports: dict[str, _Exports] = {}
        self._load_time: dict[object, LoadTimeCalls] = {}

    def _reader(self, module: ModuleReport) -> Callable[[int], bytes]:
        if module.origin == "wheel":
            return lambda size: self.tree.read_prefix(module.path, size)

        def read_file(size: int) -> bytes:
            with open_input_file(Path(module.path)) as handle:
                return handle.read(size)

        return read_file

    def linkage(self, module: ModuleReport) -> _Linkage:
        """A module to check: import types are read, export types are not (only a library's
        exports are compared with what imports them)."""
        what = f"module {module.path}"
        interface, prefix = read_interface_prefix(self._reader(module), what, signatures="imports")
        weak = view_of_section(read_head(prefix, what).dylink, self.rules).weak_imports
        return _Linkage(interface.imports, _exports_of(interface), weak)

    def load_time_calls(self, module: ModuleReport) -> LoadTimeCalls:
        """The function imports the code the loader runs at load reaches (read once per
        module, and only for a module with an import nothing provides)."""
        # The copies of one module (30 of numpy's in the bench wheel; z3-solver's two libz3)
        # are walked once: by the archive's CRC-32 and size, else by path.
        key = (self.tree.content_key(module.path) if module.origin == "wheel" else None) or module.path
        cached = self._load_time.get(key)
        if cached is None:
            try:
                cached = load_time_calls_of(self._reader(module), f"module {module.path}")
            except (AuditwheelError, OSError):
                cached = LoadTimeCalls({}, False, ())  # its code unread: it cannot tell
            self._load_time[key] = cached
        return cached

    def exports(self, library: ModuleReport) -> _Exports:
        cached = self._exports.get(library.path)
        if cached is None:
            interface, _prefix = read_interface_prefix(
                self._reader(library), f"library {library.path}", signatures=True
            )
            cached = self._exports[library.path] = _exports_of(interface)
        return cached


class Auditor:
    """Checks one analysed input against one runtime."""

    def _kind_error(self, entry: Import, own_exports: frozenset[str]) -> str | None:
        """The LinkError an ``env`` import gets when what the loader hands it is of another kind
        (V8's words), or None."""
        handed = self.offer.callable(entry.field)
        if entry.kind == "func":
            return "function import requires a callable" if handed is False else None
        if handed is not False and entry.field not in own_exports:
            return "global import must be a number, valid Wasm reference, or WebAssembly.Global object"
        if entry.mutable and not self.offer.handed_mutable(entry.field):
            return "imported mutable global must be a WebAssembly.Global object"
        if not entry.mutable and self.offer.handed_mutable(entry.field):
            return "imported global does not match the expected mutability"
        return None

    def _kind_finding(self, module: ModuleReport, entry: Import, number: int, error: str) -> Finding:
        """An import of another kind than what the loader hands it (a function for a global, a
        value for a function): the runtime's LinkError, with its words."""
        return Finding(
            "signature-mismatch",
            module.path,
            f"{entry.module}.{entry.field}",
            f"imported as a {'function' if entry.kind == 'func' else entry.kind}, which Pyodide "
            f"{self.offer.pyodide} does not hand it; fails at load (LinkError): WebAssembly.instantiate(): "
            f'Import #{number} module="{entry.module}" function="{entry.field}" error: {error}; '
            "declare it as that release does (rebuild against its headers)",
        )

    def __init__(
        self, tree: InputTree, analysis: Analysis, offer: RuntimeOffer, interfaces: _Interfaces | None = None
    ) -> None:
        self.analysis = analysis
        self.offer = offer
        self.interfaces = interfaces or _Interfaces(tree, analysis.abi.loader)
        self.symbols_checked = 0

    def closure(self, module: ModuleReport) -> list[ModuleReport]:
        """The libraries loaded for this module, breadth first, as the loader loads them."""
        return self.analysis.graph.load_order(module)

    def check_module(self, module: ModuleReport, linkage: _Linkage | None = None) -> Iterable[Finding]:
        """The module's findings; ``linkage`` when its imports were read already (for the
        newest release of the ABI, then checked against the older ones)."""
        linkage = linkage or self.interfaces.linkage(module)
        libraries = self.closure(module)
        checked = _Checked(
            module,
            linkage,
            tuple(zip(libraries, (self.interfaces.exports(library) for library in libraries), strict=True)),
            _where_else(module, libraries),
            tuple(
                dict.fromkeys(
                    dep.name for lib in (module, *libraries) for dep in lib.dependencies if dep.status == "missing"
                )
            ),
        )
        if APPLY_DATA_RELOCS in linkage.exports.names and not self.offer.applies_data_relocs:
            yield Finding(
                "data-relocations",
                module.path,
                APPLY_DATA_RELOCS,
                f"exported by a module from a newer wasm-ld than Pyodide {self.offer.pyodide}'s; its loader "
                "never calls it, so the module runs with its data relocations unapplied (pointers into its "
                "own data, such as a PyModuleDef's name, are wrong): rebuild with that release's emscripten",
                when="call",
            )
        if any(entry.kind == "memory" and entry.shared for entry in linkage.imports):
            yield Finding(
                "shared-memory",
                module.path,
                "env.memory",
                f"imports a shared memory (it was built with threads: -pthread, --shared-memory), and Pyodide "
                f"{self.offer.pyodide}'s memory is not shared (no release is built with threads); fails at load "
                f"(LinkError): {_SHARED_MEMORY_ERROR}; build it without threads",
            )
        found = [
            finding
            for number, entry in enumerate(linkage.imports)
            for finding in self._check_import(checked, number, entry)
        ]
        yield from self._one_exception_model_finding(checked, found)

    def _one_exception_model_finding(self, checked: _Checked, found: list[Finding]) -> Iterable[Finding]:
        """The imports a module has because it was built for the other exception-handling
        model than the runtime's are one cause, named as such (z3-solver's libz3.so, built for
        wasm exceptions, on 0.22-0.27: ``bad export type for '__wasm_lpad_context'``)."""
        module = checked.module
        runtime_model = self.offer.exception_model

        def of_the_other_model(finding: Finding) -> bool:
            name = _field_of(finding.subject)
            return name in WASM_EH_IMPORTS if runtime_model == "js" else name.startswith(JS_EH_PREFIX)

        marked = [f for f in found if f.kind == "unresolved-symbol" and of_the_other_model(f)]
        if not marked:
            yield from found
            return
        yield from (finding for finding in found if finding not in marked)
        names = sorted({_field_of(finding.subject) for finding in marked})
        at_load = next((finding for finding in marked if finding.when == "load"), None)
        unlinked = at_load is not None and not at_load.subject.startswith(GOT_MODULES)
        named = self._first_entry_left_unset(checked) if unlinked else None
        if at_load is not None and (named or at_load.subject.startswith(GOT_MODULES)):
            when = "fails at load: " + self.offer.undefined_got.format(name=named or _field_of(at_load.subject))
        elif at_load is not None:
            when = "fails at load: the import cannot be satisfied"
        else:
            when = "fails when an exception is thrown: " + self.offer.unresolved_call.format(name=names[0])
        built, runtime = (
            ("WebAssembly exception handling (-fwasm-exceptions)", "JavaScript exceptions")
            if runtime_model == "js"
            else ("JavaScript exceptions (-fexceptions: invoke_* trampolines)", "WebAssembly exception handling")
        )
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        yield Finding(
            "exception-model",
            module.path,
            built.split(" (", 1)[0],
            f"built for {built}, and Pyodide {self.offer.pyodide} is built for {runtime}: it does not provide "
            f"{shown}; {when}; build it with the exception flags of that release's Pyodide (0.27 and earlier: "
            "-fexceptions; 0.28 and later: -fwasm-exceptions), or target a release built the same way",
            when="load" if at_load is not None else "call",
        )

    def _first_entry_left_unset(self, checked: _Checked) -> str | None:
        """The GOT entry the runtime names when the module cannot be instantiated (a tag
        import of the other exception model: LinkError).  V8 reads every import before it
        checks any, so the loader's GOT proxy has made an entry for each of the module's GOT
        imports; with no instance, none is filled from the module's own exports, and the
        install's ``reportUndefinedSymbols`` stops at the first non-weak one that neither the
        runtime nor a library loaded before it provides.  That is why uuid_utils' Rust module
        on 0.22-0.27 fails with ``bad export type for '…__RUST_STD_INTERNAL_VAL'``, a symbol it
        exports itself; had it been instantiated, the loader would have bound it."""
        for entry in checked.linkage.imports:
            name = entry.field
            if entry.module not in GOT_MODULES or name in checked.linkage.weak or self.offer.provides(name):
                continue
            if not any(name in exports.names for _, exports in checked.libraries):
                return name
        return None

    def _check_import(self, checked: _Checked, number: int, entry: Import) -> Iterable[Finding]:
        """One import, bound as the loader binds it: to the runtime's offer, to the module's
        own exports, or to the first library of its closure that exports it."""
        module, name = checked.module, entry.field
        own_exports = checked.linkage.exports.names
        if entry.module not in PROXIED_MODULES and entry.module not in GOT_MODULES:
            yield Finding(
                "foreign-import",
                module.path,
                f"{entry.module}.{name}",
                f"imports from module {entry.module!r}, which the loader does not provide (LinkError at load): "
                "build it as an emscripten side module (-sSIDE_MODULE), whose imports are env's, "
                "wasi_snapshot_preview1's and GOT's",
            )
            return
        self.symbols_checked += 1
        imported = function_type_text(entry.type) if entry.kind == "func" and entry.type is not None else None
        if entry.module in PROXIED_MODULES and entry.kind in ("func", "global"):
            # What the loader hands the import must be of its kind, or instantiation fails;
            # weak binding does not change that (it is the GOT's).
            error = self._kind_error(entry, own_exports)
            if error is not None:
                yield self._kind_finding(module, entry, number, error)
                return
        if name in checked.linkage.weak:
            return
        if self.offer.provides(name):
            expected = self.offer.wasm_function_type(name) if entry.module in PROXIED_MODULES else None
            yield from _signature_mismatch(
                module,
                entry,
                imported,
                expected,
                f"Pyodide {self.offer.pyodide}",
                "fails at load (LinkError): WebAssembly.instantiate(): "
                f'Import #{number} module="{entry.module}" function="{name}" '
                "error: imported function does not match the expected type",
                "load",
            )
            return
        if name in own_exports:
            return
        provider = next(((library, exports) for library, exports in checked.libraries if name in exports.names), None)
        if provider is not None:
            library, exports = provider
            yield from _signature_mismatch(
                module,
                entry,
                imported,
                exports.types.get(name),
                posixpath.basename(library.path),
                call_through_a_stub(imported, exports.types.get(name)),
                "call",
            )
            return
        yield self._unresolved(module, entry, checked.where, checked.missing)

    def _unresolved(self, module: ModuleReport, entry: Import, where: str, missing: tuple[str, ...]) -> Finding:
        """An import nothing binds: when it fails, in the runtime's words."""
        name = entry.field
        fails: Literal["load", "call"] = "load"
        if entry.module in GOT_MODULES:
            when = "fails at load: " + self.offer.undefined_got.format(name=name)
        elif entry.kind == "func":
            when, fails = self._unresolved_function(module, entry)
        else:
            when = "fails at load: the import cannot be satisfied"
        return Finding(
            "unresolved-symbol",
            module.path,
            f"{entry.module}.{name}",
            f"{entry.kind} not provided by Pyodide {self.offer.pyodide}{where}; {when}; {_UNRESOLVED_REMEDY}",
            awaits=missing,
            when=fails,
        )

    def _unresolved_function(self, module: ModuleReport, entry: Import) -> tuple[str, Literal["load", "call"]]:
        """A function nothing provides gets a stub that throws when called: at load, when the
        code the loader runs as it loads the module (its constructors) reaches it."""
        said = self.offer.unresolved_call.format(name=entry.field)
        reach = self.interfaces.load_time_calls(module)
        root = reach.imports.get((entry.module, entry.field))
        if root is not None:
            runs = _LOAD_TIME_CODE.get(root, root)
            return f"fails at load: {runs}, which run as the module loads, call it: {said}", "load"
        if reach.complete:
            return f"fails when called: {said}; no code run at load calls it", "call"
        return (
            f"fails when called: {said}; or at load, if the module's constructors reach it through a function "
            "pointer, which the audit cannot follow (`verify` runs them)",
            "call",
        )


# V8's words when a module's memory import is shared and the memory it is handed is not.
_SHARED_MEMORY_ERROR = "mismatch in shared state of memory, declared = 1, imported = 0"
# The code run at load, as a finding names it.
_LOAD_TIME_CODE = {"__wasm_call_ctors": "its constructors (__wasm_call_ctors)", "start": "its start function"}
# What to do about an import nothing provides, at the end of its finding.
_UNRESOLVED_REMEDY = (
    "build against the release that has it, or link it in (a library the module NEEDs, or its own code)"
)


@dataclass(frozen=True)
class _Checked:
    """One module under check: its linkage, the libraries of its closure with their exports
    (in load order), and where else its imports were looked for (for the finding's words)."""

    module: ModuleReport
    linkage: _Linkage
    libraries: tuple[tuple[ModuleReport, _Exports], ...]
    where: str
    missing: tuple[str, ...]


def _where_else(module: ModuleReport, libraries: Sequence[ModuleReport]) -> str:
    """``, nor by liba.so (perhaps in the missing libb.so)``: the libraries an unresolved
    import was looked for in, and those that could not be read."""
    where = "" if not libraries else ", nor by " + ", ".join(posixpath.basename(lib.path) for lib in libraries)
    unread = [dep for lib in (module, *libraries) for dep in lib.dependencies if dep.status in ("missing", "excluded")]
    if unread:
        hints = dict.fromkeys(f"{dep.status} {dep.name}" for dep in unread)  # each once, in order
        where += " (perhaps in the " + ", ".join(hints) + ")"
    return where


def _signature_mismatch(
    module: ModuleReport,
    entry: Import,
    imported: str | None,
    expected: str | None,
    provider: str,
    outcome: str,
    fails: Literal["load", "call"],
) -> Iterable[Finding]:
    """A function imported with another type than its provider's (when both are known)."""
    if imported is not None and expected is not None and imported != expected:
        yield Finding(
            "signature-mismatch",
            module.path,
            f"{entry.module}.{entry.field}",
            f"imported as ({imported}), but {provider} exports it as ({expected}); {outcome}; "
            "declare it as its provider defines it (rebuild against that release's headers)",
            when=fails,
        )


def symbol_findings(tree: InputTree, analysis: Analysis, newest: Auditor) -> list[Finding]:
    """Every module checked against the newest release of the ABI, then against each older
    pinned one (0.26.4 lacks C API that 0.27.8 has), its imports read once: a finding only an
    older release has names that release, as the newest's name theirs."""
    # Each older release with the names whose verdict it may change (None: check them all).
    older = [
        (Auditor(tree, analysis, release, newest.interfaces), release.names_differing_from(newest.offer))
        for release in newest.offer.older
    ]
    findings: list[Finding] = []
    for module in analysis.modules:
        linkage = newest.interfaces.linkage(module)
        found = list(newest.check_module(module, linkage))
        seen = {(finding.kind, finding.subject) for finding in found}
        for auditor, differing in older:
            if differing is not None and not any(entry.field in differing for entry in linkage.imports):
                continue  # nothing it imports is offered otherwise there: the same findings
            for finding in auditor.check_module(module, linkage):
                if (finding.kind, finding.subject) not in seen:
                    seen.add((finding.kind, finding.subject))
                    found.append(finding)
        findings += found
    return findings
