"""Per-ABI knowledge: which Pyodide generation a platform tag means and how it finds libraries.

The facts live in ``data/abis.json`` beside this module so that supporting a new Pyodide ABI is
a data change reviewed against the runtime's source, not a code change.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from .errors import UnsupportedPlatformError

SearchStep = Literal["ld_library_path", "runtime_path", "libs_dir", "site_packages", "own_dir"]
RuntimePathScheme = Literal["absolute-then-origin", "origin"]

# The platform-tag families of Emscripten wheels: legacy emscripten_X_Y_Z, Pyodide's ABI tags
# and PEP 783's pyemscripten_<year>_<patch>.
EMSCRIPTEN_PLATFORM = re.compile(r"^(?:emscripten_\d+_\d+_\d+|pyodide_\d{4}_\d+|pyemscripten_\d{4}_\d+)_wasm32$")


@dataclass(frozen=True)
class Abi:
    name: str
    pyodide: str
    python: str
    emscripten: str
    platform_tags: tuple[str, ...]
    site_packages: str
    search: tuple[SearchStep, ...]
    normalizes_paths: bool
    runtime_path_scheme: RuntimePathScheme

    @property
    def known(self) -> bool:
        return bool(self.site_packages)


def _abi_from_json(entry: dict[str, object]) -> Abi:
    def text(key: str) -> str:
        value = entry[key]
        assert isinstance(value, str)
        return value

    def texts(key: str) -> tuple[str, ...]:
        value = entry[key]
        assert isinstance(value, list)
        return tuple(str(item) for item in value)

    return Abi(
        name=text("name"),
        pyodide=text("pyodide"),
        python=text("python"),
        emscripten=text("emscripten"),
        platform_tags=texts("platform_tags"),
        site_packages=text("site_packages"),
        search=texts("search"),  # type: ignore[arg-type]
        normalizes_paths=bool(entry["normalizes_paths"]),
        runtime_path_scheme=text("runtime_path_scheme"),  # type: ignore[arg-type]
    )


@cache
def _table() -> tuple[tuple[Abi, ...], Abi]:
    raw = json.loads(resources.files(__package__).joinpath("data/abis.json").read_text("utf-8"))
    return tuple(_abi_from_json(entry) for entry in raw["abis"]), _abi_from_json(raw["unknown"])


def is_emscripten_platform(platform: str) -> bool:
    return bool(EMSCRIPTEN_PLATFORM.match(platform))


def abi_for_platforms(platforms: set[str] | frozenset[str]) -> Abi:
    """The ABI a wheel targets, from its platform tags; an unknown Emscripten tag gets the
    conservative ``unknown`` entry (relative RUNTIME_PATH plus the ``.libs`` directory)."""
    foreign = sorted(p for p in platforms if not is_emscripten_platform(p))
    if foreign:
        raise UnsupportedPlatformError(
            f"unsupported platform: the wheel is tagged {', '.join(foreign)}, not for Emscripten/Pyodide "
            "(expected emscripten_*_wasm32, pyodide_*_wasm32 or pyemscripten_*_wasm32)."
        )
    abis, unknown = _table()
    for abi in abis:
        if platforms & set(abi.platform_tags):
            return abi
    return unknown


def unknown_abi() -> Abi:
    return _table()[1]
