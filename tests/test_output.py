"""Output people can read (issue 11): names are never cut across lines, whatever the width;
`repair` ends with a summary line; `-v` explains resolution; `--version` names the tool."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import click
import pytest
import typer
import wheelbuilder
from clirun import cli
from conformance import side_module, strings, subsection
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschemas import validate
from wheelcheck import check_wheel_valid

import pyodide_auditwheel as paw
from pyodide_auditwheel.wasm.dylink import read_head
from pyodide_auditwheel.wasm.sections import HEADER

DEEP = "pkg/very/deeply/nested/subpackage/with/a/long/path/_speedups.cpython-313-wasm32-emscripten.so"


def narrow(*args: str, columns: int) -> tuple[int, str]:
    result = cli(*args, env={**os.environ, "COLUMNS": str(columns)})
    return result.returncode, result.stdout


@pytest.mark.parametrize("columns", [80, 120, 200])
@pytest.mark.parametrize("command", ["show", "repair", "audit"])
def test_names_are_never_cut(
    command: str, columns: int, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    libdir = tmp_path / "a" / "rather" / "long" / "library" / "directory" / "for" / "the" / "sysroot"
    libdir.mkdir(parents=True)
    for library in fixture_libs.libdir.iterdir():
        (libdir / library.name).write_bytes(library.read_bytes())
    wheel = wheelbuilder.write_wheel(
        tmp_path / "in", "pkg", "1.0", "cp313-cp313-pyodide_2025_0_wasm32", {DEEP: fixture_libs.ext.read_bytes()}
    )
    extra = ["-o", str(tmp_path / "out")] if command == "repair" else []
    code, out = narrow(command, str(wheel), "--libdir", str(libdir), *extra, columns=columns)
    assert code == 0, out
    names = [str(wheel), DEEP, str(libdir / "libouter.so"), str(libdir / "libcounter.so")]
    if command == "audit":
        names = [str(wheel)]
    for name in names:
        assert any(name in line for line in out.splitlines()), f"{name} cut in:\n{out}"
    # Only a line holding a name (which may be longer than the terminal) is longer than it.
    longer = [*names, str(tmp_path / "out")]
    assert all(len(line) <= columns or any(name in line for name in longer) for line in out.splitlines()), out


def test_repair_ends_with_a_summary_line(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    result = cli("repair", str(wheel), "--libdir", str(fixture_libs.libdir), "-o", str(tmp_path / "out"))
    assert result.returncode == 0
    last = result.stdout.strip().splitlines()[-1]
    assert last == f"{wheel} → {tmp_path / 'out' / wheel.name}: vendored 2 libraries, patched 3 module(s)"
    dry = cli("repair", str(wheel), "--libdir", str(fixture_libs.libdir), "--dry-run")
    assert dry.stdout.strip().splitlines()[-1] == f"{wheel}: would vendor 2 libraries, would patch 3 module(s)"
    again = cli("repair", str(tmp_path / "out" / wheel.name))
    assert again.stdout.strip().endswith("already self-contained, nothing to change")


def test_repair_json_has_the_envelope_and_schema(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    result = cli(
        "repair",
        str(wheel),
        str(tmp_path / "absent.whl"),
        "--libdir",
        str(fixture_libs.libdir),
        "-o",
        str(tmp_path / "out"),
        "--json",
    )
    data = json.loads(result.stdout)
    validate(data, "repair")
    assert (data["tool"], data["version"], data["schema_version"]) == ("pyodide-auditwheel", paw.__version__, 2)
    # One entry per input, in order: with several inputs, one refused means none is written.
    assert [entry["error"].split(":")[0] for entry in data["inputs"]] == ["not written", "no such file"]
    assert result.returncode == 2 and not (tmp_path / "out").exists()


def test_verbose_explains_resolution(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    libdir = tmp_path / "libdir"
    libdir.mkdir()
    (libdir / "libouter.so").write_bytes(b"\x7fELF" + b"\0" * 60)  # a host library of that name
    (libdir / "libcounter.so").mkdir()  # a directory of that name
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    quiet = cli("show", str(wheel), "--libdir", str(libdir))
    assert quiet.returncode == 1 and "passed over" not in quiet.stdout
    verbose = cli("show", str(wheel), "--libdir", str(libdir), "-v")
    out = " ".join(verbose.stdout.split())
    assert f"note: {libdir / 'libouter.so'}: passed over, not a wasm module" in out
    assert (
        "libouter.so: missing; looked for as pyodide_2025_0's loader does, in LD_LIBRARY_PATH (/usr/lib, "
        "site-packages) and RUNTIME_PATH"
        in out
        and str(libdir) in out
    )
    repaired = cli(
        "repair",
        str(wheel),
        "--libdir",
        str(libdir),
        "--libdir",
        str(fixture_libs.libdir),
        "-o",
        str(tmp_path / "out"),
        "-v",
    )
    assert repaired.returncode == 0
    assert f"{libdir / 'libcounter.so'}: passed over, a directory" in " ".join(repaired.stdout.split())


def test_version_names_the_tool() -> None:
    for result in (cli("--version"),):
        assert result.returncode == 0 and result.stdout == f"pyodide-auditwheel {paw.__version__}\n"


def test_an_error_keeps_the_path_as_written(tmp_path: Path) -> None:
    """`error: Dist/…` named a path that does not exist: the message is printed as it is."""
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "pkg-1.0-cp313-cp313-pyodide_2025_0_wasm32.whl").write_bytes(b"not a zip")
    pyodide = Path(sys.executable).parent / "pyodide"
    result = subprocess.run(
        [str(pyodide), "auditwheel", "repair", "dist/pkg-1.0-cp313-cp313-pyodide_2025_0_wasm32.whl"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: dist/pkg-1.0-cp313-cp313-pyodide_2025_0_wasm32.whl: "), result.stderr
    assert result.stderr.count("dist/pkg-1.0-cp313-cp313-pyodide_2025_0_wasm32.whl") == 1, result.stderr


def test_a_missing_input_is_named_once(tmp_path: Path) -> None:
    result = cli("repair", str(tmp_path / "absent.whl"))
    assert result.returncode == 2 and result.stderr == f"error: no such file: {tmp_path / 'absent.whl'}.\n"


@pytest.mark.parametrize("where", ["", "show", "repair", "audit"])
def test_dash_h_is_help(where: str) -> None:
    """pypa/auditwheel and delocate take -h: so do we, for the app and each command."""
    short = cli(*filter(None, [where, "-h"]))
    assert short.returncode == 0 and short.stdout == cli(*filter(None, [where, "--help"])).stdout
    assert "Usage:" in short.stdout


def test_a_mistyped_command_is_suggested_once() -> None:
    result = cli("shwo")
    assert result.returncode == 2 and result.stderr.count("Did you mean 'show'?") == 1, result.stderr


def test_an_output_location_that_is_a_file_is_one_sentence(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    before = wheel.read_bytes()
    afile = tmp_path / "afile"
    afile.write_text("x")
    result = cli("repair", str(wheel), "--libdir", str(fixture_libs.libdir), "-o", str(afile))
    assert result.returncode == 2
    assert f"cannot write to {afile}: it exists and is not a directory" in result.stderr, result.stderr
    assert afile.read_text() == "x" and wheel.read_bytes() == before


def test_a_directory_of_wheels_stands_for_its_wheels(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """`show dist/` reported "0 module(s)"; `-w` is pypa/auditwheel's spelling of `-o`."""
    dist = tmp_path / "dist"
    first = wheelbuilder.build_chain_wheel(fixture_libs, dist, "pyodide_2025_0")
    second = wheelbuilder.build_chain_wheel(fixture_libs, dist, "pyemscripten_2026_0", dist="otherpkg")
    shown = cli("show", "--json", "--libdir", str(fixture_libs.libdir), str(dist))
    assert shown.returncode == 0, shown.stderr
    assert [entry["input"] for entry in json.loads(shown.stdout)["inputs"]] == [str(first), str(second)]
    out = tmp_path / "repaired"
    repaired = cli("repair", "--libdir", str(fixture_libs.libdir), "--wheel-dir", str(out), str(dist))
    assert repaired.returncode == 0, repaired.stderr
    assert sorted(path.name for path in out.iterdir()) == sorted([first.name, second.name])
    # an unpacked wheel (it has a .dist-info) is one input, as before
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(first) as archive:
        archive.extractall(unpacked)
    (unpacked / "stray-1.0-py3-none-any.whl").write_bytes(first.read_bytes())
    one = cli("show", "--json", str(unpacked))
    assert [entry["input"] for entry in json.loads(one.stdout)["inputs"]] == [str(unpacked)]


