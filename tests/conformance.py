"""Generated inputs for the conformance harness (tests/test_conformance.py).

Each generator draws from a seeded ``random.Random``, so a disagreement is reproducible by
its case id.  The modules are real wasm, written byte by byte: what is under test is how the
loader reads and finds them, and a generator reaches the corners (padded subsections, repeated
NEEDED, odd flags, every RUNTIME_PATH spelling, archive orders) no toolchain writes on purpose.
Each module exports a global ``__cf_<content id>``, so the runtime can say which file each
instance it made came from.
"""

from __future__ import annotations

import base64
import hashlib
import random
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pyodide_auditwheel.wasm.sections import encode_name, encode_uleb

MAGIC = b"\0asm\1\0\0\0"


def section(section_id: int, payload: bytes) -> bytes:
    return bytes([section_id]) + encode_uleb(len(payload)) + payload


def subsection(kind: int, payload: bytes, padding: bytes = b"") -> bytes:
    """A dylink subsection whose declared size also covers ``padding`` (which the loader
    then reads as what follows)."""
    return bytes([kind]) + encode_uleb(len(payload) + len(padding)) + payload + padding


def strings(items: Sequence[str]) -> bytes:
    return encode_uleb(len(items)) + b"".join(encode_name(item) for item in items)


def side_module(body: bytes, content_id: str | None = None, name: str = "dylink.0") -> bytes:
    """A side module: the dylink section, then (for install cases) the identifying export."""
    out = MAGIC + section(0, encode_name(name) + body)
    if content_id is not None:
        out += section(6, b"\x01\x7f\x00\x41\x00\x0b")  # one immutable i32 global = 0
        out += section(7, b"\x01" + encode_name(f"__cf_{content_id}") + b"\x03\x00")
    return out


def dylink_body(needed: Sequence[str] = (), runtime_paths: Sequence[str] | None = None) -> bytes:
    body = subsection(1, b"\0\0\0\0") + subsection(2, strings(needed))
    if runtime_paths is not None:
        body += subsection(5, strings(runtime_paths))
    return body


# --- dylink.0 bodies ------------------------------------------------------------------------------

SYMBOLS = ("foo", "bar", "PyBytes_Join", "x", "")


def random_dylink_body(rng: random.Random) -> bytes:
    """Subsections in any order and number, some padded (with bytes that read as another
    subsection, or as nothing), some of unknown kinds, flags of every binding."""
    parts: list[bytes] = []
    for _ in range(rng.randint(0, 6)):
        kind = rng.choice([1, 2, 2, 3, 4, 4, 5, 5, 7, 0])
        if kind == 1:
            payload = b"".join(encode_uleb(rng.randint(0, 300)) for _ in range(4))
        elif kind in (2, 5):
            payload = strings(
                [rng.choice(["liba.so", "libb.so", "$ORIGIN", "/abs/l.so", "x"]) for _ in range(rng.randint(0, 3))]
            )
        elif kind == 3:
            entries = [(rng.choice(SYMBOLS), rng.choice([0, 1, 0x100, 0x101, 0x20])) for _ in range(rng.randint(0, 3))]
            payload = encode_uleb(len(entries)) + b"".join(encode_name(n) + encode_uleb(f) for n, f in entries)
        elif kind == 4:
            entries = [
                (
                    rng.choice(["env", "GOT.mem", "GOT.func"]),
                    rng.choice(SYMBOLS),
                    rng.choice([0, 1, 2, 3, 5, 0x11, 0x13]),
                )
                for _ in range(rng.randint(0, 3))
            ]
            payload = encode_uleb(len(entries)) + b"".join(
                encode_name(m) + encode_name(n) + encode_uleb(f) for m, n, f in entries
            )
        else:
            payload = bytes(rng.randint(0, 255) for _ in range(rng.randint(0, 4)))
        padding = b""
        roll = rng.random()
        if roll < 0.15:
            padding = b"\0" * rng.randint(1, 3)  # reads as empty unknown subsections
        elif roll < 0.25:
            padding = subsection(2, strings([rng.choice(["libpad.so", "liba.so"])]))  # a hidden NEEDED
        elif roll < 0.3:
            padding = subsection(5, strings(["$ORIGIN/pad"]))
        parts.append(subsection(kind, payload, padding))
    return b"".join(parts)


