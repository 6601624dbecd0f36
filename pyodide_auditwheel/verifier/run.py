"""A wheel run in a real Pyodide under Node: installed as that release installs packages
(``pyodide.loadPackage``), each top-level package imported, each extension module the
imports did not reach loaded from its file, and the library instances the loader made
counted by their code; the audit's prediction for that release is set beside each.

This runs the wheel's own code, with the rights of the user who runs ``verify``: Pyodide's
Python can reach Node (``pyodide.code.run_js``), as ``pip install`` and ``import`` of a native
wheel can reach the host.  Nothing of the host's file system is mounted into the runtime; the
wheel (and the wheels named to be installed before it) are read into its memory.  Each wheel
runs in a Pyodide instance of its own (a new ``loadPyodide``: its own Python, file system,
loader tables and wasm memory); up to :data:`WHEELS_PER_PROCESS` wheels share one Node
process, one after another, and with it Node's JavaScript globals and the runtime's compiled
code.  A wheel that hangs or ends Node ends that process; the wheels after it get a new one.
"""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

from ..errors import AuditwheelError, RuntimeUnavailableError
from ..graph.untrusted import bounded_output
from ..policy import AuditReport, audit_tree
from ..runtime.abi import Abi
from ..symbols import Finding
from ..wheel.inputs import WheelArchive, open_input
from ..wheel.names import installed_path
from .runtimes import Runtime, release_family

# How long one wheel may take, install and imports together, before Node is stopped (a module
# whose initialisation never returns).  Starting the runtime itself takes 2-4 s.
DEFAULT_TIMEOUT = 120.0
# What the driver may print: events of one line each, the runtime's words bounded.
OUTPUT_LIMIT = 16 << 20
# Wheels run in one Node process, one after another, each in a Pyodide instance of its own.
# Starting the process and reading the runtime's code once saves 20-25 % of each later wheel's
# run (measured 2026-12-07 on 0.27 and 314); Pyodide 0.21 keeps about 40 MB of each instance
# it drops (listeners on Node's process), which this bound keeps under half a gigabyte.
WHEELS_PER_PROCESS = 8
# Node processes at once: two wheels in two processes on two cores took 6.2-7.5 s where four in
# one took 9.7-10 s (314, msgpack); each process holds 200-250 MB.
MOST_JOBS = 4
INSTALL_WAY = "pyodide.loadPackage"
Agreement = Literal["agrees", "differs", "not exercised", "needs a dependency", "not run"]


@dataclass(frozen=True)
class ModuleOutcome:
    """One import ``verify`` made.

    Attributes:
        name: the dotted name imported (a top-level package, or an extension module).
        path: for an extension module, its path in the wheel (None for a package).
        imported: True, False (``error`` says why, in the runtime's words), or None when the
            run ended before it (a timeout or a crash of Node).
        error: the runtime's words for the failure ("" when it imported).
        predicted: what ``audit`` said of it for this release: ``loads``, ``fails at load``
            (with the first reason), or ``loads; a call fails`` (a symbol it imports is not
            bound, which an import does not exercise).
        agreement: ``agrees``; ``differs``; ``not exercised`` (it imported, and the audit
            flagged a call the import does not make); ``needs a dependency`` (the import
            wants a module the wheel does not hold: install it first with ``--with``);
            ``not run``.
    """

    name: str
    path: str | None
    imported: bool | None
    error: str
    predicted: str
    agreement: Agreement


@dataclass(frozen=True)
class LibraryOutcome:
    """The instances the loader made of one file's code.

    Attributes:
        names: the paths (and names) the instances are known by in the runtime.
        copies: how many instances of that code the loader made (more than one: two copies
            of the library's state, as z3-solver's two ``libz3.so`` make; 0: its load failed,
            and the loader keeps a handle to it that holds no code).
        predicted_copies: whether ``audit`` predicted more than one copy.
    """

    names: tuple[str, ...]
    copies: int
    predicted_copies: bool


