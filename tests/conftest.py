"""Shared fixtures.  Real-world data, the ziglang toolchain and the Pyodide runtimes are
optional on a user's clone (the tests skip, saying why) and mandatory in CI, where
``PYODIDE_AUDITWHEEL_REQUIRE_ALL=1`` turns each such skip into a failure."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import wheelbuilder
from realworld import HOW_TO_GET_IT, REALWORLD
from runtime_driver import runtimes_missing

REQUIRE_ALL = os.environ.get("PYODIDE_AUDITWHEEL_REQUIRE_ALL") == "1"


# The tests decide where libraries are: a build environment's own (a WASM_LIBRARY_DIR or
# PKG_CONFIG_PATH of the machine running them) would be searched by every run.
for _variable in ("WASM_LIBRARY_DIR", "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR", "EM_PKG_CONFIG_PATH", "EM_CACHE"):
    os.environ.pop(_variable, None)


def unavailable(reason: str) -> None:
    if REQUIRE_ALL:
        pytest.fail(f"required in CI but unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def realworld() -> Path:
    if not (REALWORLD / "Shapely-1.8.2-cp310-cp310-emscripten_3_1_14_wasm32.whl").is_file():
        unavailable(f"real-world data not found at {REALWORLD}: {HOW_TO_GET_IT}")
    return REALWORLD


T = TypeVar("T")


def built_with_toolchain(build: Callable[[Path], T], workdir: Path) -> T:
    """What ``build`` makes with ziglang; without ziglang, unavailable (a failure in CI)."""
    try:
        return build(workdir)
    except wheelbuilder.ToolchainMissing as error:
        unavailable(str(error))
        raise


@pytest.fixture(scope="session")
def fixture_libs(tmp_path_factory: pytest.TempPathFactory) -> wheelbuilder.FixtureLibs:
    return built_with_toolchain(wheelbuilder.build_fixture_libs, tmp_path_factory.mktemp("zig"))


@pytest.fixture(scope="session")
def symbol_modules(tmp_path_factory: pytest.TempPathFactory) -> wheelbuilder.SymbolModules:
    return built_with_toolchain(wheelbuilder.build_symbol_modules, tmp_path_factory.mktemp("zig-symbols"))


@pytest.fixture(scope="session")
def runtimes() -> None:
    reason = runtimes_missing()
    if reason:
        unavailable(reason)


@pytest.fixture
def geos_libdir(realworld: Path, tmp_path: Path) -> Path:
    libdir = tmp_path / "geos"
    libdir.mkdir()
    for name in ("libgeos_c.so", "libgeos.so.3.10.3"):
        shutil.copy(realworld / name, libdir / name)
    return libdir


@pytest.fixture
def shapely(realworld: Path, tmp_path: Path) -> Iterator[Path]:
    """A writable copy of the real Shapely wheel."""
    target = tmp_path / "in" / "Shapely-1.8.2-cp310-cp310-emscripten_3_1_14_wasm32.whl"
    target.parent.mkdir()
    shutil.copy(realworld / target.name, target)
    target.chmod(0o644)
    yield target


# The markers pyproject.toml declares follow from the fixtures a test uses, so `-m runtime`
# (or `-m "not runtime"`) selects exactly the tests that need Node and the runtimes.
MARKER_OF_FIXTURE = {
    "runtimes": "runtime",
    "realworld": "realworld",
    "shapely": "realworld",
    "geos_libdir": "realworld",
    "fixture_libs": "toolchain",
    "symbol_modules": "toolchain",
    "beside_pyodide_build": "network",
    "peer": "network",
    "pypi_wheels": "network",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            marker = MARKER_OF_FIXTURE.get(fixture)
            if marker:
                item.add_marker(marker)