def dylink_cases(rng: random.Random, count: int, legacy_share: float = 0.0) -> list[dict[str, object]]:
    cases: list[dict[str, object]] = []
    for index in range(count):
        if rng.random() < legacy_share:
            needed = [rng.choice(["liba.so", "libb.so"]) for _ in range(rng.randint(0, 3))]
            body = b"".join(encode_uleb(rng.randint(0, 99)) for _ in range(4)) + strings(needed)
            module = side_module(body, name="dylink")
        else:
            module = side_module(random_dylink_body(rng))
        cases.append({"id": f"d{index}", "kind": "dylink", "module": base64.b64encode(module).decode()})
    return cases


# --- library search (findLibraryFS) ----------------------------------------------------------------

RUNTIME_PATH_FORMS = (
    "$ORIGIN",
    "$ORIGIN/",
    "$ORIGIN/..",
    "$ORIGIN/../",
    "$ORIGIN/../{libs}",
    "$ORIGIN/../../{libs}",
    "$ORIGIN/./{sub}",
    "$ORIGIN//{sub}",
    "${{ORIGIN}}/..",
    "$ORIGINX",
    "{sp}/{libs}",
    "{sp}//{libs}/",
    "{other_sp}/{libs}",
    "/{libs}",
    "",
    "{sp}/{pkg}/nothere/../{sub}",
    "$ORIGIN/../{libs}:{sp}/{pkg}",
)


def search_cases(
    rng: random.Random, count: int, site_packages: str, other_site_packages: str
) -> list[dict[str, object]]:
    cases: list[dict[str, object]] = []
    for index in range(count):
        pkg, libs = f"s{index}", f"s{index}.libs"
        lib = f"libs{index}.so"
        places = [
            f"{site_packages}/{libs}",
            f"{site_packages}/{pkg}",
            f"{site_packages}/{pkg}/sub",
            f"{site_packages}/{pkg}/a/b",
        ]
        files = [f"{place}/{lib}" for place in rng.sample(places, rng.randint(0, 2))]
        parent_dir = rng.choice(
            [
                f"{site_packages}/{pkg}",
                f"{site_packages}/{pkg}/a",
                f"{site_packages}/{pkg}/a/b",
                f"{site_packages}/{pkg}/a/../a",
            ]
        )
        paths = [
            rng.choice(RUNTIME_PATH_FORMS).format(
                libs=libs, sp=site_packages, other_sp=other_site_packages, pkg=pkg, sub="sub"
            )
            for _ in range(rng.randint(0, 3))
        ]
        name = rng.choice(
            [lib, lib, lib, f"sub/{lib}", f"{site_packages}/{libs}/{lib}", f"{site_packages}/{pkg}/../{libs}/{lib}"]
        )
        cases.append(
            {
                "id": f"s{index}",
                "kind": "search",
                "files": files,
                "dirs": [f"{site_packages}/{pkg}/a/b"],
                "name": name,
                "parent": f"{parent_dir}/_m.so",
                "paths": paths,
            }
        )
    return cases


# --- whole wheels (install) ------------------------------------------------------------------------


@dataclass
class GeneratedWheel:
    """A wheel on disk, its members in archive order, and each member's content id."""

    path: Path
    members: list[tuple[str, bytes]]
    content_ids: dict[str, str] = field(default_factory=dict)
    # Every library the wheel's modules need, by file name (placed in the wheel or not): a
    # library directory for its repair; ``lib….so.1`` is the second name of ``lib….so``.
    libraries: dict[str, bytes] = field(default_factory=dict)


