"""The policy check: will this wheel load on the runtime its tag names?

Run before the browser does what it would otherwise tell at import time.  The wheel's Python
and ABI tags must fit the runtime's Python, its extension modules must carry a suffix that
Python imports, every NEEDED library must be found and loaded once, and every import must be
bound (:mod:`.symbols`), for every ABI the tags name and every release whose loader differs.
"""

from __future__ import annotations

import functools
import posixpath
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from packaging.tags import Tag, compatible_tags, cpython_tags

from .errors import AuditwheelError, UnsupportedPlatformError
from .graph.analysis import Analysis, analyze_tree, predict_install, same_content, site_packages_of
from .graph.libsearch import SearchPath
from .naming import command
from .runtime.abi import Abi, abi_for_tag, is_emscripten_platform, known_abis
from .runtime.install import InstallOutcome
from .runtime.offers import RuntimeOffer, load_offer
from .symbols import Auditor, Finding, symbol_findings
from .wheel.inputs import InputTree
from .wheel.names import WheelName

EXTENSION_SUFFIX = re.compile(r"\.cpython-(\d+)-wasm32-emscripten\.so$")


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

    @functools.cached_property
    def causes(self) -> tuple[Finding, ...]:
        """The findings one per cause (:func:`causes_of`): what the terminal shows and the
        verdict counts; ``findings`` keeps the detail."""
        return causes_of(self.findings)

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
        name = self.abi.spelled_for(self.platform.split(", ") if self.platform else ())
        copies = "" if self.install is None else ", one copy of each library"
        if self.loads and not self.checks_symbols:
            return f"tags and libraries fit {name} ({runtime}){copies}; {command('audit')} checks the symbols"
        if self.loads:
            return f"loads on {name} ({runtime}, Python {self.abi.python}){copies}"
        count = len(self.causes)
        # show's verdict counts what it checked; the audit may add symbol findings to it
        findings = f"{count} finding{'' if count == 1 else 's'}" + (
            "" if self.checks_symbols else f" in tags and libraries ({command('audit')} also checks the symbols)"
        )
        duplicated = sorted({finding.subject for finding in self.causes if finding.kind == "duplicate-load"})
        # Copies alone (one library, whichever loaders copy it) load: one verdict for one situation.
        if all(finding.kind == "duplicate-load" for finding in self.causes):
            return f"loads on {name} ({runtime}) with more than one copy of {', '.join(duplicated)}: {findings}"
        return f"will not load on {name} ({runtime}): {findings}"


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


def _tag_findings(wheel: WheelName | None, abi: Abi) -> Iterable[Finding]:
    if wheel is None or not wheel.tags or python_tags_fit(wheel.tags, abi):
        return
    tags = ", ".join(sorted({f"{tag.interpreter}-{tag.abi}" for tag in wheel.tags}))
    yield Finding(
        "python-tag",
        None,
        tags,
        f"the wheel is for {tags}, but {abi.name} runs Python {abi.python} ({abi.python_tag}); "
        f"pip and micropip will not install it: build it for Python {abi.python}, or audit it against the "
        "runtime of its own Python with --plat",
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
                f"not {match.group(0)}: build the module for Python {abi.python}",
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
            f"{loader} fails when it installs the wheel: {outcome.error}; {command('repair')} orders and "
            "names the wheel's libraries so that it finds each",
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


def causes_of(findings: Sequence[Finding]) -> tuple[Finding, ...]:
    """One finding per cause, in the order of ``findings``.

    A missing library is one cause, however many modules need it and however many of the
    loaders the wheel must load right on miss it (the audited ABI's, another ABI its tags
    name, an older release's): it names the modules and counts the imports of theirs it may
    have provided, which are not causes of their own.  Every other finding is its own cause."""
    by_library: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.kind == "missing-library" and finding.module is not None:
            by_library.setdefault(finding.subject, []).append(finding)
    awaited: Counter[str] = Counter()
    causes: list[Finding] = []
    for finding in findings:
        if finding.kind == "missing-library" and finding.module is not None:
            if by_library[finding.subject][0] is finding:
                causes.append(finding)  # its place: replaced below, once the count is known
            continue
        waits_for = [library for library in finding.awaits if library in by_library]
        if finding.kind == "unresolved-symbol" and waits_for:
            awaited.update(waits_for)
            continue
        causes.append(finding)
    merged = [
        _missing_library_cause(by_library[cause.subject], awaited[cause.subject])
        if cause.kind == "missing-library" and cause.module is not None
        else cause
        for cause in causes
    ]
    return tuple(sorted(merged, key=lambda cause: (cause.module is not None, cause.module or "")))


# How many of the modules that need a missing library its finding names (a line a CI log can
# hold; the JSON's `modules` lists them all).
NAMED_USERS = 3


def _where_to_find(library: str) -> str:
    return (
        f"give --libdir with the directory that holds {library}, or set WASM_LIBRARY_DIR to the prefix "
        "it is installed in (or --exclude it, if the runtime provides it)"
    )


def _moved() -> str:
    """What moves a library of the wheel that one loader finds and another does not."""
    return f"{command('repair')} moves it where every loader looks"


def _missing_library_cause(group: Sequence[Finding], imports: int) -> Finding:
    """One missing library, from its findings (one per module that needs it and per loader
    that misses it), ending with what to do."""
    library = group[0].subject
    modules = tuple(dict.fromkeys(finding.module for finding in group if finding.module is not None))
    own = next((finding for finding in group if finding.loader is None), None)
    named = ", ".join(modules[:NAMED_USERS]) + (
        f", and {len(modules) - NAMED_USERS} more" if len(modules) > NAMED_USERS else ""
    )
    users = "" if len(modules) == 1 else f" by {len(modules)} modules ({named})"
    if own is not None:
        why = own.reason.split("; ", 1)[0].replace("NEEDED", f"NEEDED{users}", 1)
        remedy = _where_to_find(library)
    else:
        loaders = ", ".join(dict.fromkeys(finding.loader for finding in group if finding.loader is not None))
        why = f"NEEDED{users} but not found by {loaders}"
        remedy = _moved()
    provided = "" if not imports else f"; {imports} of their imports may come from it"
    return replace(
        group[0],
        module=modules[0] if len(modules) == 1 else None,
        reason=f"{why}{provided}; {remedy}",
        modules=modules,
        imports=imports,
        loader=None,
    )


def _other_loader_findings(tree: InputTree, sweep: Sequence[LoaderAnalysis]) -> Iterable[Finding]:
    """Every ABI the tags name, and every release of this one whose loader differs: the
    libraries found and loaded once there too."""
    for each in sweep:
        loader, analysis = each.loader, each.analysis
        yield from (
            Finding("missing-library", module, library, f"NEEDED but not found by {loader}; {_moved()}", loader=loader)
            for library, modules in sorted(analysis.missing.items())
            for module in sorted(set(modules))
        )
        install = predict_install(tree, analysis)
        if install is not None:
            yield from duplicate_findings(tree, analysis, install, loader)
            yield from install_failure(analysis, install, loader)


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
        Finding("missing-library", module, library, f"{missing}; {_where_to_find(library)}")
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
    findings += _other_loader_findings(tree, sweep)
    findings += _tag_findings(tree.wheel, abi)
    findings += _suffix_findings(analysis, abi)
    auditor = Auditor(tree, analysis, offer)
    if check_symbols:
        findings += symbol_findings(tree, analysis, auditor)
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
