"""A new platform tag for a repaired wheel: refused unless it names the ABI the wheel is built
for and the audit of the repaired wheel finds nothing; otherwise the new file name and WHEEL
text, every other byte kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import AuditwheelError
from ..graph.analysis import Analysis
from ..graph.libsearch import SearchPath
from ..naming import command
from ..policy import LoaderAnalysis, audit_tree, target_abi
from ..wheel.inputs import WheelArchive


@dataclass(frozen=True)
class Retag:
    """A new platform tag: the wheel's new file name and the new text of its WHEEL file."""

    platform: str
    filename: str
    wheel_file: str
    wheel_text: bytes


def retagged(filename: str, wheel_file: str, wheel_text: bytes, platform: str) -> Retag | None:
    """The retag to ``platform``, or None when the wheel already has exactly that tag.

    Every ``Tag:`` line gets the new platform (lines that become equal are written once);
    every other byte of WHEEL is kept.
    """
    new_lines: list[bytes] = []
    seen: set[bytes] = set()
    tags = 0
    for line in wheel_text.splitlines(keepends=True):
        if line.startswith(b"Tag:"):
            tags += 1
            body = line[len(b"Tag:") :].strip()
            ending = line[len(line.rstrip(b"\r\n")) :]
            line = b"Tag: " + body.rsplit(b"-", 1)[0] + b"-" + platform.encode() + ending
            if line.rstrip(b"\r\n") in seen:
                continue
            seen.add(line.rstrip(b"\r\n"))
        new_lines.append(line)
    if not tags:
        raise AuditwheelError(f"cannot retag: {wheel_file} has no Tag lines.")
    text = b"".join(new_lines)
    new_name = retagged_filename(filename, platform)
    if new_name == filename and text == wheel_text:
        return None
    return Retag(platform, new_name, wheel_file, text)


def retagged_filename(filename: str, platform: str) -> str:
    """``pkg-1.0-cp313-cp313-pyodide_2025_0_wasm32.whl`` → ``…-<platform>.whl``."""
    stem = filename[: -len(".whl")].rsplit("-", 1)[0]
    return f"{stem}-{platform}.whl"


def checked_retag(
    tree: WheelArchive, libdirs: SearchPath, exclude: Sequence[str], platform: str
) -> tuple[Analysis, tuple[LoaderAnalysis, ...], Retag | None]:
    """Check that ``platform`` may be written, and how.

    The default (no ``platform``) keeps the wheel's tags: a repair never names a runtime the
    wheel was not built for.  A new tag must name the ABI the wheel is already tagged for (as
    ``pyemscripten_2025_0`` names ``pyodide_2025_0``'s), and the audit of the repaired wheel
    (the input plus the libraries that will be vendored) must find nothing.  Anything else is
    refused before a byte is written.
    """
    abi = target_abi(platform)
    if tree.abi.name != abi.name:
        platforms = ", ".join(sorted(tree.wheel.platforms)) if tree.wheel else "no platform"
        own = tree.wheel.platforms if tree.wheel else ()
        built_for = f"ABI {tree.abi.named_for(own)}" if tree.abi.known else f"{platforms} (no known ABI)"
        raise AuditwheelError(
            f"cannot retag to {platform}: it names ABI {abi.named_for([platform])}, but the wheel is built for "
            f"{built_for}; "
            "rebuild it for that runtime instead."
        )
    report = audit_tree(tree, libdirs, exclude, platform)
    blocking = [finding for finding in report.findings if finding.kind != "missing-library"]
    if blocking:
        first = blocking[0]
        raise AuditwheelError(
            f"cannot retag to {platform}: the audit has {len(blocking)} finding(s), the first: "
            f"{first.module or 'the wheel'}: {first.subject}: {first.reason}; run {command('audit')} for all."
        )
    wheel_file = f"{tree.dist_info}/WHEEL"
    if not tree.holds_metadata(wheel_file):
        raise AuditwheelError(f"cannot retag: the wheel has no {wheel_file}.")
    retag = retagged(tree.path.name, wheel_file, tree.read_recorded(wheel_file), platform)
    return report.analysis, report.by_other_loaders, retag