def test_a_ci_log_at_80_columns_has_no_padding_and_breaks_only_between_words(
    fixture_libs: wheelbuilder.FixtureLibs, symbol_modules: wheelbuilder.SymbolModules, tmp_path: Path
) -> None:
    """Piped at COLUMNS=80: no line ends in spaces, and a line is longer than 80 only when it
    holds a name too long to share a line (a path, a wheel's file name); prose wraps between
    words, never inside a name."""
    chain = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "emscripten_3_1_14")
    calls = wheelbuilder.build_module_wheel(symbol_modules.calls, tmp_path / "calls", "pyodide_2025_0_wasm32")
    env = {**os.environ, "COLUMNS": "80"}
    for args in (
        ("show", str(chain)),
        ("show", "--libdir", str(fixture_libs.libdir), str(chain)),
        ("audit", str(chain), str(calls)),
        ("repair", "--dry-run", "--libdir", str(fixture_libs.libdir), str(chain)),
    ):
        result = cli(*args, env=env)
        assert result.stdout, (args, result.stderr)
        for line in result.stdout.splitlines():
            assert line == line.rstrip(), (args, line)
            if len(line) > 80:
                assert max(map(len, line.split())) >= 30, (args, line)
        names = [line.strip() for line in result.stdout.splitlines()]
        assert not any(name.endswith("env.PyBytes_") for name in names)  # never cut in a name


