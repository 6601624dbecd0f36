"""The policy check: will this wheel load on the runtime its tag names?

Run before the browser does what it would otherwise tell at import time.  Each module's imports
are bound the way emscripten's loader binds them (see :mod:`pyodide_auditwheel.runtimes`): to
the runtime's offer, to the module's own exports, or to a library in its NEEDED closure, which
is resolved as ``show`` and ``repair`` resolve it.  Besides symbols, the wheel's Python and ABI
tags must fit the runtime's Python, its extension modules must carry a suffix that Python
imports, and every NEEDED library must be found.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from packaging.tags import Tag, compatible_tags, cpython_tags

from .errors import AuditwheelError, UnsupportedPlatformError
from .graph.analysis import Analysis, analyze_tree, predict_install, same_content, site_packages_of
from .graph.libsearch import SearchPath
from .graph.model import ModuleReport
from .naming import command
from .runtime.abi import Abi, abi_for_tag, is_emscripten_platform, known_abis
from .runtime.loader import InstallOutcome, LoaderRules, view_of_section
from .runtime.offers import RuntimeOffer, function_type_text, load_offer
from .wasm.dylink import read_head
from .wasm.sections import Import, Interface, read_interface_prefix
from .wheel.inputs import InputTree, open_input_file
from .wheel.names import WheelName

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
]
# The export in which a newer wasm-ld than emscripten 3.1.14's puts a side module's data relocations.
APPLY_DATA_RELOCS = "__wasm_apply_data_relocs"
# Import modules the loader answers: its proxy serves both, GOT.* are made from symbols.
PROXIED_MODULES = ("env", "wasi_snapshot_preview1")
GOT_MODULES = ("GOT.mem", "GOT.func")
EXTENSION_SUFFIX = re.compile(r"\.cpython-(\d+)-wasm32-emscripten\.so$")


@dataclass(frozen=True)
class Finding:
    """One reason the wheel will not load (or not import): where, what, and why.

    Attributes:
        kind: the class of finding (``missing-library``, ``unresolved-symbol``,
            ``duplicate-load``, ``unknown-abi``, …), for a consumer to count or filter.
        module: the module it is about (None: the wheel as a whole).
        subject: what is wrong: a library, a symbol, a tag.
        reason: why, in a sentence, ending with what to do.
    """

    kind: FindingKind
    module: str | None
    subject: str
    reason: str


@dataclass(frozen=True)
class AuditReport:
    """Whether an input loads on one ABI's runtime, and every reason it does not.

    Attributes:
        input: the input as the user named it.
        abi: the ABI audited against (None: the tags name none this tool knows).
        platform: the tag audited against, when given rather than read from the wheel.
        runtime: what the ABI's newest pinned release offers a module's imports.
        analysis: the resolution the audit was made on.
        findings: every reason, for every release of the ABI the tags name.
        symbols_checked: how many imports were checked against the runtime's offer.
        checks_symbols: False for ``show``'s verdict, which reads module heads only (tags and
            libraries are checked, not symbols).
        install: the instances the runtime makes installing the wheel (None: not a wheel,
            or no known ABI), so the verdict can say how many copies of each library load.
        by_other_loaders: the input as each other loader it must load right on resolves it
            (the other ABIs its tags name, the releases of this one whose loader differs).
    """

    input: str
    abi: Abi | None
    platform: str | None
    runtime: RuntimeOffer | None
    analysis: Analysis
    findings: tuple[Finding, ...]
    symbols_checked: int
    checks_symbols: bool = True
    install: InstallOutcome | None = None
    by_other_loaders: tuple[LoaderAnalysis, ...] = ()

    @property
    def loads(self) -> bool:
        return not self.findings

    @property
    def consistent_tags(self) -> tuple[str, ...]:
        """The platform tags this wheel may carry: every tag of the audited ABI, when nothing
        the audit checked stands against it."""
        return tuple(sorted(self.abi.platform_tags)) if self.loads and self.abi is not None else ()

    @property
    def verdict(self) -> str:
        if self.abi is None:
            return "unknown ABI: cannot tell which runtime loads it"
        runtime = f"Pyodide {self.runtime.pyodide}" if self.runtime else self.abi.pyodide
        copies = "" if self.install is None else ", one copy of each library"
        if self.loads and not self.checks_symbols:
            return f"tags and libraries fit {self.abi.name} ({runtime}){copies}; {command('audit')} checks the symbols"
        if self.loads:
            return f"loads on {self.abi.name} ({runtime}, Python {self.abi.python}){copies}"
        count = len(self.findings)
        # show's verdict counts what it checked; the audit may add symbol findings to it
        findings = f"{count} finding{'' if count == 1 else 's'}" + (
            "" if self.checks_symbols else f" in tags and libraries ({command('audit')} also checks the symbols)"
        )
        duplicated = sorted({finding.subject for finding in self.findings if finding.kind == "duplicate-load"})
        if len(duplicated) == count:
            return (
                f"loads on {self.abi.name} ({runtime}) with more than one copy of {', '.join(duplicated)}: {findings}"
            )
        return f"will not load on {self.abi.name} ({runtime}): {findings}"


def target_abi(platform: str) -> Abi:
    """The known ABI of a ``--plat`` tag; anything else is unusable input (exit 2)."""
    if not is_emscripten_platform(platform):
        raise UnsupportedPlatformError(
            f"--plat {platform} is not an Emscripten platform tag "
            "(expected emscripten_*_wasm32, pyodide_*_wasm32 or pyemscripten_*_wasm32)."
        )
    abi = abi_for_tag(platform)
    if abi is None:
        known = ", ".join(tag for abi in known_abis() for tag in abi.platform_tags)
        raise AuditwheelError(f"--plat {platform} names no known ABI; known tags: {known}.")
    return abi


def python_tags_fit(tags: Iterable[Tag], abi: Abi) -> bool:
    """Whether any (interpreter, ABI) pair of the wheel is one the ABI's CPython installs,
    ``abi3`` and ``py3-none`` included, as packaging's tag order says."""
    version = tuple(int(part) for part in abi.python.split(".")[:2])
    platform = "any"
    supported = set(cpython_tags(version, abis=[abi.python_tag], platforms=[platform]))
    supported |= set(compatible_tags(version, interpreter=abi.python_tag, platforms=[platform]))
    return any(Tag(tag.interpreter, tag.abi, platform) in supported for tag in tags)


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
            f'Import #{number} module="{entry.module}" function="{entry.field}" error: {error}',
        )

    def __init__(
        self, tree: InputTree, analysis: Analysis, offer: RuntimeOffer, interfaces: _Interfaces | None = None
    ) -> None:
        self.analysis = analysis
        self.offer = offer
        self.interfaces = interfaces or _Interfaces(tree, analysis.abi.loader)
        self.by_location = {module.path: module for module in analysis.modules}
        self.symbols_checked = 0

    def closure(self, module: ModuleReport) -> list[ModuleReport]:
        """The libraries loaded for this module, breadth first, as the loader loads them."""
        return self.analysis.graph.load_order(module)

    def check_module(self, module: ModuleReport, linkage: _Linkage | None = None) -> Iterable[Finding]:
        """The module's findings; ``linkage`` when its imports were read already (for the
        newest release of the ABI, then checked against the older ones)."""
        linkage = linkage or self.interfaces.linkage(module)
        own_exports, weak = linkage.exports.names, linkage.weak
        libraries = self.closure(module)
        library_exports = [self.interfaces.exports(library) for library in libraries]
        where = "" if not libraries else ", nor by " + ", ".join(posixpath.basename(lib.path) for lib in libraries)
        unread = [
            dep for lib in (module, *libraries) for dep in lib.dependencies if dep.status in ("missing", "excluded")
        ]
        if unread:
            hints = dict.fromkeys(f"{dep.status} {dep.name}" for dep in unread)  # each once, in order
            where += " (perhaps in the " + ", ".join(hints) + ")"
        if APPLY_DATA_RELOCS in own_exports and not self.offer.applies_data_relocs:
            yield Finding(
                "data-relocations",
                module.path,
                APPLY_DATA_RELOCS,
                f"exported by a module from a newer wasm-ld than Pyodide {self.offer.pyodide}'s; its loader "
                "never calls it, so the module runs with its data relocations unapplied (pointers into its "
                "own data, such as a PyModuleDef's name, are wrong): rebuild with that release's emscripten",
            )
        for number, entry in enumerate(linkage.imports):
            name = entry.field
            if entry.module not in PROXIED_MODULES and entry.module not in GOT_MODULES:
                yield Finding(
                    "foreign-import",
                    module.path,
                    f"{entry.module}.{name}",
                    f"imports from module {entry.module!r}, which the loader does not provide (LinkError at load)",
                )
                continue
            self.symbols_checked += 1
            imported = function_type_text(entry.type) if entry.kind == "func" and entry.type is not None else None
            if entry.module in PROXIED_MODULES and entry.kind in ("func", "global"):
                # What the loader hands the import must be of its kind, or instantiation fails;
                # weak binding does not change that (it is the GOT's).
                error = self._kind_error(entry, own_exports)
                if error is not None:
                    yield self._kind_finding(module, entry, number, error)
                    continue
            if name in weak:
                continue
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
                )
                continue
            if name in own_exports:
                continue
            provider = next(
                (
                    (library, exports)
                    for library, exports in zip(libraries, library_exports, strict=True)
                    if name in exports.names
                ),
                None,
            )
            if provider is not None:
                library, exports = provider
                yield from _signature_mismatch(
                    module,
                    entry,
                    imported,
                    exports.types.get(name),
                    posixpath.basename(library.path),
                    _through_a_stub(imported, exports.types.get(name)),
                )
                continue
            if entry.module in GOT_MODULES:
                when = "fails at load: " + self.offer.undefined_got.format(name=name)
            elif entry.kind == "func":
                when = "fails when called: " + self.offer.unresolved_call.format(name=name)
            else:
                when = "fails at load: the import cannot be satisfied"
            yield Finding(
                "unresolved-symbol",
                module.path,
                f"{entry.module}.{name}",
                f"{entry.kind} not provided by Pyodide {self.offer.pyodide}{where}; {when}",
            )


