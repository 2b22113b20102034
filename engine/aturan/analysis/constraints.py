"""The constraints between order fields that the facts schema states in words (statuses and the
timestamps they imply, events in time order, one platform per ruleset), as data the box
analysis (`symbolic`) and the z3 encoding (`solver`) both read, so that analysis never reports
an order that cannot exist."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

from ..language.model import Atom

# ---------------------------------------------------------------------------------------------
# The constraints between fields. Each is stated by the facts schema's descriptions; keep the
# list small, explicit and documented (docs/analysis.md repeats it).

@dataclass(frozen=True)
class Forbid:
    """No order has all of these atoms true at once."""

    name: str
    why: str
    atoms: tuple[Atom, ...]


@dataclass(frozen=True)
class Before:
    """When both timestamps are present, `earlier` is not after `later`:
    age(earlier) >= age(later)."""

    name: str
    why: str
    earlier: str
    later: str


Constraint = Forbid | Before

_STATUS = "order.status"
_PAID_AT = "order.payment.paid_at"
_SHIPPED_AT = "order.fulfillment.shipped_at"
_DELIVERED_AT = "order.fulfillment.delivered_at"
_AWAITING = "order.fulfillment.awaiting_collection_at"
_PLACED = "order.placed_at"
_SR = "request.seller_response"
FLAGS = ("derived.has_custom_made", "derived.has_pre_order", "derived.has_perishable",
         "derived.has_digital")
# Events that have happened by `now`. Not the seller's answer: callers often evaluate at
# request.at (`now` omitted) while sending the answer that came later (the bundled cases do).
EVENTS = (_PLACED, _PAID_AT, _AWAITING, _SHIPPED_AT, _DELIVERED_AT, "request.at")


def _a(fact: str, op: str, value: Any = True) -> Atom:
    return Atom(fact, op, tuple(value) if isinstance(value, list) else value)


def _forbids() -> list[Forbid]:
    not_digital = _a("derived.has_digital", "eq", False)
    found = [
        Forbid("unpaid-has-no-paid-at", "payment.paid_at is null when unpaid",
               (_a(_STATUS, "eq", "unpaid"), _a(_PAID_AT, "exists"))),
        Forbid("cod-has-no-paid-at", "payment.paid_at is null for cash on delivery",
               (_a("order.payment.method", "eq", "cod"), _a(_PAID_AT, "exists"))),
        Forbid("paid-has-paid-at", "a paid, non-COD order has payment.paid_at",
               (_a(_STATUS, "in", ["paid", "to_ship", "shipped", "delivered", "completed"]),
                _a("order.payment.method", "ne", "cod"), _a(_PAID_AT, "absent"))),
        Forbid("not-awaiting-before-arranged", "awaiting_collection_at is null until the seller "
               "arranges shipment (status to_ship)",
               (_a(_STATUS, "in", ["unpaid", "paid"]), _a(_AWAITING, "exists"))),
        Forbid("not-shipped-before-shipping", "shipped_at is null until status shipped",
               (_a(_STATUS, "in", ["unpaid", "paid", "to_ship"]), _a(_SHIPPED_AT, "exists"))),
        Forbid("shipped-has-shipped-at", "a shipped/delivered/completed order with physical "
               "items has shipped_at", (_a(_STATUS, "in", ["shipped", "delivered", "completed"]),
                                        _a(_SHIPPED_AT, "absent"), not_digital)),
        Forbid("not-delivered-before-delivery", "delivered_at is null until status delivered",
               (_a(_STATUS, "in", ["unpaid", "paid", "to_ship", "shipped"]),
                _a(_DELIVERED_AT, "exists"))),
        Forbid("delivered-has-delivered-at", "a delivered order with physical items has "
               "delivered_at", (_a(_STATUS, "eq", "delivered"), _a(_DELIVERED_AT, "absent"),
                                not_digital)),
        Forbid("delivery-needs-shipping", "delivered_at needs shipped_at",
               (_a(_DELIVERED_AT, "exists"), _a(_SHIPPED_AT, "absent"))),
        Forbid("seller-response-decision-has-time", "seller_response has decision and at "
               "together", (_a(f"{_SR}.decision", "exists"), _a(f"{_SR}.at", "absent"))),
        Forbid("seller-response-time-has-decision", "seller_response has decision and at "
               "together", (_a(f"{_SR}.decision", "absent"), _a(f"{_SR}.at", "exists"))),
        Forbid("seller-reason-is-for-rejection", "seller_response.reason is a rejection's reason",
               (_a(f"{_SR}.reason", "exists"), _a(f"{_SR}.decision", "absent"))),
        Forbid("seller-reason-not-with-approval", "seller_response.reason is a rejection's reason",
               (_a(f"{_SR}.reason", "exists"), _a(f"{_SR}.decision", "eq", "approve"))),
        Forbid("digital-delivered-needs-digital", "derived.digital_delivered needs a digital item",
               (_a("derived.digital_delivered", "eq", True), not_digital)),
    ]
    for size in range(2, len(FLAGS) + 1):
        for flags in combinations(FLAGS, size):
            found.append(Forbid("items-cover-flags", f"{size} product types need at least {size} "
                                "units (derived.item_count)",
                                tuple(_a(f, "eq", True) for f in flags)
                                + (_a("derived.item_count", "lt", size),)))
    found += [Forbid("events-not-in-future", f"{path} happened by `now`",
                     (_a(path, "within", 0),)) for path in EVENTS]
    return found


def _befores() -> list[Before]:
    chain = [(_PLACED, p) for p in (_PAID_AT, _AWAITING, _SHIPPED_AT, _DELIVERED_AT, "request.at",
                                    "order.payment.deadline_at", "order.fulfillment.ship_by")]
    chain += [(_PAID_AT, _AWAITING), (_PAID_AT, _SHIPPED_AT), (_PAID_AT, _DELIVERED_AT),
              (_AWAITING, _SHIPPED_AT), (_AWAITING, _DELIVERED_AT),
              (_SHIPPED_AT, _DELIVERED_AT), ("request.at", f"{_SR}.at")]
    return [Before(f"{e.rsplit('.', 1)[-1]}-before-{l.rsplit('.', 1)[-1]}",
                   f"{e} is not after {l}", e, l) for e, l in chain]


CONSTRAINTS: tuple[Constraint, ...] = tuple(_forbids()) + tuple(_befores())


def platform_constraint(platform: str) -> Forbid:
    return Forbid("platform-of-ruleset", f"a {platform} ruleset decides {platform} orders",
                  (_a("order.platform", "ne", platform),))