def test_runtime_path_is_labelled_in_list_mode(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """At a width no table fits, `show -r` is a list; RUNTIME_PATH says what it is there too."""
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    repaired = cli("repair", str(wheel), "--libdir", str(fixture_libs.libdir), "-o", str(tmp_path / "out"))
    assert repaired.returncode == 0, repaired.stderr
    narrow = {**os.environ, "COLUMNS": "60"}
    shown = cli("show", str(tmp_path / "out" / wheel.name), "-r", env=narrow)
    assert shown.returncode == 0, shown.stderr
    assert "┃" not in shown.stdout  # a list, not a table
    runtime_lines = [line.strip() for line in shown.stdout.splitlines() if "$ORIGIN" in line]
    assert runtime_lines and all(line.startswith("RUNTIME_PATH: $ORIGIN") for line in runtime_lines), shown.stdout
    wide = cli("show", str(tmp_path / "out" / wheel.name), "-r", env={**os.environ, "COLUMNS": "400"})
    assert "┃" in wide.stdout and "RUNTIME_PATH:" not in wide.stdout


@pytest.mark.parametrize("args", [["-h"], ["show", "-h"], ["repair", "--help"], ["audit", "-h"]])
def test_help_has_no_trailing_padding(args: list[str]) -> None:
    """rich pads help to the width; piped into a CI log the padding is noise (as pyodide-cli
    mounts us, and as our own script)."""
    result = cli(*args, env={**os.environ, "COLUMNS": "80"})
    assert result.returncode == 0 and "Usage" in result.stdout
    assert [line for line in result.stdout.splitlines() if line != line.rstrip()] == []
    script = Path(sys.executable).parent / "pyodide-auditwheel"
    own = subprocess.run([str(script), *args], capture_output=True, text=True, check=False)
    assert own.returncode == 0 and all(line == line.rstrip() for line in own.stdout.splitlines())


cell_text = st.text(alphabet="ab é日\n-_./", max_size=12)


@given(
    headers=st.lists(st.text(alphabet="abc 日", min_size=1, max_size=8), min_size=1, max_size=4),
    data=st.data(),
    terminal=st.booleans(),
)
@settings(max_examples=200, deadline=None)
def test_the_box_table_draws_what_richs_table_draws(headers: list[str], data: st.DataObject, terminal: bool) -> None:
    """The table `show` and `repair` print is drawn line by line (rich's layout of 160,000
    rows took minutes): the same characters, and the same styles, as rich's own Table."""
    import io

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from pyodide_auditwheel.cli.text import box_table, table_cells

    width = len(headers)
    rows = data.draw(st.lists(st.lists(cell_text, min_size=width, max_size=width), max_size=5))
    # Cells styled whole, and cells with styled parts (as a path with a dim note after it).
    styled = [
        [
            Text.assemble(cell, (" (dim)", "dim")) if index % 3 == 2 else Text(cell, style="red" if index % 2 else "")
            for index, cell in enumerate(row)
        ]
        for row in rows
    ]
    table = Table()
    for header in headers:
        table.add_column(header, no_wrap=True)
    for row in styled:
        table.add_row(*row)

    def printed(renderable: object) -> str:
        out = io.StringIO()
        console = Console(
            file=out, width=500, force_terminal=terminal, color_system="standard" if terminal else None, highlight=False
        )
        console.print(renderable, soft_wrap=not isinstance(renderable, Table))
        return out.getvalue()

    ours, rich = printed(box_table(headers, table_cells(styled))), printed(table)
    if terminal:  # the same characters in the same styles; rich may split a style's run in two
        assert Text.from_ansi(ours).plain == Text.from_ansi(rich).plain
        assert _styles_by_character(ours) == _styles_by_character(rich)
    else:
        assert ours == rich


def _styles_by_character(ansi: str) -> list[str]:
    from rich.text import Text

    text = Text.from_ansi(ansi)
    styles = [""] * len(text.plain)
    for span in text.spans:
        for index in range(span.start, span.end):
            styles[index] = str(span.style)
    return [style if char.strip() else "" for style, char in zip(styles, text.plain, strict=True)]


def test_hints_name_the_command_as_the_user_ran_it(tmp_path: Path) -> None:
    """The docs recommend `pyodide-auditwheel` for scripts: a hint must not send its user to
    `pyodide auditwheel`, which beside pyodide-build may be another tool."""

    body = subsection(1, b"\0\0\0\0") + subsection(2, strings([]))
    tag = wheelbuilder.PLATFORM_TAGS["pyemscripten_2026_0"]
    wheel = wheelbuilder.write_wheel(tmp_path, "alone", "1.0", tag, {"alone/_m.so": side_module(body, "m")})
    script = Path(sys.executable).parent / "pyodide-auditwheel"
    direct = subprocess.run([str(script), "show", str(wheel)], capture_output=True, text=True, check=False)
    assert "`pyodide-auditwheel audit` checks the symbols" in " ".join(direct.stdout.split()), direct.stdout
    plugin = cli("show", str(wheel))
    assert "`pyodide auditwheel audit` checks the symbols" in " ".join(plugin.stdout.split()), plugin.stdout


def test_a_host_library_and_a_lone_module_are_named_for_what_they_are(tmp_path: Path) -> None:
    """`show libz.so.1` of the host said "does not start with the wasm magic number"; the
    audit of a lone module said its library was "not in the wheel"."""

    native = tmp_path / "libz.so.1"
    native.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(57))
    shown = cli("show", str(native))
    assert shown.returncode == 2, shown.stderr
    assert "is a native (ELF) library, built for the host; the Emscripten (wasm32) build of it belongs here." in (
        " ".join(shown.stderr.split())
    )
    lone = tmp_path / "_m.so"
    lone.write_bytes(side_module(subsection(1, b"\0\0\0\0") + subsection(2, strings(["libx.so"])), "m"))
    audited = cli("audit", str(lone), "--plat", "pyemscripten_2026_0_wasm32", "--no-discovery")
    text = " ".join(audited.stdout.split())
    assert (
        "NEEDED but in no --libdir (a lone module has no wheel to hold it)" in text and "not in the wheel" not in text
    )


