"""The reference interpreter's own reading of raw order facts (`analysis/reference.py`): a
dotted path looked up in the facts dict as sent, its own derived facts (written out, or read
off the path for what a request covers), and RFC 3339 timestamps as exact integer
nanoseconds. Nothing here comes from the runtime's flattening, which it checks."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

NS = 1_000_000_000


class _Absent:
    """A fact that is missing or null: every comparison on it is false."""

    def __repr__(self) -> str:
        return "absent"


ABSENT: Any = _Absent()

# Facts that are computed from the order, written out one by one on purpose.
_HAS_PRODUCT_TYPE = {"derived.has_custom_made": "custom_made", "derived.has_pre_order": "pre_order",
                     "derived.has_perishable": "perishable", "derived.has_digital": "digital"}
# Facts the schema says default to a value when the caller leaves them out.
_DEFAULTS = {"order.fulfillment.production_started": False}


def requested_units(facts: dict[str, Any]) -> list[tuple[dict[str, Any], int]]:
    """(order line, units asked) for each line the request is about: the lines request.items
    names, with the units asked, or every line in full."""
    lines = facts.get("order", {}).get("items", [])
    asked = facts.get("request", {}).get("items")
    if asked is None:
        return [(line, line["quantity"]) for line in lines]
    found = []
    for sku in dict.fromkeys(item["sku"] for item in asked):  # in the order asked
        line = next(line for line in lines if line["sku"] == sku)
        found.append((line, sum(item["quantity"] for item in asked if item["sku"] == sku)))
    return found


def _requested(facts: dict[str, Any], path: str) -> Any:
    """derived.request.*: read straight off the raw lines; the product type of any.<type> and
    all.<type> from the path itself."""
    covered = requested_units(facts)
    kinds = {line["product_type"] for line, _ in covered}
    name = path[len("derived.request."):]
    if name == "whole_order":
        lines = facts["order"]["items"]
        return sum(u for _, u in covered) == sum(line["quantity"] for line in lines)
    if name == "item_count":
        return sum(units for _, units in covered)
    if name == "amount":
        return sum(units * line["unit_price"] for line, units in covered)
    family, _, kind = name.partition(".")
    return kind in kinds if family == "any" else kinds == {kind}


def lookup(facts: dict[str, Any], path: str) -> Any:
    """The value of a dotted fact path in raw facts, or ABSENT (missing or null)."""
    order = facts.get("order", {})
    items = order.get("items", [])
    if path.startswith("derived.request."):
        return _requested(facts, path)
    if path in _HAS_PRODUCT_TYPE:
        return any(item.get("product_type") == _HAS_PRODUCT_TYPE[path] for item in items)
    if path == "derived.digital_delivered":
        return any(item.get("product_type") == "digital" and item.get("delivered") is True
                   for item in items)
    if path == "derived.item_count":
        return sum(item["quantity"] for item in items)
    node: Any = facts
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _DEFAULTS.get(path, ABSENT)
        node = node[part]
    if node is None or isinstance(node, (dict, list)):
        return _DEFAULTS.get(path, ABSENT)
    return node


_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
                      r"(?:[Zz]|([+-])(\d{2}):(\d{2}))\Z")
_EPOCH_DAY = date(1970, 1, 1).toordinal()


def _fields(text: str) -> tuple[tuple[int, ...], str, int]:
    """An RFC 3339 timestamp read field by field: (year, month, day, hour, minute, second),
    the fraction's digits, and the offset in seconds."""
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 timestamp with an offset: {text!r}")
    offset = 0
    if match.group(8):
        offset = (int(match.group(9)) * 60 + int(match.group(10))) * 60
        offset = -offset if match.group(8) == "-" else offset
    return tuple(int(g) for g in match.groups()[:6]), match.group(7) or "", offset


def instant_ns(text: str) -> int:
    """An RFC 3339 timestamp as integer nanoseconds since 1970-01-01T00:00:00Z (exact)."""
    (year, month, day, hour, minute, second), digits, offset = _fields(text)
    fraction = int(digits.ljust(9, "0"))
    days = date(year, month, day).toordinal() - _EPOCH_DAY
    seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset
    return seconds * NS + fraction


def now_ns(facts: dict[str, Any]) -> int:
    """`now`, or `request.at` when `now` is not given."""
    return instant_ns(facts.get("now") or facts["request"]["at"])


def _moment(text: str) -> datetime:
    """The same instant as a `datetime` (microseconds, as `datetime` holds them), for `combine`."""
    (year, month, day, hour, minute, second), digits, offset = _fields(text)
    micros = int(digits[:6].ljust(6, "0"))
    return datetime(year, month, day, hour, minute, second, micros,
                    tzinfo=timezone(timedelta(seconds=offset)))


