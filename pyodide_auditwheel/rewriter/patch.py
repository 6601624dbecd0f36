"""How one module is patched: its NEEDED renamed to the vendored names, and RUNTIME_PATH that
reaches the libs directory, following each ABI's scheme (see ``docs/abi.md``).

Apart from the planner because it is the one place that knows how each release names a
library it found (by the full path, or by the spelling that found it): the layout's rules for
each loader live here, the plan only says which libraries go where.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..graph.model import Dependency, ModuleReport
from ..runtime.abi import Abi
from ..runtime.install import runtime_path_directories
from ..runtime.vfs import js_normalize
from ..wheel.names import installed_path


@dataclass(frozen=True)
class ModulePatch:
    """Changes to one module: the NEEDED and RUNTIME_PATH lists to write (``None``: keep), and
    the renames and added entries they make (what ``--dry-run`` and the summary show).  The
    lists are whole: the module gets one subsection of each, saying what every loader reads."""

    path: str
    renames: dict[str, str]
    runtime_paths: tuple[str, ...] | None
    added_runtime_paths: tuple[str, ...]
    strip: bool = False
    needed: tuple[str, ...] | None = None

    @property
    def changes_dylink(self) -> bool:
        return self.needed is not None or self.runtime_paths is not None


def runtime_path_entries(abis: Sequence[Abi], module_dir: str, libs_dir: str) -> tuple[tuple[str, ...], str]:
    """The absolute RUNTIME_PATH entries that reach ``libs_dir`` for each ABI of the wheel, and
    the ``$ORIGIN`` entry that reaches it from a module in ``module_dir``.

    With ``absolute-then-origin`` the absolute site-packages path comes first: every module,
    whatever its depth, then names a vendored library by the same string, which is what the
    0.28/0.29 loader de-duplicates on (an entry for another ABI's Python does not exist there,
    and is passed over).  The ``$ORIGIN`` entry keeps the wheel working when installed
    somewhere else (a virtual environment).
    """
    relative = posixpath.relpath(libs_dir, module_dir or ".")
    origin = "$ORIGIN" if relative == "." else f"$ORIGIN/{relative}"
    absolute = tuple(
        dict.fromkeys(
            f"{abi.site_packages}/{libs_dir}"
            for abi in abis
            if abi.runtime_path_scheme == "absolute-then-origin" and abi.site_packages
        )
    )
    return absolute, origin


def runtime_path_order(existing: Sequence[str], absolute: Sequence[str], origin: str | None) -> tuple[str, ...]:
    """The absolute entries first, then the module's own entries (kept, in their order), then
    the ``$ORIGIN`` entry if the module has none like it.  A relative entry *before* the
    absolute one would be found first on 0.28/0.29 and name the library by a second spelling
    (a second copy): this order makes every module name it by the absolute path."""
    kept = [entry for entry in existing if entry not in absolute]
    return (*absolute, *kept, *([] if origin is None or origin in existing else [origin]))


def _spellings_matter(abi: Abi) -> bool:
    """Whether the ABI's loader names a library by the spelling that found it (0.28/0.29)."""
    return abi.loader.search == "emscripten" and not abi.loader.normalizes_names


def _found_by_another_spelling(module: ModuleReport, dependency: Dependency, abi: Abi) -> bool:
    """Whether the loader finds the wheel's library through RUNTIME_PATH by a spelling that is
    not its full path (``…/pkg/sub/../lib/libx.so``), so that it is a second name beside the
    one the install loaded it by."""
    member = dependency.member
    if member is None or "/" in dependency.name or posixpath.dirname(member) == "":
        return False
    parent = f"{abi.site_packages}/{installed_path(module.path)}"
    canonical = f"{abi.site_packages}/{installed_path(member)}"
    directories = runtime_path_directories(parent, module.runtime_paths)
    spellings = [f"{directory}/{dependency.name}" for directory in directories]
    return next((spelling != canonical for spelling in spellings if js_normalize(spelling) == canonical), False)


def patch_for(
    module: ModuleReport, path: str, vendored: Mapping[str, str], abis: Sequence[Abi], libs_dir: str
) -> ModulePatch:
    """NEEDED renamed to the vendored names, and RUNTIME_PATH that reaches the libs directory
    by the absolute path first, for every module that needs a library there, whether this
    repair vendors it or an earlier one (ours or another tool's) did.  ``vendored``: each
    library's file (libdir path or member) → its path in the libs directory."""
    renames: dict[str, str] = {}
    for dependency in module.dependencies:
        target = dependency.target
        if target is not None and target in vendored:
            new_name = posixpath.basename(vendored[target])
            if new_name != dependency.name:
                renames[dependency.name] = new_name
    needed = tuple(renames.get(name, name) for name in module.needed) if renames else None
    # A library already in the libs directory needs the absolute entry only where spellings
    # make copies (0.28/0.29); a 314-only wheel that finds it through $ORIGIN is left alone.
    spellings_matter = any(map(_spellings_matter, abis))
    reaches_libs = any(
        dependency.location in vendored
        or (spellings_matter and dependency.member is not None and posixpath.dirname(dependency.member) == libs_dir)
        for dependency in module.dependencies
    )
    # A library of the wheel found elsewhere through RUNTIME_PATH is named by the spelling
    # that found it (``…/pkg/sub/../lib/libx.so``) on 0.28/0.29, beside the full path the
    # install loaded it by: the absolute entry of its directory first names it by that path.
    elsewhere = dict.fromkeys(
        posixpath.dirname(installed_path(dependency.member))
        for dependency in module.dependencies
        if dependency.member is not None
        and dependency.member not in vendored
        and any(_found_by_another_spelling(module, dependency, abi) for abi in abis if _spellings_matter(abi))
    )
    if not reaches_libs and not elsewhere:
        return ModulePatch(path, renames, None, (), needed=needed)
    module_dir = posixpath.dirname(installed_path(path))
    absolute, origin = runtime_path_entries(abis, module_dir, libs_dir) if reaches_libs else ((), None)
    for directory in elsewhere:
        absolute += runtime_path_entries(abis, module_dir, directory)[0]
    absolute = tuple(dict.fromkeys(absolute))
    existing = module.runtime_paths
    wanted = runtime_path_order(existing, absolute, origin)
    added = tuple(entry for entry in wanted if entry not in existing)
    return ModulePatch(path, renames, wanted if wanted != existing else None, added, needed=needed)