def test_the_habits_users_bring_from_pypa_auditwheel(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """-V, a global -v / -q before the command, `show --plat`, `repair --only-plat`."""
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "dist", "pyodide_2025_0")
    version = cli("-V")
    assert version.returncode == 0 and version.stdout.startswith("pyodide-auditwheel "), version.stderr
    quiet = cli("-q", "show", str(wheel), "--no-discovery")
    assert (quiet.returncode, quiet.stdout) == (1, ""), quiet.stdout  # the exit code says it
    noted = cli("-v", "show", str(wheel), "--no-discovery")
    assert "libouter.so: missing; looked for as" in " ".join(noted.stdout.split()), noted.stdout
    against = cli("show", str(wheel), "--libdir", str(fixture_libs.libdir), "--plat", "pyemscripten_2025_0_wasm32")
    assert against.returncode == 0 and "ABI pyodide_2025_0" in against.stdout, against.stdout
    refused = cli("repair", str(wheel), "--only-plat", "-w", str(tmp_path / "out"))
    assert refused.returncode == 2 and "--only-plat writes only the --plat tag: give --plat TAG too." in refused.stderr
    only = cli(
        "repair",
        str(wheel),
        "--libdir",
        str(fixture_libs.libdir),
        "--plat",
        "pyemscripten_2025_0_wasm32",
        "--only-plat",
        "-w",
        str(tmp_path / "out"),
    )
    assert only.returncode == 0, only.stderr
    assert [path.name.rsplit("-", 1)[1] for path in (tmp_path / "out").iterdir()] == ["pyemscripten_2025_0_wasm32.whl"]


