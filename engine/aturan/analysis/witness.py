"""Witness orders: a point of a region, made into a complete, schema-valid facts document, and
checked by running it through the real evaluator before anyone is shown it.

A point is chosen greedily: axis by axis, the cell closest to a plain order (paid by e-wallet,
one regular item, the buyer asks to cancel at `now`) that keeps the rest of the region
satisfiable, so a witness differs from that plain order only where it has to. Times are
realised relative to `now`: a timestamp of age a is `now - a`, and `now` is given explicitly
(`analysis/instants.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ..language import linear
from ..language.amount_check import label as amount_label
from ..language.catalogue import Catalogue, FactField, bundled_catalogue
from ..language.consistency import RELATIONS
from ..language.model import (
    DEFAULT_HOLIDAYS,
    Effect,
    EffectiveAt,
    Rule,
    RulesetVersion,
    parse_duration,
)
from ..language.operators import gap_pair
from ..runtime.compiler import compile_ruleset
from ..runtime.decision import Decision
from ..runtime.evaluate import Policies, combine
from ..runtime.facts import FlatFacts, flatten_facts
from ..runtime.verdict import Verdict, penalty_multiset, returns
from .instants import instant, nanos
from .symbolic import ABSENT, OTHER, Box, Interval, Space

# the plain order a witness starts from: value, or None for absent; ages in seconds before now
PLAIN: dict[str, Any] = {
    "order.status": "paid", "order.payment.method": "ewallet",
    "order.payment.paid_at": 3 * 86400 - 300, "order.payment.deadline_at": None,
    "order.placed_at": 3 * 86400, "order.fulfillment.ship_by": -2 * 86400,
    "order.fulfillment.awaiting_collection_at": None, "order.fulfillment.shipped_at": None,
    "order.fulfillment.delivered_at": None, "order.fulfillment.production_started": False,
    "order.amounts.items": 150000, "order.amounts.shipping": 12000, "order.amounts.discount": 0,
    "order.amounts.total": 162000, "order.id": "W-1", "order.seller.id": "S-1",
    "order.seller.policy": None, "request.type": "cancel", "request.by": "buyer",
    "request.reason": "changed_mind", "request.at": 0, "request.seller_response.decision": None,
    "request.seller_response.at": None, "request.seller_response.reason": None,
    "derived.has_custom_made": False, "derived.has_pre_order": False,
    "derived.has_perishable": False, "derived.has_digital": False,
    "derived.digital_delivered": False, "derived.item_count": 1,
    "derived.request.whole_order": True, "derived.request.item_count": 1,
    "derived.request.amount": 150000,
}
# the age a timestamp takes when it must be present although the plain order lacks it
PRESENT_AGE = {"order.payment.deadline_at": -86400, "order.fulfillment.ship_by": -2 * 86400,
               "order.fulfillment.awaiting_collection_at": 2 * 86400,
               "order.fulfillment.shipped_at": 86400, "order.fulfillment.delivered_at": 3600,
               "request.seller_response.at": 0}


def _distance(axis_kind: str, cell: Any, preferred: Any, path: str) -> float:
    if preferred is None:
        if cell is ABSENT:
            return 0.0
        preferred = PRESENT_AGE.get(path, 0) if axis_kind == "timestamp" else None
        if preferred is None:
            return 1.0
        return 1.0 + _distance(axis_kind, cell, preferred, path)
    if cell is ABSENT:
        return 1e18
    if isinstance(cell, Interval):
        if cell.contains(preferred):
            return 0.0
        edges = [e for e in (cell.lo, None if cell.hi is None else cell.hi - 1) if e is not None]
        return 1.0 + min(abs(preferred - e) for e in edges) / 1e13
    return 0.0 if cell == preferred and type(cell) is type(preferred) else 1.0


def choose_cells(space: Space, box: Box) -> list[int] | None:
    """One cell per axis: a valid point of `box`, as plain as the region allows."""
    if space.feasible(box) is None:
        return None
    current = box
    chosen: list[int] = []
    for i, axis in enumerate(space.axes):
        preferred = PLAIN.get(axis.path)
        options = [c for c in range(len(axis.cells)) if current[i] >> c & 1]
        options.sort(key=lambda c: (_distance(axis.kind, axis.cells[c], preferred, axis.path), c))
        for cell in options:
            trial = current[:i] + (1 << cell,) + current[i + 1:]
            if space.feasible(trial) is not None:
                current = trial
                chosen.append(cell)
                break
        else:  # cannot happen: `current` always holds a valid order
            raise AssertionError(f"no valid cell for {axis.path}")
    return chosen


def point_of(space: Space, cells: Sequence[int]) -> dict[str, Any]:
    """Concrete values for chosen cells: the plain value when the cell holds it, else the edge
    nearest to it; timestamps then nudged (within their cells) into the required order."""
    point: dict[str, Any] = {}
    for axis, c in zip(space.axes, cells):
        cell = axis.cells[c]
        if cell is ABSENT:
            point[axis.path] = None
        elif isinstance(cell, Interval):
            preferred = PLAIN.get(axis.path)
            if preferred is None:
                preferred = PRESENT_AGE.get(axis.path, 0)
            if cell.contains(preferred):
                point[axis.path] = preferred
            elif cell.lo is not None and preferred < cell.lo:
                point[axis.path] = cell.lo
            else:
                assert cell.hi is not None
                point[axis.path] = cell.hi - 1
        else:
            point[axis.path] = cell
    if space.coupled.active:  # values tied by sums: solved together, nearest the plain order
        prefer = {path: PLAIN.get(path) for path in PLAIN}
        prefer.update({path: value for path, value in point.items() if isinstance(value, int)})
        point.update(space.coupled.solve(cells, prefer))
    if space.timed.active:  # durations between timestamps: ages solved with them, exactly
        point.update(space.timed.solve(cells, dict(point)))
        return point
    changed = True
    while changed:
        changed = False
        for e, later, _ in space.orders:
            pe, pl = point[space.axes[e].path], point[space.axes[later].path]
            if pe is not None and pl is not None and pe < pl:
                point[space.axes[e].path] = pl  # same cell: cells are already ordered
                changed = True
    return point


def witness_point(space: Space, box: Box) -> dict[str, Any] | None:
    cells = choose_cells(space, box)
    return None if cells is None else point_of(space, cells)


def _fresh(taken: Iterable[Any], stem: str) -> str:
    taken = set(taken)
    n = 1
    while f"{stem}{n}" in taken:
        n += 1
    return f"{stem}{n}"


def plain_value(field: FactField) -> Any:
    """The plain value of a fact a project file added: absent unless every order must send
    it, then the first value of its kind (an age of 0 for a timestamp)."""
    if field.nullable:
        return None
    if field.kind == "enum":
        return field.enum[0]
    return {"boolean": False, "integer": field.minimum or 0, "timestamp": 0,
            "string": "plain"}.get(field.kind)


def realise(space: Space, point: dict[str, Any], anchor: datetime, platform: str
            ) -> dict[str, Any]:
    """A complete facts document for a point (paths the space lacks take the plain value),
    with the extra facts of the space's catalogue under order.ext / request.ext."""
    fields = space.catalogue.fields

    def get(path: str) -> Any:
        if path in point:
            value = point[path]
        elif path in PLAIN:
            value = PLAIN[path]
        else:
            value = plain_value(fields[path]) if path in fields else None
        if value is OTHER:
            axis = space.axes[space.index[path]]
            value = _fresh(axis.cells, "other_" if path == "order.seller.policy" else "other-")
        return value

    request_ns = nanos(get("request.at"))  # now is request.at plus its age
    now_text = instant(anchor, request_ns)

    def ts(path: str) -> str | None:
        age = get(path)
        return None if age is None else instant(anchor, request_ns - nanos(age))

    flags = {kind: get(f"derived.has_{kind}")
             for kind in ("custom_made", "pre_order", "perishable", "digital")}
    types = [t for t, on in flags.items() if on] or ["regular"]
    count = max(get("derived.item_count"), len(types))
    amounts = _amounts(point, count)
    delivered = bool(get("derived.digital_delivered"))
    asked = None
    if any(path.startswith("derived.request.") for path in point):
        items, asked = _requested_lines(point, [t for t, on in flags.items() if on], count,
                                        amounts["items"], delivered)
    else:
        items = _lines(types, count, amounts["items"], delivered)
    fulfillment: dict[str, Any] = {
        "ship_by": ts("order.fulfillment.ship_by"),
        "shipped_at": ts("order.fulfillment.shipped_at"),
        "delivered_at": ts("order.fulfillment.delivered_at"),
        "production_started": bool(get("order.fulfillment.production_started"))}
    if get("order.fulfillment.awaiting_collection_at") is not None:
        fulfillment["awaiting_collection_at"] = ts("order.fulfillment.awaiting_collection_at")
    response = None
    if get("request.seller_response.decision") is not None:
        response = {"decision": get("request.seller_response.decision"),
                    "at": ts("request.seller_response.at") or now_text}
        if get("request.seller_response.reason") is not None:
            response["reason"] = get("request.seller_response.reason")
    facts: dict[str, Any] = {
        "order": {
            "id": get("order.id"), "platform": platform, "placed_at": ts("order.placed_at"),
            "status": get("order.status"),
            "payment": {"method": get("order.payment.method"),
                        "paid_at": ts("order.payment.paid_at"),
                        "deadline_at": ts("order.payment.deadline_at")},
            "amounts": amounts,
            "items": items,
            "seller": {"id": get("order.seller.id"), "policy": get("order.seller.policy")},
            "fulfillment": fulfillment,
        },
        "request": {"type": get("request.type"), "by": get("request.by"),
                    "reason": get("request.reason"), "at": instant(anchor, 0),
                    "seller_response": response},
        "now": now_text,
    }
    if asked is not None:
        facts["request"]["items"] = asked
    for field in fields.values():  # a project's own facts, and the optional leaves of the
        # bundled objects (order.seller.tier, order.fulfillment.service_level), generically
        if field.derived or (not field.extension and field.path not in point):
            continue
        value = ts(field.path) if field.kind == "timestamp" else get(field.path)
        if value is None:
            continue
        *parents, name = field.path.split(".")
        holder: Any = facts
        for part in parents:
            holder = holder.setdefault(part, {}) if field.extension else holder.get(part)
            if not isinstance(holder, dict):
                break
        else:
            holder.setdefault(name, value)
    return facts