def _through_a_stub(imported: str | None, exported: str | None) -> str:
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


def _signature_mismatch(
    module: ModuleReport, entry: Import, imported: str | None, expected: str | None, provider: str, outcome: str
) -> Iterable[Finding]:
    """A function imported with another type than its provider's (when both are known)."""
    if imported is not None and expected is not None and imported != expected:
        yield Finding(
            "signature-mismatch",
            module.path,
            f"{entry.module}.{entry.field}",
            f"imported as ({imported}), but {provider} exports it as ({expected}); {outcome}",
        )


def _tag_findings(wheel: WheelName | None, abi: Abi) -> Iterable[Finding]:
    if wheel is None or not wheel.tags or python_tags_fit(wheel.tags, abi):
        return
    tags = ", ".join(sorted({f"{tag.interpreter}-{tag.abi}" for tag in wheel.tags}))
    yield Finding(
        "python-tag",
        None,
        tags,
        f"the wheel is for {tags}, but {abi.name} runs Python {abi.python} ({abi.python_tag}); "
        "pip and micropip will not install it",
    )


def _suffix_findings(analysis: Analysis, abi: Abi) -> Iterable[Finding]:
    for module in analysis.wheel_modules:
        match = EXTENSION_SUFFIX.search(module.path)
        if match and match.group(0) != abi.extension_suffix:
            yield Finding(
                "extension-suffix",
                module.path,
                match.group(0),
                f"Python {abi.python} imports {abi.extension_suffix}, .abi3.so or .so extension modules, "
                f"not {match.group(0)}",
            )


