"""The tool's loader model asked the questions the conformance harness asks each runtime:
where ``findLibraryFS`` finds a library, and which library instances Pyodide's install step
makes.  Shared by the harness (tests/test_conformance.py, against the live runtimes) and the
fast replay of recorded answers (tests/test_loader_replay.py)."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

from conformance import GeneratedWheel, _wheel_members, dylink_body, random_wheel, search_cases, side_module, write_zip
from runtime_driver import ALL_RUNTIMES

from pyodide_auditwheel.errors import WasmError
from pyodide_auditwheel.runtime.abi import Abi, known_abis
from pyodide_auditwheel.runtime.install import find_library, loaded_at_install, simulate_install
from pyodide_auditwheel.runtime.loader import view_of_module
from pyodide_auditwheel.runtime.vfs import VirtualFS
from pyodide_auditwheel.wheel.names import is_module_name

Install = tuple[bool, list[tuple[list[str], str]]]


def abi_of(runtime: str) -> Abi:
    """The ABI the runtime runs, with the loader rules of its release."""
    name, release = ALL_RUNTIMES[runtime]
    abi = next(abi for abi in known_abis() if abi.name == name)
    return replace(abi, loader=abi.loaders[release])


def other_site_packages(abi: Abi) -> str:
    """A site-packages of another Python (a path a wheel built for another runtime names)."""
    return "/lib/python3.11/site-packages" if abi.python != "3.11" else "/lib/python3.10/site-packages"


def model_search(case: dict[str, Any], abi: Abi) -> str | None:
    fs = VirtualFS()
    for directory in ["/usr/lib", abi.site_packages, *case["dirs"]]:
        fs.add_dir(directory)
    for file in case["files"]:
        fs.add_file(file, None)
    return find_library(fs, abi.site_packages, case["name"], case["parent"], case["paths"])


def model_install(wheel: GeneratedWheel, abi: Abi) -> Install:
    fs = VirtualFS()
    for directory in ["/usr/lib", abi.site_packages]:
        fs.add_dir(directory)
    dynlibs = []
    for name, data in wheel.members:
        installed = f"{abi.site_packages}/{name}"
        try:
            view = view_of_module(data, abi.loader) if is_module_name(name) else None
        except WasmError:
            view = None
        fs.add_file(installed, view)
        if loaded_at_install(name, abi.python, abi.loader):
            dynlibs.append(installed)
    libs_dir = f"{abi.site_packages}/{wheel.path.name.split('-')[0]}.libs"
    outcome = simulate_install(fs, dynlibs, abi.loader, abi.site_packages, libs_dir)
    prefix = abi.site_packages + "/"
    instances = sorted(
        (sorted(instance.names), wheel.content_ids[instance.file.removeprefix(prefix)])
        for instance in outcome.instances
    )
    return outcome.error is None, instances


def runtime_install(answer: dict[str, Any]) -> Install:
    # In no particular order: 0.21 keeps preloaded instances apart from LDSO's.
    made = sorted(
        (sorted(item["names"]), item["content"]) for item in answer["instances"] if item["content"] is not None
    )
    return bool(answer["ok"]), made


# --- the recorded answers: a sample of cases per loader family, replayed without Node ---------

# runtime -> (search cases, install cases, order cases) recorded from it: the loaders whose
# search differs (0.26's and 0.27's file-system walks, 0.28+'s findLibraryFS; 0.21-0.25
# install in their own ways).
RECORDED = {
    "pyodide-0.21": (0, 60, 60),
    "pyodide-0.25": (0, 120, 120),
    "pyodide-0.26": (0, 120, 120),
    "pyodide-0.27": (0, 200, 160),
    "pyodide-0.29": (600, 200, 160),
    "pyodide-314": (600, 120, 120),
}
# Where an order case puts its copies of the library (each copy its own content): which one
# the install loads is the search order.
ORDER_HOMES = ["{dist}.libs", "{dist}", "{dist}/sub", "{dist}/a", ""]
ANSWERS = Path(__file__).parent / "data" / "runtime-answers.json"


def recorded_cases(runtime: str, workdir: Path) -> tuple[list[dict[str, Any]], dict[str, GeneratedWheel]]:
    """The cases recorded from ``runtime``, made again from their seeds: search cases, and
    install cases (wheels written into ``workdir``) by id."""
    abi = abi_of(runtime)
    searches, installs, orders = RECORDED[runtime]
    rng = random.Random(f"recorded-{runtime}")
    cases: list[dict[str, Any]] = search_cases(rng, searches, abi.site_packages, other_site_packages(abi))
    platform = next(iter(abi.platform_tags))
    draw = (abi.python, abi.site_packages, other_site_packages(abi), platform)
    wheels = {
        f"w{index}": random_wheel(random.Random(f"recorded-{runtime}-{index}"), index, workdir, *draw)
        for index in range(installs)
    }
    order_rng = random.Random(f"recorded-order-{runtime}")
    wheels.update({f"o{index}": order_wheel(order_rng, index, workdir, abi, platform) for index in range(orders)})
    return cases, wheels


def order_wheel(rng: random.Random, index: int, workdir: Path, abi: Abi, platform: str) -> GeneratedWheel:
    """A module needing ``libo<index>.so``, of which the wheel holds two to four copies with
    different contents, in its libs directory, the module's directory, one beside and one
    under it, or site-packages itself; the module (at the top of the package or one down) may
    name some of those places in its RUNTIME_PATH.  The copy the install loads says which
    place the loader looks in first."""
    dist = f"o{index}"
    library = f"libo{index}.so"
    module_dir = rng.choice([dist, f"{dist}/a"])
    homes = [home.format(dist=dist) for home in rng.sample(ORDER_HOMES, rng.randint(2, 4))]
    members: list[tuple[str, bytes]] = []
    content_ids: dict[str, str] = {}
    for number, home in enumerate(homes):
        path = f"{home}/{library}" if home else library
        members.append((path, side_module(dylink_body(), f"o{index}c{number}")))
        content_ids[path] = f"o{index}c{number}"
    up = "/".join([".."] * (module_dir.count("/") + 1))
    forms = ["$ORIGIN", f"$ORIGIN/{up}/{dist}.libs", f"{abi.site_packages}/{dist}.libs", "$ORIGIN/sub", "$ORIGIN/.."]
    runtime_paths = rng.sample(forms, rng.randint(0, 2)) if rng.random() < 0.8 else None
    module = f"{module_dir}/_m{dist}.so"  # a base name of its own: the cases share one runtime
    members.append((module, side_module(dylink_body([library], runtime_paths), f"o{index}m")))
    content_ids[module] = f"o{index}m"
    rng.shuffle(members)
    python_tag = f"cp{abi.python.replace('.', '')}"
    ordered = members + _wheel_members(dist, python_tag, platform)
    path = workdir / f"{dist}-1.0-{python_tag}-{python_tag}-{platform}.whl"
    write_zip(path, ordered)
    return GeneratedWheel(path, ordered, content_ids)
