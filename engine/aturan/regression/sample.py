"""A corpus of realistic, schema-valid order facts for one platform, to measure what a policy
change changes (`aturan diff`). Reproducible: order i depends only on (seed, i), so the same seed
gives the same bytes and a longer corpus starts with the shorter one.

The corpus is shaped by the platform's loaded rulesets, not by a copy of them: request dates are
spread over every version's effective range (and straddle each version boundary), and every
duration an `older_than`/`within` atom uses is straddled (47h59m and 48h01m around `48h`), with
the rule's other simple conditions made true half the time so the edge is actually reached.
Integer comparisons on amounts and item counts are straddled the same way (v-1, v, v+1).
The first orders sweep every enum value and every edge; the rest are drawn at random.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import Diagnostic, Location, SelectionError
from ..language.amounts import facts_of as amount_facts
from ..language.catalogue import Catalogue, FactField, bundled_catalogue
from ..language.model import TIME_OPS, AllOf, Atom, Condition, Rule, atoms_of
from ..language.repository import RulesetCollection
from ..suggest import did_you_mean
from .sample_lines import (
    SPLIT,
    TYPE_WEIGHTS,
    Draw,
    Edge,
    draw_amounts,
    draw_items,
    draw_request_items,
)
from .timeline import fix_age, fix_between, push_back

_FAR = datetime(9999, 1, 1, tzinfo=timezone.utc)
DELTAS = (-60, -1, 0, 1, 60)  # seconds around each duration threshold
STATUS_WEIGHTS = {"unpaid": 12, "paid": 16, "to_ship": 22, "shipped": 14, "delivered": 12,
                  "completed": 10, "cancelled": 7, "returned": 7}
METHOD_WEIGHTS = {"cod": 18, "ewallet": 28, "bank_transfer": 8, "virtual_account": 16,
                  "credit_card": 6, "retail_outlet": 6, "paylater": 10, "platform_balance": 8}
REASONS_BY = {"buyer": ("changed_mind", "found_cheaper", "wrong_item", "shipping_delay",
                        "address_issue", "other"),
              "seller": ("out_of_stock", "cannot_ship", "address_issue", "other"),
              "system": ("payment_timeout", "shipping_delay", "other")}
RETURN_REASONS = ("not_as_described", "damaged", "wrong_item", "other")
# drawn when the rules read a return's facts (language v2)
RETURN_FACTS = ("request.resolution", "request.item_condition", "request.return_method")
RETURN_REASONS_V2 = RETURN_REASONS + ("defective", "missing_parts", "not_received", "changed_mind")
SHIPPED = ("shipped", "delivered", "completed", "returned")
DELIVERED = ("delivered", "completed", "returned")
OFFSETS = ((timezone(timedelta(hours=7)), 85), (timezone(timedelta(hours=8)), 10),
           (timezone(timedelta(hours=9)), 5))
INT_PATHS = ("order.amounts.items", "order.amounts.shipping", "order.amounts.discount",
             "order.amounts.total", "derived.item_count", "order.amounts.seller_discount",
             "order.amounts.platform_discount")

# which timestamps a status has, so an edge on a fact picks an order that has it
EVENT_STATUSES = {
    "order.payment.paid_at": tuple(s for s in STATUS_WEIGHTS if s != "unpaid"),
    "order.payment.deadline_at": ("unpaid",),
    "order.fulfillment.ship_by": tuple(s for s in STATUS_WEIGHTS if s != "unpaid"),
    "order.fulfillment.awaiting_collection_at": ("to_ship",) + SHIPPED,
    "order.fulfillment.shipped_at": SHIPPED,
    "order.fulfillment.delivered_at": DELIVERED,
}
CHAIN = ("order.placed_at", "order.payment.paid_at", "order.fulfillment.awaiting_collection_at",
         "order.fulfillment.shipped_at", "order.fulfillment.delivered_at", "request.at",
         "request.seller_response.at")


@dataclass(frozen=True)
class SamplePlan:
    platform: str
    windows: tuple[tuple[datetime, datetime], ...]  # one effective range per version
    boundaries: tuple[datetime, ...]
    edges: tuple[Edge, ...]  # every duration/amount edge, each delta applied
    overlays: tuple[tuple[str, datetime, datetime], ...]  # a name and when it can decide
    sweep: tuple[dict[str, Any], ...]  # forced choices for the first orders
    catalogue: Catalogue = field(default_factory=bundled_catalogue)  # the folder's
    # the rules read the split of the discount (language v2): draw seller/platform parts
    split: bool = False
    # the rules read derived.request.*: draw requests for part of the order (request.items)
    requests: bool = False
    # the rules read a return's facts: draw them for return requests
    returns: bool = False


def _siblings(condition: Condition) -> list[tuple[Atom, tuple[Atom, ...]]]:
    """(atom, the plain atoms beside it in its top-level `all`) for every atom."""
    if isinstance(condition, AllOf):
        plain = tuple(c for c in condition.children if isinstance(c, Atom))
        out = []
        for child in condition.children:
            for atom in atoms_of(child):
                out.append((atom, tuple(a for a in plain if a is not atom)))
        return out
    return [(atom, ()) for atom in atoms_of(condition)]


def plan_for(collection: RulesetCollection, platform: str) -> SamplePlan:
    """Read dates, duration thresholds and amount bounds from every version of `platform`
    and of the seller overlays that extend it."""
    versions = [rs for rs in collection.by_name.get(platform, ()) if not rs.is_overlay]
    if not versions:
        names = [name for name, group in collection.by_name.items()
                 if not any(rs.is_overlay for rs in group)]
        raise SelectionError(Diagnostic("unknown-ruleset", f'no platform ruleset named '
                                        f'"{platform}" is loaded (loaded: {", ".join(names)})',
                                        Location(), hint=did_you_mean(platform, names)))
    overlays = [rs for rs in collection.versions
                if rs.is_overlay and rs.extends and rs.extends.split("@")[0] == platform]
    windows = tuple((rs.effective_from, rs.effective_until or rs.effective_from
                     + timedelta(days=365)) for rs in versions)
    boundaries = sorted({d for rs in versions for d in (rs.effective_from, rs.effective_until)
                         if d is not None})
    edges: dict[tuple[str, str | None, int], Edge] = {}
    catalogue = collection.catalogue
    fields = catalogue.fields
    for rs in versions + overlays:
        for rule in rs.rules:
            for atom, context in _siblings(rule.when):
                for target in _targets(atom, fields):
                    edges.setdefault((atom.fact, atom.of, target),
                                     Edge(atom.fact, target, context, atom.of))
    sweep: list[dict[str, Any]] = []
    for path in ("order.status", "order.payment.method", "request.type", "request.by",
                 "request.reason", "request.seller_response.decision",
                 "request.seller_response.reason"):
        sweep += [{path: value} for value in fields[path].enum]
    sweep += [{"product_type": t} for t in product_types(catalogue)]
    read = {f for rs in versions + overlays for rule in rs.rules for f in _facts_read(rule)}
    returns = bool(read & (set(RETURN_FACTS) | {"request.return_shipping_fee"}))
    if returns:
        sweep += [{path: value} for path in RETURN_FACTS for value in fields[path].enum]
    sweep += [{f.path: value} for f in fields.values() if f.extension
              for value in _extension_values(f)]
    sweep += [{"edge": edge, "context": True} for edge in edges.values()]
    sweep += [{"boundary": b, "delta": d} for b in boundaries for d in (-60, 60)]
    live = tuple((rs.name, max(rs.effective_from, base.effective_from), min(
        rs.effective_until or _FAR, base.effective_until or _FAR)) for rs in overlays
        for base in collection.bases_for(rs))
    return SamplePlan(platform, windows, tuple(boundaries), tuple(edges.values()),
                      tuple(span for span in live if span[1] < span[2]), tuple(sweep),
                      catalogue, bool(read & set(SPLIT)),
                      any(f.startswith("derived.request.") for f in read), returns)


def _facts_read(rule: Rule) -> set[str]:
    """The facts a rule's condition and refund amount read."""
    found = {f for atom in atoms_of(rule.when) for f in atom.facts}
    refund = rule.then.refund
    if refund is not None and refund.expression is not None:
        found.update(amount_facts(refund.expression))
    return found