def duplicate_findings(
    tree: InputTree, analysis: Analysis, outcome: InstallOutcome, loader: str | None = None
) -> Iterable[Finding]:
    """A library the runtime instantiates more than once (by content): each copy has its own
    globals, so state set through one is not seen through the other.  ``loader`` names whose
    loader it is (default: the analysis' ABI's)."""
    loader = loader or f"{analysis.abi.name}'s loader"
    _fs, members = tree.installed(site_packages_of(analysis.abi, analysis.wheel))  # installed path -> member
    for file, instances in outcome.copies(same_content(tree, outcome, analysis)).items():
        spellings = ", ".join(name for instance in instances for name in instance.names[:1])
        yield Finding(
            "duplicate-load",
            members.get(file, file),
            posixpath.basename(file),
            f"{loader} makes {len(instances)} copies of it, as {spellings}; each copy has "
            "its own globals, so state set through one is not seen through another "
            f"({command('repair')} gives every module one spelling)",
        )


def install_failure(analysis: Analysis, outcome: InstallOutcome, loader: str | None = None) -> Iterable[Finding]:
    """The install itself failing where every library is found: on Pyodide 0.21, a library
    listed in the archive after the module that needs it, or one whose name does not end in
    ``.so`` (never loaded at install).  A missing library is already its own finding, and a
    library found in a ``--libdir`` is not in the wheel the install is modelled on."""
    if outcome.error is not None and not analysis.missing and not analysis.found_libraries:
        loader = loader or f"{analysis.abi.name}'s loader"
        yield Finding(
            "missing-library",
            None,
            outcome.error.split('"')[1] if outcome.error.count('"') >= 2 else outcome.error,
            f"{loader} fails when it installs the wheel: {outcome.error}",
        )


