"""What each Pyodide runtime offers a side module, as data generated from the runtime itself.

A side module's imports are bound by emscripten's loader (``libdylink.js``) to, in order: the
two values its proxy answers itself (``__memory_base``, ``__table_base``), the ``wasmImports``
object of ``pyodide.asm.js`` (the JS library functions and the globals the loader made:
``memory``, ``__indirect_function_table``, ``__stack_pointer``, …), into which the main
module's exports are merged, and, on older emscripten, ``invoke_*`` wrappers made on demand.
The files in ``data/runtimes/`` record exactly those names for each supported ABI; they are
written by :func:`generate` from the npm ``pyodide`` packages, never by hand, and a test
regenerates them and compares.

Regenerate with ``python -m pyodide_auditwheel.runtimes tests/runtime/node_modules/pyodide-*``
(``nox -s runtime-data`` does that after installing the pinned packages).
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .abi import Abi, known_abis
from .errors import AuditwheelError
from .wasm import FunctionType, read_interface

DATA_SCHEMA_VERSION = 2
DATA_PACKAGE_DIR = "data/runtimes"
# The loader's JS object that side-module imports are looked up in.
WASM_IMPORTS_LITERAL = "var wasmImports={"
# The values the loader's import proxy answers before looking anywhere else.
PROXY_CASE = re.compile(r'case"(\w+)":return')
PROXY_HANDLER = re.compile(r"var proxyHandler=\{get\(stubs,prop\)\{switch\(prop\)\{(.*?)\}")
# What reportUndefinedSymbols says of a GOT entry nothing provides: emscripten 5 names it
# undefined; earlier ones fail on its type.
UNDEFINED_GOT_TEXT = "Dynamic linking error: undefined symbol '${symName}'"
# Names every loader gives side modules that are not functions (the memory, the table, the
# stack pointer and the base addresses): an env *function* import of one is a LinkError.
LOADER_VALUES = frozenset({"memory", "__indirect_function_table", "__stack_pointer", "__heap_base"})
LOADER_MUTABLE_GLOBALS = frozenset({"__stack_pointer"})
# resolveGlobalSymbol of emscripten < 4 makes ``invoke_<sig>`` wrappers for JS exceptions and
# ``__cxa_find_matching_catch_<n>`` on demand: the prefixes it tests are read from its source.
RESOLVE_GLOBAL_SYMBOL = re.compile(r"var resolveGlobalSymbol=\(symName,direct=false\)=>\{(.*?)return\{sym")
ON_DEMAND_PREFIX = re.compile(r'symName\.startsWith\("(\w+)"\)')
EXPORT_KINDS = ("func", "global", "memory", "table", "tag")


class RuntimeDataError(AuditwheelError):
    """The stored runtime data is absent or damaged, or a runtime package cannot be read."""


@dataclass(frozen=True)
class RuntimeOffer:
    """The names one runtime binds a side module's imports to, and what it carries."""

    abi: str
    pyodide: str
    python: str
    emscripten: str
    exports: Mapping[str, str]
    js_library: frozenset[str]
    proxy_values: frozenset[str]
    on_demand_prefixes: tuple[str, ...]
    # The function type of each exported function of the main module, as ``i32,i32->i64``.
    function_types: Mapping[str, str]
    # How reportUndefinedSymbols names a GOT entry nothing provides.
    undefined_got: str = "bad export type for '{name}': undefined"
    # wasmImports entries that are WebAssembly objects made in JS (tags, globals), not functions.
    js_values: frozenset[str] = frozenset()

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
            "loader": {
                "proxy_values": sorted(self.proxy_values),
                "on_demand_prefixes": list(self.on_demand_prefixes),
                "undefined_got": self.undefined_got,
                "js_values": sorted(self.js_values),
            },
            "js_library": sorted(self.js_library),
            "exports": exports,
            "function_types": {
                "table": table,
                "of_func": [index.get(self.function_types.get(name, ""), -1) for name in exports["func"]],
            },
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
            return cls(
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
                js_values=frozenset(_strings(raw["loader"]["js_values"])),
            )
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
            raise RuntimeDataError(f"damaged runtime data {source}: {error!r}; reinstall pyodide-auditwheel.") from None