def _targets(atom: Atom, fields: Mapping[str, FactField] | None = None) -> list[int]:
    if atom.of is not None and isinstance(atom.value, int):  # a duration between two facts
        ordered = atom.fact in CHAIN and atom.of in CHAIN and (
            CHAIN.index(atom.of) < CHAIN.index(atom.fact))
        return [atom.value + d for d in DELTAS if atom.value + d >= 0 or not ordered]
    if atom.op in TIME_OPS and isinstance(atom.value, int):
        return [atom.value + d for d in DELTAS if atom.value + d >= 0 or atom.fact not in CHAIN]
    extra = fields is not None and atom.fact in fields and fields[atom.fact].extension and (
        fields[atom.fact].kind == "integer")
    if (atom.fact in INT_PATHS or extra) and isinstance(atom.value, int) and not isinstance(
            atom.value, bool):
        return [v for v in (atom.value - 1, atom.value, atom.value + 1) if v >= 0]
    return []


def product_types(catalogue: Catalogue | None = None) -> tuple[str, ...]:
    schema = (catalogue or bundled_catalogue()).facts_schema
    item = schema["properties"]["order"]["properties"]["items"]["items"]
    return tuple(item["properties"]["product_type"]["enum"])


def _extension_values(f: FactField) -> tuple[Any, ...]:
    """The values the sweep tries for a project's own fact (each enum value, both booleans)."""
    if f.kind == "enum":
        return f.enum
    return (False, True) if f.kind == "boolean" else ()