@dataclass(frozen=True)
class VerifyReport:
    """What the runtime did with one wheel.

    Attributes:
        input: the wheel as the user named it.
        runtime: the Pyodide it ran in.
        install: how it was installed (``pyodide.loadPackage``).
        install_errors: what the runtime said while installing it (a library it could not
            load, in its words); empty when the install was clean.
        modules: each import, in the order made.
        libraries: each file's code the loader instantiated, with how many copies.
        problem: why the run ended early ("" when it finished): a timeout, or Node ending.
        audit: the audit for this release the outcomes are set beside (None where the
            release's ABI is unknown to the tool).
    """

    input: str
    runtime: Runtime
    install: str
    install_errors: tuple[str, ...]
    modules: tuple[ModuleOutcome, ...]
    libraries: tuple[LibraryOutcome, ...]
    problem: str
    audit: AuditReport | None

    @property
    def ok(self) -> bool:
        """Every module imported, one copy of each library, a clean install, a finished run."""
        return (
            not self.problem
            and not self.install_errors
            and all(module.imported for module in self.modules)
            and all(library.copies == 1 for library in self.libraries)
        )

    @property
    def agrees(self) -> bool:
        """Whether the audit said what the runtime did, wherever the run could tell."""
        return all(module.agreement != "differs" for module in self.modules) and all(
            (library.copies > 1) == library.predicted_copies for library in self.libraries
        )


@dataclass(frozen=True)
class PreparedWheel:
    """A wheel read and audited, ready to run: what the driver is asked to do with it, and what
    its outcome is set beside."""

    display: str
    job: Mapping[str, Any]
    planned: tuple[list[str], list[tuple[str, str]], list[str]]
    audit: AuditReport | None


def prepare(wheel: Path, runtime: Runtime, *, before: Sequence[Path] = ()) -> PreparedWheel:
    """Read ``wheel`` for a run in ``runtime`` (``before``: wheels installed first, such as its
    dependencies, not verified themselves): refuses what is not a wheel before any Node runs."""
    tree = open_input(wheel)
    try:
        if not isinstance(tree, WheelArchive):
            raise AuditwheelError(f"cannot verify {wheel}: verify takes .whl files.")
        tree.check_dist_info()
        packages, extensions = importable(tree)
        modules = [installed_path(member) for member in tree.module_paths()]
        report = _audit_for(tree, runtime)
    finally:
        tree.close()
    job = {
        "wheel": str(wheel.resolve()),
        "before": [str(path.resolve()) for path in before],
        "packages": packages,
        "extensions": [[name, path] for name, path in extensions],
    }
    return PreparedWheel(str(wheel), job, (packages, extensions, modules), report)


def verify_prepared(
    wheels: Sequence[PreparedWheel],
    runtime: Runtime,
    node: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    jobs: int | None = None,
) -> list[VerifyReport]:
    """Run ``wheels`` in ``runtime``, each in a Pyodide instance of its own, each given
    ``timeout`` seconds: in ``jobs`` Node processes at once (by default one per core, at most
    :data:`MOST_JOBS`), each running up to :data:`WHEELS_PER_PROCESS` wheels one after
    another.  A wheel that hangs or ends Node ends its process: the wheels after it get a new
    one."""
    from ..wheel.atomic import usable_cores

    lanes = max(1, min(len(wheels), jobs or min(usable_cores(), MOST_JOBS)))
    if lanes == 1:
        return _one_lane(wheels, runtime, node, timeout)
    from concurrent.futures import ThreadPoolExecutor  # the processes are waited on, not computed

    with ThreadPoolExecutor(lanes, thread_name_prefix="verify") as pool:
        parts = list(pool.map(lambda lane: _one_lane(wheels[lane::lanes], runtime, node, timeout), range(lanes)))
    reports: list[VerifyReport | None] = [None] * len(wheels)
    for lane, part in enumerate(parts):
        reports[lane::lanes] = part
    return cast("list[VerifyReport]", reports)


