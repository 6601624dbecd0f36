"""Wheel names, tags and layout: which files are modules, where a member is installed.

The other rooms of a wheel: :mod:`.record` (RECORD, streamed) and :mod:`.inputs` (the three
shapes a user may hand us).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.tags import Tag
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from ..errors import InvalidWheelNameError
from ..runtime.abi import Abi, abi_for_platforms, abis_named_by

# ``x.so``, ``x.so.1.2``, ``x.wasm``; not ``notes.so.txt``.
MODULE_NAME = re.compile(r"\.(?:so(?:\.\d+)*|wasm)$")


def is_module_name(path: str) -> bool:
    """Whether the runtime treats the file as a shared library to load (``.so``, ``.so.N``,
    ``.wasm``)."""
    return MODULE_NAME.search(path.rsplit("/", 1)[-1]) is not None


def installed_path(archive_path: str) -> str:
    """Where a member lands under site-packages: where it is in the archive, ``<name>.data/``
    included.  Pyodide installs a wheel by unpacking it (``loadPackage``, in every release
    from 0.22 to 315): it does not move ``.data/platlib`` or ``.data/purelib`` into place as
    pip does, so a library there is not beside the modules that need it
    (``tests/test_runtime.py::test_the_install_leaves_the_data_directory_where_it_is``)."""
    return archive_path


def installed_at(site_packages: str, archive_path: str) -> str:
    """The absolute path a member is installed at in the runtime's file system."""
    return f"{site_packages}/{installed_path(archive_path)}"


@dataclass(frozen=True)
class WheelName:
    """A parsed wheel file name.  ``file_dist`` is the name's first component as written,
    which is what Pyodide 0.26/0.27 use for the ``<name>.libs`` directory."""

    filename: str
    dist: str
    version: str
    file_dist: str
    platforms: frozenset[str]
    abi: Abi
    tags: frozenset[Tag] = frozenset()

    @property
    def abis(self) -> tuple[Abi, ...]:
        """Every known ABI the wheel's tags name: a wheel tagged for two is laid out for
        both, and audited on both."""
        return abis_named_by(self.platforms)

    @classmethod
    def parse(cls, filename: str) -> WheelName:
        try:
            name, version, _build, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename as error:
            raise InvalidWheelNameError(
                f"not a wheel: {filename!r} is not a valid wheel file name ({error})."
            ) from None
        platforms = frozenset(tag.platform for tag in tags)
        return cls(
            filename, str(name), str(version), filename.split("-", 1)[0], platforms, abi_for_platforms(platforms), tags
        )
