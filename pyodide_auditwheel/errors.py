"""Exception types of pyodide-auditwheel.

Every error a user can cause derives from :class:`AuditwheelError`, whose ``str()`` is one
complete sentence meant for a terminal.  The CLI turns these into exit code 2 (unusable input)
without a traceback; anything else escaping is a bug in this project.
"""

from __future__ import annotations


class AuditwheelError(Exception):
    """Base class: the input cannot be used; the message says why in one sentence."""


class InternalError(AuditwheelError):
    """A check of this project's own work failed (a bug, not the input): nothing was written.
    The CLI says so and exits 4, apart from the inputs it cannot use (2)."""


class WasmError(AuditwheelError):
    """A byte string given as a side module is not a usable wasm module."""


class NotWasmModuleError(WasmError):
    """The bytes do not start with the wasm magic number and version 1."""


class TruncatedSectionError(WasmError):
    """A size or count points past the end of the bytes available."""


class MalformedModuleError(WasmError):
    """The module is well framed but a field inside it is invalid (bad LEB128, bad UTF-8)."""


class DylinkMissingError(WasmError):
    """A wasm module whose first section is not ``dylink.0``/``dylink``: not a side module."""


class WheelError(AuditwheelError):
    """The wheel archive, its name or its metadata cannot be used."""


class InvalidWheelNameError(WheelError):
    """The file name does not follow the wheel naming convention."""


class UnsupportedPlatformError(WheelError):
    """The wheel is not built for Emscripten/Pyodide."""


class ArchiveError(WheelError):
    """The zip container is corrupt, inconsistent, hostile or uses unsupported features."""


class UnsafePathError(WheelError):
    """A member name (or a derived output name) could escape the wheel or collide."""


class RecordError(WheelError):
    """RECORD is missing, inconsistent with the archive, or a hash does not match."""


class LibdirError(AuditwheelError):
    """A ``--libdir`` cannot be searched (unreadable, symlink loop, not a directory)."""


class RuntimeUnavailableError(AuditwheelError):
    """``verify`` has no runtime to run: Node or npm is absent, a folder is not a Pyodide,
    a release cannot be installed, or the runtime does not start."""


class NotAWheelError(AuditwheelError):
    """Repair was given something other than a wheel file (a module, a directory)."""

    def __reduce__(self) -> tuple[type[NotAWheelError], tuple[str]]:
        return type(self), (self.path,)

    def __init__(self, path: object) -> None:
        self.path = str(path)
        super().__init__(f"cannot repair {path}: repair takes .whl files.")


class MissingLibrariesError(AuditwheelError):
    """Repair cannot make the wheel self-contained: some libraries are nowhere to be found.

    Carries every missing library with the modules needing it, so that a user fixes them all
    in one round instead of one per run.
    """

    def __reduce__(self) -> tuple[type[MissingLibrariesError], tuple[dict[str, list[str]]]]:
        # Made again from what it carries (a worker process hands it back pickled).
        return type(self), (self.missing,)

    def __init__(self, missing: dict[str, list[str]]) -> None:
        self.missing = missing
        parts = [f"{lib} (needed by {', '.join(sorted(set(who)))})" for lib, who in sorted(missing.items())]
        super().__init__(
            f"cannot repair: {len(missing)} librar{'y is' if len(missing) == 1 else 'ies are'} "
            f"missing: {'; '.join(parts)}; add --libdir with the directory that holds "
            f"{'it' if len(missing) == 1 else 'them'}, or --exclude to leave "
            f"{'it' if len(missing) == 1 else 'them'} out."
        )
