"""What both readings of facts share (`runtime/facts.py`, the strict and compiled paths, and
`runtime/prepared.py`, the fused check): the bounds on facts and the derived facts, in a module
of their own so that neither imports the other."""

from __future__ import annotations

from typing import Any

MAX_FACTS_BYTES = 1024 * 1024
# Guards for facts given as a Python dict (the JSON text path is bounded by MAX_FACTS_BYTES): an
# order is a few levels deep, its strings short, its items at most 500; anything far beyond is
# refused before the schema check, whose cost and messages grow with the input.
MAX_FACTS_DEPTH = 16
MAX_FACTS_STRING = 1024
MAX_FACTS_VALUES = 10_000


def _derived(order: dict[str, Any]) -> dict[str, Any]:
    """The derived.* facts of a valid order (its product types, units), computed for every
    decision."""
    items = order["items"]
    if len(items) == 1:  # most orders: the same values without a loop and a set
        item = items[0]
        kind = item["product_type"]
        return {
            "derived.has_custom_made": kind == "custom_made",
            "derived.has_pre_order": kind == "pre_order",
            "derived.has_perishable": kind == "perishable",
            "derived.has_digital": kind == "digital",
            "derived.digital_delivered": kind == "digital" and item.get("delivered") is True,
            "derived.item_count": item["quantity"],
        }
    types = set()
    count = 0
    digital_delivered = False
    for item in order["items"]:  # one pass: this runs for every decision
        kind = item["product_type"]
        types.add(kind)
        count += item["quantity"]
        if kind == "digital" and item.get("delivered") is True:
            digital_delivered = True
    return {
        "derived.has_custom_made": "custom_made" in types,
        "derived.has_pre_order": "pre_order" in types,
        "derived.has_perishable": "perishable" in types,
        "derived.has_digital": "digital" in types,
        "derived.digital_delivered": digital_delivered,
        "derived.item_count": count,
    }
