"""The runtime's file system as the loader sees it: the wheel's files where the install puts
them, the directories above them, and the path arithmetic of emscripten's ``PATH`` module
(``dirname``, ``normalize``) and of ``$ORIGIN``, which the loader does in JavaScript's way,
not the host's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field

from .loader import LoaderView

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
