"""Library discovery: a build's libraries found where the build put them, with no --libdir.

Each test lays out real side modules (built by the wasm toolchain) as the build in question
lays them out: pyodide-build's ``$WASM_LIBRARY_DIR`` prefix, an Emscripten sysroot reached
through an ``em-config`` on PATH that answers as the real one does, a pkg-config ``.pc`` file,
a linker-recorded absolute RUNTIME_PATH.  The runs are the installed command line, with an
environment holding only what such a build sets.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
import wheelbuilder
from clirun import cli

pytestmark = pytest.mark.toolchain

DISCOVERY_VARIABLES = (
    "WASM_LIBRARY_DIR",
    "PKG_CONFIG_PATH",
    "PKG_CONFIG_LIBDIR",
    "EM_PKG_CONFIG_PATH",
    "EM_CACHE",
    "PYODIDE_AUDITWHEEL_LIBDIR",
    "LD_LIBRARY_PATH",
)


def build_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    """The caller's environment without any discovery source, plus ``variables``; PATH keeps
    only the directory of the tool (and of ``python``) and a ``bin`` of the test's own."""
    env = {key: value for key, value in os.environ.items() if key not in DISCOVERY_VARIABLES and key != "COLUMNS"}
    own_bin = tmp_path / "bin"
    own_bin.mkdir(exist_ok=True)
    env["PATH"] = os.pathsep.join([str(own_bin), str(Path(sys.executable).parent), "/usr/bin", "/bin"])
    env["COLUMNS"] = "250"
    return {**env, **variables}


