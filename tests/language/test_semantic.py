"""The cheap disjointness test behind the equal-priority check: sound (never wrongly claims two
conditions exclude each other), and good enough for the usual ways rules are split."""

import itertools

import pytest

from aturan.language.model import AllOf, Atom, Not
from aturan.language.semantic import obviously_disjoint
from aturan.runtime.explain import satisfied
from aturan.runtime.facts import flatten_facts
from conftest import make_facts


def atom(fact, op, value=True):
    return Atom(fact, op, tuple(value) if isinstance(value, list) else value)


DISJOINT = [
    (atom("order.status", "eq", "paid"), atom("order.status", "in", ["unpaid", "shipped"])),
    (atom("request.at", "within", 172800), atom("request.at", "older_than", 172800)),
    (atom("order.status", "in", ["paid"]), Not(atom("order.status", "in", ["paid", "to_ship"]))),
    (atom("order.payment.paid_at", "exists"), atom("order.payment.paid_at", "absent")),
    (atom("order.payment.paid_at", "absent"), Not(atom("order.payment.paid_at", "absent"))),
    (atom("order.amounts.total", "lt", 100), atom("order.amounts.total", "ge", 100)),
    (atom("derived.has_digital", "eq", True), atom("derived.has_digital", "eq", False)),
    # exact per pair of atoms (the operator table's cuts): a list against an order
    (atom("order.amounts.total", "in", [99, 100]), atom("order.amounts.total", "gt", 100)),
]
OVERLAPPING = [
    (atom("order.status", "eq", "paid"), atom("order.status", "in", ["paid", "to_ship"])),
    (Not(atom("order.status", "eq", "paid")), Not(atom("order.status", "eq", "unpaid"))),
    (atom("request.at", "within", 172800), atom("request.at", "older_than", 3600)),
    (Not(atom("order.payment.paid_at", "exists")), Not(atom("order.payment.paid_at", "older_than", 60))),
    (atom("order.amounts.total", "le", 100), atom("order.amounts.total", "ge", 100)),
    (atom("order.amounts.total", "in", [99, 101]), atom("order.amounts.total", "gt", 100)),
]


@pytest.mark.parametrize("a, b", DISJOINT)
def test_disjoint_pairs(a, b):
    assert obviously_disjoint(AllOf((a,)), AllOf((b,)))
    assert obviously_disjoint(AllOf((b,)), AllOf((a,)))


@pytest.mark.parametrize("a, b", OVERLAPPING)
def test_overlapping_pairs_are_not_called_disjoint(a, b):
    assert not obviously_disjoint(AllOf((a,)), AllOf((b,)))
    assert not obviously_disjoint(AllOf((b,)), AllOf((a,)))


def test_soundness_on_concrete_orders():
    """Whenever the check says disjoint, no order among many satisfies both."""
    orders = []
    for status, paid, total, now in itertools.product(
            ["unpaid", "paid", "to_ship", "shipped"], [None, "2024-03-01T10:05:00+07:00"],
            [99, 100, 101], ["2024-03-01T12:00:00+07:00", "2024-03-02T12:30:00+07:00",
                             "2024-03-03T12:00:00+07:00", "2024-03-05T12:00:00+07:00"]):
        orders.append(flatten_facts(make_facts({
            "order": {"status": status, "payment": {"paid_at": paid},
                      "amounts": {"items": total, "shipping": 0, "total": total},
                      "items": [{"sku": "KAOS-M", "product_type": "regular", "quantity": 1,
                                 "unit_price": total}]},
            "request": {"at": "2024-03-01T12:00:00+07:00"}, "now": now})))
    for a, b in DISJOINT:
        for flat in orders:
            assert not (satisfied(a, flat) and satisfied(b, flat))