def test_each_schema_stands_alone_and_names_its_version() -> None:
    """`jsonschema.validate(doc, show.schema.json)` failed with "Unresolvable: ../audit/1#…"
    unless the caller built a registry, and the `$id`s said 1 where `schema_version` is 2.
    show's copy of the audit's result is the audit schema's own."""
    import jsonschema
    from jsonschemas import SCHEMAS

    from pyodide_auditwheel.cli.documents import SCHEMA_VERSION

    for name, schema in SCHEMAS.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["$id"] == f"pyodide-auditwheel/{name}/{SCHEMA_VERSION}"
        assert schema["properties"]["schema_version"] == {"const": SCHEMA_VERSION}
        assert "../" not in json.dumps(schema), name  # no reference out of the file
    assert SCHEMAS["show"]["$defs"]["audit_result"] == SCHEMAS["audit"]["$defs"]["result"]


TAG_2025 = "cp313-cp313-pyodide_2025_0_wasm32"


def with_needed(module: bytes, needed: list[str]) -> bytes:
    """The module with its NEEDED entries replaced (the rest of it byte for byte)."""
    head = read_head(module)
    return HEADER + head.dylink.with_needed(needed).encode() + module[head.first_section_end :]


HOSTILE_NEEDED = "lib\x1b]0;owned\x07\x1b[2J[bold]x[/bold].so"