def _wheel_members(dist: str, python_tag: str, platform: str) -> list[tuple[str, bytes]]:
    info = f"{dist}-1.0.dist-info"
    return [
        (f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n".encode()),
        (
            f"{info}/WHEEL",
            (
                "Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"
                + "".join(f"Tag: {python_tag}-{python_tag}-{each}\n" for each in platform.split("."))
            ).encode(),
        ),
        (f"{info}/RECORD", b""),
    ]


def write_zip(path: Path, members: Sequence[tuple[str, bytes]]) -> None:
    """The wheel, its (empty) RECORD filled with a row for every member, as a repair needs."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            if name.endswith(".dist-info/RECORD") and not data:
                data = record_of(members, name)
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data)


def record_of(members: Sequence[tuple[str, bytes]], record: str) -> bytes:
    rows = []
    for name, data in members:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{name},sha256={digest},{len(data)}\n" if name != record else f"{name},,\n")
    return "".join(rows).encode()


def random_wheel(
    rng: random.Random,
    index: int,
    out_dir: Path,
    python: str,
    site_packages: str,
    other_site_packages: str,
    platform: str,
    prefix: str = "w",
    other_platform: str | None = None,
) -> GeneratedWheel:
    """One to three modules at depths 0-3 of a package, needing one or two libraries placed
    anywhere the runtimes might look (or nowhere), named bare, absolute or relative, with
    every RUNTIME_PATH spelling, sometimes an identical copy of a library in a second place,
    NEEDED sometimes split over two subsections or hidden in a padded one, in a random archive
    order.  ``prefix`` names the distribution (``w<index>``), so that two wheels drawn from
    equal seeds can be installed side by side; ``other_platform``, when given, is a second
    platform tag the wheel names (for some wheels), which a repair must lay it out for too."""
    dist = f"{prefix}{index}"
    libs_dir = f"{dist}.libs"
    suffix = rng.choice([".so", f".cpython-{python.replace('.', '')}-wasm32-emscripten.so", ".abi3.so"])
    module_dirs = [dist, f"{dist}/a", f"{dist}/a/b", f"{dist}/c/d/e"]
    library_dirs = [libs_dir, dist, f"{dist}/a", f"{dist}/a/b", f"{dist}/zz", f"{dist}/c"]
    libraries = [f"lib{dist}{letter}.so" for letter in "xy"[: rng.randint(1, 2)]]
    members: list[tuple[str, bytes]] = []
    content_ids: dict[str, str] = {}
    placed: dict[str, list[str]] = {}
    library_data: dict[str, bytes] = {}
    for number, library in enumerate(libraries):
        homes = rng.sample(library_dirs, rng.choice([0, 1, 1, 1, 2]))
        placed[library] = homes
        # a library may itself need the other one
        needs = [libraries[0]] if number == 1 and rng.random() < 0.4 else []
        runtime_paths = rng.choice([None, ["$ORIGIN"], [f"{site_packages}/{libs_dir}"]])
        data = side_module(dylink_body(needs, runtime_paths), f"{index}{library}")
        library_data[library] = library_data[f"{library}.1"] = data
        for home in homes:
            members.append((f"{home}/{library}", data))
            content_ids[f"{home}/{library}"] = f"{index}{library}"
    for number in range(rng.randint(1, 3)):
        module_dir = rng.choice(module_dirs)
        module_path = f"{module_dir}/_m{number}{dist}{suffix}"
        needed: list[str] = []
        for library in rng.sample(libraries, rng.randint(1, len(libraries))):
            home = rng.choice(placed[library] or [libs_dir])
            needed.append(
                rng.choice(
                    [
                        library,
                        library,
                        library,
                        f"{library}.1",  # a second name: a hard link in the libdir (see GeneratedWheel)
                        f"{site_packages}/{home}/{library}",
                        f"{other_site_packages}/{home}/{library}",
                        f"{home}/{library}",
                    ]
                )
            )
        depth = module_dir.count("/")
        up = "/".join([".."] * (depth + 1))
        forms = [
            "$ORIGIN",
            f"$ORIGIN/{up}/{libs_dir}",
            f"$ORIGIN/{up}/{rng.choice(library_dirs)}",
            f"{site_packages}/{libs_dir}",
            f"{other_site_packages}/{libs_dir}",
            f"$ORIGIN/{up}/{libs_dir}/",
            f"{site_packages}/{rng.choice(library_dirs)}",
        ]
        runtime_paths = rng.sample(forms, rng.randint(0, 3))
        body = dylink_body(needed, runtime_paths if rng.random() < 0.85 else None)
        roll = rng.random()
        if needed and roll < 0.1:  # NEEDED in two subsections (0.27 merges them, 0.28+ keeps the last)
            body = dylink_body(needed[:1]) + subsection(2, strings(needed[1:])) + body[len(dylink_body(needed)) :]
        elif needed and roll < 0.2:  # the last NEEDED hidden in the padding of the first
            hidden = subsection(2, strings(needed[-1:]))
            first = subsection(2, strings(needed[:-1]), hidden)
            body = subsection(1, b"\0\0\0\0") + first + body[len(dylink_body(needed)) :]
        data = side_module(body, f"{index}m{number}")
        members.append((module_path, data))
        content_ids[module_path] = f"{index}m{number}"
    # One member per path: a later module of the same name replaces an earlier one.
    unique = dict(members)
    ordered = list(unique.items())
    rng.shuffle(ordered)
    if other_platform is not None and rng.random() < 0.3:
        platform = ".".join(sorted([platform, other_platform]))
    ordered += _wheel_members(dist, f"cp{python.replace('.', '')}", platform)
    path = out_dir / f"{dist}-1.0-cp{python.replace('.', '')}-cp{python.replace('.', '')}-{platform}.whl"
    write_zip(path, ordered)
    return GeneratedWheel(path, ordered, {name: content_ids[name] for name in unique}, library_data)


# --- imports: what the loader binds at load (types included) --------------------------------------

VALUE_CODES = {"i32": 0x7F, "i64": 0x7E, "f32": 0x7D, "f64": 0x7C, "v128": 0x7B, "funcref": 0x70, "externref": 0x6F}


def function_type(text: str) -> bytes:
    """``i32,i32->i64`` as a wasm function type."""
    params, _, results = text.partition("->")
    codes = [[VALUE_CODES[value] for value in side.split(",") if value] for side in (params, results)]
    return b"\x60" + b"".join(encode_uleb(len(side)) + bytes(side) for side in codes)


def importing_module(imports: Sequence[tuple[str, str, str]], weak: Sequence[str] = ()) -> bytes:
    """A side module importing ``(module, field, type)`` each: a function type ``a,b->c``, or
    ``global`` for an i32 global (as GOT imports and ``__memory_base`` are)."""
    signatures = sorted({kind for _m, _f, kind in imports if kind != "global"})
    entries = b""
    for module, symbol, kind in imports:
        entries += encode_name(module) + encode_name(symbol)
        if kind == "global":  # GOT entries are mutable; env globals (__memory_base) are not
            entries += b"\x03\x7f" + (b"\x01" if module.startswith("GOT.") else b"\x00")
        else:
            entries += b"\x00" + encode_uleb(signatures.index(kind))
    info = encode_uleb(len(weak)) + b"".join(encode_name("env") + encode_name(name) + b"\x01" for name in weak)
    body = subsection(1, b"\0\0\0\0") + (subsection(4, info) if weak else b"")
    out = MAGIC + section(0, encode_name("dylink.0") + body)
    out += section(1, encode_uleb(len(signatures)) + b"".join(map(function_type, signatures)))
    out += section(2, encode_uleb(len(imports)) + entries)
    return out


def symbol_wheel(
    rng: random.Random,
    index: int,
    out_dir: Path,
    functions: dict[str, str],
    others: Sequence[str],
    python: str,
    platform: str,
) -> Path:
    """A wheel whose one module imports a few names: main-module functions with their own type
    or another, JS library functions (any type), names nothing provides, main-module exports
    that are not functions, through env, GOT.func and GOT.mem, some weak."""
    kinds = ["i32->i32", "i32->i64", "->", "i32,i32->i32", "f64->f64", "i64->i32"]
    imports: list[tuple[str, str, str]] = []
    weak: list[str] = []
    for number in range(rng.randint(1, 3)):
        roll = rng.random()
        if roll < 0.35:
            name = rng.choice(sorted(functions))
            kind = functions[name] if rng.random() < 0.5 else rng.choice(kinds)
            imports.append(("env", name, kind))
        elif roll < 0.5:
            imports.append(("env", rng.choice(others), rng.choice(kinds)))
        elif roll < 0.65:
            name = f"cf_absent_{index}_{number}"
            imports.append(
                (rng.choice(["env", "GOT.func", "GOT.mem"]), name, "global" if rng.random() < 0.5 else "i32->i32")
            )
            if rng.random() < 0.3:
                weak.append(name)
        elif roll < 0.8:
            imports.append((rng.choice(["GOT.func", "GOT.mem"]), rng.choice(sorted(functions)), "global"))
        else:
            imports.append(
                (
                    "env",
                    rng.choice(["__memory_base", "__table_base", "__stack_pointer"]),
                    rng.choice(["global", "i32->i32"]),
                )
            )
    # GOT imports must be globals, env functions functions: only what a linker writes.
    imports = [(m, f, "global" if m.startswith("GOT.") else k) for m, f, k in imports]
    dist = f"y{index}"
    tag = f"cp{python.replace('.', '')}"
    members = [(f"{dist}/_m.so", importing_module(imports, weak)), *_wheel_members(dist, tag, platform)]
    path = out_dir / f"{dist}-1.0-{tag}-{tag}-{platform}.whl"
    write_zip(path, members)
    return path
