"""Schema-valid order facts for property tests, around every duration the loaded rulesets use.

One generator, `build_facts(draw, target, thresholds)`, is written against a tiny `Draw`
interface, so the same code is driven by hypothesis (`facts_for`, which shrinks a failure to a
small example) and by a seeded `random.Random` (`RandomDraw`, ~10x cheaper per example, for the
fixed-seed run of tens of thousands of examples in the normal suite).

What "schema-valid and consistent" means here: every enum value of the facts schema can appear
(read from `facts.catalogue()`, so a new enum value is covered without editing this file); nulls
appear wherever the schema allows them; timestamps that exist follow the order status (an unpaid
order has no `paid_at`, a shipped one has `shipped_at`, …) except in a small share of orders left
deliberately inconsistent; amounts add up (total = items + shipping - discount). Every timestamp
is placed relative to `now`: on a duration threshold of the rulesets, within ±1 ns, ±1 µs, ±1 s
or ±1 min of it, or anywhere within a few days; payment deadlines likewise around `now`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any, Protocol, TypeVar

from hypothesis import strategies as st

from aturan.language.catalogue import catalogue
from aturan.language.model import (
    TIME_OPS,
    AnyOf,
    Atom,
    Condition,
    Not,
    Rule,
    RulesetVersion,
    atoms_of,
)
from aturan.resources import load_schema
from aturan.runtime.compiler import merge
from aturan.runtime.evaluate import Policies

T = TypeVar("T")
NS = 1_000_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Offsets around a threshold: on it, and just either side at every resolution that could matter.
NUDGES_NS = (0, 1, -1, 1_000, -1_000, NS, -NS, 60 * NS, -60 * NS, NS // 2, -NS // 2)
OFFSETS = ("+07:00", "+08:00", "+09:00", "Z", "z", "+00:00", "-05:00", "+05:45", "-00:30")
OPEN_ENDED = timedelta(days=3 * 365)  # how far past effective_from to place an open-ended window


class Draw(Protocol):
    def choice(self, options: Sequence[T]) -> T: ...

    def integer(self, low: int, high: int) -> int: ...

    def chance(self, percent: int) -> bool: ...


class RandomDraw:
    """`Draw` over a seeded `random.Random`: reproducible, cheap, no shrinking."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.rng.randrange(len(options))]

    def integer(self, low: int, high: int) -> int:
        return self.rng.randint(low, high)

    def chance(self, percent: int) -> bool:
        return self.rng.randrange(100) < percent


class HypothesisDraw:
    """`Draw` over hypothesis' `draw`, so failures shrink toward the first option / low ints."""

    def __init__(self, draw: Callable[[st.SearchStrategy[Any]], Any]):
        self.draw = draw

    def choice(self, options: Sequence[T]) -> T:
        return self.draw(st.sampled_from(options))

    def integer(self, low: int, high: int) -> int:
        return self.draw(st.integers(low, high))

    def chance(self, percent: int) -> bool:
        return self.draw(st.integers(0, 99)) < percent


@dataclass(frozen=True)
class Target:
    """One ruleset version to pin, with facts that select it: platform, seller policy, and the
    window of `request.at` in which it (and, for an overlay, its base) is in force."""

    pin: str
    platform: str
    policy: str | None
    start: datetime
    end: datetime  # exclusive
    rules: tuple[Rule, ...] = ()  # the effective rules, which the generator aims at


def _window(rs: RulesetVersion) -> tuple[datetime, datetime]:
    return rs.effective_from, rs.effective_until or rs.effective_from + OPEN_ENDED


def targets(policies: Policies) -> list[Target]:
    """Every loaded version whose facts can select it; an overlay once per admissible base."""
    platforms = set(catalogue()["order.platform"].enum)
    found: list[Target] = []
    collection = policies.collection
    for rs in collection.versions:
        if not rs.is_overlay:
            if rs.name in platforms:
                found.append(Target(rs.key, rs.name, None, *_window(rs), merge(rs, None)))
            continue
        for base in collection.bases_for(rs):
            (a, b), (c, d) = _window(rs), _window(base)
            start, end = max(a, c), min(b, d)
            if start < end and base.name in platforms:
                found.append(Target(rs.key, base.name, rs.name, start, end, merge(rs, base)))
    return found


