"""The effective fact catalogue: every fact path a rule may name (kind, enum values, nullability,
description), the platforms orders come from (time zone and holiday calendar each), and the facts
JSON Schema that validates incoming facts, all in one frozen `Catalogue`.

The bundled catalogue is read from `schemas/facts.schema.json`, the one place a bundled fact is
defined; a policy folder's project file (`aturan.yaml`, `language.project`) extends it with its
own platforms, fact fields under `order.ext.` / `request.ext.` and enum values. The extended
schema is built here as data (a copy of the bundled one with nodes added), never as text, and
every consumer (validation, the fast check, semantic checks, explanations, analysis, sampling,
the service's OpenAPI document) reads the catalogue its `RulesetCollection` carries.
`catalogue()` remains the bundled fields, for callers that have no collection at hand.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any
from zoneinfo import ZoneInfo

from ..resources import load_schema

# Extension namespaces: a project's own facts live under these objects, which the bundled
# schema never defines, so they cannot collide with a bundled path (today's or a later one's).
EXTENSION_ROOTS = ("order", "request")
EXTENSION_KEY = "ext"
# The kinds a project file may give a field, and the catalogue kind each becomes.
EXTENSION_TYPES = {"enum": "enum", "rupiah": "integer", "count": "integer",
                   "boolean": "boolean", "timestamp": "timestamp", "string": "string"}
COUNT_MAX = 1_000_000_000  # an extra count fact: 0 .. a billion
STRING_MAX = 128  # an extra string fact: like ids, at most 128 characters


@dataclass(frozen=True)
class FactField:
    """One addressable fact: `kind` is enum | string | integer | boolean | timestamp; `unit` is
    rupiah for money (shown as Rp162.000), count for other integers, else empty."""

    path: str
    kind: str
    description: str
    enum: tuple[Any, ...] = ()
    nullable: bool = False
    derived: bool = False
    unit: str = ""
    minimum: int | None = None
    maximum: int | None = None
    extension: bool = False  # declared by a project file, not bundled


@dataclass(frozen=True)
class Platform:
    """A marketplace: business days (refund due dates) are counted in `timezone` and skip
    weekends and the public holidays of `calendar` (a country code of the `holidays` package,
    or "" for weekends only); `id_prefix` starts the ids of sampled orders."""

    name: str
    display_name: str
    timezone: str
    calendar: str
    id_prefix: str = ""

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def default_prefix(display_name: str) -> str:
    """An order-id prefix from a display name: the initials of several words (TikTok Shop ->
    TS), the first two letters of one (Blibli -> BL)."""
    words = [w for w in display_name.split() if w[:1].isalpha()]
    if len(words) > 1:
        return "".join(w[0] for w in words).upper()[:4]
    return (words[0][:2] if words else "OR").upper()


# The bundled platforms, whose names are `order.platform`'s enum in the facts schema (a test
# checks they agree): Indonesian marketplaces, in WIB, with Indonesian public holidays.
_BUNDLED_PLATFORMS = {
    "lazada": ("Lazada", "LZ"), "shopee": ("Shopee", "SP"), "tokopedia": ("Tokopedia", "TP"),
    "tiktok_shop": ("TikTok Shop", "TS"),
}
BUNDLED_TIMEZONE = "Asia/Jakarta"
BUNDLED_CALENDAR = "ID"


def _kind_of(node: dict[str, Any], defs: dict[str, Any]
             ) -> tuple[str, tuple[Any, ...], bool, dict[str, Any]] | None:
    branches = node.get("anyOf", [node])
    nullable = any(b.get("type") == "null" for b in branches)
    for branch in branches:
        unit = ""
        if "$ref" in branch:
            name = branch["$ref"].rsplit("/", 1)[1]
            unit = "rupiah" if name == "money" else ""
            branch = {**defs[name], **branch}
        if branch.get("type") == "null":
            continue
        if "enum" in branch:
            return "enum", tuple(branch["enum"]), nullable, {}
        if branch.get("format") == "date-time":
            return "timestamp", (), nullable, {}
        if branch.get("type") == "integer":
            return "integer", (), nullable, {"unit": unit or "count",
                                              "minimum": branch.get("minimum"),
                                              "maximum": branch.get("maximum")}
        if branch.get("type") in ("string", "boolean"):
            return branch["type"], (), nullable, {}
    return None


# `"x-aturan-each": "<name>"` on a derived object: one boolean fact per value of a family of
# the schema (`_families`), e.g. derived.request.any.<product type>; generated, never listed.
EACH = "x-aturan-each"


def _families(schema: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    """The value lists `EACH` expands over: the product types of order lines."""
    item = schema["properties"]["order"]["properties"]["items"]["items"]
    return {"product_type": tuple(item["properties"]["product_type"]["enum"])}


def _walk(node: dict[str, Any], defs: dict[str, Any], prefix: str, derived: bool,
          optional: bool = False, extension: bool = False,
          families: Mapping[str, tuple[Any, ...]] | None = None) -> Iterator[FactField]:
    required = set(node.get("required", ()))
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        if name == "now" and not prefix:
            continue
        is_derived = derived or bool(child.get("readOnly"))
        is_extension = extension or (name == EXTENSION_KEY and prefix in EXTENSION_ROOTS)
        may_lack = optional or name not in required
        if EACH in child and families is not None:
            for value in families[child[EACH]]:
                yield FactField(f"{path}.{value}", "boolean",
                                f"{child.get('description', '')} ({value})", (), False, True)
            continue
        branches = child.get("anyOf", [child])
        objects = [b for b in branches if b.get("type") == "object"]
        if objects:
            null_parent = any(b.get("type") == "null" for b in branches)
            yield from _walk(objects[0], defs, path, is_derived, may_lack or null_parent,
                             is_extension, families)
            continue
        kind = _kind_of(child, defs)
        if kind is None:  # arrays (order.items) are reached through derived facts
            continue
        yield FactField(path, kind[0], child.get("description", ""), kind[1],
                        kind[2] or (may_lack and not is_derived and path not in _DEFAULTED),
                        is_derived, extension=is_extension, **kind[3])


_DEFAULTED = {"order.fulfillment.production_started"}  # missing means false


@dataclass(frozen=True)
class Extension:
    """One fact field a project file declares: `path` is `order.ext.<name>` or
    `request.ext.<name>`, `type` one of `EXTENSION_TYPES`."""

    path: str
    type: str
    description: str
    values: tuple[str, ...] = ()
    required: bool = False

    def schema(self) -> dict[str, Any]:
        """The JSON Schema node of the field, as data."""
        node: dict[str, Any]
        if self.type == "enum":
            node = {"enum": list(self.values)}
        elif self.type == "rupiah":
            node = {"$ref": "#/$defs/money"}
        elif self.type == "count":
            node = {"type": "integer", "minimum": 0, "maximum": COUNT_MAX}
        elif self.type == "boolean":
            node = {"type": "boolean"}
        elif self.type == "timestamp":
            node = {"$ref": "#/$defs/timestamp"}
        else:
            node = {"type": "string", "minLength": 1, "maxLength": STRING_MAX}
        return {**node, "description": self.description}


@dataclass(frozen=True, eq=False)
class Catalogue:
    """The effective catalogue of one policy folder (or the bundled one). Equal catalogues have
    equal digests; caches (the compiled facts check, engine names) key on the digest."""

    fields: Mapping[str, FactField]
    platforms: Mapping[str, Platform]
    facts_schema: dict[str, Any]
    digest: str
    next_steps: tuple[str, ...] | None = None  # a project's closed vocabulary, if it has one
    source: str = ""  # the project file, "" for the bundled catalogue
    extensions: tuple[Extension, ...] = field(default=())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Catalogue) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    @property
    def bundled(self) -> bool:
        return not self.source

    @cached_property
    def timestamp_paths(self) -> tuple[str, ...]:
        return tuple(p for p, f in self.fields.items() if f.kind == "timestamp")

    @cached_property
    def product_types(self) -> tuple[str, ...]:
        """The product types of order lines, which `derived.request.any.<type>` and
        `derived.request.all.<type>` are generated for."""
        return tuple(_families(self.facts_schema)["product_type"])

    @cached_property
    def money_paths(self) -> frozenset[str]:
        return frozenset(p for p, f in self.fields.items() if f.unit == "rupiah")

    @property
    def default_platform(self) -> str:
        """The platform a witness names when its ruleset is no platform's (a test ruleset):
        the last declared (the bundled catalogue's: tiktok_shop; a project's: its own)."""
        return next(reversed(list(self.platforms)))

    def platform(self, name: str | None) -> Platform:
        """The named platform, or the bundled defaults (WIB, Indonesian holidays)."""
        found = self.platforms.get(name or "")
        return found if found is not None else _FALLBACK

    def extended(self, platforms: Iterable[Platform] = (),
                 extensions: Iterable[Extension] = (),
                 values: Mapping[str, tuple[str, ...]] | None = None,
                 next_steps: tuple[str, ...] | None = None, source: str = "") -> Catalogue:
        """This catalogue with a project's additions (already validated by `language.project`:
        names fit their patterns, nothing redefines what exists)."""
        schema = copy.deepcopy(self.facts_schema)
        platforms = tuple(platforms)
        extensions = tuple(extensions)
        order = schema["properties"]["order"]["properties"]
        order["platform"]["enum"] = list(order["platform"]["enum"]) + [p.name for p in platforms]
        for path, extra in (values or {}).items():
            node = _node(schema, path)
            node["enum"] = list(node["enum"]) + [v for v in extra if v not in node["enum"]]
        for root in EXTENSION_ROOTS:
            mine = [e for e in extensions if e.path.split(".", 1)[0] == root]
            if not mine:
                continue
            holder = schema["properties"][root]
            ext = {"type": "object", "title": f"{root.title()} extensions",
                   "description": f"Facts this policy folder adds about the {root} "
                                  "(declared in its aturan.yaml).",
                   "additionalProperties": False,
                   "properties": {e.path.rsplit(".", 1)[1]: e.schema() for e in mine}}
            required = [e.path.rsplit(".", 1)[1] for e in mine if e.required]
            if required:
                ext["required"] = required
                holder["required"] = list(holder.get("required", [])) + [EXTENSION_KEY]
            holder["properties"][EXTENSION_KEY] = ext
        all_platforms = {**self.platforms, **{p.name: p for p in platforms}}
        return _build(schema, all_platforms, next_steps, source,
                      self.extensions + extensions)


def _node(schema: dict[str, Any], path: str) -> dict[str, Any]:
    node = schema
    for part in path.split("."):
        node = node["properties"][part]
        objects = [b for b in node.get("anyOf", ()) if b.get("type") == "object"]
        if objects:
            node = objects[0]
    return node


def _build(schema: dict[str, Any], platforms: Mapping[str, Platform],
           next_steps: tuple[str, ...] | None, source: str,
           extensions: tuple[Extension, ...]) -> Catalogue:
    fields = {f.path: f for f in _walk(schema, schema.get("$defs", {}), "", False,
                                       families=_families(schema))}
    described = {"schema": schema, "next_steps": next_steps,
                 "platforms": [[p.name, p.display_name, p.timezone, p.calendar, p.id_prefix]
                               for p in platforms.values()]}
    digest = "sha256:" + hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()
    return Catalogue(fields, dict(platforms), schema, digest, next_steps, source, extensions)


_FALLBACK = Platform("", "", BUNDLED_TIMEZONE, BUNDLED_CALENDAR)


@cache
def bundled_catalogue() -> Catalogue:
    """The catalogue of the bundled facts schema and platforms."""
    schema = copy.deepcopy(load_schema("facts"))
    names = schema["properties"]["order"]["properties"]["platform"]["enum"]
    platforms = {}
    for name in names:
        display, prefix = _BUNDLED_PLATFORMS.get(name, (name.replace("_", " ").title(), ""))
        platforms[name] = Platform(name, display, BUNDLED_TIMEZONE, BUNDLED_CALENDAR, prefix)
    return _build(schema, platforms, None, "", ())


def catalogue() -> Mapping[str, FactField]:
    """Every bundled fact path a rule may name: the bundled catalogue's fields (for callers that
    have no collection, hence no folder's catalogue, at hand)."""
    return bundled_catalogue().fields


SENSITIVE = "x-sensitive"  # the facts schema's keyword for personal data: "erase" or "hmac"


def sensitive_fields(schema: dict[str, Any] | None = None) -> dict[str, str]:
    """JSON pointer -> masking method ("erase" or "hmac") of every field the facts schema marks
    `x-sensitive` (default: the bundled schema). The decision log masks these; lint warns when a
    rule reads one. A pointer under an array has `*` for the index."""
    root = schema if schema is not None else load_schema("facts")
    found: dict[str, str] = {}
    stack: list[tuple[Any, str]] = [(root, "")]
    while stack:
        node, pointer = stack.pop()
        if not isinstance(node, dict):
            continue
        if isinstance(node.get(SENSITIVE), str):
            found[pointer] = node[SENSITIVE]
        for name, child in node.get("properties", {}).items():
            stack.append((child, f"{pointer}/{name}"))
        stack.append((node.get("items"), f"{pointer}/*"))
        stack += [(branch, pointer) for branch in node.get("anyOf", ())]
    return dict(sorted(found.items()))