def other_loaders(tree: InputTree, audited: Abi) -> list[tuple[str, Abi]]:
    """The other loaders the wheel must load right on, each named: those of the audited ABI's
    releases whose loader differs from its newest (Pyodide 0.26 in 2024_0), and the other
    known ABIs the wheel's platform tags name."""
    loaders = [
        (f"Pyodide {release}'s loader", replace(audited, loader=rules))
        for release, rules in audited.release_loaders.items()
    ]
    for abi in tree.wheel.abis if tree.wheel is not None else ():
        if abi.name != audited.name:
            loaders += [(f"{abi.name}'s loader", abi)] + [
                (f"Pyodide {release}'s loader", replace(abi, loader=rules))
                for release, rules in abi.release_loaders.items()
            ]
    return loaders


@dataclass(frozen=True)
class LoaderAnalysis:
    """The input resolved by one more loader it must load right on (see
    :func:`other_loaders`).

    Attributes:
        loader: the loader, as findings name it (``Pyodide 0.26's loader``).
        abi: the ABI, with that loader's rules.
        analysis: the input resolved by it.
    """

    loader: str
    abi: Abi
    analysis: Analysis


def analyses_by_other_loaders(
    tree: InputTree, libdirs: SearchPath | Sequence[Path], exclude: Sequence[str], audited: Abi
) -> tuple[LoaderAnalysis, ...]:
    """The sweep: the input resolved once by each of :func:`other_loaders`.  Made once per
    call and handed to whoever asks (the audit's findings, the repair's moves and the copies
    it cannot fix)."""
    return tuple(
        LoaderAnalysis(loader, abi, analyze_tree(tree, libdirs, exclude, abi))
        for loader, abi in other_loaders(tree, audited)
    )


def _symbol_findings(tree: InputTree, analysis: Analysis, newest: Auditor) -> list[Finding]:
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


def audit_tree(
    tree: InputTree,
    libdirs: SearchPath | Sequence[Path] = (),
    exclude: Sequence[str] = (),
    platform: str | None = None,
    *,
    check_symbols: bool = True,
) -> AuditReport:
    """Audit against ``platform``'s ABI, or the ABI the input's own tag names."""
    abi: Abi | None
    if platform is not None:
        abi = target_abi(platform)
    else:
        abi = tree.abi if tree.abi.known else None
        platform = ", ".join(sorted(tree.wheel.platforms)) if tree.wheel else None
    analysis = analyze_tree(tree, libdirs, exclude, abi)
    missing = (
        "NEEDED but not in the wheel where the runtime looks, nor in any --libdir"
        if tree.kind != "module"
        else "NEEDED but in no --libdir (a lone module has no wheel to hold it)"
    )
    findings: list[Finding] = [
        Finding("missing-library", module, library, missing)
        for library, modules in sorted(analysis.missing.items())
        for module in sorted(set(modules))
    ]
    if abi is None:
        subject = platform or "(no wheel tag)"
        reason = (
            f"the platform tag {platform} names no known ABI; give --plat with the tag of the runtime to audit against"
            if platform
            else "a lone module or directory has no platform tag; give --plat with the runtime's tag"
        )
        findings.insert(0, Finding("unknown-abi", None, subject, reason))
        return AuditReport(tree.display, None, platform, None, analysis, tuple(findings), 0, check_symbols)
    offer = load_offer(abi.name)
    install = predict_install(tree, analysis)
    if install is not None:
        findings += duplicate_findings(tree, analysis, install)
        findings += install_failure(analysis, install)
    sweep = analyses_by_other_loaders(tree, libdirs, exclude, abi)
    for loader, other_analysis in ((each.loader, each.analysis) for each in sweep):
        # Every ABI the tags name, and every release of this one whose loader differs: the
        # libraries found and loaded once there too.
        findings += (
            Finding("missing-library", module, library, f"NEEDED but not found by {loader}")
            for library, modules in sorted(other_analysis.missing.items())
            for module in sorted(set(modules))
        )
        other_install = predict_install(tree, other_analysis)
        if other_install is not None:
            findings += duplicate_findings(tree, other_analysis, other_install, loader)
            findings += install_failure(other_analysis, other_install, loader)
    findings += _tag_findings(tree.wheel, abi)
    findings += _suffix_findings(analysis, abi)
    auditor = Auditor(tree, analysis, offer)
    if check_symbols:
        findings += _symbol_findings(tree, analysis, auditor)
    # The wheel's own findings first, then module by module (stable: each module's in the
    # order of the checks).
    findings.sort(key=lambda finding: (finding.module is not None, finding.module or ""))
    return AuditReport(
        tree.display,
        abi,
        platform,
        offer,
        analysis,
        tuple(findings),
        auditor.symbols_checked,
        check_symbols,
        install,
        sweep,
    )


__all__ = [
    "AuditReport",
    "Finding",
    "LoaderAnalysis",
    "analyses_by_other_loaders",
    "audit_tree",
    "python_tags_fit",
    "target_abi",
]