def thresholds(policies: Policies) -> tuple[int, ...]:
    """Every duration (seconds) any loaded rule compares a timestamp with, plus 0 (= now)."""
    found = {0}
    for rs in policies.collection.versions:
        for rule in rs.rules:
            found.update(a.value for a in atoms_of(rule.when) if a.op in TIME_OPS)
    return tuple(sorted(found))


def _enum(path: str) -> tuple[Any, ...]:
    return catalogue()[path].enum


def rfc3339(instant_ns: int, draw: Draw) -> str:
    """Format an instant exactly, in a drawn offset and fraction style."""
    offset = draw.choice(OFFSETS)
    shift = 0 if offset in ("Z", "z") else (int(offset[1:3]) * 60 + int(offset[4:6])) * 60 * (
        -1 if offset[0] == "-" else 1)
    seconds, fraction = divmod(instant_ns, NS)
    local = EPOCH + timedelta(seconds=seconds + shift)
    digits = draw.choice((0, 3, 6, 9)) if fraction == 0 else 9
    if fraction % 1_000_000 == 0 and fraction:
        digits = draw.choice((3, 6, 9))
    text = local.strftime("%Y-%m-%d") + draw.choice("TTTTt ") + local.strftime("%H:%M:%S")
    if digits:
        text += "." + f"{fraction:09d}"[:digits]
    return text + offset


def near(draw: Draw, now: int, limits: Sequence[int]) -> int:
    """An instant on, just around, or loosely around `now - threshold` for some threshold."""
    limit = draw.choice(limits) * NS
    kind = draw.integer(0, 9)
    if kind < 7:
        return now - limit - draw.choice(NUDGES_NS)
    if kind < 9:
        return now - limit - draw.integer(-3 * 86400, 3 * 86400) * NS
    return now + draw.integer(1, 10 * 86400) * NS  # in the future


def _maybe(draw: Draw, present: bool, make: Callable[[], Any]) -> Any:
    return make() if present else None