_AMOUNTS = ("order.amounts.items", "order.amounts.shipping", "order.amounts.discount",
            "order.amounts.total")
_OPTIONAL_AMOUNTS = ("order.amounts.seller_discount", "order.amounts.platform_discount")
MONEY_LIMIT = 10 ** 12  # the facts schema's money maximum


def _amounts(point: dict[str, Any], count: int) -> dict[str, int]:
    """The order's amounts: the values the point fixes, the rest chosen (nearest the plain
    order) so that every relation of `language/consistency` holds."""
    fixed = {path: point[path] for path in _AMOUNTS + _OPTIONAL_AMOUNTS
             if isinstance(point.get(path), int)}
    present = list(_AMOUNTS) + [p for p in _OPTIONAL_AMOUNTS if p in fixed]
    system = []
    for path in present:
        system += [linear.at_least({path: 1}, 0), linear.at_most({path: 1}, MONEY_LIMIT)]
    for path, value in fixed.items():
        system += linear.equal({path: 1}, value)
    for relation in RELATIONS:
        if not relation.when and all(f in present for f in relation.facts):
            system += relation.inequalities()
    prefer = {path: PLAIN[path] for path in _AMOUNTS}
    prefer["order.amounts.items"] = min(150000 * count, MONEY_LIMIT // count * count)
    solved = linear.solve(system, prefer)
    if solved is None:  # cannot happen for a feasible point: the analysis checked the sums
        raise ValueError(f"amounts {fixed} satisfy no consistent order")
    return {path.rsplit(".", 1)[1]: int(solved[path]) for path in present}


def _requested_lines(point: dict[str, Any], flagged: list[str], count: int, total: int,
                     delivered: bool) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """Order lines and request.items for a point that says what the request covers: the
    requested product types (any.<type>), their units and amount, or the whole order. The
    analysis' constraints and relations make the numbers fit (constraints.request_constraints,
    consistency.RELATIONS)."""
    kinds = [k[len("derived.request.any."):] for k, on in point.items()
             if k.startswith("derived.request.any.") and on]
    if point.get("derived.request.whole_order", True):
        types = list(dict.fromkeys(flagged + [k for k in kinds if k not in flagged])) or [
            "regular"]
        return _lines(types, count, total, delivered), None
    kinds = kinds or [flagged[0] if flagged else "regular"]
    units = point.get("derived.request.item_count")
    units = units if isinstance(units, int) else max(len(kinds), 1)
    amount = point.get("derived.request.amount")
    amount = amount if isinstance(amount, int) else 0
    rest = [t for t in flagged if t not in kinds] or [kinds[0]]
    asked_lines = _lines(kinds, units, amount, delivered, "REQ-")
    other = _lines(rest, max(count - units, len(rest)), max(total - amount, 0), delivered,
                   "KEEP-")
    return asked_lines + other, [{"sku": line["sku"], "quantity": line["quantity"]}
                                 for line in asked_lines]


def _lines(types: list[str], count: int, total: int, delivered: bool,
           prefix: str = "SKU-") -> list[dict[str, Any]]:
    """Order lines of the given product types, `count` units in all, whose quantity x
    unit_price add up to exactly `total`."""
    price, rest = divmod(total, count)
    lines: list[dict[str, Any]] = []
    for k, kind in enumerate(types):
        quantity = count - len(types) + 1 if k == 0 else 1
        lines.append({"sku": f"{prefix}{k + 1}", "product_type": kind, "quantity": quantity,
                      "unit_price": price})
    if rest:
        last = lines[-1]
        if last["quantity"] > 1:  # one line of several units: split off one unit
            last["quantity"] -= 1
            lines.append({**last, "sku": f"{last['sku']}b", "quantity": 1})
        lines[-1]["unit_price"] += rest
    for line in lines:
        if line["product_type"] == "digital":
            line["delivered"] = delivered
    return lines


# ---------------------------------------------------------------------------------------------
# Decisions as analysis compares them

def _timing(refund: tuple[Any, ...], holidays: str) -> tuple[Any, ...]:
    """A refund verdict with its holidays when a due date skips others than the default."""
    return refund + (holidays,) if refund[3] is not None and holidays != DEFAULT_HOLIDAYS \
        else refund


def _effective(spec: EffectiveAt | None) -> tuple[str, int] | None:
    return None if spec is None else (spec.fact, spec.plus)


def verdict_of(winner: Effect, additive: Iterable[Effect], paid: bool,
               holidays: str = DEFAULT_HOLIDAYS) -> Verdict:
    """The verdict a winning effect plus matched additive effects give; `paid`: paid_at present
    (refund `paid` is the total then, nothing otherwise); `holidays`: the holidays due dates
    skip (part of the verdict when it is not the default)."""
    additive = list(additive)
    refund = None
    r = winner.refund
    if r is not None and not (r.paid_only and not paid):
        refund = _timing((amount_label(r.amount_tree()), r.destination, r.min_business_days,
                          r.max_business_days), holidays)
    penalties = [(p.party, p.code, p.points) for e in [winner] + additive for p in e.penalties]
    steps = {s for e in [winner] + additive for s in e.next_steps}
    assert winner.outcome is not None
    return Verdict(winner.outcome, refund, penalty_multiset(penalties), tuple(sorted(steps)),
                   effective_at=_effective(winner.effective_at),
                   return_=returns(winner.return_.to_dict() if winner.return_ else None))


def verdict_of_decision(decision: Decision, facts: dict[str, Any],
                        holidays: str = DEFAULT_HOLIDAYS) -> Verdict:
    refund = None
    if decision.refund is not None:  # the amount as the deciding rule wrote it
        declared = decision.explanation[0].effect["refund"]["amount"]
        refund = _timing((amount_label(declared), decision.refund.destination,
                          decision.refund.min_business_days,
                          decision.refund.max_business_days), holidays)
    declared = decision.explanation[0].effect.get("effective_at") if decision.explanation \
        else None
    effective = None if declared is None else (
        declared["fact"], parse_duration(declared.get("plus", "0s")) or 0)
    return Verdict(decision.outcome, refund,
                   penalty_multiset((p.party, p.code, p.points) for p in decision.penalties),
                   tuple(sorted(set(decision.next_steps))), effective_at=effective,
                   return_=returns(decision.return_))


class Evaluator:
    """The real evaluator, pinned to a version: `Policies.decide(facts, "name@version")` for a
    platform ruleset or an overlay; for a version no order can select (its name is not a
    platform) or an overlay over another base, the same compiled rules through the same engine
    and `combine`. Several `Policies` may be given (say, two copies of one version to compare);
    each version is decided by the one that loaded it."""

    def __init__(self, *policies: Policies):
        self.sets = policies

    @property
    def catalogue(self) -> Catalogue:
        """The catalogue the analysis reads: the (first) policy folder's."""
        return self.sets[0].catalogue if self.sets else bundled_catalogue()

    def _owner(self, rs: RulesetVersion) -> Policies:
        for policies in self.sets:
            found = policies.collection.get(rs.name, rs.version)
            if found is not None and found.digest == rs.digest:
                return policies
        raise ValueError(f"{rs.key} ({rs.digest[:19]}) is not loaded by this evaluator")

    def decide(self, facts: dict[str, Any], rs: RulesetVersion,
               base: RulesetVersion | None = None) -> Decision:
        policies = self._owner(rs)
        if rs.name in policies.catalogue.platforms or rs.is_overlay:
            decision = policies.decide(facts, rs.key)
            extends = decision.ruleset.extends
            if base is None or (extends is not None and extends.digest == base.digest):
                return decision
        flat = flatten_facts(facts, policies.facts_reader)
        compiled = compile_ruleset(rs, base, policies.catalogue)
        return combine(compiled, flat, policies.engine_rules(compiled, flat))

    def fired(self, facts: dict[str, Any], rs: RulesetVersion, base: RulesetVersion | None
              ) -> tuple[FlatFacts, list[int]]:
        """The facts as the engine sees them and the indices (into the merged rules) it fired."""
        policies = self._owner(rs)
        flat = flatten_facts(facts, policies.facts_reader)
        return flat, policies.engine_rules(compile_ruleset(rs, base, policies.catalogue), flat)


def platform_of(rs: RulesetVersion, catalogue: Catalogue | None = None) -> str | None:
    """The platform whose orders a version decides (an overlay: its base's), or None for a
    ruleset named after no platform of the `catalogue` (default bundled)."""
    if rs.is_overlay and rs.extends:
        return rs.extends.split("@", 1)[0]
    return rs.name if rs.name in (catalogue or bundled_catalogue()).platforms else None


def mattering(space: Space, box: Box) -> list[str]:
    """The fact paths a region restricts: the fields of a witness that matter."""
    return [space.axes[i].path for i in space.restricted(box)
            if space.axes[i].path != "order.platform"]


def fields_of(point: dict[str, Any], paths: Sequence[str], facts: dict[str, Any]
              ) -> dict[str, Any]:
    """The mattering fields of a witness as they read in the facts document."""
    shown: dict[str, Any] = {}
    wanted: list[str] = []
    for path in paths:  # a gap between two timestamps reads as the two timestamps
        wanted += list(gap_pair(path)) if path.startswith("gap:") else [path]
    for path in dict.fromkeys(wanted):
        if path.startswith("derived."):
            shown[path] = point.get(path)
            continue
        node: Any = facts
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        shown[path] = node
    return shown


def describe_rule(rule: Rule) -> dict[str, Any]:
    return {"id": rule.id, "file": rule.location.file, "line": rule.location.line,
            "priority": rule.priority, "outcome": rule.then.outcome}

