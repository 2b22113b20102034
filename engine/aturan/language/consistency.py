"""How the facts of one order relate, defined once: the sums no JSON Schema can state.

A total that is not items + shipping - discount once gave a refund of Rp250.000 on a Rp190.000
order; now such facts are refused. Two readings share this module:

- facts validation (`runtime/facts.py`, so the CLI, HTTP, regression cases and the library) calls
  `consistent` on every order (a cheap yes/no) and, when it says no, `problems`, which names every
  violation with all the JSON pointers it involves;
- the static checks of refund amounts (`language/amounts.py`) and the analyses read `RELATIONS`,
  the linear relations between amount facts, as data.

`consistent(facts)` is exactly `not problems(facts)` (tests/language/test_consistency.py); the
first is written for speed because it runs for every decision.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from ..errors import Diagnostic, Location
from .display import rupiah
from .linear import Inequality, at_most, equal

ITEMS = "order.amounts.items"
SHIPPING = "order.amounts.shipping"
DISCOUNT = "order.amounts.discount"
TOTAL = "order.amounts.total"
SELLER_DISCOUNT = "order.amounts.seller_discount"
PLATFORM_DISCOUNT = "order.amounts.platform_discount"
REQUEST_AMOUNT = "derived.request.amount"
REQUEST_UNITS = "derived.request.item_count"
UNITS = "derived.item_count"
WHOLE_ORDER = "derived.request.whole_order"


@dataclass(frozen=True)
class Relation:
    """`left` op sum(sign * fact for fact, sign in right) + constant, whenever every fact named
    is present (and every (boolean fact, value) of `when` holds); op is "eq" or "le".
    `checked`: facts validation refuses an order that breaks it (otherwise it follows from
    what is checked, e.g. a derived fact, and is stated for the analyses)."""

    name: str
    left: str
    op: str
    right: tuple[tuple[str, int], ...]
    why: str
    checked: bool = True
    constant: int = 0
    when: tuple[tuple[str, bool], ...] = ()

    @property
    def facts(self) -> tuple[str, ...]:
        return (self.left,) + tuple(fact for fact, _ in self.right)

    def inequalities(self) -> list[Inequality]:
        """The relation for `language/linear`, over variables named by the fact paths."""
        terms: dict[str, int] = {self.left: 1}
        for fact, sign in self.right:
            terms[fact] = terms.get(fact, 0) - sign
        if self.op == "eq":
            return equal(terms, self.constant)
        return [at_most(terms, self.constant)]


RELATIONS: tuple[Relation, ...] = (
    Relation("total-adds-up", TOTAL, "eq", ((ITEMS, 1), (SHIPPING, 1), (DISCOUNT, -1)),
             "the total is items + shipping - discount"),
    Relation("discount-splits", DISCOUNT, "eq", ((SELLER_DISCOUNT, 1), (PLATFORM_DISCOUNT, 1)),
             "the seller-funded and platform-funded discounts add up to the discount"),
    Relation("seller-discount-within", SELLER_DISCOUNT, "le", ((DISCOUNT, 1),),
             "the seller-funded discount is part of the discount"),
    Relation("platform-discount-within", PLATFORM_DISCOUNT, "le", ((DISCOUNT, 1),),
             "the platform-funded discount is part of the discount"),
    # what a request covers (derived from request.items, checked below)
    Relation("requested-amount-within", REQUEST_AMOUNT, "le", ((ITEMS, 1),),
             "the requested units cost at most all the items", checked=False),
    Relation("requested-units-within", REQUEST_UNITS, "le", ((UNITS, 1),),
             "at most every unit is requested", checked=False),
    Relation("whole-order-amount", REQUEST_AMOUNT, "eq", ((ITEMS, 1),),
             "a request for the whole order covers all the items", checked=False,
             when=((WHOLE_ORDER, True),)),
    Relation("whole-order-units", REQUEST_UNITS, "eq", ((UNITS, 1),),
             "a request for the whole order covers every unit", checked=False,
             when=((WHOLE_ORDER, True),)),
    Relation("part-of-the-order", REQUEST_UNITS, "le", ((UNITS, 1),),
             "a request for part of the order leaves at least one unit", checked=False,
             constant=-1, when=((WHOLE_ORDER, False),)),
) + tuple(
    # the order has these product types and none is requested: a unit of each is left
    Relation("unrequested-types-keep-units", REQUEST_UNITS, "le", ((UNITS, 1),),
             f"{len(kinds)} product type(s) of the order not requested leave as many units",
             checked=False, constant=-len(kinds),
             when=tuple(pair for kind in kinds for pair in (
                 (f"derived.has_{kind}", True), (f"derived.request.any.{kind}", False))))
    for size in range(1, 5)
    for kinds in combinations(("custom_made", "pre_order", "perishable", "digital"), size))


def pointer(path: str) -> str:
    """The JSON pointer of a dotted fact path in the facts document."""
    return "/" + path.replace(".", "/")


def consistent(facts: dict[str, Any]) -> bool:
    """True when `problems(facts)` is empty; facts must already be schema-valid."""
    order = facts["order"]
    amounts = order["amounts"]
    items = amounts["items"]
    if amounts["total"] != items + amounts["shipping"] - amounts["discount"]:
        return False
    lines = order["items"]
    if len(lines) == 1:
        line = lines[0]
        if line["quantity"] * line["unit_price"] != items:
            return False
    elif sum(line["quantity"] * line["unit_price"] for line in lines) != items:
        return False
    if len(amounts) > 4 and not _split_ok(amounts):
        return False
    requested = facts["request"].get("items")
    return requested is None or not _request_problems(lines, requested)


def _split_ok(amounts: dict[str, Any]) -> bool:
    seller, platform = amounts.get("seller_discount"), amounts.get("platform_discount")
    discount = amounts["discount"]
    if seller is not None and platform is not None:
        return seller + platform == discount
    return (seller is None or seller <= discount) and (platform is None or platform <= discount)


def _value(facts: dict[str, Any], path: str) -> Any:
    node: Any = facts
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _terms(relation: Relation, values: dict[str, int]) -> tuple[str, str, int]:
    """(`a + b - c` with pointers, `Rp1 + Rp2 - Rp3`, the sum) of a relation's right side."""
    names, amounts, total = [], [], 0
    for k, (fact, sign) in enumerate(relation.right):
        op = ("-" if sign < 0 else "") if k == 0 else (" - " if sign < 0 else " + ")
        names.append(op + pointer(fact))
        amounts.append(op + rupiah(values[fact]))
        total += sign * values[fact]
    return "".join(names), "".join(amounts), total