def build_facts(draw: Draw, target: Target, limits: Sequence[int]) -> dict[str, Any]:
    """One schema-valid order + request that selects `target` (pin it to evaluate). Most orders
    are aimed at a rule of the target: its conditions are made (nearly) true, and sometimes one
    of them just false, so every rule fires and misses by a hair, not only the likely ones."""
    goals: list[Atom] = []
    if target.rules and draw.chance(60):
        goals = plan(draw, draw.choice(target.rules).when)
        if goals and draw.chance(30):
            miss = draw.integer(0, len(goals) - 1)
            goals[miss] = plan(draw, Not(goals[miss]))[0]
    span = int((target.end - target.start).total_seconds())
    edge = draw.integer(0, 3)
    if edge == 0:
        offset = draw.integer(0, 3)  # right at the start of the window
    elif edge == 1:
        offset = span - 1 - draw.integer(0, 3)  # right before its end
    else:
        offset = draw.integer(0, span - 1)
    start_ns = int((target.start - EPOCH).total_seconds()) * NS
    request_at = start_ns + offset * NS
    on_request = [g for g in goals if g.fact == "request.at" and g.op in TIME_OPS]
    now_given = draw.chance(75) or bool(on_request)
    if now_given:
        limit = on_request[0].value if on_request else draw.choice(limits)
        step = limit * NS + draw.choice(NUDGES_NS)
        now = request_at + (step if draw.chance(85) else -abs(step))
    else:
        now = request_at

    def stamp() -> str:
        return rfc3339(near(draw, now, limits), draw)

    status = draw.choice(_enum("order.status"))
    method = draw.choice(_enum("order.payment.method"))
    loose = draw.chance(8)  # a deliberately inconsistent order: any nullable may be null or set
    after_delivery = status in ("delivered", "completed", "returned")
    after_shipping = after_delivery or status == "shipped"
    paid = status != "unpaid" and (method != "cod" or after_delivery)

    def present(consistent: bool) -> bool:
        return draw.chance(50) if loose else consistent

    items = []
    for index in range(draw.integer(1, 3)):
        kind = draw.choice(("regular",) + _item_types())
        item: dict[str, Any] = {"sku": f"SKU-{index}", "product_type": kind,
                                "quantity": draw.integer(1, 3),
                                "unit_price": draw.choice((0, 1_000, 15_000, 150_000, 999_999))}
        if kind == "digital" and draw.chance(70):
            item["delivered"] = draw.chance(50)
        items.append(item)
    item_sum = sum(i["quantity"] * i["unit_price"] for i in items)
    shipping = draw.choice((0, 9_000, 12_000, 12_345, 9_005))  # 10% of the last: rounded
    discount = draw.choice((0, 0, 5_000, item_sum + shipping))
    discount = min(discount, item_sum + shipping)

    fulfillment: dict[str, Any] = {
        "ship_by": _maybe(draw, draw.chance(85), stamp),
        "shipped_at": _maybe(draw, present(after_shipping), stamp),
        "delivered_at": _maybe(draw, present(after_delivery), stamp),
    }
    collection = draw.integer(0, 2)  # the key left out, null, or set once packing began
    if collection:
        fulfillment["awaiting_collection_at"] = _maybe(
            draw, collection == 2 and present(status == "to_ship" or after_shipping), stamp)
    if draw.chance(40):
        fulfillment["production_started"] = draw.chance(50)

    response = None
    if draw.chance(50):
        response = {"decision": draw.choice(_enum("request.seller_response.decision")),
                    "at": stamp()}
        if draw.chance(60):
            response["reason"] = draw.choice(_enum("request.seller_response.reason"))

    facts: dict[str, Any] = {
        "order": {
            "id": f"GEN-{draw.integer(0, 10**6)}",
            "platform": target.platform,
            "placed_at": stamp(),
            "status": status,
            "payment": {
                "method": method,
                "paid_at": _maybe(draw, present(paid), stamp),
                "deadline_at": _maybe(draw, present(status == "unpaid" or draw.chance(20)), stamp),
            },
            "amounts": {"items": item_sum, "shipping": shipping, "discount": discount,
                        "total": item_sum + shipping - discount, **_split(draw, discount)},
            "items": items,
            "seller": {"id": "S-1", "policy": target.policy},
            "fulfillment": fulfillment,
        },
        "request": {
            "type": draw.choice(_enum("request.type")),
            "by": draw.choice(_enum("request.by")),
            "reason": draw.choice(_enum("request.reason")),
            "at": rfc3339(request_at, draw),
        },
    }
    if draw.chance(80):
        facts["request"]["seller_response"] = response
    for path in ("request.resolution", "request.item_condition", "request.return_method"):
        if draw.chance(40):  # a return's facts (language v2), on any request
            facts["request"][path.split(".", 1)[1]] = draw.choice(_enum(path))
    if draw.chance(30):
        facts["request"]["return_shipping_fee"] = draw.choice((0, 9_000, 15_500))
    if draw.chance(25):  # a request for some units of some lines
        chosen = [i for i in items if draw.chance(60)] or [items[0]]
        facts["request"]["items"] = [{"sku": i["sku"], "quantity": draw.integer(1, i["quantity"])}
                                     for i in chosen]
    if now_given:
        facts["now"] = rfc3339(now, draw)
    for goal in goals:
        aim(draw, facts, goal, now)
    settle_amounts(facts, {g.fact for g in goals})
    return facts


_AMOUNT_PATHS = ("items", "shipping", "discount", "total")


def _split(draw: Draw, discount: int) -> dict[str, int]:
    """Sometimes who funds the discount: seller and platform parts, or one of them."""
    if not draw.chance(35):
        return {}
    part = draw.integer(0, discount)
    way = draw.choice(("both", "seller", "platform"))
    if way == "both":
        return {"seller_discount": part, "platform_discount": discount - part}
    return {f"{way}_discount": part}


