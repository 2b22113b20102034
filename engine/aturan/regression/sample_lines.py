"""What `aturan sample` draws for one order beyond its timeline: the random choices that honour
forced values (`Draw`), the order lines, the amounts (that add up, with the discount split
between seller and platform when the rules read it) and a request for part of the order. The
plan and the timeline are in `regression/sample.py`."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from ..language.model import Atom

TYPE_WEIGHTS = {"regular": 70, "custom_made": 8, "pre_order": 8, "digital": 7, "perishable": 7}
SPLIT = ("order.amounts.seller_discount", "order.amounts.platform_discount")


@dataclass(frozen=True)
class Edge:
    """A value to straddle: `fact` at `target` (a duration in seconds for timestamps, an
    integer for amounts; with `of`, the seconds from `of` to `fact`), with the sibling atoms of
    the rule it came from."""

    fact: str
    target: int
    context: tuple[Atom, ...] = ()
    of: str | None = None


class Draw:
    """One order's random choices, honouring forced values (sweep, edge context)."""

    def __init__(self, rng: random.Random, force: dict[str, Any]):
        self.rng, self.force = rng, force

    def pick(self, path: str, weights: dict[str, int] | tuple[str, ...]) -> Any:
        if path in self.force:
            return self.force[path]
        if isinstance(weights, dict):
            return self.rng.choices(list(weights), list(weights.values()))[0]
        return self.rng.choice(weights)

    def chance(self, path: str, p: float) -> bool:
        return bool(self.force[path]) if path in self.force else self.rng.random() < p

    def span(self, low: int, high: int) -> int:
        """Seconds, log-uniform between low and high: most gaps short, some long."""
        return int(math.exp(self.rng.uniform(math.log(low), math.log(high))))


def draw_items(draw: Draw) -> list[dict[str, Any]]:
    rng, force = draw.rng, draw.force
    types = [draw.pick("product_type", TYPE_WEIGHTS)]
    types += [rng.choices(list(TYPE_WEIGHTS), list(TYPE_WEIGHTS.values()))[0]
              for _ in range(rng.choice((0, 0, 0, 1, 1, 2)))]
    for key, wanted in force.items():
        if key.startswith("has:"):
            kind = key[4:]
            types = [t for t in types if t != kind] or ["regular"]
            if wanted:
                types.append(kind)
    items = []
    for n, kind in enumerate(types):
        item: dict[str, Any] = {"sku": f"{kind[:3].upper()}-{rng.randint(100, 999)}-{n}",
                                "product_type": kind, "quantity": rng.choice((1, 1, 1, 2, 3)),
                                "unit_price": draw.span(50, 20000) * 100}
        if kind == "digital":
            item["delivered"] = draw.chance("digital_delivered", 0.5)
        items.append(item)
    return items


def draw_request_items(rng: random.Random, items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """request.items: none (the whole order), every unit listed, or part of the order."""
    roll = rng.random()
    units = sum(item["quantity"] for item in items)
    if roll < 0.4 or (units < 2 and roll < 0.9):
        return None
    if roll < 0.5 or units < 2:
        return [{"sku": i["sku"], "quantity": i["quantity"]} for i in items]
    chosen = [i for i in items if rng.random() < 0.6] or [rng.choice(items)]
    asked = [{"sku": i["sku"], "quantity": rng.randint(1, i["quantity"])} for i in chosen]
    if sum(a["quantity"] for a in asked) == units:  # every unit: leave one out
        if asked[0]["quantity"] > 1:
            asked[0]["quantity"] -= 1
        else:
            asked.pop(0)
    return asked


def draw_amounts(rng: random.Random, items: list[dict[str, Any]], edge: Edge | None,
             split: bool = False) -> dict[str, int]:
    if edge is not None and edge.fact == "derived.item_count":
        items[:] = items[:1]
        items[0]["quantity"] = max(1, edge.target)
    if edge is not None and edge.fact in ("order.amounts.items", "order.amounts.total"):
        items[:] = items[:1]
        items[0]["quantity"], items[0]["unit_price"] = 1, edge.target
    subtotal = sum(i["quantity"] * i["unit_price"] for i in items)
    shipping = rng.choice((0, 0, 9000, 12000, 15000, 20000, 25000))
    discount = 0 if rng.random() < 0.6 else min(subtotal, rng.randrange(0, 50001, 500))
    if edge is not None:
        if edge.fact == "order.amounts.total":
            shipping = discount = 0
        elif edge.fact == "order.amounts.shipping":
            shipping = edge.target
        elif edge.fact == "order.amounts.discount":
            discount = min(edge.target, subtotal + shipping)
        elif edge.fact in SPLIT:
            discount = min(max(discount, edge.target), subtotal + shipping)
    found = {"items": subtotal, "shipping": shipping, "discount": discount,
             "total": subtotal + shipping - discount}
    if split and (discount or rng.random() < 0.3):  # who funds the discount, in one of 3 ways
        part = min(edge.target, discount) if edge is not None and edge.fact in SPLIT else (
            rng.randint(0, discount))
        way = rng.choice(("both", "seller", "platform"))
        if edge is not None and edge.fact in SPLIT:
            way = "seller" if edge.fact == SPLIT[0] else "platform"
        if way in ("both", "seller"):
            found["seller_discount"] = part
        if way in ("both", "platform"):
            found["platform_discount"] = discount - part if way == "both" else part
    return found