def _linear_problems(facts: dict[str, Any]) -> Iterable[Diagnostic]:
    for relation in RELATIONS:
        if not relation.checked:
            continue
        values = {fact: _value(facts, fact) for fact in relation.facts}
        if any(value is None for value in values.values()):
            continue
        names, amounts, expected = _terms(relation, values)
        actual = values[relation.left]
        if (actual == expected) if relation.op == "eq" else (actual <= expected):
            continue
        verb = "is not" if relation.op == "eq" else "is more than"
        shown = amounts if len(relation.right) > 1 else ""
        yield Diagnostic(
            "facts-inconsistent",
            f"{pointer(relation.left)} ({rupiah(actual)}) {verb} {names} "
            f"({shown + ' = ' if shown else ''}{rupiah(expected)}): {relation.why}",
            Location(pointer=pointer(relation.left)),
            related=tuple(pointer(fact) for fact, _ in relation.right))


def _request_problems(lines: list[dict[str, Any]], requested: list[dict[str, Any]]
                      ) -> list[Diagnostic]:
    """request.items against the order's lines: each sku one of them (then unique), each
    quantity at most what was ordered."""
    found: list[Diagnostic] = []
    where: dict[str, int] = {}
    for j, line in enumerate(lines):
        if line["sku"] in where:
            found.append(Diagnostic(
                "facts-inconsistent", f"/order/items/{j}/sku ({line['sku']}) is also "
                f"/order/items/{where[line['sku']]}/sku: request.items names lines by sku, so "
                "they must be unique", Location(pointer=f"/order/items/{j}/sku"),
                related=(f"/order/items/{where[line['sku']]}/sku", "/request/items")))
        where.setdefault(line["sku"], j)
    asked: dict[str, int] = {}
    first: dict[str, int] = {}
    for i, item in enumerate(requested):
        sku = item["sku"]
        if sku not in where:
            found.append(Diagnostic(
                "facts-inconsistent", f"/request/items/{i}/sku ({sku}) is no sku of "
                "/order/items", Location(pointer=f"/request/items/{i}/sku"),
                related=("/order/items",)))
            continue
        asked[sku] = asked.get(sku, 0) + item["quantity"]
        first.setdefault(sku, i)
    for sku, quantity in asked.items():
        j = where[sku]
        ordered = lines[j]["quantity"]
        if quantity > ordered:
            i = first[sku]
            found.append(Diagnostic(
                "facts-inconsistent", f"/request/items/{i}/quantity asks for {quantity} of "
                f"{sku}, more than /order/items/{j}/quantity ({ordered}) ordered",
                Location(pointer=f"/request/items/{i}/quantity"),
                related=(f"/order/items/{j}/quantity",)))
    return found


def problems(facts: dict[str, Any]) -> list[Diagnostic]:
    """Every relation the (schema-valid) facts break, each naming all the JSON pointers it
    involves: the amounts against each other, the items against `order.amounts.items`, the
    requested items against the order's lines."""
    found = list(_linear_problems(facts))
    requested = facts["request"].get("items")
    if requested is not None:
        found += _request_problems(facts["order"]["items"], requested)
    order = facts["order"]
    lines = order["items"]
    subtotal = sum(line["quantity"] * line["unit_price"] for line in lines)
    items = order["amounts"]["items"]
    if subtotal != items:
        shown = " + ".join(f"{line['quantity']} x {rupiah(line['unit_price'])}"
                           for line in lines[:5]) + (" + ..." if len(lines) > 5 else "")
        found.append(Diagnostic(
            "facts-inconsistent",
            f"/order/amounts/items ({rupiah(items)}) is not the sum of quantity x unit_price "
            f"over /order/items ({shown} = {rupiah(subtotal)})",
            Location(pointer="/order/amounts/items"), related=("/order/items",)))
    return found