def settle_amounts(facts: dict[str, Any], aimed: set[str]) -> None:
    """Make the amounts add up again after goals set some of them (facts validation refuses
    orders whose sums do not hold, language/consistency.py): the values a goal set stay, the
    others follow, and the order lines are re-priced to sum to `items`."""
    order = facts["order"]
    amounts = order["amounts"]
    seller, platform = amounts.get("seller_discount"), amounts.get("platform_discount")
    if seller is not None and platform is not None:  # the parts make the discount
        amounts["discount"] = seller + platform
        aimed = aimed | {"order.amounts.discount"}
    elif seller is not None or platform is not None:
        amounts["discount"] = max(amounts["discount"], seller or platform or 0)
    fixed = {k for k in _AMOUNT_PATHS if f"order.amounts.{k}" in aimed}
    lines = order["items"]
    if "items" not in fixed:
        amounts["items"] = sum(i["quantity"] * i["unit_price"] for i in lines)
    if "total" in fixed:  # shipping and discount absorb the difference, unless goals set them
        gap = amounts["total"] - (amounts["items"] + amounts["shipping"] - amounts["discount"])
        if gap > 0 and "shipping" not in fixed:
            amounts["shipping"] += gap
        elif gap < 0 and "discount" not in fixed:
            amounts["discount"] -= gap
        elif gap and "items" not in fixed:
            amounts["items"] = max(0, amounts["items"] + gap)
        gap = amounts["total"] - (amounts["items"] + amounts["shipping"] - amounts["discount"])
        if gap:  # every other amount was set too: the total gives way
            amounts["total"] -= gap
    else:
        if amounts["discount"] > amounts["items"] + amounts["shipping"]:  # shipping makes up
            amounts["shipping"] = amounts["discount"] - amounts["items"]
        amounts["total"] = amounts["items"] + amounts["shipping"] - amounts["discount"]
    if amounts["items"] != sum(i["quantity"] * i["unit_price"] for i in lines):
        # one unit carries the whole amount; the units and product types stay as they were
        single = next((line for line in lines if line["quantity"] == 1), None)
        if single is None:
            lines[0]["quantity"] -= 1
            single = {**lines[0], "sku": f"SPLIT-{len(lines)}", "quantity": 1}
            lines.append(single)
        for line in lines:
            line["unit_price"] = 0
        single["unit_price"] = amounts["items"]
    seller, platform = amounts.get("seller_discount"), amounts.get("platform_discount")
    if seller is not None and platform is not None and seller + platform != amounts["discount"]:
        amounts["seller_discount"] = min(seller, amounts["discount"])
        amounts["platform_discount"] = amounts["discount"] - amounts["seller_discount"]
    for key in ("seller_discount", "platform_discount"):
        if key in amounts and (seller is None or platform is None):
            amounts[key] = min(amounts[key], amounts["discount"])


_NEGATED = {"eq": "ne", "ne": "eq", "in": "not_in", "not_in": "in", "lt": "ge", "ge": "lt",
            "le": "gt", "gt": "le", "exists": "absent", "absent": "exists",
            "older_than": "within", "within": "older_than"}


def plan(draw: Draw, condition: Condition, negate: bool = False) -> list[Atom]:
    """Atoms which, all true, make `condition` (or its negation) true: one branch of each `any`."""
    if isinstance(condition, Atom):
        if not negate:
            return [condition]
        return [Atom(condition.fact, _NEGATED[condition.op], condition.value, of=condition.of)]
    if isinstance(condition, Not):
        return plan(draw, condition.child, not negate)
    children = list(condition.children)
    if isinstance(condition, AnyOf) != negate:  # an `any`, or a negated `all`: one branch
        children = [draw.choice(children)] if children else []
    return [atom for child in children for atom in plan(draw, child, negate)]


_FIXED = {"order.platform", "order.seller.policy", "request.at"}  # they select the target
_DERIVED_TYPES = {"derived.has_custom_made": "custom_made", "derived.has_pre_order": "pre_order",
                  "derived.has_perishable": "perishable", "derived.has_digital": "digital"}
