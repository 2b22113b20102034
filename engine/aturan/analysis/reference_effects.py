"""The reference interpreter's own reading of what a winning effect works out per order
(`analysis/reference.py`): when the outcome takes effect, whether there is a refund, its amount
(`full`/`paid`/`items_only` or an amount expression, read from its tree as written) and due
date (its own business-day count over the `holidays` package), what a request for part of the
order covers, and a return's resolution. Written out here, not taken from `runtime/plan.py`,
`language/amounts.py` or `runtime/businessdays.py`, which the differential test checks with
it."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from fractions import Fraction
from functools import cache
from math import ceil, floor
from typing import Any

import holidays

from ..runtime.compiler import CompiledRuleset
from ..runtime.decision import Decision, RefundDecision
from .raw import ABSENT, _moment, lookup, requested_units

# The `holidays` package categories each of a ruleset's `holidays` skips: written out here,
# not taken from `runtime.businessdays`, which this module checks.
_HOLIDAY_CATEGORIES = {"public": ("public",), "public_and_joint_leave": ("public", "government")}


@cache
def _skipped(year: int, country: str, kinds: str) -> frozenset[date]:
    if not country:
        return frozenset()
    supported = set(holidays.country_holidays(country).supported_categories)
    return frozenset(holidays.country_holidays(
        country, years=year, categories=[c for c in _HOLIDAY_CATEGORIES[kinds]
                                         if c in supported]))


def business_days_after(start: date, days: int, country: str, kinds: str) -> date:
    """The `days`-th Monday-to-Friday day after `start` that is none of the country's holidays
    of `kinds` (0: start, or the next such day)."""
    def off(day: date) -> bool:
        return day.weekday() >= 5 or day in _skipped(day.year, country, kinds)
    day = start
    if days == 0:
        while off(day):
            day += timedelta(days=1)
        return day
    while days:
        day += timedelta(days=1)
        if not off(day):
            days -= 1
    return day


def amount_of(tree: Any, facts: dict[str, Any]) -> int:
    """A refund amount expression read from its tree as written (docs/authoring.md): its own
    reading, not `language.amounts.evaluate`."""
    if isinstance(tree, int):
        return tree
    if isinstance(tree, str):
        value = lookup(facts, tree)
        assert isinstance(value, int), f"{tree} is not an amount of this order"
        return value
    if "percent" in tree:
        exact = Fraction(tree["percent"] * amount_of(tree["of"], facts), 100)
        rounding = tree.get("round", "down")
        if rounding == "down":
            return floor(exact)
        if rounding == "up":
            return ceil(exact)
        return floor(exact + Fraction(1, 2))  # half_up
    (op, args), = tree.items()
    values = [amount_of(arg, facts) for arg in args]
    if op == "add":
        return sum(values)
    if op == "sub":
        return values[0] - sum(values[1:])
    return min(values) if op == "min" else max(values)


def with_own_effects(decision: Decision, compiled: CompiledRuleset,
                      facts: dict[str, Any]) -> Decision:
    """The decision with the parts of the winning effect that depend on fact values worked out
    by this module: when it takes effect, whether there is a refund, its amount and due date."""
    winner = decision.explanation[0].rule if decision.explanation else "default"
    rule = next((r for r in compiled.rules if r.id == winner), None)
    effect = rule.then if rule is not None and winner != "default" else compiled.default
    effective = None
    if effect.effective_at is not None:
        text = lookup(facts, effect.effective_at.fact)
        effective = _moment(text) + timedelta(seconds=effect.effective_at.plus)
    refund = None
    spec = effect.refund
    paid = lookup(facts, "order.payment.paid_at") is not ABSENT
    # only when paid: `paid`, and an expression unless it says `paid_only: false`
    paid_only = spec is not None and (
        spec.amount == "paid" if spec.expression is None else spec.paid_only_flag)
    if spec is not None and (paid or not paid_only):
        amounts = facts["order"]["amounts"]
        tree = spec.amount_tree()
        if tree in ("full", "paid"):
            amount = amounts["total"]
        elif tree == "items_only":
            amount = max(0, amounts["total"] - amounts["shipping"])
        else:
            amount = amount_of(tree, facts)
        due = None
        if spec.max_business_days is not None:
            start = effective if effective is not None else _moment(
                facts.get("now") or facts["request"]["at"])
            platform = compiled.catalogue.platform(
                compiled.base.name if compiled.base is not None else compiled.ruleset.name)
            due = business_days_after(start.astimezone(platform.zone).date(),
                                      spec.max_business_days, platform.calendar,
                                      compiled.holidays).isoformat()
        refund = RefundDecision(amount, spec.destination, spec.min_business_days,
                                spec.max_business_days, due)
    covers: tuple[dict[str, Any], ...] = ()
    if facts["request"].get("items") is not None:
        covers = tuple({"sku": line["sku"], "quantity": units,
                        "amount": units * line["unit_price"]}
                       for line, units in requested_units(facts))
    settled = None  # how a return is resolved: the parts the rule says
    if effect.return_ is not None:
        settled = {key: value for key, value in (
            ("resolution", effect.return_.resolution),
            ("shipping_paid_by", effect.return_.shipping_paid_by)) if value is not None}
    return replace(decision, refund=refund, covers=covers, return_=settled,
                   effective_at=None if effective is None else effective.isoformat())


