"""The constraints between fields of an order, which the facts schema states in words (or
validation checks), so that analysis never reports an order that cannot exist: combinations
no order has (`Forbid`) and timestamps in order (`Before`). Kept small, explicit and
documented (docs/analysis.md repeats them); the sums between amounts are
`language/consistency.RELATIONS`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from ..language.model import Atom


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



# Product types with a derived.has_<type> fact (regular has none: an order's regular lines are
# no fact of their own).
HAS_FLAG = ("custom_made", "pre_order", "perishable", "digital")


def request_constraints(product_types: Iterable[str]) -> list[Forbid]:
    """What a request (derived.request.*) can be beside the order it is about; added to a
    space only when its rules read derived.request.* (`Space.for_rules`)."""
    types = list(product_types)
    any_, all_ = "derived.request.any.", "derived.request.all."
    whole = _a("derived.request.whole_order", "eq", True)
    found = [Forbid("request-has-a-type", "a requested line has a product type",
                    tuple(_a(any_ + t, "eq", False) for t in types))]
    for t in types:
        found.append(Forbid("all-requested-are-requested", f"all.{t} needs any.{t}",
                            (_a(all_ + t, "eq", True), _a(any_ + t, "eq", False))))
        found += [Forbid("all-requested-one-type", f"all.{t} excludes any.{u}",
                         (_a(all_ + t, "eq", True), _a(any_ + u, "eq", True)))
                  for u in types if u != t]
        if t in HAS_FLAG:
            has = f"derived.has_{t}"
            found.append(Forbid("requested-in-the-order", f"any.{t} needs {has}",
                                (_a(any_ + t, "eq", True), _a(has, "eq", False))))
            found.append(Forbid("whole-order-requests-every-type", f"the whole order requests "
                                f"its {t} lines", (whole, _a(has, "eq", True),
                                                   _a(any_ + t, "eq", False))))
    flagged = [t for t in types if t in HAS_FLAG]
    found.append(Forbid("whole-order-of-regular-lines", "a whole order without flagged product "
                        "types is regular lines, which the request covers",
                        (whole, *(_a(f"derived.has_{t}", "eq", False) for t in flagged))
                        + tuple(_a(any_ + t, "eq", False) for t in types if t not in HAS_FLAG)))
    for t in types:
        found.append(Forbid("one-requested-type-is-all", f"requested lines all of {t} are "
                            f"all.{t}", (_a(any_ + t, "eq", True), _a(all_ + t, "eq", False),
                                         *(_a(any_ + u, "eq", False) for u in types if u != t))))
    for size in range(2, len(types) + 1):
        for kinds in combinations(types, size):
            found.append(Forbid("requested-units-cover-types", f"{size} requested product "
                                f"types need at least {size} requested units",
                                tuple(_a(any_ + t, "eq", True) for t in kinds)
                                + (_a("derived.request.item_count", "lt", size),)))
    return found
