"""The SBOM of a repaired wheel (PEP 770): which libraries a repair put into it.

Written as CycloneDX 1.4 JSON at ``<name>.dist-info/sboms/pyodide-auditwheel.cdx.json``, as
pypa/auditwheel writes ``auditwheel.cdx.json``.  Each vendored library is a component with its
path inside the wheel, its SHA-256 and the file name it had where it was found: never the
directory, so no machine path of the builder's leaks into a published wheel.  The bytes
depend only on the wheel and its libraries (no time stamp, no random serial number), so a
repair stays reproducible; a later repair keeps the components of an earlier one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from packaging.utils import canonicalize_name

from ..errors import WheelError
from ..version import __version__

SBOM_FILE = "pyodide-auditwheel.cdx.json"
SPEC_VERSION = "1.4"
PROPERTY_PREFIX = "pyodide-auditwheel"


def sbom_path(dist_info: str) -> str:
    return f"{dist_info}/sboms/{SBOM_FILE}"


def library_component(dest: str, sha256_hex: str, source_name: str, source_sha256_hex: str) -> dict[str, Any]:
    """The file as it is in the wheel (its hash is the one RECORD has), and the file it was
    made from (a repair patches the libraries it vendors)."""
    return {
        "type": "library",
        "bom-ref": dest,
        "name": dest.rsplit("/", 1)[-1],
        "hashes": [{"alg": "SHA-256", "content": sha256_hex}],
        "properties": [
            {"name": f"{PROPERTY_PREFIX}:path", "value": dest},
            {"name": f"{PROPERTY_PREFIX}:source-file-name", "value": source_name},
            {"name": f"{PROPERTY_PREFIX}:source-sha256", "value": source_sha256_hex},
        ],
    }


def previous_components(previous: bytes | None, where: str) -> list[dict[str, Any]]:
    """The components of the SBOM an earlier repair wrote, which the new one keeps; anything
    else at that path (of any shape, nested to any depth) is refused in one sentence, before
    a byte is written."""
    if previous is None:
        return []
    try:
        document = json.loads(previous)
        if not isinstance(document, dict):
            raise ValueError("it is not a JSON object")
        components = document["components"]
        if not isinstance(components, list) or not all(
            isinstance(c, dict) and isinstance(c.get("bom-ref"), str) for c in components
        ):
            raise ValueError("components is not a list of components, each with a bom-ref string")
    except RecursionError:
        reason = "it is nested too deeply to read"
    except (ValueError, KeyError, TypeError) as error:
        reason = str(error)
    else:
        return components
    raise WheelError(f"cannot update {where}: it is not a CycloneDX document this tool wrote ({reason}).")


def build_sbom(
    dist: str,
    version: str,
    filename: str,
    libraries: Iterable[tuple[str, str, str, str]],
    previous: bytes | None,
    where: str,
) -> bytes:
    """The SBOM for a wheel named ``filename`` holding ``libraries`` (path in the wheel, its
    SHA-256 hex, the source's file name and SHA-256) besides those a previous SBOM at
    ``where`` lists."""
    wheel_ref = f"pkg:pypi/{canonicalize_name(dist)}@{version}?file_name={filename}"
    components = {component["bom-ref"]: component for component in previous_components(previous, where)}
    for dest, sha256_hex, source_name, source_sha256_hex in libraries:
        components[dest] = library_component(dest, sha256_hex, source_name, source_sha256_hex)
    ordered = [components[ref] for ref in sorted(components)]
    document = {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "version": 1,
        "metadata": {
            "component": {
                "type": "library",
                "bom-ref": wheel_ref,
                "name": str(canonicalize_name(dist)),
                "version": version,
                "purl": wheel_ref,
            },
            "tools": [{"name": "pyodide-auditwheel", "version": __version__}],
        },
        "components": ordered,
        "dependencies": [{"ref": wheel_ref, "dependsOn": [component["bom-ref"] for component in ordered]}],
    }
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