@pytest.mark.parametrize("command", ["show", "audit", "repair"])
def test_markup_and_escapes_from_a_wheel_reach_the_terminal_inert(
    command: str, fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    module = with_needed(fixture_libs.standalone.read_bytes(), [HOSTILE_NEEDED])
    wheel = wheelbuilder.write_wheel(
        tmp_path, "pkg", "1.0", TAG_2025, {"pkg/a[/b]/_m.so": module, "pkg/\x1b[31mred.so": module}
    )
    result = cli(command, str(wheel), *(["-o", str(tmp_path / "out")] if command == "repair" else []))
    assert result.returncode == 1, result.stderr
    said = result.stdout + result.stderr
    assert "Traceback" not in said and "\x1b" not in said and "\x07" not in said
    assert "\\x1b]0;owned\\x07\\x1b[2J[bold]x[/bold].so" in said
    if command != "repair":
        assert "pkg/a[/b]/_m.so" in said and "pkg/\\x1b[31mred.so" in said


def test_exports_and_imports_listing_is_inert(tmp_path: Path) -> None:
    from pyodide_auditwheel.wasm.sections import encode_name, encode_uleb

    imports = encode_uleb(1) + encode_name("env") + encode_name("evil\x1b[2J") + bytes([3, 0x7F, 0])
    module = (
        HEADER
        + b"\x00"
        + encode_uleb(len(encode_name("dylink.0")))
        + encode_name("dylink.0")
        + bytes([2])
        + encode_uleb(len(imports))
        + imports
    )
    (tmp_path / "_m.so").write_bytes(module)
    result = cli("imports", str(tmp_path / "_m.so"))
    assert result.returncode == 0 and "env.evil\\x1b[2J" in result.stdout and "\x1b" not in result.stdout


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def chain_wheel(libs: wheelbuilder.FixtureLibs, where: Path) -> Path:
    return wheelbuilder.build_chain_wheel(libs, where, "pyodide_2025_0")


def run_cli(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    pyodide = Path(sys.executable).parent / "pyodide"
    return subprocess.run([str(pyodide), "auditwheel", *args], text=True, check=False, **kwargs)  # type: ignore[call-overload]


def test_a_report_that_cannot_be_encoded_is_escaped(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """PYTHONIOENCODING=ascii: the in-place repair was done when the traceback came."""
    wheel = chain_wheel(fixture_libs, tmp_path / "in")
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    result = run_cli(["repair", str(wheel), "--libdir", str(fixture_libs.libdir)], capture_output=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "\\u2192" in result.stdout  # the arrow, escaped


@pytest.mark.parametrize("stdout", ["full", "closed"])
def test_a_report_that_cannot_be_printed_is_one_line_and_exit_3(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path, stdout: str
) -> None:
    wheel = chain_wheel(fixture_libs, tmp_path / "in")
    before = digest(wheel)
    args = ["repair", str(wheel), "--libdir", str(fixture_libs.libdir)]
    if stdout == "full":
        with open("/dev/full", "w") as full:
            result = run_cli(args, stdout=full, stderr=subprocess.PIPE)
    else:
        result = run_cli(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1))
    reason = "No space left on device" if stdout == "full" else "stdout is closed"
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        f"error: the report could not be printed ({reason}); what the command did stands."
    ]
    assert digest(wheel) != before  # the repair was done, and is a valid wheel
    check_wheel_valid(wheel)


def test_a_repair_names_what_it_was_told_to_exclude(fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path) -> None:
    """The wheel still needs an excluded library: never "already self-contained"."""
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    result = cli("repair", str(wheel), "--exclude", "libouter.so", "--no-discovery", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    said = " ".join(result.stdout.split())
    assert "self-contained" not in said
    assert "still needs libouter.so, excluded (--exclude): the runtime must provide it" in said
    vendoring = cli(
        "repair", str(wheel), "--libdir", str(fixture_libs.libdir), "--exclude", "libcounter.so", "--dry-run"
    )
    last = vendoring.stdout.strip().splitlines()[-1]
    assert last.endswith("still needs libcounter.so, excluded (--exclude): the runtime must provide it"), last


def test_repairing_a_repaired_wheel_in_place_copies_nothing(
    fixture_libs: wheelbuilder.FixtureLibs, tmp_path: Path
) -> None:
    """Named relative to where it runs, the input is still the output: no "copied to" itself."""
    wheel = wheelbuilder.build_chain_wheel(fixture_libs, tmp_path / "in", "pyodide_2025_0")
    out = tmp_path / "out"
    assert cli("repair", str(wheel), "--libdir", str(fixture_libs.libdir), "-o", str(out)).returncode == 0
    script = Path(sys.executable).parent / "pyodide-auditwheel"
    again = subprocess.run([str(script), "repair", wheel.name], capture_output=True, text=True, cwd=out, check=False)
    assert again.returncode == 0, again.stderr
    assert "copied to" not in again.stdout
    assert again.stdout.strip().endswith("already self-contained, nothing to change")


@pytest.mark.parametrize("command", ["", "show", "audit", "repair", "exports"])
@pytest.mark.parametrize("columns", [40, 80, 132])
def test_help_never_cuts_a_name_and_fills_its_lines(command: str, columns: int) -> None:
    """`repair --help | cat` at 80 columns cut `--output-dir,--w…` and
    `pyemscripten_202…`, and broke the description mid-sentence: every option name and every
    variable is whole on one line, nothing is cut with an ellipsis, and a description's lines
    are filled (one ends early only where its next word would not fit), as pyodide-cli mounts
    us and as our own script."""
    from pyodide_auditwheel.cli import app

    group = typer.main.get_command(app)
    assert isinstance(group, click.Group)
    target = group.get_command(click.Context(group), command) if command else group
    assert target is not None
    options = [param for param in target.params if isinstance(param, click.Option)]
    names = {opt for param in options for opt in (*param.opts, *param.secondary_opts)}
    helps = " ".join([target.help or "", *(param.help or "" for param in options)])
    names |= {"PYODIDE_AUDITWHEEL_LIBDIR", "WASM_LIBRARY_DIR", "pyemscripten_2025_0_wasm32"} & set(helps.split())
    script = Path(sys.executable).parent / "pyodide-auditwheel"
    env = {**os.environ, "COLUMNS": str(columns)}
    args = [command, "--help"] if command else ["--help"]
    mounted = cli(*args, env=env)
    own = subprocess.run([str(script), *args], capture_output=True, text=True, env=env, check=False)
    for run in (mounted, own):
        assert run.returncode == 0, run.stderr
        lines = run.stdout.splitlines()
        assert "…" not in run.stdout
        commands = lines[lines.index("Commands:") + 1 :] if "Commands:" in lines else []
        assert not [line for line in commands if line.endswith("...")]
        words = {piece.strip("(),;.[]") for line in lines for word in line.split() for piece in word.split(",")}
        assert names <= words, names - words
        description = list(itertools.takewhile(lambda line: not line.endswith(":"), lines[2:]))
        width = max(min(columns, 80) - 2, 50)  # click's: at most 78, at least 50
        for line, following in itertools.pairwise(description):
            if line.strip() and following.strip():
                assert len(line) + 1 + len(following.split()[0]) > width, (line, following)