def _one_lane(wheels: Sequence[PreparedWheel], runtime: Runtime, node: str, timeout: float) -> list[VerifyReport]:
    reports: list[VerifyReport] = []
    while len(reports) < len(wheels):
        batch = wheels[len(reports) : len(reports) + WHEELS_PER_PROCESS]
        for prepared, (events, problem) in zip(batch, _run_driver(node, runtime, batch, timeout), strict=False):
            reports.append(_report(prepared.display, runtime, events, problem, prepared.planned, prepared.audit))
    return reports


def importable(tree: WheelArchive) -> tuple[list[str], list[tuple[str, str]]]:
    """The wheel's top-level packages and modules, and its extension modules (a module that
    exports ``PyInit_<name>``) with their dotted names and paths in site-packages."""
    from ..wasm.sections import read_interface_prefix

    packages: set[str] = set()
    for path in map(installed_path, tree.files()):
        top = path.split("/", 1)[0]
        name = top.split(".", 1)[0] if "/" not in path else top
        if name.isidentifier() and not top.endswith((".dist-info", ".data", ".libs")):
            if "/" in path or path.endswith((".py", ".so")):
                packages.add(name)
    extensions = []
    for member in tree.module_paths():
        path = installed_path(member)  # where loadPackage unpacks it (.data/ stays where it is)
        *folders, base = path.split("/")
        stem = base.split(".", 1)[0]
        if not all(part.isidentifier() for part in [*folders, stem]):
            continue
        try:
            interface, _ = read_interface_prefix(functools.partial(tree.read_prefix, member), member)
        except AuditwheelError:
            continue
        if any(export.name == f"PyInit_{stem}" for export in interface.exports):
            extensions.append((".".join([*folders, stem]), path))
    return sorted(packages), extensions


def _audit_for(tree: WheelArchive, runtime: Runtime) -> AuditReport | None:
    if runtime.abi is None:
        return None
    platform = min(runtime.abi.platform_tags)
    try:
        return audit_tree(tree, (), (), platform if tree.abi.name != runtime.abi.name else None)
    except AuditwheelError:
        return None


def _run_driver(
    node: str, runtime: Runtime, batch: Sequence[PreparedWheel], timeout: float
) -> list[tuple[list[dict[str, Any]], str]]:
    """The events of each wheel of ``batch`` the process reached, with why its run ended early
    ("" when it finished).  It stops at the first wheel that did not finish: the rest were not
    run, and are left to the next process."""
    driver = resources.files("pyodide_auditwheel.verifier").joinpath("driver.mjs")
    with tempfile.TemporaryDirectory(prefix="paw-verify-") as scratch, resources.as_file(driver) as script:
        job_file = Path(scratch, "job.json")
        job_file.write_text(json.dumps({"wheels": [prepared.job for prepared in batch]}), "utf-8")
        output, status, problem = bounded_output(
            [node, "--expose-gc", str(script), str(runtime.directory), str(job_file)],
            timeout=timeout,
            limit=OUTPUT_LIMIT * len(batch),
            lap=b'{"event":"wheel"',
        )
    runs: list[tuple[list[dict[str, Any]], str]] = []
    for events in _per_wheel(_events(output)):
        fatal = next((event for event in events if event.get("event") == "fatal"), None)
        if fatal is not None:
            raise RuntimeUnavailableError(
                f"Pyodide {runtime.version} in {runtime.directory} did not start under Node: {fatal.get('error', '')}"
            )
        if any(event.get("event") == "done" for event in events):
            runs.append((events, ""))
            continue
        running = next((e["name"] for e in reversed(events) if e.get("event") == "start"), None)
        where = f" while importing {running}" if running else ""
        if len(output) > OUTPUT_LIMIT * len(batch):
            runs.append((events, f"the runtime's output was cut: it {problem}"))
        elif status is None:  # still running at the bound, and stopped
            runs.append((events, f"stopped after {timeout:g} s{where} (--timeout sets the limit)"))
        else:
            how = f"with exit {status}" if status >= 0 else f"killed by signal {-status}"
            runs.append((events, f"Node ended {how}{where}"))
        break
    return runs or [([], _ended_before_any_wheel(status, problem, timeout))]


