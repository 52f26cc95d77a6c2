"""JSON Schema pieces (OpenAPI 3.1 uses JSON Schema 2020-12) for the API's description: the documents it
answers with (:mod:`p2pool.api.models`) and the parameters it reads (:mod:`p2pool.api.params`).

A schema is a plain dict, written once at import; nothing here runs per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Schema = dict[str, Any]

INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
STRING: Schema = {"type": "string"}
BOOLEAN: Schema = {"type": "boolean"}
ANY_OBJECT: Schema = {"type": "object"}
# [bucket start, hashes/s]
POINT: Schema = {"type": "array", "prefixItems": [INTEGER, NUMBER], "minItems": 2, "maxItems": 2}


def ref(name: str) -> Schema:
    """The component schema ``name`` (``#/components/schemas/NAME``)."""
    return {"$ref": f"#/components/schemas/{name}"}


def described(schema: Schema, description: str) -> Schema:
    return {**schema, "description": description}


def nullable(schema: Schema) -> Schema:
    """``schema`` or null (a description stays outside the choice)."""
    inner = {key: value for key, value in schema.items() if key != "description"}
    outer: Schema = {"anyOf": [inner, {"type": "null"}]}
    if "description" in schema:
        outer["description"] = schema["description"]
    return outer


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def counts() -> Schema:
    """An object of integers by name (counts by reason, by source...)."""
    return {"type": "object", "additionalProperties": INTEGER}


def record(title: str, properties: Mapping[str, Schema], *, optional: Iterable[str] = (), extra: bool = False,
           description: str | None = None) -> Schema:
    """An object with these properties, each required but those in ``optional``; ``extra``: it may have
    more than these."""
    left_out = set(optional)
    unknown = left_out - set(properties)
    if unknown:
        raise ValueError(f"{title}: optional properties {sorted(unknown)} are not properties")
    schema: Schema = {"title": title, "type": "object", "properties": dict(properties),
                      "required": [name for name in properties if name not in left_out]}
    if not extra:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema
