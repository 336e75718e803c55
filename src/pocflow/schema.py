"""A small JSON Schema validator: the keywords pocflow's own schemas use, nothing more.

pocflow ships JSON Schemas (step manifests, `doit status --json`) so that editors and other
tools can check those documents. This module checks them with the same files. Supported
keywords: type, properties, required, additionalProperties, items, enum, pattern,
minLength, minimum, exclusiveMinimum. Anything else in a schema is ignored.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

_TYPES: dict[str, Any] = {
    "string": str,
    "array": list,
    "object": dict,
    "boolean": bool,
    "null": type(None),
}


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A schema shipped in pocflow/schemas/, by file name."""
    text = resources.files("pocflow").joinpath(f"schemas/{name}").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def first_violation(value: Any, schema: dict[str, Any], path: str = "$") -> tuple[str, Any] | None:
    """None when value is valid; else (JSON path, offending value) of the first problem."""
    types = schema.get("type")
    if types is not None:
        kinds = types if isinstance(types, list) else [types]
        if not any(is_type(value, kind) for kind in kinds):
            return path, value
    if "enum" in schema and value not in schema["enum"]:
        return path, value
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            return path, value
        if "pattern" in schema and not re.search(schema["pattern"], value):
            return path, value
    if is_type(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            return path, value
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            return path, value
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found = first_violation(item, schema["items"], f"{path}[{index}]")
            if found:
                return found
    if isinstance(value, dict):
        return _object_violation(value, schema, path)
    return None


def _object_violation(
    value: dict[str, Any], schema: dict[str, Any], path: str
) -> tuple[str, Any] | None:
    for key in schema.get("required", []):
        if key not in value:
            return f"{path}.{key}", None
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            found = first_violation(item, properties[key], f"{path}.{key}")
        elif extra is False:
            return f"{path}.{key}", item
        elif isinstance(extra, dict):
            found = first_violation(item, extra, f"{path}.{key}")
        else:
            found = None
        if found:
            return found
    return None


def is_type(value: Any, kind: str) -> bool:
    """JSON Schema's notion of a type (booleans are not numbers)."""
    if kind in ("number", "integer"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok and (kind == "number" or float(value).is_integer())
    return isinstance(value, _TYPES[kind])
