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
        # Items are declared as any JSON value on purpose: each item is validated on its own
        # and a bad one gets its errors in its slot of a 200 answer (the others are decided),
        # so the batch as a whole does not reject what breaks the facts schema.
        "BatchRequest": {"type": "object", "required": ["items"], "additionalProperties": False,
                         "properties": {"items": {
                             "type": "array", "maxItems": batch_limit, "items": {},
                             "description": "Order facts (see the Facts schema), each item "
                                            "validated on its own: an item that is not valid "
                                            "facts gets its errors, with the status it would "
                                            "have had alone, in its slot of the results; the "
                                            "other items are still decided."}}},
        "BatchResponse": {"type": "object", "required": ["results"], "properties": {
            "results": {"type": "array", "description": "One per item, in order.",
                        "items": {"oneOf": [_ref("Decision"), _ref("Error")]}}}},
    }


def json_body(name: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(name)}}}


# What validation checks beyond the Facts schema (JSON Schema cannot say these), all 422.
SEMANTIC_422 = (
    "Facts that break the facts schema (`facts-schema`, `facts-type`), each error at its JSON "
    "pointer, or that pass the schema but not these checks, which JSON Schema cannot express: "
    "`facts-timestamp` (a timestamp that is not a real instant, e.g. 30 February, or outside "
    "the years 1900-2999), `facts-number` (a fractional amount or count, or an integer of 2^63 "
    "or more), `facts-text` (a text holding a lone UTF-16 surrogate), `facts-too-large` / "
    "`facts-too-deep` (texts over 1,024 characters, more than 10,000 values, nesting deeper "
    "than 16), `facts-derived` (a `derived` object sent in). Or no ruleset applies: "
    "`no-version-in-force` (none in force at request.at), `platform-mismatch`, "
    "`overlay-base-mismatch`.")


def error_responses(*statuses: int | str) -> dict[int | str, dict[str, Any]]:
    """The error responses of a route; "422-batch" is the batch route's own 422."""
    meaning: dict[int | str, str] = {
               400: "Malformed JSON (`json-syntax`, `json-empty`), a bad or repeated query "
                    "parameter (`bad-parameter`), or a request that is not HTTP/1.1 "
                    "(`bad-http`).",
               404: "No ruleset of that name (or name@version) is loaded.",
               408: "The request's headers or body did not arrive within the server's time "
                    "limits (`header-timeout`, `body-timeout`).",
               413: "Body (or batch) over the configured limit.",
               415: "A compressed body (`unsupported-encoding`): send plain JSON, no "
                    "Content-Encoding.",
               422: SEMANTIC_422,
               "422-batch": "The body is not {\"items\": [...]} (`batch-shape`). Items that "
                            "are not valid facts are not a 422: each gets its errors in its "
                            "slot of a 200 answer."}
    return {int(str(status)[:3]): json_body("Error", meaning[status]) for status in statuses}


def add_components(spec: dict[str, Any], batch_limit: int,
                   catalogue: Catalogue | None = None) -> dict[str, Any]:
    spec.setdefault("components", {}).setdefault("schemas", {}).update(
        service_components(batch_limit, catalogue))
    return spec
