"""What each Pyodide runtime offers a side module, as data generated from the runtime itself.

A side module's imports are bound by emscripten's loader (``libdylink.js``) to, in order: the
two values its proxy answers itself (``__memory_base``, ``__table_base``), the ``wasmImports``
object of ``pyodide.asm.js`` (the JS library functions and the globals the loader made:
``memory``, ``__indirect_function_table``, ``__stack_pointer``, …), into which the main
module's exports are merged, and, on older emscripten, ``invoke_*`` wrappers made on demand.
The files in ``data/runtimes/`` record exactly those names for each supported ABI; they are
written by :mod:`pyodide_auditwheel.generate_runtime_data` from the npm ``pyodide`` packages,
never by hand, and a test regenerates them and compares.  This module only reads them.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any

from ..errors import AuditwheelError
from ..wasm.sections import FunctionType

DATA_SCHEMA_VERSION = 3
DATA_PACKAGE_DIR = "data/runtimes"
# Names every loader gives side modules that are not functions (the memory, the table, the
# stack pointer and the base addresses): an env *function* import of one is a LinkError.
LOADER_VALUES = frozenset({"memory", "__indirect_function_table", "__stack_pointer", "__heap_base"})
LOADER_MUTABLE_GLOBALS = frozenset({"__stack_pointer"})
EXPORT_KINDS = ("func", "global", "memory", "table", "tag")


class RuntimeDataError(AuditwheelError):
    """The stored runtime data is absent or damaged, or a runtime package cannot be read."""


@dataclass(frozen=True)
class RuntimeOffer:
    """The names one runtime binds a side module's imports to, and what it carries: generated
    from the npm package (``runtime/generate.py``), so the audit checks imports against what the
    release really offers.

    Attributes:
        abi: the ABI's name.
        pyodide, python, emscripten: the release's versions.
        exports: the main module's exports, name → kind (``func``, ``global``, …).
        js_library: the JS library functions in the loader's import object.
        proxy_values: the names the import proxy hands a value (not a function) for.
        on_demand_prefixes: name prefixes the resolver makes on demand (``invoke_``, …).
        function_types: each exported function's type, as ``i32,i32->i64``.
        undefined_got: how ``reportUndefinedSymbols`` names a GOT entry nothing provides.
        js_values: import-object entries that are WebAssembly objects made in JS (tags,
            globals), not functions.
        unresolved_call: what the stub says when a function nothing provides is called
            (emscripten 3.1.45 and later name it; before, the engine says so, in V8's words).
        applies_data_relocs: whether the loader calls ``__wasm_apply_data_relocs``.
            Emscripten 3.1.14 (Pyodide 0.21) never does: a module from a newer wasm-ld then
            runs with unrelocated data.
        older: the ABI's older pinned releases (0.26.4 beside 0.27.8), each with what it
            offers: a wheel must load on every release of its ABI.
    """

    abi: str
    pyodide: str
    python: str
    emscripten: str
    exports: Mapping[str, str]
    js_library: frozenset[str]
    proxy_values: frozenset[str]
    on_demand_prefixes: tuple[str, ...]
    function_types: Mapping[str, str]
    undefined_got: str = "bad export type for '{name}': undefined"
    js_values: frozenset[str] = frozenset()
    unresolved_call: str = "Dynamic linking error: cannot resolve symbol {name}"
    applies_data_relocs: bool = True
    older: tuple[RuntimeOffer, ...] = ()

    def handed_mutable(self, name: str) -> bool:
        """Whether the value the loader hands an ``env`` global import of ``name`` is a mutable
        WebAssembly.Global (the stack pointer) rather than a number or an immutable export."""
        return name in LOADER_MUTABLE_GLOBALS

    def callable(self, name: str) -> bool | None:
        """Whether what the loader hands an ``env`` import of ``name`` is a function: True for a
        JS library or main-module function, False for a value (a number, a WebAssembly.Global,
        the memory or the table), None when the runtime has nothing of that name (the loader
        then hands a stub function)."""
        if name in self.proxy_values or name in LOADER_VALUES or name in self.js_values:
            return False
        if name in self.js_library:
            return True
        kind = self.exports.get(name)
        return None if kind is None else kind == "func"

    @property
    def invoke_on_demand(self) -> bool:
        return "invoke_" in self.on_demand_prefixes

    @property
    def exception_model(self) -> str:
        """JS exceptions (``invoke_*`` trampolines) or wasm exception handling (tags)."""
        return "js" if self.invoke_on_demand else "wasm"

    def provides(self, name: str) -> bool:
        if name in self.proxy_values or name in self.js_library or name in self.exports:
            return True
        return name.startswith(self.on_demand_prefixes) if self.on_demand_prefixes else False

    def wasm_function_type(self, name: str) -> str | None:
        """The type an ``env`` import of ``name`` is checked against when the module is
        instantiated: a main-module function's; None when a JS function (any type passes)
        or something made on demand answers it.  The loader looks in ``wasmImports``, where
        a JS library function of that name comes before the main module's export."""
        if name in self.js_library or name in self.proxy_values:
            return None
        return self.function_types.get(name)

    def names_differing_from(self, newest: RuntimeOffer) -> frozenset[str] | None:
        """The import names whose verdict this release may give otherwise than ``newest``
        (what one offers and the other does not, or with another kind or type); None when the
        loaders themselves differ, so that every import must be checked again."""
        if self._loader_json() != newest._loader_json():
            return None
        exports = {name for name, kind in self.exports.items() if newest.exports.get(name) != kind}
        exports |= {name for name, kind in newest.exports.items() if self.exports.get(name) != kind}
        types = {name for name in self.function_types.keys() | newest.function_types.keys()}
        types = {name for name in types if self.function_types.get(name) != newest.function_types.get(name)}
        return frozenset(exports | types | (self.js_library ^ newest.js_library))

    @property
    def releases(self) -> tuple[RuntimeOffer, ...]:
        """The newest release first, then the older ones."""
        return (self, *self.older)

    def _loader_json(self) -> dict[str, Any]:
        return {
            "proxy_values": sorted(self.proxy_values),
            "on_demand_prefixes": list(self.on_demand_prefixes),
            "undefined_got": self.undefined_got,
            "unresolved_call": self.unresolved_call,
            "applies_data_relocs": self.applies_data_relocs,
            "js_values": sorted(self.js_values),
        }

    def _delta_json(self, newest: RuntimeOffer) -> dict[str, Any]:
        """An older release as what differs from the newest: releases of one ABI share
        nearly all of their ten thousand names, so each older one costs a few hundred bytes."""
        added: dict[str, list[str]] = {}
        for name, kind in self.exports.items():
            if newest.exports.get(name) != kind:
                added.setdefault(kind, []).append(name)
        return {
            "pyodide": self.pyodide,
            "python": self.python,
            "emscripten": self.emscripten,
            "loader": self._loader_json(),
            "js_library": {
                "removed": sorted(newest.js_library - self.js_library),
                "added": sorted(self.js_library - newest.js_library),
            },
            "exports": {
                "removed": sorted(name for name, kind in newest.exports.items() if self.exports.get(name) != kind),
                "added": {kind: sorted(names) for kind, names in sorted(added.items())},
            },
            "function_types": {
                "removed": sorted(set(newest.function_types) - set(self.function_types)),
                "changed": {
                    name: signature
                    for name, signature in sorted(self.function_types.items())
                    if newest.function_types.get(name) != signature
                },
            },
        }

    def _with_delta(self, raw: Any) -> RuntimeOffer:
        exports = dict(self.exports)
        for name in _strings(raw["exports"]["removed"]):
            exports.pop(name, None)
        exports.update({name: kind for kind, names in raw["exports"]["added"].items() for name in _strings(names)})
        function_types = dict(self.function_types)
        for name in _strings(raw["function_types"]["removed"]):
            function_types.pop(name, None)
        changed = raw["function_types"]["changed"]
        function_types.update({str(name): _string(signature) for name, signature in changed.items()})
        loader = raw["loader"]
        removed = frozenset(_strings(raw["js_library"]["removed"]))
        return RuntimeOffer(
            abi=self.abi,
            pyodide=_string(raw["pyodide"]),
            python=_string(raw["python"]),
            emscripten=_string(raw["emscripten"]),
            exports=exports,
            js_library=(self.js_library - removed) | frozenset(_strings(raw["js_library"]["added"])),
            proxy_values=frozenset(_strings(loader["proxy_values"])),
            on_demand_prefixes=tuple(_strings(loader["on_demand_prefixes"])),
            function_types=function_types,
            undefined_got=_string(loader["undefined_got"]),
            unresolved_call=_string(loader["unresolved_call"]),
            applies_data_relocs=_boolean(loader["applies_data_relocs"]),
            js_values=frozenset(_strings(loader["js_values"])),
        )

    def to_json(self) -> dict[str, Any]:
        by_kind: dict[str, list[str]] = {kind: [] for kind in EXPORT_KINDS}
        for name, kind in self.exports.items():
            by_kind.setdefault(kind, []).append(name)
        exports = {kind: sorted(names) for kind, names in by_kind.items()}
        # Function types as indices into a table of the distinct ones (a few hundred for ten
        # thousand functions), in the order of exports["func"].
        table = sorted(set(self.function_types.values()))
        index = {signature: number for number, signature in enumerate(table)}
        return {
            "schema_version": DATA_SCHEMA_VERSION,
            "abi": self.abi,
            "pyodide": self.pyodide,
            "python": self.python,
            "emscripten": self.emscripten,
            "loader": self._loader_json(),
            "js_library": sorted(self.js_library),
            "exports": exports,
            "function_types": {
                "table": table,
                "of_func": [index.get(self.function_types.get(name, ""), -1) for name in exports["func"]],
            },
            "older_releases": [older._delta_json(self) for older in self.older],
        }

    @classmethod
    def from_json(cls, raw: Any, source: str) -> RuntimeOffer:
        try:
            if raw["schema_version"] != DATA_SCHEMA_VERSION:
                raise ValueError(f"schema_version {raw['schema_version']!r}")
            exports = {name: kind for kind, names in raw["exports"].items() for name in _strings(names)}
            table = _strings(raw["function_types"]["table"])
            of_func = raw["function_types"]["of_func"]
            functions = _strings(raw["exports"]["func"])
            if not isinstance(of_func, list) or len(of_func) != len(functions):
                raise ValueError("function_types.of_func does not match exports.func")
            function_types = {
                name: table[number] for name, number in zip(functions, of_func, strict=True) if number >= 0
            }
            newest = cls(
                abi=str(raw["abi"]),
                pyodide=str(raw["pyodide"]),
                python=str(raw["python"]),
                emscripten=str(raw["emscripten"]),
                exports=exports,
                js_library=frozenset(_strings(raw["js_library"])),
                proxy_values=frozenset(_strings(raw["loader"]["proxy_values"])),
                on_demand_prefixes=tuple(_strings(raw["loader"]["on_demand_prefixes"])),
                function_types=function_types,
                undefined_got=str(raw["loader"]["undefined_got"]),
                unresolved_call=str(raw["loader"]["unresolved_call"]),
                applies_data_relocs=_boolean(raw["loader"]["applies_data_relocs"]),
                js_values=frozenset(_strings(raw["loader"]["js_values"])),
            )
            older = raw["older_releases"]
            if not isinstance(older, list):
                raise ValueError("older_releases is not a list")
            return replace(newest, older=tuple(newest._with_delta(release) for release in older))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            raise RuntimeDataError(f"damaged runtime data {source}: {error!r}; reinstall pyodide-auditwheel.") from None


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _strings(value: Any) -> list[str]:
    # The item types gathered by map(type) in C: a per-item generator was a third of the
    # time to load an ABI's data (tens of thousands of export names).
    if not isinstance(value, list) or not set(map(type, value)) <= {str}:
        raise ValueError("expected a list of strings")
    return value


def encode(offer: RuntimeOffer) -> bytes:
    """Compact, deterministic bytes: the same runtime always gives the same file."""
    text = json.dumps(offer.to_json(), separators=(",", ":"), sort_keys=True).encode()
    return gzip.compress(text, compresslevel=9, mtime=0)


def data_file_name(abi_name: str) -> str:
    return f"{abi_name}.json.gz"


def decode(data: bytes, source: str) -> RuntimeOffer:
    """The offer stored in ``data`` (what :func:`encode` wrote)."""
    try:
        raw = json.loads(gzip.decompress(data))
    except (OSError, EOFError, ValueError) as error:
        raise RuntimeDataError(
            f"damaged runtime data for ABI {source}: {error}; reinstall pyodide-auditwheel."
        ) from None
    return RuntimeOffer.from_json(raw, source)


@cache
def load_offer(abi_name: str) -> RuntimeOffer:
    """The stored offer of one ABI; :class:`RuntimeDataError` when the package lacks it."""
    resource = resources.files(__package__).joinpath(f"{DATA_PACKAGE_DIR}/{data_file_name(abi_name)}")
    try:
        data = resource.read_bytes()
    except FileNotFoundError:
        raise RuntimeDataError(f"no runtime data for ABI {abi_name}; reinstall pyodide-auditwheel.") from None
    return decode(data, abi_name)


def function_type_text(signature: FunctionType) -> str:
    """``i32,i32->i64``: the form the runtime data stores and findings print."""
    return f"{','.join(signature.params)}->{','.join(signature.results)}"
