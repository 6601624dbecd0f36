"""How a repair lays out what it vendors: kept apart from the plan so that the command line
and the API can build a request without loading the planner."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RepairOptions:
    """How the vendored libraries are laid out and written.

    Attributes:
        lib_sdir: the folder they go in; ``None`` is ``<dist>.libs``, and a value starting with
            ``.`` is a suffix to the distribution's name, as in pypa/auditwheel.
        mangle: give each a content-hashed name (``libz-1a2b3c4d.so``), so that two wheels'
            different builds of one library never meet under one name in the runtime.
        no_mangle: globs of library names that keep their names even so.
        strip: drop the name and ``.debug_*`` sections of the vendored libraries.
        strip_wheel_modules: drop them from the wheel's own modules too.
        sbom: write the CycloneDX SBOM of what was vendored (``.dist-info/sboms/``, PEP 770).
        compression_level: the deflate level (0-9) of the members a repair writes anew (the
            vendored libraries, the patched modules, the metadata); the members it copies
            unchanged keep their bytes, so a level does not recompress them.
    """

    lib_sdir: str | None = None
    mangle: bool = True
    no_mangle: tuple[str, ...] = ()
    strip: bool = False
    strip_wheel_modules: bool = False
    sbom: bool = True
    compression_level: int = 6