def _context_force(rng: random.Random, atoms: tuple[Atom, ...],
                   fields: Mapping[str, FactField]) -> dict[str, Any]:
    """Values that make a rule's plain sibling atoms true, for the facts the sampler draws."""
    force: dict[str, Any] = {}
    for atom in atoms:
        field = fields.get(atom.fact)
        if atom.fact.startswith("derived.has_") and atom.op == "eq":
            force[f"has:{atom.fact[len('derived.has_'):]}"] = atom.value
        elif atom.fact == "derived.digital_delivered" and atom.op == "eq":
            force["has:digital"], force["digital_delivered"] = True, atom.value
        elif atom.op in ("exists", "absent"):
            force[f"present:{atom.fact}"] = atom.op == "exists"
        elif field is not None and field.enum:
            allowed = {"eq": [atom.value], "in": list(atom.value or ()),
                       "ne": [v for v in field.enum if v != atom.value],
                       "not_in": [v for v in field.enum if v not in (atom.value or ())]
                       }.get(atom.op, [])
            if allowed:
                force[atom.fact] = rng.choice(allowed)
        elif field is not None and field.kind == "boolean" and atom.op in ("eq", "ne"):
            force[atom.fact] = atom.value if atom.op == "eq" else not atom.value
    if "request.seller_response.decision" in force or "request.seller_response.reason" in force:
        force.setdefault("present:request.seller_response.decision", True)
    return force


def order(plan: SamplePlan, seed: int, index: int) -> dict[str, Any]:
    """Order `index` of the corpus for `seed` (deterministic)."""
    rng = random.Random(f"aturan-sample:{seed}:{index}")
    force: dict[str, Any] = dict(plan.sweep[index]) if index < len(plan.sweep) else {}
    roll = rng.random()
    if not force and plan.edges and roll < 0.35:
        force = {"edge": rng.choice(plan.edges), "context": rng.random() < 0.5}
    elif not force and plan.boundaries and roll < 0.38:
        force = {"boundary": rng.choice(plan.boundaries), "delta": rng.choice((-60, 60))}
    edge: Edge | None = force.get("edge")
    if edge is not None and force.get("context"):
        force.update(_context_force(rng, edge.context, plan.catalogue.fields))
    between = None  # a duration between two timestamps: both present, the gap on the edge
    if edge is not None and edge.of is not None:
        between, edge = edge, None
        for path in (between.fact, between.of):
            if path in EVENT_STATUSES:
                allowed = [s for s in force.get("between:statuses", STATUS_WEIGHTS)
                           if s in EVENT_STATUSES[path]]
                force["between:statuses"] = allowed or list(EVENT_STATUSES[path])
            if path == "request.seller_response.at":
                force["present:request.seller_response.decision"] = True
        if "between:statuses" in force and "order.status" not in force:
            force["order.status"] = rng.choice(force["between:statuses"])
    if edge is not None and edge.fact in EVENT_STATUSES and "order.status" not in force:
        force["order.status"] = rng.choice(EVENT_STATUSES[edge.fact])
    if edge is not None and edge.fact == "request.seller_response.at":
        force["present:request.seller_response.decision"] = True
    if "request.seller_response.reason" in force:
        force.setdefault("request.seller_response.decision", "reject")
        force["present:request.seller_response.reason"] = True
    if "request.seller_response.decision" in force:
        force["present:request.seller_response.decision"] = True
    if force.get("present:request.seller_response.decision"):
        force["request.by"] = "buyer"
    facts = _build(plan, index, Draw(rng, force), edge, between)
    if plan.catalogue.extensions:
        _add_extensions(plan, seed, index, force, edge, facts)
    return facts