# How a fact is made absent: null it, drop its key, or null the object that holds it.
_ABSENT_BY = {"order.payment.paid_at": "null", "order.payment.deadline_at": "null",
              "order.fulfillment.ship_by": "null", "order.fulfillment.shipped_at": "null",
              "order.fulfillment.delivered_at": "null",
              "order.fulfillment.awaiting_collection_at": "null",
              "request.seller_response.decision": "parent", "request.seller_response.at": "parent",
              "request.seller_response.reason": "drop",
              "order.amounts.seller_discount": "drop", "order.amounts.platform_discount": "drop",
              "request.resolution": "drop", "request.item_condition": "drop",
              "request.return_method": "drop", "request.return_shipping_fee": "drop"}


def _other(draw: Draw, path: str, excluded: Sequence[Any]) -> Any:
    field = catalogue()[path]
    if field.kind == "boolean":
        options: tuple[Any, ...] = (True, False)
    elif field.kind == "integer":
        options = tuple(v + 1 for v in excluded if isinstance(v, int)) or (0,)
    elif field.enum:
        options = field.enum
    else:
        options = tuple(f"{v}-other" for v in excluded) or ("other",)
    left = [v for v in options if v not in excluded]
    return draw.choice(left) if left else None


def aim(draw: Draw, facts: dict[str, Any], goal: Atom, now: int) -> None:
    """Change `facts` so that `goal` holds (time goals land on their threshold, ± a nudge)."""
    path, op, value = goal.fact, goal.op, goal.value
    field = catalogue().get(path)
    if goal.of is not None:
        _aim_between(draw, facts, goal, now)
        return
    if field is None or path in _FIXED:
        return
    if path.startswith("derived."):
        _aim_derived(draw, facts, goal)
        return
    if op == "absent" or (op in ("ne", "not_in") and draw.chance(20)):
        how = _ABSENT_BY.get(path)
        parent, key = _holder(facts, path)
        if how == "null":
            parent[key] = None
        elif how == "drop":
            parent.pop(key, None)
        elif how == "parent":
            facts["request"]["seller_response"] = None
        return
    if field.kind == "timestamp":
        if op in TIME_OPS:
            target = now - value * NS - draw.choice(NUDGES_NS)
        elif op == "exists":
            target = near(draw, now, (0,))
        else:
            return
        parent, key = _holder(facts, path)
        parent[key] = rfc3339(target, draw)
        return
    if op == "eq":
        chosen = value
    elif op == "in":
        chosen = draw.choice(value)
    elif op == "ne":
        chosen = _other(draw, path, (value,))
    elif op == "not_in":
        chosen = _other(draw, path, value)
    elif op in ("lt", "le", "gt", "ge"):
        step = {"lt": -1, "le": 0, "gt": 1, "ge": 0}[op] + draw.choice((0, 0, -1, 1))
        chosen = max(0, value + step)
    elif op == "exists":
        chosen = _other(draw, path, ())
    else:
        return
    if chosen is None:
        return
    parent, key = _holder(facts, path)
    parent[key] = chosen


def _instant(text: str) -> int:
    from aturan.analysis.reference import instant_ns
    return instant_ns(text)


def _aim_between(draw: Draw, facts: dict[str, Any], goal: Atom, now: int) -> None:
    """Both timestamps present, the fact `value` (± a nudge) after `of`; the one that selects
    the target (request.at) stays and the other moves."""
    assert goal.of is not None
    step = goal.value * NS + draw.choice(NUDGES_NS)
    later, earlier = goal.fact, goal.of
    if later in _FIXED:  # move `of` instead: of = fact - step
        holder, key = _holder(facts, earlier)
        holder[key] = rfc3339(_instant(facts["request"]["at"]) - step, draw)
        return
    holder, key = _holder(facts, earlier)
    if holder.get(key) is None:
        holder[key] = rfc3339(near(draw, now, (0,)), draw)
    base = _instant(holder[key])
    holder, key = _holder(facts, later)
    holder[key] = rfc3339(base + step, draw)


def _holder(facts: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    """The dict that holds `path`'s key (a seller response is created when needed)."""
    *parents, key = path.split(".")
    if parents == ["request", "seller_response"] and not facts["request"].get("seller_response"):
        facts["request"]["seller_response"] = {"decision": "approve",
                                               "at": facts["request"]["at"]}
    node = facts
    for part in parents:
        node = node[part]
    return node, key


def _aim_derived(draw: Draw, facts: dict[str, Any], goal: Atom) -> None:
    items = facts["order"]["items"]
    if goal.op not in ("eq", "ne") or not isinstance(goal.value, bool):
        return
    wanted = goal.value if goal.op == "eq" else not goal.value
    if goal.fact in _DERIVED_TYPES:
        kind = _DERIVED_TYPES[goal.fact]
        if wanted:
            items.append({"sku": f"AIM-{len(items)}", "product_type": kind, "quantity": 1,
                          "unit_price": 0})
        else:
            for item in items:
                if item["product_type"] == kind:
                    item["product_type"] = "regular"
                    item.pop("delivered", None)
    elif goal.fact == "derived.digital_delivered":
        if wanted:
            items.append({"sku": f"AIM-{len(items)}", "product_type": "digital", "quantity": 1,
                          "unit_price": 0, "delivered": True})
        else:
            for item in items:
                if item["product_type"] == "digital":
                    item["delivered"] = False
    elif goal.fact.startswith("derived.request."):
        _aim_request(draw, facts, goal.fact[len("derived.request."):], wanted)


def _aim_request(draw: Draw, facts: dict[str, Any], name: str, wanted: bool) -> None:
    """request.items made to give derived.request.<name> the wanted truth value."""
    items = facts["order"]["items"]
    request = facts["request"]
    if name == "whole_order":
        if wanted:
            request.pop("items", None)
            return
        if sum(i["quantity"] for i in items) < 2:
            items.append({"sku": f"AIM-{len(items)}", "product_type": "regular", "quantity": 1,
                          "unit_price": 0})
        keep = items[:-1] if len(items) > 1 else []
        request["items"] = [{"sku": i["sku"], "quantity": i["quantity"]} for i in keep] or [
            {"sku": items[0]["sku"], "quantity": items[0]["quantity"] - 1}]
        return
    family, _, kind = name.partition(".")
    asked = request.get("items") or [{"sku": i["sku"], "quantity": i["quantity"]} for i in items]
    by_sku = {i["sku"]: i for i in items}
    if wanted:
        line = next((i for i in items if i["product_type"] == kind), None)
        if line is None:
            line = {"sku": f"AIM-{len(items)}", "product_type": kind, "quantity": 1,
                    "unit_price": 0}
            if kind == "digital":
                line["delivered"] = draw.chance(50)
            items.append(line)
        mine = {"sku": line["sku"], "quantity": 1}
        asked = [mine] if family == "all" else [a for a in asked if a["sku"] != line["sku"]] + [
            mine]
    else:
        others = [a for a in asked if by_sku.get(a["sku"], {}).get("product_type") != kind]
        if family == "any" or not others:
            if not others:
                extra = {"sku": f"AIM-{len(items)}", "product_type": "regular" if kind != "regular"
                         else "custom_made", "quantity": 1, "unit_price": 0}
                items.append(extra)
                others = [{"sku": extra["sku"], "quantity": 1}]
            asked = others if family == "any" else asked + others
        else:
            asked = asked + others[:1] if others[0] not in asked else asked
    request["items"] = asked


@cache
def _item_types() -> tuple[str, ...]:
    """Item product types from the facts schema (the catalogue holds no array fields)."""
    item = load_schema("facts")["properties"]["order"]["properties"]["items"]["items"]
    return tuple(item["properties"]["product_type"]["enum"])


@st.composite
def facts_for(draw: Callable[[st.SearchStrategy[Any]], Any], choices: Sequence[Target],
              limits: Sequence[int]) -> tuple[Target, dict[str, Any]]:
    """Hypothesis strategy: (target, facts) over the given targets and thresholds."""
    source = HypothesisDraw(draw)
    target = source.choice(choices)
    return target, build_facts(source, target, limits)
