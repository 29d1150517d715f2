"""Request bodies built from the OpenAPI document's request schemas.

A walk that sends these reaches what an endpoint does after parsing (the record
lookup, the permission check), because the body passes the schema: every
required property, and ``reason``, with a value of the declared type, format,
enum and bounds. Values named like a path parameter take the seeded record's id,
so a body points at records that exist.
"""

from __future__ import annotations

from typing import Any

JSON = "application/json"


class SchemaBodies:
    def __init__(self, document: dict[str, Any], known: dict[str, object], site: str) -> None:
        self.document = document
        self.known = known
        self.site = site

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            node: Any = self.document
            for part in schema["$ref"].lstrip("#/").split("/"):
                node = node[part]
            schema = node
        for combined in ("allOf", "oneOf", "anyOf"):
            if combined in schema:
                merged: dict[str, Any] = {}
                for part in schema[combined][:1] if combined != "allOf" else schema[combined]:
                    merged |= self.resolve(part)
                return merged | {k: v for k, v in schema.items() if k != combined}
        return schema

    def body(self, path: str, method: str) -> dict[str, Any] | None:
        """A schema-valid JSON body for the operation, or None when it takes none."""
        operation = self.document["paths"][path][method]
        content = operation.get("requestBody", {}).get("content", {})
        if JSON not in content:
            return None
        value = self.value("body", content[JSON].get("schema", {}))
        return value if isinstance(value, dict) else {}

    def query(self, path: str, method: str) -> dict[str, Any]:
        """The operation's required query parameters and ``reason``, with
        schema-valid values."""
        parameters = self.document["paths"][path][method].get("parameters", [])
        return {
            p["name"]: p.get("example", self.value(p["name"], p.get("schema", {})))
            for p in map(self.resolve, parameters)
            if p.get("in") == "query" and (p.get("required") or p["name"] == "reason")
        }

    def value(self, name: str, schema: dict[str, Any]) -> Any:
        schema = self.resolve(schema)
        if "enum" in schema:
            return next((v for v in schema["enum"] if v is not None), schema["enum"][0])
        if "default" in schema and schema["default"] is not None:
            return schema["default"]
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "string")
        if kind == "object" or "properties" in schema:
            properties = schema.get("properties", {})
            wanted = set(schema.get("required", ())) | ({"reason"} & set(properties))
            return {
                key: self.value(key, sub)
                for key, sub in properties.items()
                if key in wanted and not self.resolve(sub).get("readOnly")
            }
        if kind == "array":
            low = max(schema.get("minItems", 1), 1)
            return [self.value(name, schema.get("items", {})) for _ in range(low)]
        if kind == "integer":
            if name in self.known and isinstance(self.known[name], int):
                return self.known[name]
            return int(schema.get("minimum", 1))
        if kind == "number":
            return schema.get("minimum", 1)
        if kind == "boolean":
            return False
        return self.text(name, schema)

    def text(self, name: str, schema: dict[str, Any]) -> str:
        formats = {
            "date": "2025-03-03",
            "date-time": "2031-03-03T10:00:00+00:00",
            "time": "10:00:00",
            "email": "walk@example.org",
            "uuid": "00000000-0000-4000-8000-000000000000",
            "uri": "https://example.org/walk",
            "url": "https://example.org/walk",
        }
        if schema.get("format") in formats:
            return formats[schema["format"]]
        if name in ("site", "site_code"):
            return self.site
        if name in self.known:
            return str(self.known[name])
        low, high = schema.get("minLength", 1), schema.get("maxLength", 200)
        return ("walk " * (low // 5 + 1))[: max(low, min(high, 4))]
