"""Validation of ``--json`` output against the schemas the package ships (they refer to each
other by ``$id``, so all of them are registered)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema
from referencing import Registry, Resource

SCHEMA_DIR = resources.files("pyodide_auditwheel").joinpath("schemas")
SCHEMAS = {
    entry.name.split(".")[0]: json.loads(entry.read_text("utf-8"))
    for entry in SCHEMA_DIR.iterdir()
    if entry.name.endswith(".schema.json")
}
REGISTRY: Registry = Registry().with_resources(
    (schema["$id"], Resource.from_contents(schema)) for schema in SCHEMAS.values()
)


def validate(document: Any, command: str) -> None:
    """Raise jsonschema's error unless ``document`` is valid ``<command> --json`` output."""
    jsonschema.Draft202012Validator(SCHEMAS[command], registry=REGISTRY).validate(document)
