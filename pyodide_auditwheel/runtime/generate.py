"""The generator of ``data/runtimes/``: what each npm ``pyodide`` package's loader hands a side
module, read from the package itself (its lock file, ``pyodide.asm.js`` and main module).

It is kept apart from :mod:`pyodide_auditwheel.runtimes`, which only loads the stored data: a
run of the tool never parses JavaScript.  Two generations of loader are read.  Emscripten
before 3.1.32 (Pyodide 0.21/0.22) calls the import object ``asmLibraryArg`` and writes its
functions as ``function f(...)``; later ones ``wasmImports`` and arrow functions.  Releases
before 0.24 describe themselves in ``repodata.json``, later ones in ``pyodide-lock.json``.

Regenerate with ``python -m pyodide_auditwheel.generate_runtime_data
tests/runtime/node_modules/pyodide-*`` (``nox -s runtime_data`` installs the pinned packages
first); a test regenerates each ABI's data and compares.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from packaging.version import Version

from ..wasm.sections import read_interface
from .abi import Abi, known_abis
from .offers import DATA_PACKAGE_DIR, RuntimeDataError, RuntimeOffer, data_file_name, encode, function_type_text

# The loader's JS object that side-module imports are looked up in (``asmLibraryArg`` before
# emscripten 3.1.32), as ``var <name>={``.
IMPORT_OBJECT_LITERAL = re.compile(r"var (wasmImports|asmLibraryArg)=\{")
# The values the loader's import proxy answers before looking anywhere else.
PROXY_CASE = re.compile(r'case"(\w+)":return')
PROXY_HANDLER = re.compile(r'proxyHandler=\{(?:get|"get":function)\(stubs,prop\)\{switch\(prop\)\{(.*?)\}')
# What reportUndefinedSymbols says of a GOT entry nothing provides, by the text of its source:
# emscripten 5 names it undefined; earlier ones fail on its type (quoted with backticks before
# 3.1.45's template strings).
UNDEFINED_GOT_MESSAGES = (
    ("Dynamic linking error: undefined symbol '${symName}'", "Dynamic linking error: undefined symbol '{name}'"),
    ("bad export type for '${symName}': ${typeof value}", "bad export type for '{name}': undefined"),
    ('bad export type for `"+symName+"`: "+typeof value', "bad export type for `{name}`: undefined"),
)
# resolveGlobalSymbol of emscripten < 4 makes ``invoke_<sig>`` wrappers for JS exceptions and
# ``__cxa_find_matching_catch_<n>`` on demand: the prefixes it tests are read from its body.
RESOLVE_GLOBAL_SYMBOL = re.compile(
    r"(?:var resolveGlobalSymbol=\(symName,direct=false\)=>|function resolveGlobalSymbol\(symName,direct(?:=false)?\))"
    r"\{(.*?)return ?(?:\{sym|sym\})"
)
ON_DEMAND_PREFIX = re.compile(r'symName\.startsWith\("(\w+)"\)')
# What the import proxy's stub does when called for a function nothing provides, by its source.
UNRESOLVED_CALL_MESSAGES = (
    (
        "throw new Error(`Dynamic linking error: cannot resolve symbol ${prop}`)",
        "Dynamic linking error: cannot resolve symbol {name}",
    ),
    ("return resolved.apply(null,arguments)}", "Cannot read properties of undefined (reading 'apply')"),
)
# How postInstantiation applies a side module's data relocations, where the loader does.
APPLY_DATA_RELOCS = 'moduleExports["__wasm_apply_data_relocs"]'
# Where a release describes itself (``info``: its Python and platform).
LOCK_FILES = ("pyodide-lock.json", "repodata.json")


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


def _release_info(package: Path) -> Any:
    for name in LOCK_FILES:
        if (package / name).is_file():
            return json.loads((package / name).read_text("utf-8"))["info"]
    raise RuntimeDataError(f"{package} has neither {' nor '.join(LOCK_FILES)}: not an npm pyodide package.")


def generate(package: Path, abis: Sequence[Abi]) -> RuntimeOffer:
    """Read one npm ``pyodide`` package (its lock file, loader and main module)."""
    info = _release_info(package)
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
    import_object = IMPORT_OBJECT_LITERAL.search(script)
    handler = PROXY_HANDLER.search(script)
    if import_object is None or handler is None:
        raise RuntimeDataError(f"{package}: the loader's wasmImports or import proxy was not found.")
    literal = import_object.end() - 1  # its "{"
    js_library = frozenset(_object_literal_keys(script, literal))
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
        undefined_got=_message(UNDEFINED_GOT_MESSAGES, script, package, "an undefined GOT entry"),
        unresolved_call=_message(UNRESOLVED_CALL_MESSAGES, script, package, "a call nothing provides"),
        applies_data_relocs=APPLY_DATA_RELOCS in script,
    )


def _message(table: Sequence[tuple[str, str]], script: str, package: Path, what: str) -> str:
    """The loader's words for ``what``: the first of ``table`` whose source text it holds."""
    for source_text, message in table:
        if source_text in script:
            return message
    raise RuntimeDataError(f"{package}: the loader's message for {what} was not found.")


# ``var ___cpp_exception=new WebAssembly.Tag(`` and the like: objects the loader makes in JS.
WASM_OBJECT_DEFINITION = re.compile(r"\bvar ([\w$]+)=new WebAssembly\.(?:Global|Tag|Memory|Table)\(")
LITERAL_ENTRY = re.compile(r'[{,]"?([\w$]+)"?(?::([\w$]+))?(?=[,}])')


def _js_values(script: str, literal: int, names: frozenset[str]) -> frozenset[str]:
    """The ``wasmImports`` entries whose value is a WebAssembly object made in JS (0.28+ make
    the exception tags so), read from the literal's ``key:identifier`` pairs."""
    made = set(WASM_OBJECT_DEFINITION.findall(script))
    end = script.find("};", literal)
    pairs = LITERAL_ENTRY.findall(script[literal : end + 1])
    return frozenset(key for key, value in pairs if key in names and (value or key) in made)


def by_abi(packages: Iterable[Path]) -> list[RuntimeOffer]:
    """One offer per ABI: its newest release's, carrying the older releases given."""
    releases: dict[str, list[RuntimeOffer]] = {}
    for package in packages:
        offer = generate(package, known_abis())
        releases.setdefault(offer.abi, []).append(offer)
    combined = []
    for offers in releases.values():
        offers.sort(key=lambda offer: Version(offer.pyodide), reverse=True)
        combined.append(replace(offers[0], older=tuple(offers[1:])))
    return combined


def write_data(packages: Iterable[Path], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for offer in by_abi(packages):
        target = out_dir / data_file_name(offer.abi)
        target.write_bytes(encode(offer))
        written.append(target)
    return written


def main(argv: Sequence[str]) -> int:
    if not argv:
        print("usage: python -m pyodide_auditwheel.generate_runtime_data NPM_PYODIDE_PACKAGE_DIR...", file=sys.stderr)
        return 2
    out_dir = Path(str(resources.files(__package__).joinpath(DATA_PACKAGE_DIR)))
    for path in write_data((Path(arg) for arg in argv), out_dir):
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
