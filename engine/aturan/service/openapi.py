"""The OpenAPI document of the decision service, whose facts and decision schemas are the
project's own `schemas/*.schema.json`, loaded at run time rather than copied into pydantic models;
the facts schema is the served policy folder's effective one (its catalogue's), with the
platforms and facts its aturan.yaml adds.

A JSON Schema file keeps its shared pieces under `$defs` and points at them with `#/$defs/…`;
inside an OpenAPI document `#` is the document root, so each file's `$defs` become components
named `<Schema>.<def>` and its references are re-rooted to them. Nothing else is changed."""

from __future__ import annotations

import copy
from typing import Any

from ..language.catalogue import Catalogue, bundled_catalogue
from ..resources import load_schema

SCHEMAS = {"Facts": "facts", "Decision": "decision"}


def _reroot(node: Any, prefix: str) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
                value = f"#/components/schemas/{prefix}.{value[len('#/$defs/'):]}"
            out[key] = _reroot(value, prefix)
        return out
    if isinstance(node, list):
        return [_reroot(item, prefix) for item in node]
    return node


def project_components(catalogue: Catalogue | None = None) -> dict[str, Any]:
    """`Facts` (the catalogue's effective schema), `Decision` and their `$defs`, as OpenAPI 3.1
    component schemas."""
    catalogue = catalogue or bundled_catalogue()
    components: dict[str, Any] = {}
    for component, stem in SCHEMAS.items():
        schema = copy.deepcopy(catalogue.facts_schema if stem == "facts" else load_schema(stem))
        schema.pop("$schema", None)
        schema.pop("$id", None)  # an $id would make `#/components/...` resolve against the file
        defs = schema.pop("$defs", {})
        components[component] = _reroot(schema, component)
        for name, definition in defs.items():
            components[f"{component}.{name}"] = _reroot(definition, component)
    return components


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def service_components(batch_limit: int, catalogue: Catalogue | None = None) -> dict[str, Any]:
    """The project's schemas plus the three shapes only the HTTP API has."""
    error = {
        "type": "object", "required": ["errors", "kind"],
        "description": "Every problem with the request, each at a JSON pointer into the body "
                       "(item-relative inside a batch).",
        "properties": {
            "errors": {"type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["pointer", "code", "message"],
                "properties": {"pointer": {"type": "string"}, "code": {"type": "string"},
                               "message": {"type": "string"},
                               "pointers": {"type": "array", "items": {"type": "string"},
                                            "description": "Every JSON pointer a problem "
                                            "involves, `pointer` first (facts whose sums do not "
                                            "add up)."},
                               "line": {"type": "integer"}, "col": {"type": "integer"}}}},
            "kind": {"type": "string"},
            "status": {"type": "integer", "description": "In a batch slot: the status this item "
                                                         "would have had on its own."}}}
    return {
        **project_components(catalogue),
        "Error": error,
        "BatchRequest": {"type": "object", "required": ["items"], "additionalProperties": False,
                         "properties": {"items": {"type": "array", "maxItems": batch_limit,
                                                  "items": _ref("Facts")}}},
        "BatchResponse": {"type": "object", "required": ["results"], "properties": {
            "results": {"type": "array", "description": "One per item, in order.",
                        "items": {"oneOf": [_ref("Decision"), _ref("Error")]}}}},
    }


def json_body(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    meaning = {400: "Malformed JSON, or a bad query parameter.",
               404: "No ruleset of that name (or name@version) is loaded.",
               413: "Body (or batch) over the configured limit.",
               422: "Facts that break the facts schema, each error at its JSON pointer; or no "
                    "ruleset version is in force at request.at."}
    return {status: json_body("Error", meaning[status]) for status in statuses}


def add_components(spec: dict[str, Any], batch_limit: int,
                   catalogue: Catalogue | None = None) -> dict[str, Any]:
    spec.setdefault("components", {}).setdefault("schemas", {}).update(
        service_components(batch_limit, catalogue))
    return spec