def _build(plan: SamplePlan, index: int, draw: Draw, edge: Edge | None,
           between: Edge | None = None) -> dict[str, Any]:
    rng, force = draw.rng, draw.force
    status = draw.pick("order.status", _statuses(force))
    methods = {m: w for m, w in METHOD_WEIGHTS.items() if status != "unpaid" or m != "cod"}
    if force.get("present:order.payment.paid_at") and status != "unpaid":
        methods.pop("cod", None)
    if edge is not None and edge.fact in ("order.payment.paid_at", "order.payment.deadline_at"):
        methods.pop("cod", None)
    method = draw.pick("order.payment.method", methods)
    cod = method == "cod"
    shipped = status in SHIPPED
    pre_ship = status in ("unpaid", "paid", "to_ship", "cancelled")
    coherent = rng.random() < 0.9
    rtype = draw.pick("request.type", ("cancel",) if pre_ship and coherent else (
        ("return_refund",) if status in DELIVERED and coherent else ("cancel", "return_refund")))
    by = draw.pick("request.by", {"buyer": 75, "seller": 15, "system": 10})
    reasons = ((RETURN_REASONS_V2 if plan.returns else RETURN_REASONS) if rtype == "return_refund"
               else REASONS_BY[by]) if coherent else plan.catalogue.fields["request.reason"].enum
    reason = draw.pick("request.reason", reasons)
    answered = by == "buyer" and draw.chance("present:request.seller_response.decision",
                                             0.55 if status in ("paid", "to_ship") else 0.1)
    paid = not cod and status != "unpaid" and (status != "cancelled" or rng.random() < 0.5
                                               or bool(edge and edge.fact.endswith("paid_at")))
    can_await = status == "to_ship" or shipped
    awaiting = can_await and draw.chance("present:order.fulfillment.awaiting_collection_at",
                                         0.5 if status == "to_ship" else 0.8)
    if edge is not None and edge.fact == "order.fulfillment.awaiting_collection_at":
        awaiting = can_await

    # the timeline, as chronological gaps in seconds; ages are measured back from `now`
    gaps: dict[str, int] = {"order.placed_at": 0}
    if paid:
        gaps["order.payment.paid_at"] = draw.span(30, 20 * 3600)
    if awaiting:
        gaps["order.fulfillment.awaiting_collection_at"] = draw.span(600, 36 * 3600)
    if shipped:
        gaps["order.fulfillment.shipped_at"] = draw.span(1800, 3 * 86400)
    if status in DELIVERED:
        gaps["order.fulfillment.delivered_at"] = draw.span(12 * 3600, 6 * 86400)
    gaps["request.at"] = draw.span(60, (7 if status in DELIVERED else 3) * 86400)
    if answered:
        gaps["request.seller_response.at"] = draw.span(300, 3 * 86400)
    explicit_now = answered or rng.random() < 0.4
    gaps["now"] = draw.span(60, 4 * 86400) if explicit_now else 0
    if answered:
        gaps["now"] = rng.choice((0, draw.span(60, 86400)))
    events = list(gaps)
    if edge is not None and edge.fact in gaps and edge.fact in CHAIN:
        fix_age(gaps, events, edge.fact, edge.target)
        explicit_now = explicit_now or gaps["now"] > 0 or edge.fact == "request.at"
    if between is not None and between.fact in gaps and between.of in gaps:
        fix_between(gaps, events, between.of, between.fact, between.target)
    ages = {e: sum(gaps[x] for x in events[i + 1:]) for i, e in enumerate(events)}

    if "boundary" in force:  # just before and after a version change, never outside them all
        request_at = force["boundary"] + timedelta(seconds=force["delta"])
        if not any(start <= request_at < end for start, end in plan.windows):
            request_at = force["boundary"] - timedelta(seconds=force["delta"])
    else:
        start, end = rng.choice(plan.windows)
        request_at = start + timedelta(seconds=rng.randrange(int((end - start).total_seconds())))
    tz = rng.choices([o for o, _ in OFFSETS], [w for _, w in OFFSETS])[0]
    now = request_at + timedelta(seconds=ages["request.at"])

    def moment(age: int) -> str:
        return (now - timedelta(seconds=age)).astimezone(tz).isoformat(timespec="seconds")

    # off-chain deadlines: anchored on placement (payment) or payment (shipping)
    deadline_age = ship_by_age = None
    if status == "unpaid" or (status == "cancelled" and not paid and not cod):
        window = rng.choice((3600, 2 * 3600, 86400, 2 * 86400))
        deadline_age = ages["order.placed_at"] - window
        if edge is not None and edge.fact == "order.payment.deadline_at":
            deadline_age = edge.target
            ages["order.placed_at"] = max(ages["order.placed_at"], edge.target + 600)
    if status != "unpaid":
        anchor = "order.payment.paid_at" if paid else "order.placed_at"
        ship_by_age = ages[anchor] - rng.choice((1, 2, 3)) * 86400
        if edge is not None and edge.fact == "order.fulfillment.ship_by":
            ship_by_age = edge.target
            push_back(ages, events, anchor, edge.target + 3600)
    if between is not None:  # a deadline against an event: placed relative to the event
        if between.fact == "order.fulfillment.ship_by" and between.of in ages:
            ship_by_age = ages[between.of] - between.target
        elif between.of == "order.fulfillment.ship_by" and between.fact in ages:
            ship_by_age = ages[between.fact] + between.target
        if ship_by_age is not None and status != "unpaid":
            push_back(ages, events, "order.placed_at", ship_by_age)

    items = draw_items(draw)
    if plan.requests and rng.random() < 0.4:  # a mixed order, for a request for part of it
        kind = rng.choices(list(TYPE_WEIGHTS), list(TYPE_WEIGHTS.values()))[0]
        items.append({"sku": f"{kind[:3].upper()}-X{len(items)}", "product_type": kind,
                      "quantity": rng.choice((1, 2, 3)),
                      "unit_price": draw.span(50, 20000) * 100})
        if kind == "digital":
            items[-1]["delivered"] = rng.random() < 0.5
    amounts = draw_amounts(rng, items, edge, plan.split)
    response = None
    if answered:
        decision = draw.pick("request.seller_response.decision", ("approve", "reject"))
        response = {"decision": decision, "at": moment(ages["request.seller_response.at"])}
        if decision == "reject" and draw.chance("present:request.seller_response.reason", 0.8):
            response["reason"] = draw.pick("request.seller_response.reason", plan.catalogue.fields[
                "request.seller_response.reason"].enum)
    fulfillment: dict[str, Any] = {
        "ship_by": None if ship_by_age is None else moment(ship_by_age),
        "shipped_at": moment(ages["order.fulfillment.shipped_at"]) if shipped else None,
        "delivered_at": (moment(ages["order.fulfillment.delivered_at"])
                         if status in DELIVERED else None)}
    if awaiting:
        fulfillment["awaiting_collection_at"] = moment(
            ages["order.fulfillment.awaiting_collection_at"])
    elif rng.random() < 0.5:
        fulfillment["awaiting_collection_at"] = None
    if any(i["product_type"] == "custom_made" for i in items) or (
            "order.fulfillment.production_started" in force):
        fulfillment["production_started"] = draw.chance("order.fulfillment.production_started",
                                                         0.5)
    facts: dict[str, Any] = {
        "order": {
            "id": f"{plan.catalogue.platform(plan.platform).id_prefix or 'OR'}-{index + 1:08d}",
            "platform": plan.platform,
            "placed_at": moment(ages["order.placed_at"]),
            "status": status,
            "payment": {"method": method,
                        "paid_at": moment(ages["order.payment.paid_at"]) if paid else None,
                        "deadline_at": None if deadline_age is None else moment(deadline_age)},
            "amounts": amounts,
            "items": items,
            "seller": {"id": f"S-{rng.randint(1, 5000)}", "policy": _overlay(plan, rng, request_at)},
            "fulfillment": fulfillment,
        },
        "request": {"type": rtype, "by": by, "reason": reason,
                    "at": moment(ages["request.at"]), "seller_response": response},
    }
    if plan.requests:
        asked = draw_request_items(rng, items)
        if asked is not None:
            facts["request"]["items"] = asked
    if plan.returns and (rtype == "return_refund" or any(p in draw.force for p in RETURN_FACTS)):
        for path in RETURN_FACTS:  # each told about a return request, or not
            if path in draw.force or rng.random() < 0.8:
                facts["request"][path.split(".", 1)[1]] = draw.pick(
                    path, plan.catalogue.fields[path].enum)
        if rng.random() < 0.6:
            facts["request"]["return_shipping_fee"] = rng.choice((0, 9000, 12000, 15500))
    if explicit_now:
        facts["now"] = moment(0)
    return facts


