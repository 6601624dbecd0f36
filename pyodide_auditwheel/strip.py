"""Dropping debug-only custom sections (``name``, DWARF ``.debug_*``) from a module."""

from __future__ import annotations

from .wasm import CUSTOM_SECTION_ID, HEADER, iter_sections

STRIPPABLE_EXACT = frozenset({"name"})
STRIPPABLE_PREFIXES = (".debug_",)


def is_strippable(name: str | None) -> bool:
    return name is not None and (name in STRIPPABLE_EXACT or name.startswith(STRIPPABLE_PREFIXES))


def strip_debug(module: bytes, what: str = "module") -> bytes:
    """The module without debug sections; everything else byte for byte, in order."""
    kept = [
        module[section.start : section.end]
        for section in iter_sections(module, what)
        if not (section.id == CUSTOM_SECTION_ID and is_strippable(section.custom_name))
    ]
    return HEADER + b"".join(kept)
