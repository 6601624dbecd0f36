"""Per-ABI knowledge: which Pyodide generation a platform tag means and how it finds libraries.

The facts live in ``data/abis.json`` beside this module so that supporting a new Pyodide ABI is
a data change reviewed against the runtime's source, not a code change.  The file is validated
as it is read: a misspelt key or search step is an error naming it, not a silent default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal, get_args

from ..errors import AuditwheelError, UnsupportedPlatformError
from .loader import LoaderRules, NeededRule, SearchRule

RuntimePathScheme = Literal["absolute-then-origin", "origin"]

# The platform-tag families of Emscripten wheels: legacy emscripten_X_Y_Z, Pyodide's ABI tags
# and PEP 783's pyemscripten_<year>_<patch>.
EMSCRIPTEN_PLATFORM = re.compile(r"^(?:emscripten_\d+_\d+_\d+|pyodide_\d{4}_\d+|pyemscripten_\d{4}_\d+)_wasm32$")


class AbiDataError(AuditwheelError):
    """``data/abis.json`` does not have the shape this module reads."""


@dataclass(frozen=True)
class Abi:
    """One runtime ABI: the releases that share a Python and an Emscripten, and so load the
    same wheels.  Read from ``runtime/data/abis.json``, never built by hand.

    Attributes:
        name: the ABI's name (``pyodide_2025_0``; an unknown ABI has the tag's own).
        pyodide: its Pyodide releases (``0.28.x, 0.29.x``).
        python: the Python version of its interpreter (``3.13``).
        emscripten: the Emscripten version its runtime was built with.
        platform_tags: each platform tag naming the ABI → the first Pyodide release that
            installs wheels so tagged (PEP 783 tags came to 0.28/0.29's ABI only with 0.29.4).
        site_packages: where its runtime installs wheels (empty for an unknown ABI).
        runtime_path_scheme: how a repair writes RUNTIME_PATH for its loader.
        loader: the rules of its newest release's loader (what it reads, where it searches).
        release_loaders: releases whose loader differs from ``loader``, by release
            (``"0.26"``): the audit checks the wheel against each.
        prerelease: whether its releases are alphas (315.0.0a).
    """

    name: str
    pyodide: str
    python: str
    emscripten: str
    platform_tags: Mapping[str, str]
    site_packages: str
    runtime_path_scheme: RuntimePathScheme
    loader: LoaderRules
    release_loaders: Mapping[str, LoaderRules]
    prerelease: bool

    @property
    def loaders(self) -> dict[str, LoaderRules]:
        """Every distinct loader of the ABI's releases, by the releases it is for."""
        newest = self.pyodide.split(", ")[-1].removesuffix(".x")
        return {newest: self.loader, **self.release_loaders}

    @property
    def known(self) -> bool:
        return bool(self.site_packages)

    @property
    def python_tag(self) -> str:
        """``cp313`` for Python 3.13: the interpreter and ABI tag of its extension modules."""
        return "cp" + self.python.replace(".", "")

    @property
    def extension_suffix(self) -> str:
        """The suffix CPython's importer looks for besides ``.abi3.so`` and ``.so``."""
        return f".cpython-{self.python.replace('.', '')}-wasm32-emscripten.so"

    def spelled_for(self, platforms: Iterable[str]) -> str:
        """The ABI's name as the tags spell it: ``pyemscripten_2025_0`` for a wheel tagged so
        (PEP 783's name and Pyodide's name one ABI; the user wrote this one), else its own."""
        for platform in sorted(platforms):
            if platform in self.platform_tags:
                return platform.removesuffix("_wasm32")
        return self.name

    def named_for(self, platforms: Iterable[str]) -> str:
        """:meth:`spelled_for`, with the ABI's own name beside it when that differs."""
        spelled = self.spelled_for(platforms)
        return spelled if spelled == self.name else f"{spelled} (also named {self.name})"

    def runtimes_for(self, platform: str) -> str:
        """The Pyodide releases that install a wheel of this ABI tagged ``platform``."""
        since = self.platform_tags.get(platform)
        releases = f"Pyodide {self.pyodide}" if since is None else f"Pyodide {self.pyodide} (from {since})"
        return f"{releases}, prerelease" if self.prerelease else releases


_FIELDS: dict[str, type] = {
    "name": str,
    "pyodide": str,
    "python": str,
    "emscripten": str,
    "platform_tags": dict,
    "site_packages": str,
    "runtime_path_scheme": str,
    "loader": dict,
    "release_loaders": dict,
    "prerelease": bool,
}


# What the code that reads these fields assumes of them (``python_tag`` drops the dot, the
# extension suffix and site-packages are made from it): checked on load, not at first use.
RELEASE = re.compile(r"\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?")
_FORMATS = {
    "python": re.compile(r"3\.\d+"),
    "emscripten": re.compile(r"\d+\.\d+\.\d+"),
    "site_packages": re.compile(r"/lib/python3\.\d+/site-packages"),
}


def _loader_rules(raw: dict[str, Any], where: str) -> LoaderRules:
    expected = {
        "needed": str,
        "reads_runtime_path": bool,
        "reads_legacy_dylink": bool,
        "search": str,
        "normalizes_names": bool,
    }
    if set(raw) != set(expected) or not all(isinstance(raw[key], kind) for key, kind in expected.items()):
        raise AbiDataError(f"data/abis.json: {where}.loader must have exactly {sorted(expected)}, typed.")
    if raw["needed"] not in get_args(NeededRule) or raw["search"] not in get_args(SearchRule):
        raise AbiDataError(f"data/abis.json: {where}.loader names an unknown needed or search rule.")
    return LoaderRules(**raw)


def _abi_from_json(entry: Any, where: str) -> Abi:
    if not isinstance(entry, dict):
        raise AbiDataError(f"data/abis.json: {where} is not an object.")
    unknown_keys = sorted(set(entry) - set(_FIELDS))
    absent = sorted(set(_FIELDS) - set(entry))
    if unknown_keys or absent:
        raise AbiDataError(f"data/abis.json: {where} has unknown keys {unknown_keys} or lacks {absent}.")
    for key, kind in _FIELDS.items():
        if not isinstance(entry[key], kind):
            raise AbiDataError(f"data/abis.json: {where}.{key} is not a {kind.__name__}.")
    for key, pattern in _FORMATS.items():
        if not pattern.fullmatch(entry[key]) and not (where == "unknown" and entry[key] == ""):
            raise AbiDataError(f"data/abis.json: {where}.{key} {entry[key]!r} is not of the form {pattern.pattern}.")
    if entry["site_packages"] != (f"/lib/python{entry['python']}/site-packages" if entry["python"] else ""):
        raise AbiDataError(f"data/abis.json: {where}.site_packages is not its Python's /lib/pythonX.Y/site-packages.")
    if entry["runtime_path_scheme"] not in get_args(RuntimePathScheme):
        raise AbiDataError(f"data/abis.json: {where}.runtime_path_scheme {entry['runtime_path_scheme']!r} is unknown.")
    tags = entry["platform_tags"]
    if not all(
        isinstance(tag, str) and isinstance(since, str) and EMSCRIPTEN_PLATFORM.match(tag) and RELEASE.fullmatch(since)
        for tag, since in tags.items()
    ):
        raise AbiDataError(f"data/abis.json: {where}.platform_tags must map Emscripten platform tags to versions.")
    return Abi(
        name=entry["name"],
        pyodide=entry["pyodide"],
        python=entry["python"],
        emscripten=entry["emscripten"],
        platform_tags=dict(tags),
        site_packages=entry["site_packages"],
        runtime_path_scheme=entry["runtime_path_scheme"],
        loader=_loader_rules(entry["loader"], where),
        release_loaders={
            release: _loader_rules(rules, f"{where}.release_loaders.{release}")
            for release, rules in entry["release_loaders"].items()
        },
        prerelease=entry["prerelease"],
    )


def parse_table(raw: Any) -> tuple[tuple[Abi, ...], Abi]:
    """The known ABIs and the ``unknown`` fallback, checked field by field."""
    if not isinstance(raw, dict) or raw.get("schema_version") != 2 or not isinstance(raw.get("abis"), list):
        raise AbiDataError("data/abis.json: expected schema_version 2 with a list of abis.")
    abis = tuple(_abi_from_json(entry, f"abis[{index}]") for index, entry in enumerate(raw["abis"]))
    tags = [tag for abi in abis for tag in abi.platform_tags]
    if len(tags) != len(set(tags)):
        raise AbiDataError("data/abis.json: a platform tag is listed for two ABIs.")
    return abis, _abi_from_json(raw.get("unknown"), "unknown")


@cache
def _table() -> tuple[tuple[Abi, ...], Abi]:
    return parse_table(json.loads(resources.files(__package__).joinpath("data/abis.json").read_text("utf-8")))


def known_abis() -> tuple[Abi, ...]:
    return _table()[0]


def unknown_abi() -> Abi:
    return _table()[1]


def is_emscripten_platform(platform: str) -> bool:
    return bool(EMSCRIPTEN_PLATFORM.match(platform))


def abi_for_tag(platform: str) -> Abi | None:
    """The known ABI a platform tag names, or None: an unknown tag is never guessed."""
    return next((abi for abi in known_abis() if platform in abi.platform_tags), None)


def check_emscripten_platforms(platforms: Iterable[str]) -> None:
    foreign = sorted(p for p in platforms if not is_emscripten_platform(p))
    if foreign:
        raise UnsupportedPlatformError(
            f"unsupported platform: the wheel is tagged {', '.join(foreign)}, not for Emscripten/Pyodide "
            "(expected emscripten_*_wasm32, pyodide_*_wasm32 or pyemscripten_*_wasm32)."
        )


def abis_named_by(platforms: Iterable[str]) -> tuple[Abi, ...]:
    """Every known ABI the platform tags name, once each, in the order of the sorted tags.
    The one place this is decided: the audit checks a wheel against each, a repair lays it
    out for all of them, and the first is the ABI the wheel targets."""
    named: dict[str, Abi] = {}
    for platform in sorted(platforms):
        abi = abi_for_tag(platform)
        if abi is not None:
            named.setdefault(abi.name, abi)
    return tuple(named.values())


def abi_for_platforms(platforms: set[str] | frozenset[str]) -> Abi:
    """The ABI a wheel targets, from its platform tags; an unknown Emscripten tag gets the
    conservative ``unknown`` entry (relative RUNTIME_PATH plus the ``.libs`` directory)."""
    check_emscripten_platforms(platforms)
    named = abis_named_by(platforms)
    return named[0] if named else unknown_abi()