def _statuses(force: dict[str, Any]) -> dict[str, int]:
    """Status weights narrowed to what forced presence or absence of timestamps allows."""
    keep = dict(STATUS_WEIGHTS)
    if force.get("order.payment.method") == "cod":
        keep.pop("unpaid")
    for fact, having in (("order.fulfillment.shipped_at", SHIPPED),
                         ("order.fulfillment.delivered_at", DELIVERED),
                         ("order.fulfillment.awaiting_collection_at", ("to_ship",) + SHIPPED),
                         ("order.payment.paid_at", tuple(s for s in keep if s != "unpaid"))):
        wanted = force.get(f"present:{fact}")
        if wanted is not None:
            narrowed = {s: w for s, w in keep.items() if (s in having) == wanted}
            keep = narrowed or keep
    return keep


def _overlay(plan: SamplePlan, rng: random.Random, at: datetime) -> str | None:
    live = [name for name, start, end in plan.overlays if start <= at < end]
    return rng.choice(live) if live and rng.random() < 0.1 else None


def _add_extensions(plan: SamplePlan, seed: int, index: int, force: dict[str, Any],
                    edge: Edge | None, facts: dict[str, Any]) -> None:
    """A project's own facts, from a random stream of their own (so the bundled facts of a
    corpus are the same bytes with or without a project file): each present most of the time
    (always when required), forced by the sweep or an edge's context, straddled at an edge."""
    rng = random.Random(f"aturan-sample-ext:{seed}:{index}")
    draw = Draw(rng, force)
    now = datetime.fromisoformat(facts.get("now") or facts["request"]["at"])
    for f in plan.catalogue.fields.values():
        if not f.extension:
            continue
        present = f.path in force or (edge is not None and edge.fact == f.path) or (
            not f.nullable) or draw.chance(f"present:{f.path}", 0.8)
        if force.get(f"present:{f.path}") is False:
            present = f.path in force
        if not present:
            continue
        value: Any
        if edge is not None and edge.fact == f.path and f.kind == "timestamp":
            value = (now - timedelta(seconds=edge.target)).isoformat(timespec="seconds")
        elif edge is not None and edge.fact == f.path:
            value = edge.target
        elif f.kind == "enum":
            value = draw.pick(f.path, f.enum)
        elif f.kind == "boolean":
            value = draw.chance(f.path, 0.5)
        elif f.kind == "integer":
            high = 10 ** 7 if f.unit == "rupiah" else 20
            value = force.get(f.path, rng.randint(f.minimum or 0, min(high, f.maximum or high)))
        elif f.kind == "timestamp":
            value = (now - timedelta(seconds=draw.span(60, 7 * 86400))).isoformat(
                timespec="seconds")
        else:
            value = force.get(f.path, f"{f.path.rsplit('.', 1)[1]}-{rng.randint(1, 99)}")
        root, key, name = f.path.split(".")
        facts[root].setdefault(key, {})[name] = value


def generate(plan: SamplePlan, n: int, seed: int) -> Iterator[dict[str, Any]]:
    """The corpus, one order at a time (nothing is kept)."""
    for index in range(n):
        yield order(plan, seed, index)


def to_line(facts: dict[str, Any]) -> str:
    """One JSON Lines line: compact, key order as built, so bytes depend only on the seed."""
    return json.dumps(facts, ensure_ascii=False, separators=(",", ":")) + "\n"