def install_libraries(libs: wheelbuilder.FixtureLibs, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for library in (libs.outer, libs.counter):
        (directory / library.name).write_bytes(library.read_bytes())
    return directory


def dependency_sources(stdout: str) -> dict[str, str | None]:
    document = json.loads(stdout)
    return {
        dep["name"]: dep["source"]
        for module in document["inputs"][0]["modules"]
        for dep in module["dependencies"]
        if dep["status"] == "found"
    }


def vendored(wheel: Path) -> list[str]:
    """The libraries in the wheel's .libs directory, their mangling hash removed."""
    with zipfile.ZipFile(wheel) as archive:
        names = [name.rsplit("/", 1)[-1] for name in archive.namelist() if ".libs/" in name]
    return sorted(re.sub(r"-[0-9a-f]{8}(?=\.so)", "", name) for name in names)


@pytest.fixture
def chain_wheel(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> Path:
    return wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "dist", "pyodide_2025_0")


def test_without_a_source_the_libraries_are_missing(chain_wheel: Path, tmp_path: Path) -> None:
    result = cli("show", str(chain_wheel), env=build_env(tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "missing" in result.stdout and "found" not in result.stdout


def test_pyodide_build_wasm_library_dir(
    fixture_libs: wheelbuilder.FixtureLibs, chain_wheel: Path, tmp_path: Path
) -> None:
    """A recipe build: libraries installed into $WASM_LIBRARY_DIR/lib, which pyodide-build
    exports (with PKG_CONFIG_LIBDIR at its lib/pkgconfig)."""
    prefix = tmp_path / "recipes" / ".libs"
    install_libraries(fixture_libs, prefix / "lib")
    (prefix / "lib" / "pkgconfig").mkdir()
    env = build_env(tmp_path, WASM_LIBRARY_DIR=str(prefix), PKG_CONFIG_LIBDIR=str(prefix / "lib" / "pkgconfig"))
    shown = cli("show", str(chain_wheel), env=env)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "found (WASM_LIBRARY_DIR)" in shown.stdout
    as_json = cli("show", str(chain_wheel), "--json", env=env)
    assert dependency_sources(as_json.stdout) == dict.fromkeys(["libouter.so", "libcounter.so"], "WASM_LIBRARY_DIR")
    audited = cli("audit", str(chain_wheel), env=env)
    assert "missing-library" not in audited.stdout, audited.stdout
    out = tmp_path / "repaired"
    repaired = cli("repair", str(chain_wheel), "-w", str(out), env=env)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert vendored(out / chain_wheel.name) == ["libcounter.so", "libouter.so"]
    # --no-discovery: only what is named on the command line is searched.
    refused = cli("repair", str(chain_wheel), "-w", str(tmp_path / "none"), "--no-discovery", env=env)
    assert refused.returncode == 1 and not (tmp_path / "none").exists()
    assert cli("show", str(chain_wheel), "--no-discovery", env=env).returncode == 1


def test_emscripten_sysroot_through_em_config(
    fixture_libs: wheelbuilder.FixtureLibs, chain_wheel: Path, tmp_path: Path
) -> None:
    """`emcmake cmake && make install`: the libraries land in the sysroot under em-config's
    CACHE, as relocatable builds in lib/wasm32-emscripten/pic."""
    cache = tmp_path / "emsdk" / "upstream" / "emscripten" / "cache"
    install_libraries(fixture_libs, cache / "sysroot" / "lib" / "wasm32-emscripten" / "pic")
    env = build_env(tmp_path)
    em_config = tmp_path / "bin" / "em-config"
    # As emscripten's em-config: the value of the setting named, else an error and exit 1.
    em_config.write_text(
        f'#!/bin/sh\nif [ "$1" = CACHE ]; then echo {shlex.quote(str(cache))}; else echo "error: $1" >&2; exit 1; fi\n'
    )
    em_config.chmod(0o755)
    shown = cli("show", str(chain_wheel), "--json", env=env)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert set(dependency_sources(shown.stdout).values()) == {"emscripten sysroot"}
    # EM_CACHE names the cache without asking em-config.
    em_config.unlink()
    env["EM_CACHE"] = str(cache)
    assert set(dependency_sources(cli("show", str(chain_wheel), "--json", env=env).stdout).values()) == {
        "emscripten sysroot"
    }


def test_an_em_config_that_fails_is_noted(chain_wheel: Path, tmp_path: Path) -> None:
    env = build_env(tmp_path)
    em_config = tmp_path / "bin" / "em-config"
    em_config.write_text("#!/bin/sh\necho 'emsdk is not activated' >&2\nexit 1\n")
    em_config.chmod(0o755)
    shown = cli("show", str(chain_wheel), "-v", env=env)
    assert shown.returncode == 1 and "Traceback" not in shown.stderr
    assert "gave no cache directory (exit 1): the emscripten sysroot is not searched" in " ".join(shown.stdout.split())


def test_pkg_config_libdir(fixture_libs: wheelbuilder.FixtureLibs, chain_wheel: Path, tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    install_libraries(fixture_libs, prefix / "lib")
    pkgconfig = tmp_path / "pkgconfig"
    pkgconfig.mkdir()
    (pkgconfig / "outer.pc").write_text(
        f"prefix={prefix}\nexec_prefix=${{prefix}}\nlibdir=${{exec_prefix}}/lib\n\n"
        "Name: outer\nDescription: the chain\nVersion: 1.0\nLibs: -L${libdir} -louter\n"
    )
    env = build_env(tmp_path, EM_PKG_CONFIG_PATH=str(pkgconfig))
    shown = cli("show", str(chain_wheel), "--json", env=env)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert set(dependency_sources(shown.stdout).values()) == {"pkg-config outer.pc"}


def test_an_absolute_runtime_path_is_searched(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """The linker was given -rpath /abs/dir: the libraries are there on the build machine."""
    libdir = install_libraries(fixture_libs, tmp_path / "build" / "lib")
    module = wheelbuilder.build_c("ext", tmp_path / "obj", "_ext.so", needs=[fixture_libs.outer], rpaths=[str(libdir)])
    wheel = wheelbuilder.build_module_wheel(module, tmp_path / "dist", "pyodide_2025_0_wasm32", dist="rpathpkg")
    env = build_env(tmp_path)
    shown = cli("show", str(wheel), "--json", env=env)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert set(dependency_sources(shown.stdout).values()) == {"RUNTIME_PATH"}
    assert cli("show", str(wheel), "--no-discovery", env=env).returncode == 1


def test_the_order_decides_and_v_notes_the_other_build(
    fixture_libs: wheelbuilder.FixtureLibs, chain_wheel: Path, tmp_path: Path
) -> None:
    """A library in --libdir and another build of it in WASM_LIBRARY_DIR: --libdir wins."""
    explicit = install_libraries(fixture_libs, tmp_path / "explicit")
    announced = install_libraries(fixture_libs, tmp_path / "recipes" / ".libs" / "lib")
    (announced / "libouter.so").write_bytes(fixture_libs.user.read_bytes())  # another side module
    env = build_env(tmp_path, WASM_LIBRARY_DIR=str(announced.parent))
    shown = cli("show", str(chain_wheel), "--libdir", str(explicit), "-v", env=env)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    text = " ".join(shown.stdout.split())
    assert "found (--libdir)" in text and "found (WASM_LIBRARY_DIR)" not in text
    assert (
        f"libouter.so: taken from {explicit / 'libouter.so'} (--libdir); {announced / 'libouter.so'} "
        "(WASM_LIBRARY_DIR) has other contents and comes later in the search order" in text
    )
    # The same bytes in both: nothing to note.
    (announced / "libouter.so").write_bytes(fixture_libs.outer.read_bytes())
    same = cli("show", str(chain_wheel), "--libdir", str(explicit), "-v", env=env)
    assert "has other contents" not in same.stdout


def test_the_hosts_own_libraries_are_never_searched(
    fixture_libs: wheelbuilder.FixtureLibs, chain_wheel: Path, tmp_path: Path
) -> None:
    """A discovered directory that is the host's (on LD_LIBRARY_PATH, or /usr/lib named by a
    host .pc file) is not looked in, and -v says so."""
    host = install_libraries(fixture_libs, tmp_path / "host-lib")
    pkgconfig = tmp_path / "pkgconfig"
    pkgconfig.mkdir()
    (pkgconfig / "zlib.pc").write_text("prefix=/usr\nlibdir=${prefix}/lib\nName: zlib\n")
    env = build_env(tmp_path, WASM_LIBRARY_DIR=str(host), LD_LIBRARY_PATH=str(host), PKG_CONFIG_PATH=str(pkgconfig))
    shown = cli("show", str(chain_wheel), "-v", env=env)
    assert shown.returncode == 1, shown.stdout
    text = " ".join(shown.stdout.split())
    assert f"{host} (WASM_LIBRARY_DIR): not searched, it holds the host's own libraries" in text
    assert "/usr/lib (pkg-config zlib.pc): not searched, it holds the host's own libraries" in text


def test_a_library_vendored_with_two_builds_in_one_call_is_reported(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    """Two wheels built in two trees (each module's RUNTIME_PATH names its own) get two builds
    of libouter.so: each report gives the digest, and the call warns (Pyodide keeps one)."""
    first = install_libraries(fixture_libs, tmp_path / "tree-a" / "lib")
    second = install_libraries(fixture_libs, tmp_path / "tree-b" / "lib")
    (second / "libouter.so").write_bytes(fixture_libs.standalone.read_bytes())  # another build
    wheels = []
    for name, libdir in (("alpha", first), ("beta", second)):
        module = wheelbuilder.build_c(
            "ext", tmp_path / f"obj-{name}", "_ext.so", needs=[fixture_libs.outer], rpaths=[str(libdir)]
        )
        wheels.append(wheelbuilder.build_module_wheel(module, tmp_path / "dist", "pyodide_2025_0_wasm32", dist=name))
    out = tmp_path / "wheelhouse"
    result = cli("repair", *map(str, wheels), "-w", str(out), env=build_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    digests = {
        library: hashlib.sha256((libdir / "libouter.so").read_bytes()).hexdigest()[:16]
        for library, libdir in (("alpha", first), ("beta", second))
    }
    stdout, stderr = " ".join(result.stdout.split()), " ".join(result.stderr.split())
    assert f"sha256 {digests['alpha']}" in stdout and f"sha256 {digests['beta']}" in stdout
    assert "2 wheels: repaired 2, 0 left as they were; 3 distinct libraries vendored" in stdout
    assert (
        f"warning: libouter.so is vendored with different contents: sha256 {digests['alpha']} in {wheels[0].name}; "
        f"sha256 {digests['beta']} in {wheels[1].name}." in stderr
    )
    # One build in both: no warning.
    (second / "libouter.so").write_bytes(fixture_libs.outer.read_bytes())
    again = cli("repair", *map(str, wheels), "-w", str(tmp_path / "again"), env=build_env(tmp_path))
    assert again.returncode == 0 and "warning" not in again.stderr


def test_a_library_another_wheel_of_the_call_vendors(
    fixture_libs: wheelbuilder.FixtureLibs, chain_wheel: Path, tmp_path: Path
) -> None:
    """`repair dist/*.whl`: one wheel was repaired already (its .libs holds libouter and
    libcounter under mangled names); another needs libouter.so and is given no --libdir."""
    env = build_env(tmp_path)
    done = cli("repair", str(chain_wheel), "--libdir", str(fixture_libs.libdir), "-w", str(tmp_path / "dist2"), env=env)
    assert done.returncode == 0, done.stderr
    vendoring = tmp_path / "dist2" / chain_wheel.name
    user = wheelbuilder.build_module_wheel(fixture_libs.user, tmp_path / "dist2", "pyodide_2025_0_wasm32", dist="user")
    shown = cli("show", str(vendoring), str(user), "--json", env=env)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    sources = {
        dep["source"]
        for entry in json.loads(shown.stdout)["inputs"]
        for module in entry["modules"]
        for dep in module["dependencies"]
        if dep["status"] == "found"
    }
    assert sources == {f"wheel {vendoring.name}"}
    out = tmp_path / "wheelhouse"
    repaired = cli("repair", str(vendoring), str(user), "-w", str(out), env=env)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert vendored(out / user.name) == ["libcounter.so", "libouter.so"]
    audited = cli("audit", str(out / user.name), "--no-discovery", env=env)
    assert audited.returncode == 0, audited.stdout
    # Alone, or with --no-discovery, the wheel finds nothing.
    assert cli("show", str(user), env=env).returncode == 1
    assert cli("show", str(vendoring), str(user), "--no-discovery", env=env).returncode == 1


def test_runtime_path_comes_before_the_other_wheels(
    fixture_libs: wheelbuilder.FixtureLibs, chain_wheel: Path, tmp_path: Path
) -> None:
    """docs/libraries.md's order: an absolute RUNTIME_PATH (6) before another wheel of the call (7)."""
    env = build_env(tmp_path)
    done = cli("repair", str(chain_wheel), "--libdir", str(fixture_libs.libdir), "-w", str(tmp_path / "dist2"), env=env)
    assert done.returncode == 0, done.stderr
    libdir = install_libraries(fixture_libs, tmp_path / "build" / "lib")
    module = wheelbuilder.build_c("ext", tmp_path / "obj", "_ext.so", needs=[fixture_libs.outer], rpaths=[str(libdir)])
    user = wheelbuilder.build_module_wheel(module, tmp_path / "dist2", "pyodide_2025_0_wasm32", dist="rpathuser")
    shown = cli("show", str(tmp_path / "dist2" / chain_wheel.name), str(user), "--json", env=env)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    entry = next(e for e in json.loads(shown.stdout)["inputs"] if e["input"] == str(user))
    found = {
        dep["name"]: dep["source"] for m in entry["modules"] for dep in m["dependencies"] if dep["status"] == "found"
    }
    assert found == {"libouter.so": "RUNTIME_PATH", "libcounter.so": "RUNTIME_PATH"}


def rpath_wheel(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path, rpath: str, dist: str = "rpathpkg") -> Path:
    module = wheelbuilder.build_c(
        "ext", tmp_path / f"obj-{dist}", "_ext.so", needs=[fixture_libs.outer], rpaths=[rpath]
    )
    return wheelbuilder.build_module_wheel(module, tmp_path / "dist", "pyodide_2025_0_wasm32", dist=dist)


def test_an_absolute_runtime_path_on_ld_library_path_is_not_searched(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    """The host rule holds for RUNTIME_PATH as for every other source: a directory on
    LD_LIBRARY_PATH is the host's, and nothing is vendored from it."""
    host = install_libraries(fixture_libs, tmp_path / "host-lib")
    wheel = rpath_wheel(fixture_libs, tmp_path, str(host))
    env = build_env(tmp_path, LD_LIBRARY_PATH=str(host))
    shown = cli("show", str(wheel), "-v", env=env)
    assert shown.returncode == 1, shown.stdout
    text = " ".join(shown.stdout.split())
    assert f"{host} (RUNTIME_PATH): not searched, it holds the host's own libraries" in text
    repaired = cli("repair", str(wheel), "-w", str(tmp_path / "out"), env=env)
    assert repaired.returncode == 1 and not (tmp_path / "out").exists(), repaired.stdout


def test_a_runtime_path_of_usr_lib_is_not_listed_as_searched(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    wheel = rpath_wheel(fixture_libs, tmp_path, "/usr/lib")
    shown = cli("show", str(wheel), "-v", env=build_env(tmp_path))
    text = " ".join(shown.stdout.split())
    assert "/usr/lib (RUNTIME_PATH): not searched, it holds the host's own libraries" in text
    looked = next(line for line in text.split("libouter.so: missing;")[1:])
    assert "(RUNTIME_PATH)" not in looked.split(" and in ")[-1]


@pytest.mark.parametrize("how", ["WASM_LIBRARY_DIR", "pkg-config"])
def test_a_prefix_of_usr_does_not_reach_usr_lib(chain_wheel: Path, tmp_path: Path, how: str) -> None:
    """The sysroot subdirectories searched under an announced prefix pass the host rule too."""
    if how == "WASM_LIBRARY_DIR":
        env = build_env(tmp_path, WASM_LIBRARY_DIR="/usr")
    else:
        pkgconfig = tmp_path / "pkgconfig"
        pkgconfig.mkdir()
        (pkgconfig / "host.pc").write_text("prefix=/usr\nlibdir=${prefix}\nName: host\n")
        env = build_env(tmp_path, PKG_CONFIG_PATH=str(pkgconfig))
    source = "WASM_LIBRARY_DIR" if how == "WASM_LIBRARY_DIR" else "pkg-config host.pc"
    text = " ".join(cli("show", str(chain_wheel), "-v", env=env).stdout.split())
    assert f"/usr/lib ({source}): not searched, it holds the host's own libraries" in text


def test_a_prefix_whose_lib_is_on_ld_library_path_vendors_nothing_from_it(
    fixture_libs: wheelbuilder.FixtureLibs, chain_wheel: Path, tmp_path: Path
) -> None:
    prefix = tmp_path / "prefix"
    install_libraries(fixture_libs, prefix / "lib")
    env = build_env(tmp_path, WASM_LIBRARY_DIR=str(prefix), LD_LIBRARY_PATH=str(prefix / "lib"))
    shown = cli("show", str(chain_wheel), "-v", env=env)
    assert shown.returncode == 1, shown.stdout
    assert f"{prefix / 'lib'} (WASM_LIBRARY_DIR): not searched" in " ".join(shown.stdout.split())
    repaired = cli("repair", str(chain_wheel), "-w", str(tmp_path / "out"), env=env)
    assert repaired.returncode == 1 and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"libdir=${libdir}/x${libdir}\n", "variable 'libdir' is used before it is defined"),
        (
            b"v0=x\n" + b"".join(b"v%d=${v%d}${v%d}\n" % (i + 1, i, i) for i in range(64)) + b"libdir=/${v64}\n",
            "expands to more than 4096 bytes",
        ),
    ],
    ids=["self-reference", "doubling-chain"],
)
def test_a_hostile_pc_file_is_passed_over_with_a_note(
    chain_wheel: Path, tmp_path: Path, body: bytes, reason: str
) -> None:
    pkgconfig = tmp_path / "pkgconfig"
    pkgconfig.mkdir()
    (pkgconfig / "bomb.pc").write_bytes(body + b"Name: bomb\n")
    shown = cli("show", str(chain_wheel), "-v", env=build_env(tmp_path, PKG_CONFIG_PATH=str(pkgconfig)), timeout=30)
    assert shown.returncode == 1 and "Traceback" not in shown.stderr, shown.stderr
    text = " ".join(shown.stdout.split())
    assert f"{pkgconfig / 'bomb.pc'} (pkg-config): passed over," in text and reason in text


def test_a_pc_libdir_is_kept_as_its_bytes(
    fixture_libs: wheelbuilder.FixtureLibs, chain_wheel: Path, tmp_path: Path
) -> None:
    """A Latin-1 libdir is the directory of those bytes, as `pkg-config --variable=libdir` says."""
    libdir = os.fsencode(tmp_path) + b"/caf\xe9"
    os.mkdir(libdir)
    install_libraries(fixture_libs, Path(os.fsdecode(libdir)))
    pkgconfig = tmp_path / "pkgconfig"
    pkgconfig.mkdir()
    (pkgconfig / "cafe.pc").write_bytes(b"libdir=" + libdir + b"\nName: cafe\n")
    shown = cli("show", str(chain_wheel), "--json", env=build_env(tmp_path, PKG_CONFIG_PATH=str(pkgconfig)))
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert set(dependency_sources(shown.stdout).values()) == {"pkg-config cafe.pc"}


def write_em_config(tmp_path: Path, body: str) -> Path:
    em_config = tmp_path / "bin" / "em-config"
    em_config.write_text("#!/bin/sh\n" + body)
    em_config.chmod(0o755)
    return em_config


def test_an_em_config_that_floods_is_read_to_a_bound(chain_wheel: Path, tmp_path: Path) -> None:
    env = build_env(tmp_path)
    write_em_config(tmp_path, "exec yes\n")
    shown = cli("show", str(chain_wheel), "-v", env=env, timeout=15)
    assert shown.returncode == 1 and "Traceback" not in shown.stderr, shown.stderr
    assert "answered with more than 64 KiB: the emscripten sysroot is not searched" in " ".join(shown.stdout.split())


def test_an_em_config_is_asked_only_when_a_library_is_looked_for(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    """A hanging em-config costs nothing to a wheel whose modules need no library, costs
    under a second to one that needs a library, and is asked once in a call of several
    wheels."""
    env = build_env(tmp_path)
    asked = tmp_path / "asked"
    write_em_config(tmp_path, f"echo asked >> {shlex.quote(str(asked))}\nexec sleep 60\n")
    standalone = wheelbuilder.build_module_wheel(
        fixture_libs.standalone, tmp_path / "dist", "pyodide_2025_0_wasm32", dist="standalone"
    )
    shown = cli("show", str(standalone), env=env, timeout=10)
    assert shown.returncode == 0 and not asked.exists(), shown.stdout + shown.stderr
    shown = cli("show", str(rpath_wheel(fixture_libs, tmp_path, "/nowhere", dist="needy")), "-v", env=env, timeout=10)
    assert "did not answer within 0.6 s: the emscripten sysroot is not searched" in " ".join(shown.stdout.split())
    asked.unlink()
    write_em_config(tmp_path, f"echo asked >> {shlex.quote(str(asked))}\necho /nowhere\n")
    needy = [rpath_wheel(fixture_libs, tmp_path, "/nowhere", dist=name) for name in ("alpha", "beta", "gamma")]
    assert cli("show", *map(str, needy), env=env).returncode == 1
    assert asked.read_text().split() == ["asked"]


def emscripten_tree(tmp_path: Path, asked: Path) -> Path:
    """An emscripten laid out as the emsdk installs it (``emsdk/upstream/emscripten`` with its
    ``emcc.py``, ``tools/config.py`` and ``em-config``), put on PATH through a symlink, whose
    em-config records that it was asked and then hangs: a run that waits on it fails the
    test's timeout."""
    root = tmp_path / "emsdk" / "upstream" / "emscripten"
    (root / "tools").mkdir(parents=True)
    (root / "emcc.py").write_text("")
    (root / "tools" / "config.py").write_text("")
    em_config = root / "em-config"
    em_config.write_text(f"#!/bin/sh\necho asked >> {shlex.quote(str(asked))}\nexec sleep 60\n")
    em_config.chmod(0o755)
    (tmp_path / "bin" / "em-config").symlink_to(em_config)
    return root


# What `emsdk activate` writes into emsdk/.emscripten: no CACHE, so the cache is the one
# beside emscripten (its root is writable).
EMSDK_CONFIG = """import os
emsdk_path = os.path.dirname(os.getenv('EM_CONFIG')).replace('\\\\', '/')
NODE_JS = emsdk_path + '/node/20.18.0_64bit/bin/node'
LLVM_ROOT = emsdk_path + '/upstream/bin'
BINARYEN_ROOT = emsdk_path + '/upstream'
"""


def test_the_emscripten_sysroot_is_read_from_its_configuration(
    fixture_libs: wheelbuilder.FixtureLibs, chain_wheel: Path, tmp_path: Path
) -> None:
    """em-config is not run when emscripten's configuration tells where its cache is: the
    emsdk's default (no CACHE in emsdk/.emscripten), a literal CACHE in the tree's own
    .emscripten, and EM_CONFIG naming another file."""
    env = build_env(tmp_path)
    asked = tmp_path / "asked"
    root = emscripten_tree(tmp_path, asked)
    (tmp_path / "emsdk" / ".emscripten").write_text(EMSDK_CONFIG)
    install_libraries(fixture_libs, root / "cache" / "sysroot" / "lib" / "wasm32-emscripten" / "pic")
    shown = cli("show", str(chain_wheel), "--json", env=env, timeout=15)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert set(dependency_sources(shown.stdout).values()) == {"emscripten sysroot"}
    elsewhere = tmp_path / "elsewhere"
    install_libraries(fixture_libs, elsewhere / "sysroot" / "lib")
    (root / ".emscripten").write_text(EMSDK_CONFIG + f"CACHE = {str(elsewhere)!r}\n")
    shutil.rmtree(root / "cache")
    shown = cli("show", str(chain_wheel), "--json", env=env, timeout=15)
    assert set(dependency_sources(shown.stdout).values()) == {"emscripten sysroot"}, shown.stdout + shown.stderr
    named = tmp_path / "named-config"
    named.write_text(f"CACHE: str = {str(elsewhere)!r}\n")
    (root / ".emscripten").write_text("CACHE = '/nowhere'\n")
    shown = cli("show", str(chain_wheel), "--json", env={**env, "EM_CONFIG": str(named)}, timeout=15)
    assert set(dependency_sources(shown.stdout).values()) == {"emscripten sysroot"}, shown.stdout + shown.stderr
    assert not asked.exists()


def test_a_configuration_only_running_could_read_asks_em_config_within_a_second(
    fixture_libs: wheelbuilder.FixtureLibs, chain_wheel: Path, tmp_path: Path
) -> None:
    """A config that computes its CACHE, one that sets it in a branch, one that is not
    Python: em-config is asked, and a hanging one is given under a second."""
    env = build_env(tmp_path)
    asked = tmp_path / "asked"
    root = emscripten_tree(tmp_path, asked)
    configs = [
        "import os\nCACHE = os.path.expanduser('~/cache')\n",
        "import os\nif os.environ.get('CI'):\n    CACHE = '/ci/cache'\n",
        "CACHE = '/a'\nCACHE, PORTS = '/b', '/c'\n",
        "CACHE = (\n",
    ]
    for config in configs:
        (root / ".emscripten").write_text(config)
        shown = cli("show", str(chain_wheel), "-v", env=env, timeout=15)
        assert shown.returncode == 1 and "Traceback" not in shown.stderr, shown.stderr
        assert "did not answer within 0.6 s: the emscripten sysroot is not searched" in " ".join(shown.stdout.split())
    assert asked.read_text().split() == ["asked"] * len(configs)


def test_an_em_config_that_leaves_a_child_holding_its_output(
    fixture_libs: wheelbuilder.FixtureLibs, chain_wheel: Path, tmp_path: Path
) -> None:
    """It answered and exited: the answer is used at once, though a child it left running
    keeps the pipe open (waiting on the pipe, its 0.6 s bound would pass the sysroot over)."""
    cache = tmp_path / "cache"
    install_libraries(fixture_libs, cache / "sysroot" / "lib")
    env = build_env(tmp_path)
    write_em_config(tmp_path, f"echo {shlex.quote(str(cache))}\nsleep 60 &\n")
    shown = cli("show", str(chain_wheel), "--json", env=env, timeout=10)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert set(dependency_sources(shown.stdout).values()) == {"emscripten sysroot"}


def test_a_pc_file_that_is_huge_or_a_fifo_costs_a_line(chain_wheel: Path, tmp_path: Path) -> None:
    """Beyond the named cases: a 2 MiB .pc file is passed over with a note; a FIFO named
    ``x.pc`` (no writer: a blocking open would wait forever) is not waited on."""
    pkgconfig = tmp_path / "pkgconfig"
    pkgconfig.mkdir()
    (pkgconfig / "huge.pc").write_bytes(b"# padding\n" * (200 * 1024) + b"libdir=/nowhere\n")
    os.mkfifo(pkgconfig / "fifo.pc")
    shown = cli("show", str(chain_wheel), "-v", env=build_env(tmp_path, PKG_CONFIG_PATH=str(pkgconfig)), timeout=30)
    assert shown.returncode == 1 and "Traceback" not in shown.stderr, shown.stderr
    text = " ".join(shown.stdout.split())
    assert f"{pkgconfig / 'huge.pc'} (pkg-config): passed over, it is larger than 1024 KiB" in text
