"""Validation of ``--json`` output against the schemas the package ships, as a consumer does
it: ``jsonschema.validate(document, schema)``, no registry (each schema holds what it refers to)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema

SCHEMA_DIR = resources.files("pyodide_auditwheel").joinpath("schemas")
SCHEMAS = {
    entry.name.split(".")[0]: json.loads(entry.read_text("utf-8"))
    for entry in SCHEMA_DIR.iterdir()
    if entry.name.endswith(".schema.json")
}


def validate(document: Any, command: str) -> None:
    """Raise jsonschema's error unless ``document`` is valid ``<command> --json`` output."""
    jsonschema.validate(document, SCHEMAS[command])
