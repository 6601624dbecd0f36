"""The dependency graph: modules and libraries as nodes, resolved NEEDED entries as edges.

The resolver (:mod:`.analysis`) decides, entry by entry, where one release's loader finds
each library; this module holds the result in the shape its readers need.  The audit walks a
module's libraries in the order the loader loads them, the plan orders libraries before their
users and asks which libraries a moved copy drags along, the duplicate-load checks ask who
needs a library and by which name.  Each of those once rebuilt the edges by filtering
statuses; now each asks the graph, built once per analysis.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Status = Literal["included", "found", "excluded", "missing"]
Origin = Literal["wheel", "libdir"]


@dataclass(frozen=True)
class Dependency:
    """One NEEDED entry of a module and where the loader resolves it.

    Attributes:
        name: the entry as the module spells it (a base name, or a path).
        status: *included* (a file of the input), *found* (outside it, in the library
            search path), *excluded* (``--exclude``: provided at run time) or *missing*.
        location: where, as one string for the JSON report; read it through
            :attr:`member`, :attr:`host_path` or :attr:`hint`, which say what it is.
        source: for *found*, what named the directory it was found in (``--libdir``,
            ``WASM_LIBRARY_DIR``, ``pkg-config libfoo.pc``, ``emscripten sysroot``,
            ``RUNTIME_PATH``, another wheel of the call).
    """

    name: str
    status: Status
    location: str | None = None
    source: str | None = None

    @property
    def member(self) -> str | None:
        """The input's file the entry resolves to (*included* only)."""
        return self.location if self.status == "included" else None

    @property
    def host_path(self) -> str | None:
        """The file outside the input the entry resolves to (*found* only)."""
        return self.location if self.status == "found" else None

    @property
    def hint(self) -> str | None:
        """For *missing*: a file of that name elsewhere in the input, which the loader does
        not look at (what to move, or to point RUNTIME_PATH at)."""
        return self.location if self.status == "missing" else None

    @property
    def target(self) -> str | None:
        """The file the loader loads for this entry: a member or a host path."""
        return self.location if self.status in ("included", "found") else None


@dataclass(frozen=True)
class ModuleReport:
    """One wasm side module and its resolved needs.

    Attributes:
        path: a member of the input when ``origin`` is *wheel*; a host file when it is
            *libdir* (a library found outside the input, followed for its own needs).
        origin: *wheel* or *libdir*.
        needed: the NEEDED entries, in the module's order (repeats kept: the loader reads
            them all).
        runtime_paths: the RUNTIME_PATH entries, as written.
        dependencies: one :class:`Dependency` per NEEDED entry, in order (a library a
            NEEDED list names twice has two).
    """

    path: str
    origin: Origin
    needed: tuple[str, ...]
    runtime_paths: tuple[str, ...]
    dependencies: tuple[Dependency, ...]


@dataclass(frozen=True)
class Edge:
    """A NEEDED entry of ``user`` that the loader resolves to the file ``target`` (a member
    of the input, or a host path when ``in_wheel`` is false)."""

    user: ModuleReport
    dependency: Dependency
    target: str
    in_wheel: bool


