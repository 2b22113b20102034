"""A fixed-seed corpus of plausible orders for whatever rulesets are loaded.

The benchmark needs the same orders on every run and every machine, spread over the platforms,
versions, statuses, payment methods, requests and time offsets the rulesets test, so every rule
fires somewhere. `aturan.regression.sample` is the project's generator and is used when present; the
generator here was the stand-in before it landed and stays as the fallback.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any

from aturan.language.catalogue import catalogue
from aturan.resources import load_schema
from aturan.runtime.evaluate import Policies

WIB = timezone(timedelta(hours=7))
HORIZON = timedelta(days=540)  # how far past effective_from an open-ended version is sampled


def _ts(moment: datetime) -> str:
    return moment.astimezone(WIB).isoformat(timespec="seconds")


def _enum(path: str) -> tuple[Any, ...]:
    return catalogue()[path].enum


def _items(rng: random.Random) -> tuple[list[dict[str, Any]], int]:
    kinds = load_schema("facts")["properties"]["order"]["properties"]["items"]["items"][
        "properties"]["product_type"]["enum"]
    items, total = [], 0
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        kind = rng.choices(kinds, weights=[8] + [1] * (len(kinds) - 1))[0]
        price = rng.choice((15000, 49000, 89000, 150000, 325000, 1250000))
        qty = rng.choice((1, 1, 2, 3))
        item: dict[str, Any] = {"sku": f"SKU-{rng.randrange(1000)}", "product_type": kind,
                                "quantity": qty, "unit_price": price}
        if kind == "digital":
            item["delivered"] = rng.random() < 0.5
        items.append(item)
        total += price * qty
    return items, total


def order(rng: random.Random, number: int, platform: str, at: datetime,
          policy: str | None = None) -> dict[str, Any]:
    """One order on `platform` with a request at `at`; times are drawn around the request."""
    status = rng.choice(_enum("order.status"))
    method = rng.choice(_enum("order.payment.method"))
    placed = at - timedelta(seconds=rng.randrange(60, 12 * 86400))
    unpaid = status == "unpaid"
    paid_at = None if unpaid or method == "cod" else placed + timedelta(minutes=rng.randrange(1, 90))
    deadline = placed + timedelta(hours=rng.choice((1, 2, 24, 48))) if unpaid else None
    ship_by = placed + timedelta(days=rng.choice((1, 2, 3, 5)), hours=rng.randrange(24))
    shipped = delivered = None
    if status in ("shipped", "delivered", "completed", "returned"):
        shipped = placed + timedelta(hours=rng.randrange(2, 96))
    if status in ("delivered", "completed", "returned"):
        delivered = (shipped or placed) + timedelta(hours=rng.randrange(12, 120))
    items, item_total = _items(rng)
    shipping = rng.choice((0, 9000, 12000, 20000))
    discount = rng.choice((0, 0, 5000, min(item_total, 25000)))
    fulfillment: dict[str, Any] = {"ship_by": _ts(ship_by), "shipped_at": _ts(shipped) if shipped else None,
                                   "delivered_at": _ts(delivered) if delivered else None}
    if rng.random() < 0.3:
        fulfillment["production_started"] = rng.random() < 0.5
    if rng.random() < 0.3 and status in ("to_ship", "shipped", "delivered"):
        fulfillment["awaiting_collection_at"] = _ts(placed + timedelta(hours=rng.randrange(1, 48)))
    response = None
    if rng.random() < 0.35:
        response = {"decision": rng.choice(("approve", "reject")),
                    "at": _ts(at + timedelta(minutes=rng.randrange(1, 2880)))}
        if response["decision"] == "reject" and rng.random() < 0.5:
            response["reason"] = rng.choice(_enum("request.seller_response.reason"))
    facts: dict[str, Any] = {
        "order": {
            "id": f"{platform[:2].upper()}-{number:07d}", "platform": platform,
            "placed_at": _ts(placed), "status": status,
            "payment": {"method": method, "paid_at": _ts(paid_at) if paid_at else None,
                        "deadline_at": _ts(deadline) if deadline else None},
            "amounts": {"items": item_total, "shipping": shipping, "discount": discount,
                        "total": item_total + shipping - discount},
            "items": items,
            "seller": {"id": f"S-{rng.randrange(500)}", "policy": policy},
            "fulfillment": fulfillment,
        },
        "request": {"type": rng.choices(("cancel", "return_refund"), weights=(3, 1))[0],
                    "by": rng.choices(("buyer", "seller", "system"), weights=(6, 3, 1))[0],
                    "reason": rng.choice(_enum("request.reason")), "at": _ts(at),
                    "seller_response": response},
    }
    if rng.random() < 0.25:
        facts["now"] = _ts(at + timedelta(seconds=rng.randrange(1, 5 * 86400)))
    return facts


def _targets(policies: Policies) -> list[tuple[str, str | None, datetime, datetime]]:
    """(platform, overlay name or None, from, until) for every loaded version."""
    found = []
    for rs in policies.collection.versions:
        until = rs.effective_until or rs.effective_from + HORIZON
        platform = rs.extends.split("@", 1)[0] if rs.extends else rs.name
        found.append((platform, rs.name if rs.extends else None, rs.effective_from, until))
    return found


def generate(policies: Policies, count: int, seed: int = 7) -> list[dict[str, Any]]:
    """`count` valid orders that `policies` can decide, the same ones for the same seed."""
    rng = random.Random(seed)
    targets = _targets(policies)
    orders: list[dict[str, Any]] = []
    number = 0
    while len(orders) < count:
        platform, overlay, start, until = rng.choice(targets)
        span = int((until - start).total_seconds()) - 1
        at = start + timedelta(seconds=rng.randrange(max(span, 1)))
        number += 1
        facts = order(rng, number, platform, at, overlay)
        try:
            policies.decide(facts)
        except Exception:  # an overlay whose base is not in force then; draw again
            continue
        orders.append(facts)
    return orders


def corpus(policies: Policies, count: int, seed: int = 7) -> tuple[list[dict[str, Any]], str]:
    """The benchmark corpus and where it came from: `aturan.regression.sample` (every platform, equal
    shares, interleaved) when it is there, else this module's generator."""
    try:
        from aturan.regression import sample
        names = [name for name, group in policies.collection.by_name.items()
                 if not any(rs.is_overlay for rs in group)]
        share = -(-count // len(names))
        streams = [list(sample.generate(sample.plan_for(policies.collection, name), share, seed))
                   for name in names]
    except (ImportError, AttributeError, TypeError):  # no aturan.regression.sample, or another interface
        return generate(policies, count, seed), f"benchmarks/corpus.py (seed {seed})"
    mixed = [order for group in zip(*streams) for order in group][:count]
    return mixed, f"aturan.regression.sample, {len(names)} platforms (seed {seed})"
