"""The fact catalogue: every fact path a rule may name, with its kind, enum values, nullability and
description, derived from `schemas/facts.schema.json` so the schema stays the one place a fact
field is defined."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from ..resources import load_schema


@dataclass(frozen=True)
class FactField:
    """One addressable fact: `kind` is enum | string | integer | boolean | timestamp."""

    path: str
    kind: str
    description: str
    enum: tuple[Any, ...] = ()
    nullable: bool = False
    derived: bool = False


def _kind_of(node: dict[str, Any], defs: dict[str, Any]) -> tuple[str, tuple[Any, ...], bool] | None:
    branches = node.get("anyOf", [node])
    nullable = any(b.get("type") == "null" for b in branches)
    for branch in branches:
        if "$ref" in branch:
            branch = {**defs[branch["$ref"].rsplit("/", 1)[1]], **branch}
        if branch.get("type") == "null":
            continue
        if "enum" in branch:
            return "enum", tuple(branch["enum"]), nullable
        if branch.get("format") == "date-time":
            return "timestamp", (), nullable
        if branch.get("type") in ("string", "integer", "boolean"):
            return branch["type"], (), nullable
    return None


def _walk(node: dict[str, Any], defs: dict[str, Any], prefix: str, derived: bool,
          optional: bool = False) -> Iterator[FactField]:
    required = set(node.get("required", ()))
    for name, child in node.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        if name == "now" and not prefix:
            continue
        is_derived = derived or bool(child.get("readOnly"))
        may_lack = optional or name not in required
        branches = child.get("anyOf", [child])
        objects = [b for b in branches if b.get("type") == "object"]
        if objects:
            null_parent = any(b.get("type") == "null" for b in branches)
            yield from _walk(objects[0], defs, path, is_derived, may_lack or null_parent)
            continue
        kind = _kind_of(child, defs)
        if kind is None:  # arrays (order.items) are reached through derived facts
            continue
        yield FactField(path, kind[0], child.get("description", ""), kind[1],
                        kind[2] or (may_lack and not is_derived and path not in _DEFAULTED),
                        is_derived)


@cache
def catalogue() -> dict[str, FactField]:
    """Every fact path a rule may name, from the facts schema."""
    schema = load_schema("facts")
    return {f.path: f for f in _walk(schema, schema.get("$defs", {}), "", False)}


_DEFAULTED = {"order.fulfillment.production_started"}  # missing means false


# The time zone a platform's local dates and business days are read in. The one place it is
# known: every bundled platform is Indonesian (WIB). When platforms become configurable (a
# project file naming each platform's zone and holiday calendar), this is what reads it.
DEFAULT_TIME_ZONE = "Asia/Jakarta"


@cache
def time_zone(platform: str | None = None) -> ZoneInfo:
    """The time zone of `platform` (a platform ruleset's name; None: the default, in which
    people read times): a ruleset's `effective_from: 2025-03-26` is midnight there."""
    return ZoneInfo(DEFAULT_TIME_ZONE)