class DependencyGraph:
    """The modules of one analysis and the edges their resolved NEEDED entries make.

    Nodes are :class:`ModuleReport` s (the input's modules, and libraries found outside it);
    an edge may point at a file that is not a node (a member the decoder could not read), so
    questions are asked by path.  Traversals keep their own stacks: a chain of libraries as
    long as a build makes must not meet Python's recursion limit.
    """

    def __init__(self, modules: Sequence[ModuleReport]) -> None:
        self.modules = tuple(modules)
        self._nodes = {module.path: module for module in self.modules}
        self.edges = tuple(
            Edge(module, dependency, dependency.location, dependency.status == "included")
            for module in self.modules
            for dependency in module.dependencies
            if dependency.location is not None and dependency.status in ("included", "found")
        )
        self._out: dict[str, list[Edge]] = {}
        self._in: dict[str, list[Edge]] = {}
        for edge in self.edges:
            self._out.setdefault(edge.user.path, []).append(edge)
            self._in.setdefault(edge.target, []).append(edge)

    def node(self, path: str) -> ModuleReport | None:
        return self._nodes.get(path)

    def edges_from(self, path: str) -> Sequence[Edge]:
        return self._out.get(path, ())

    def members_needed_by(self, path: str) -> Iterator[str]:
        """The input's files the module at ``path`` needs directly."""
        return (edge.target for edge in self.edges_from(path) if edge.in_wheel)

    def users_of(self, path: str, *, in_wheel: bool = False) -> tuple[ModuleReport, ...]:
        """The modules that need the file at ``path`` (of the input's own, with ``in_wheel``)."""
        return tuple(edge.user for edge in self._in.get(path, ()) if not in_wheel or edge.user.origin == "wheel")

    @property
    def needed_members(self) -> set[str]:
        """Every file of the input some module needs."""
        return {edge.target for edge in self.edges if edge.in_wheel}

    def with_status(self, status: Status) -> dict[str, list[str]]:
        """Library name → the modules with a NEEDED entry of that status."""
        result: dict[str, list[str]] = {}
        for module in self.modules:
            for dependency in module.dependencies:
                if dependency.status == status:
                    result.setdefault(dependency.name, []).append(module.path)
        return result

    def closure(self, paths: Iterable[str]) -> set[str]:
        """The input's files that the input's modules at ``paths`` need, directly or through
        each other (what moves with them)."""
        found: set[str] = set()
        pending = list(paths)
        while pending:
            user = self._nodes.get(pending.pop())
            if user is None or user.origin != "wheel":
                continue
            for needed in self.members_needed_by(user.path):
                if needed not in found:
                    found.add(needed)
                    pending.append(needed)
        return found

    def load_order(self, module: ModuleReport) -> list[ModuleReport]:
        """The libraries loaded for ``module``, breadth first, as the loader loads them."""
        seen = {module.path}
        order: list[ModuleReport] = []
        queue = [module]
        while queue:
            current = queue.pop(0)
            for edge in self.edges_from(current.path):
                library = self._nodes.get(edge.target)
                if library is not None and library.path not in seen:
                    seen.add(library.path)
                    order.append(library)
                    queue.append(library)
        return order

    def dependencies_first(
        self, libraries: Sequence[ModuleReport], alias: Mapping[str, str] | None = None
    ) -> list[ModuleReport]:
        """``libraries``, each after those of them it needs (an edge to a path of ``alias``
        is one to the library it names): a depth-first post-order."""
        alias = alias or {}
        by_path = {library.path: library for library in libraries}
        ordered: dict[str, ModuleReport] = {}
        visiting: set[str] = set()

        def needs(library: ModuleReport) -> Iterator[ModuleReport]:
            for edge in self.edges_from(library.path):
                needed = by_path.get(alias.get(edge.target, edge.target))
                if needed is not None:
                    yield needed

        for root in libraries:
            if root.path in ordered or root.path in visiting:
                continue
            visiting.add(root.path)
            stack = [(root, needs(root))]
            while stack:
                library, pending = stack[-1]
                needed = next(
                    (item for item in pending if item.path not in ordered and item.path not in visiting), None
                )
                if needed is None:
                    stack.pop()
                    ordered[library.path] = library
                else:
                    visiting.add(needed.path)
                    stack.append((needed, needs(needed)))
        return list(ordered.values())

    def stuck(self, groups: Mapping[str, Sequence[str]], moving: Collection[str]) -> set[str]:
        """The keys of ``groups`` (sets of the input's files that move together) of which the
        first file needs a file of the input that does not move with it: not in any group,
        nor in ``moving``."""
        moved = set(moving).union(*groups.values()) if groups else set(moving)
        return {key for key, paths in groups.items() if any(t not in moved for t in self.members_needed_by(paths[0]))}