def _strings(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
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


# --- generation from an npm pyodide package ----------------------------------------------------


def _object_literal_keys(source: str, start: int) -> list[str]:
    """The keys of the JS object literal whose ``{`` is at ``start``: ``k:v``, ``"k":v`` or ``k``.

    Values in ``wasmImports`` are identifiers, but nesting and strings are tracked anyway so a
    future value such as ``{…}`` or ``"a,b"`` cannot cut an entry.
    """
    keys: list[str] = []
    depth = 0
    entry_start = start + 1
    quote = ""
    position = start
    while position < len(source):
        char = source[position]
        if quote:
            if char == "\\":
                position += 1
            elif char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char in "{([":
            depth += 1
        elif char in "})]":
            depth -= 1
            if depth == 0:
                keys.append(source[entry_start:position])
                break
        elif char == "," and depth == 1:
            keys.append(source[entry_start:position])
            entry_start = position + 1
        position += 1
    else:
        raise RuntimeDataError("the wasmImports object literal never closes.")
    names = []
    for entry in keys:
        key = entry.split(":", 1)[0].strip() if not entry.lstrip().startswith('"') else entry.strip().split('"')[1]
        if key:
            names.append(key)
    return names


def _loader_script(package: Path) -> Path:
    for name in ("pyodide.asm.js", "pyodide.asm.mjs"):
        if (package / name).is_file():
            return package / name
    raise RuntimeDataError(f"{package} has no pyodide.asm.js or pyodide.asm.mjs: not an npm pyodide package.")


def generate(package: Path, abis: Sequence[Abi]) -> RuntimeOffer:
    """Read one npm ``pyodide`` package (its lock file, loader and main module)."""
    info = json.loads((package / "pyodide-lock.json").read_text("utf-8"))["info"]
    version = json.loads((package / "package.json").read_text("utf-8"))["version"]
    # Releases before 0.26 have no abi_version: their ABI is their emscripten platform tag.
    named = info.get("abi_version") or info["platform"]
    abi_tags = (
        {f"pyodide_{named}_wasm32", f"pyemscripten_{named}_wasm32"}
        if info.get("abi_version")
        else {f"{info['platform']}_wasm32"}
    )
    abi = next((abi for abi in abis if abi_tags & set(abi.platform_tags)), None)
    if abi is None:
        raise RuntimeDataError(f"pyodide {version} has ABI {named}, which data/abis.json does not list.")
    script = _loader_script(package).read_text("utf-8")
    literal = script.find(WASM_IMPORTS_LITERAL)
    handler = PROXY_HANDLER.search(script)
    if literal < 0 or handler is None:
        raise RuntimeDataError(f"{package}: the loader's wasmImports or import proxy was not found.")
    js_library = frozenset(_object_literal_keys(script, literal + len(WASM_IMPORTS_LITERAL) - 1))
    resolver = RESOLVE_GLOBAL_SYMBOL.search(script)
    if resolver is None:
        raise RuntimeDataError(f"{package}: the loader's resolveGlobalSymbol was not found.")
    interface = read_interface((package / "pyodide.asm.wasm").read_bytes(), "pyodide.asm.wasm")
    return RuntimeOffer(
        abi=abi.name,
        pyodide=str(version),
        python=str(info["python"]),
        emscripten=str(info["platform"]).removeprefix("emscripten_").replace("_", "."),
        exports={export.name: export.kind for export in interface.exports},
        js_library=js_library,
        proxy_values=frozenset(PROXY_CASE.findall(handler.group(1))),
        on_demand_prefixes=tuple(sorted(ON_DEMAND_PREFIX.findall(resolver.group(1)))),
        function_types={
            export.name: function_type_text(export.type)
            for export in interface.exports
            if export.kind == "func" and export.type is not None
        },
        js_values=_js_values(script, literal, js_library),
        undefined_got=(
            "Dynamic linking error: undefined symbol '{name}'"
            if UNDEFINED_GOT_TEXT in script
            else "bad export type for '{name}': undefined"
        ),
    )


# ``var ___cpp_exception=new WebAssembly.Tag(`` and the like: objects the loader makes in JS.
WASM_OBJECT_DEFINITION = re.compile(r"\bvar ([\w$]+)=new WebAssembly\.(?:Global|Tag|Memory|Table)\(")
LITERAL_ENTRY = re.compile(r"[{,]([\w$]+)(?::([\w$]+))?(?=[,}])")


def _js_values(script: str, literal: int, names: frozenset[str]) -> frozenset[str]:
    """The ``wasmImports`` entries whose value is a WebAssembly object made in JS (0.28+ make
    the exception tags so), read from the literal's ``key:identifier`` pairs."""
    made = set(WASM_OBJECT_DEFINITION.findall(script))
    end = script.find("};", literal)
    pairs = LITERAL_ENTRY.findall(script[literal + len(WASM_IMPORTS_LITERAL) - 1 : end + 1])
    return frozenset(key for key, value in pairs if key in names and (value or key) in made)


def function_type_text(signature: FunctionType) -> str:
    """``i32,i32->i64``: the form the runtime data stores and findings print."""
    return f"{','.join(signature.params)}->{','.join(signature.results)}"


def write_data(packages: Iterable[Path], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for package in packages:
        offer = generate(package, known_abis())
        target = out_dir / data_file_name(offer.abi)
        target.write_bytes(encode(offer))
        written.append(target)
    return written


def main(argv: Sequence[str]) -> int:
    if not argv:
        print("usage: python -m pyodide_auditwheel.runtimes NPM_PYODIDE_PACKAGE_DIR...", file=sys.stderr)
        return 2
    out_dir = Path(str(resources.files(__package__).joinpath(DATA_PACKAGE_DIR)))
    for path in write_data((Path(arg) for arg in argv), out_dir):
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