def _ended_before_any_wheel(status: int | None, problem: str, timeout: float) -> str:
    """Why a process said nothing of its first wheel: it is that wheel's outcome, so that every
    process moves the run on by one wheel at least."""
    if status is None:
        return f"stopped after {timeout:g} s before the runtime started ({problem})"
    return (
        f"Node ended with exit {status} before the runtime started"
        if status >= 0
        else (f"Node was killed by signal {-status} before the runtime started")
    )


def _per_wheel(events: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """The driver's events cut at each wheel's first: what each wheel's run said."""
    current: list[dict[str, Any]] | None = None
    for event in events:
        if event.get("event") == "wheel":
            if current is not None:
                yield current
            current = []
        elif current is not None:
            current.append(event)
        elif event.get("event") == "fatal":  # the runtime's code could not be read at all
            yield [event]
            return
    if current is not None:
        yield current


def _events(output: bytes) -> Iterator[dict[str, Any]]:
    for line in output.decode("utf-8", "replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            yield event


def _report(
    display: str,
    runtime: Runtime,
    events: list[dict[str, Any]],
    problem: str,
    planned: tuple[list[str], list[tuple[str, str]], list[str]],
    audit: AuditReport | None,
) -> VerifyReport:
    """The events set beside the audit: every import planned, in order, with the outcome the
    runtime gave it (None for those the run did not reach).  An import that ran on a library
    whose load had failed is a failure: the loader handed it the handle it kept, with no code."""
    packages, extensions, wheel_modules = planned
    installed = next((event for event in events if event.get("event") == "installed"), {})
    install_errors = tuple(str(line) for line in installed.get("errors", ()))
    results = {str(e.get("name")): str(e.get("error", "")) for e in events if e.get("event") == "module"}
    listed = next((event for event in events if event.get("event") == "libraries"), {})
    unloaded = _unloaded(listed.get("unloaded", ()), wheel_modules)
    for name in results:
        dead = [path for path in unloaded if _holds(name, path, extensions)]
        if dead and not results[name]:
            results[name] = (
                f"the import ran, but {dead[0]} did not load: the loader kept a handle to it from its failed "
                "load, which holds no code" + (f" (the install said: {install_errors[0]})" if install_errors else "")
            )
    predictions = _predictions(audit, runtime)
    by_module = {name: predictions.get(path, "loads") for name, path in extensions}
    modules = []
    for name, path in [*((package, None) for package in packages), *extensions]:
        error = results.get(name)
        imported = None if error is None else not error
        if path is None:  # a package: it fails to load when a module in it does (the install loads each)
            failing = [said for file, said in sorted(predictions.items()) if file.startswith(f"{name}/")]
            predicted = next((said for said in failing if said.startswith("fails at load")), None)
            predicted = predicted or (failing[0] if failing else "loads")
        else:
            predicted = by_module[name]
        agreement = _agreement(imported, predicted, error or "", packages)
        modules.append(ModuleOutcome(name, path, imported, error or "", predicted, agreement))
    libraries = _libraries(listed, unloaded, audit)
    return VerifyReport(display, runtime, INSTALL_WAY, install_errors, tuple(modules), libraries, problem, audit)


def _predictions(audit: AuditReport | None, runtime: Runtime) -> dict[str, str]:
    """What the audit said of each module (by its path in the wheel) for this release."""
    if audit is None:
        return {}
    family = release_family(runtime.version)
    said: dict[str, str] = {}
    for finding in audit.findings:
        if finding.loader is not None and f" {family}'s" not in f" {finding.loader}":
            continue  # another release's loader
        for module in _modules_of(finding):
            if finding.when == "load" and finding.kind != "duplicate-load":
                if not said.get(module, "").startswith("fails at load"):  # a load failure outranks a call's
                    said[module] = f"fails at load: {finding.kind} {finding.subject}"
            elif finding.when == "call":
                said.setdefault(module, "loads; a call fails")
    return said


def _modules_of(finding: Finding) -> tuple[str, ...]:
    return finding.modules or ((finding.module,) if finding.module else ())


def _agreement(imported: bool | None, predicted: str, error: str, packages: list[str]) -> Agreement:
    if imported is None:
        return "not run"
    fails = predicted.startswith("fails at load")
    if imported and predicted == "loads; a call fails":
        return "not exercised"
    wanted = _MODULE_NOT_FOUND.match(error)
    if not imported and not fails and wanted and wanted.group(1).split(".")[0] not in packages:
        return "needs a dependency"
    return "agrees" if imported != fails else "differs"


_MODULE_NOT_FOUND = re.compile(r"ModuleNotFoundError: No module named '([^']+)'")


def _unloaded(names: Sequence[object], wheel_modules: Sequence[str]) -> dict[str, str]:
    """The wheel's modules (their paths in site-packages) among the runtime's libraries whose
    load failed, with the name the runtime knows each by."""
    return {path: str(name) for path in wheel_modules for name in names if str(name).endswith(f"/{path}")}


def _holds(name: str, path: str, extensions: Sequence[tuple[str, str]]) -> bool:
    """Whether the import of ``name`` (a package, or an extension module) reaches ``path``."""
    if (name, path) in extensions:
        return True
    return path.startswith(f"{name}/") or ("/" not in path and path.split(".", 1)[0] == name)


def _libraries(
    listed: Mapping[str, Any], unloaded: Mapping[str, str], audit: AuditReport | None
) -> tuple[LibraryOutcome, ...]:
    by_code: dict[str, list[tuple[str, ...]]] = {}
    for index, instance in enumerate(listed.get("instances", ())):
        names = tuple(str(name) for name in instance.get("names", ()))
        by_code.setdefault(str(instance.get("sha256") or f"unread-{index}"), []).append(names)
    duplicated = (
        set() if audit is None else {finding.subject for finding in audit.findings if finding.kind == "duplicate-load"}
    )
    outcomes = []
    for instances in by_code.values():
        names = tuple(sorted({name for instance in instances for name in instance}))
        bases = {os.path.basename(name) for name in names}
        outcomes.append(LibraryOutcome(names, len(instances), bool(bases & duplicated)))
    outcomes.extend(LibraryOutcome((name,), 0, False) for name in unloaded.values())
    return tuple(sorted(outcomes, key=lambda outcome: outcome.names))


def resolved_runtime(
    runtime_dir: Path | None, release: str | None, abis: Sequence[Abi], environ: Mapping[str, str]
) -> Runtime:
    """The runtime a call names (``--runtime``, ``--pyodide``, ``$PYODIDE_AUDITWHEEL_RUNTIME``),
    else the default for the ABI the wheel targets (the first its tags name)."""
    from .runtimes import RUNTIME_ENV, default_runtime, installed_release, runtime_in

    if runtime_dir is not None:
        return runtime_in(runtime_dir)
    if release is not None:
        return installed_release(release, environ)
    if environ.get(RUNTIME_ENV):
        return runtime_in(Path(environ[RUNTIME_ENV]))
    if not abis:
        raise RuntimeUnavailableError(
            "the wheel's tags name no ABI this tool knows, so there is no default runtime: "
            "give --runtime DIR or --pyodide VERSION."
        )
    return default_runtime(abis[0], environ)
