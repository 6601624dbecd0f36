"""Options as users write them: flags the peer's users pass, and no option taking another
option as its value."""

from __future__ import annotations

import hashlib
from pathlib import Path

import wheelbuilder
from clirun import cli


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def chain_wheel(libs: wheelbuilder.FixtureLibs, where: Path) -> Path:
    return wheelbuilder.build_chain_wheel(libs, where, "pyodide_2025_0")


def test_no_mangle_is_a_flag_as_the_peer_users_write_it(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """`repair W --libdir L --no-mangle -o out` once rewrote W in place (``--no-mangle`` took
    ``-o`` as its glob); now it is a flag, and W is left as it was."""
    wheel = chain_wheel(fixture_libs, tmp_path / "in")
    before = digest(wheel)
    result = cli("repair", str(wheel), "--libdir", str(fixture_libs.libdir), "--no-mangle", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert digest(wheel) == before
    names = (tmp_path / "out" / wheel.name).read_bytes()
    assert b"chainpkg.libs/libcounter.so" in names and b"chainpkg.libs/libouter.so" in names


def test_no_option_swallows_another_option(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    wheel = chain_wheel(fixture_libs, tmp_path / "in")
    before = digest(wheel)
    for option in ("--libdir", "--no-mangle-name", "--lib-sdir", "--exclude", "--plat"):
        result = cli("repair", str(wheel), option, "-o", str(tmp_path / "out"))
        assert result.returncode == 2, (option, result.stdout, result.stderr)
        assert result.stderr.strip().splitlines() == [
            f"error: {option} takes a value, and -o looks like an option: write {option}=-o if it is the value."
        ]
        assert digest(wheel) == before and not (tmp_path / "out").exists()
    # Written with "=", a value may start with "-".
    odd = tmp_path / "-libs"
    odd.mkdir()
    (odd / "libouter.so").write_bytes(fixture_libs.outer.read_bytes())
    (odd / "libcounter.so").write_bytes(fixture_libs.counter.read_bytes())
    result = cli("show", str(wheel), f"--libdir={odd}")
    assert result.returncode == 0, result.stderr


def test_zip_compression_level_sets_the_deflate_level_of_what_the_repair_writes(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    """pypa/auditwheel's ``-z``: the members a repair writes anew (vendored libraries, patched
    modules, metadata) are deflated at that level; the members copied unchanged keep their
    bytes; the wheel is valid at every level, and the same content whatever the level."""
    import zipfile

    wheel = chain_wheel(fixture_libs, tmp_path / "in")
    sizes: dict[int, dict[str, tuple[int, int]]] = {}
    contents = []
    for level in (0, 1, 9):
        out = tmp_path / f"z{level}"
        result = cli("repair", str(wheel), "--libdir", str(fixture_libs.libdir), "-w", str(out), "-z", str(level))
        assert result.returncode == 0, result.stdout + result.stderr
        with zipfile.ZipFile(out / wheel.name) as archive:
            assert archive.testzip() is None
            sizes[level] = {info.filename: (info.compress_size, info.file_size) for info in archive.infolist()}
            contents.append({name: archive.read(name) for name in archive.namelist()})
    assert contents[0] == contents[1] == contents[2]
    vendored = next(name for name in sizes[0] if ".libs/libcounter" in name)
    stored, size = sizes[0][vendored]
    assert stored > size > sizes[1][vendored][0] >= sizes[9][vendored][0]  # level 0: stored blocks
    copied = next(name for name in sizes[0] if name.endswith("libstandalone.so"))  # needs nothing: copied
    assert sizes[0][copied] == sizes[9][copied] and sizes[0][copied][0] < sizes[0][copied][1]
    refused = cli("repair", str(wheel), "-z", "10", "-w", str(tmp_path / "none"))
    assert refused.returncode == 2 and not (tmp_path / "none").exists()
