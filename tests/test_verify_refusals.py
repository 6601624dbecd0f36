"""``verify`` refuses in one sentence (exit 2) when it has nothing to run the wheel in: no
Node, a Node too old, a folder that is not a Pyodide, a release that is not one, no npm to
install it, a cache it cannot write, an npm that fails, a wheel whose tags name no ABI, an
input that is not a wheel.  None of these runs Node: a stand-in ``node`` and ``npm`` answer
as the real ones do."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import wheelbuilder
from clirun import cli


def _tool(bin_dir: Path, name: str, body: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """PATH with the tool and a Node 20 that only says its version (no real node or npm:
    /bin is /usr/bin on merged-usr systems)."""
    _tool(tmp_path / "bin", "node", "echo v20.18.0\n")
    return {
        **os.environ,
        "PATH": os.pathsep.join([str(tmp_path / "bin"), str(Path(sys.executable).parent)]),
        "PYODIDE_AUDITWHEEL_CACHE": str(tmp_path / "cache"),
    }


@pytest.fixture
def wheel(tmp_path: Path) -> Path:
    files = {"plain/__init__.py": b""}
    return wheelbuilder.write_wheel(
        tmp_path / "dist", "plain", "1.0", wheelbuilder.PLATFORM_TAGS["pyodide_2025_0"], files
    )


def _refused(*args: str, env: dict[str, str]) -> str:
    result = cli("verify", *args, env=env, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stdout + result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return " ".join(result.stderr.split())


def test_no_node_or_an_old_one(wheel: Path, tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "bin" / "node").unlink()
    said = _refused(str(wheel), env=env)
    assert "verify runs the wheel in Pyodide under Node.js, and no node is on PATH: install Node.js 18" in said
    _tool(tmp_path / "bin", "node", "echo v16.20.2\n")
    said = _refused(str(wheel), env=env)
    assert f"{tmp_path / 'bin' / 'node'} is not Node.js 18 or newer (it says 'v16.20.2')" in said


def test_a_folder_that_is_not_a_runtime_and_a_release_that_is_not_one(
    wheel: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    said = _refused(str(wheel), "--runtime", str(tmp_path), env=env)
    assert (
        f"{tmp_path} is not a Pyodide runtime: it holds no pyodide.asm.wasm and pyodide.js (give the folder of an "
        "installed npm pyodide package, or --pyodide VERSION to install one)" in said
    )
    env["PYODIDE_AUDITWHEEL_RUNTIME"] = str(tmp_path)
    assert "is not a Pyodide runtime" in _refused(str(wheel), env=env)
    said = _refused(str(wheel), "--pyodide", "latest", env=env)
    assert "--pyodide 'latest' is not a release number such as 0.29.5 or 314.0.8" in said


def test_installing_a_release_without_npm_into_a_cache_it_cannot_write_or_with_an_npm_that_fails(
    wheel: Path, tmp_path: Path, env: dict[str, str]
) -> None:
    said = _refused(str(wheel), "--pyodide", "0.29.5", env=env)
    assert "installing Pyodide 0.29.5 needs npm on PATH; install Node.js with npm, or give --runtime DIR" in said
    _tool(tmp_path / "bin", "npm", "echo 'npm ERR! code E404' >&2\nexit 1\n")
    (tmp_path / "blocked").write_text("a file, not a directory")
    said = _refused(
        str(wheel), "--pyodide", "0.29.5", env={**env, "PYODIDE_AUDITWHEEL_CACHE": str(tmp_path / "blocked")}
    )
    assert f"cannot install Pyodide 0.29.5 into {tmp_path / 'blocked'}" in said
    # By default, the newest release of the wheel's ABI the tool's data comes from.
    said = _refused(str(wheel), env=env)
    assert "npm could not install Pyodide 0.29.5 (exit 1: npm ERR! code E404); check the release number" in said
    assert not (tmp_path / "cache" / "pyodide-0.29.5" / ".complete").exists()


def test_a_wheel_of_no_known_abi_or_not_a_wheel(tmp_path: Path, env: dict[str, str]) -> None:
    legacy = wheelbuilder.write_wheel(tmp_path, "old", "1.0", wheelbuilder.PLATFORM_TAGS["legacy"], {"old/x.py": b""})
    said = _refused(str(legacy), env=env)
    assert (
        "the wheel's tags name no ABI this tool knows, so there is no default runtime: give --runtime DIR or "
        "--pyodide VERSION" in said
    )
    module = tmp_path / "ext.so"
    module.write_bytes(b"\0asm\1\0\0\0")
    assert f"cannot verify {module}: verify takes .whl files" in _refused(str(module), env=env)
    empty = tmp_path / "dist"
    empty.mkdir()
    assert f"no wheels in {empty}: it holds no .whl file" in _refused(str(empty), env=env)
