"""The order space: cells and boxes read conditions as the evaluator does, the facts constraints
rule out impossible orders, witnesses are schema-valid, and the box analysis and the z3 solver
answer every emptiness question alike, on the bundled rulesets and on generated ones."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from typing import Any

import pytest

from aturan.analysis.lint.regions import describe_box
from aturan.analysis.lint.run import targets_of
from aturan.analysis.solver import Encoding, satisfiable
from aturan.analysis.symbolic import Space, intersect, intersect_regions, merge_boxes, subtract
from aturan.analysis.witness import platform_of, point_of, realise, witness_point
from aturan.errors import Location
from aturan.language.model import AllOf, AnyOf, Atom, Condition, Effect, Not, Rule, RulesetVersion
from aturan.runtime.compiler import merge
from aturan.runtime.explain import satisfied
from aturan.runtime.facts import flatten_facts

ANCHOR = datetime(2030, 6, 1, 10, 0, tzinfo=timezone.utc)


def a(fact: str, op: str, value: Any = True, of: str | None = None) -> Atom:
    return Atom(fact, op, tuple(value) if isinstance(value, list) else value, of=of)


def rule(rule_id: str, when: Condition, priority: int = 10, outcome: str | None = "approved",
         steps: tuple[str, ...] = ()) -> Rule:
    return Rule(rule_id, "generated", priority, when, Effect(outcome=outcome, next_steps=steps),
                {"en": "x", "id": "x"}, None, Location("gen.yaml", priority, 1), origin="gen@1.0.0")


def ruleset(rules: list[Rule], version: str = "1.0.0") -> RulesetVersion:
    return RulesetVersion("tiktok_shop", version, ANCHOR, None, "generated", (),
                          Effect(outcome="escalated"), {"en": "x", "id": "x"}, tuple(rules),
                          f"sha256:{version}", "gen.yaml", Location("gen.yaml", 1, 1))


def random_cells(space: Space, rng: random.Random) -> list[int] | None:
    """A uniformly shuffled greedy walk to a valid point (every axis one cell)."""
    current = space.universe
    if space.feasible(current) is None:
        return None
    chosen = []
    for i, axis in enumerate(space.axes):
        options = [c for c in range(len(axis.cells)) if current[i] >> c & 1]
        rng.shuffle(options)
        for c in options:
            trial = current[:i] + (1 << c,) + current[i + 1:]
            if space.feasible(trial) is not None:
                current, _ = trial, chosen.append(c)
                break
    return chosen


def inside(cells: list[int], boxes: list[tuple[int, ...]]) -> bool:
    return any(all(box[i] >> c & 1 for i, c in enumerate(cells)) for box in boxes)


def bundled_targets(policies):
    return [(rs, base) for rs, base in targets_of(policies.collection)]


def test_every_bundled_ruleset_is_analysed(policies):
    names = {rs.name for rs, _ in bundled_targets(policies)}
    assert "tiktok_shop" in names and len(bundled_targets(policies)) >= 2


@pytest.mark.parametrize("seed", [1, 2])
def test_cells_read_conditions_as_the_evaluator_does(policies, seed):
    """Random valid points, realised as facts: every rule matches exactly when the point lies in
    the rule's region; every realised document passes the facts schema."""
    rng = random.Random(seed)
    for rs, base in bundled_targets(policies):
        rules = merge(rs, base)
        space = Space.for_rules([rules], platform_of(rs))
        regions = [space.region(r.when) for r in rules]
        for _ in range(60):
            cells = random_cells(space, rng)
            facts = realise(space, point_of(space, cells), ANCHOR, platform_of(rs))
            flat = flatten_facts(facts)  # raises on a schema-invalid witness
            for r, region in zip(rules, regions):
                assert satisfied(r.when, flat) == inside(cells, region), (rs.key, r.id, facts)


IMPOSSIBLE = [
    pytest.param(AllOf((a("order.status", "eq", "unpaid"), a("order.payment.paid_at", "exists"))),
                 id="unpaid-with-paid_at"),
    pytest.param(AllOf((a("order.payment.method", "eq", "cod"),
                        a("order.payment.paid_at", "exists"))), id="cod-with-paid_at"),
    pytest.param(AllOf((a("order.status", "eq", "paid"), a("order.payment.method", "eq", "ewallet"),
                        a("order.payment.paid_at", "absent"))), id="paid-ewallet-without-paid_at"),
    pytest.param(AllOf((a("order.status", "in", ["shipped", "delivered"]),
                        a("order.fulfillment.shipped_at", "absent"),
                        a("derived.has_digital", "eq", False))), id="shipped-without-shipped_at"),
    pytest.param(AllOf((a("order.fulfillment.delivered_at", "exists"),
                        a("order.fulfillment.shipped_at", "absent"))), id="delivered-not-shipped"),
    pytest.param(AllOf((a("order.fulfillment.shipped_at", "within", 3600),
                        a("order.fulfillment.delivered_at", "older_than", 7200))),
                 id="delivered-before-shipped"),
    pytest.param(a("request.at", "within", 0), id="request-after-now"),
    pytest.param(AllOf((a("request.seller_response.decision", "eq", "approve"),
                        a("request.seller_response.reason", "exists"))), id="approval-with-reason"),
    pytest.param(AllOf((a("request.seller_response.at", "older_than", 86400),
                        a("request.at", "within", 3600))), id="answer-before-request"),
    pytest.param(AllOf((a("derived.has_digital", "eq", True), a("derived.has_pre_order", "eq", True),
                        a("derived.item_count", "eq", 1))), id="two-types-one-unit"),
    pytest.param(AllOf((a("derived.digital_delivered", "eq", True),
                        a("derived.has_digital", "eq", False))), id="digital-delivered-no-digital"),
    # the sums of language/consistency.py, which tie amount axes together
    pytest.param(AllOf((a("order.amounts.total", "ge", 100000), a("order.amounts.items", "lt", 50000),
                        a("order.amounts.shipping", "lt", 10))), id="total-above-its-parts"),
    pytest.param(AllOf((a("order.amounts.discount", "gt", 200), a("order.amounts.items", "eq", 0),
                        a("order.amounts.shipping", "le", 200))), id="discount-above-the-price"),
    pytest.param(AllOf((a("order.amounts.seller_discount", "gt", 1000),
                        a("order.amounts.discount", "lt", 500))), id="seller-part-above-discount"),
    pytest.param(AllOf((a("order.amounts.seller_discount", "ge", 600),
                        a("order.amounts.platform_discount", "ge", 600),
                        a("order.amounts.discount", "lt", 1000))), id="split-above-discount"),
    # durations between two timestamps, tied to their ages and orderings
    pytest.param(a("request.seller_response.at", "within", 0, "request.at"),
                 id="answer-before-the-request"),
    pytest.param(AllOf((a("request.seller_response.at", "older_than", 172800, "request.at"),
                        a("request.seller_response.at", "older_than", 0),
                        a("request.at", "within", 86400))), id="answer-2d-after-a-recent-request"),
    pytest.param(AllOf((a("order.fulfillment.delivered_at", "older_than", 3600,
                          "order.fulfillment.shipped_at"),
                        a("order.fulfillment.shipped_at", "within", 1800))),
                 id="delivered-an-hour-after-a-recent-shipment"),
    # what a request for part of an order can be
    pytest.param(AllOf((a("derived.request.any.pre_order", "eq", True),
                        a("derived.has_pre_order", "eq", False))), id="requested-type-not-ordered"),
    pytest.param(AllOf((a("derived.request.all.regular", "eq", True),
                        a("derived.request.any.digital", "eq", True))), id="all-regular-and-digital"),
    pytest.param(AllOf((a("derived.request.whole_order", "eq", False),
                        a("derived.item_count", "eq", 1))), id="part-of-a-single-unit"),
    pytest.param(AllOf((a("derived.request.whole_order", "eq", True),
                        a("derived.request.amount", "lt", 100000),
                        a("order.amounts.items", "ge", 100000))), id="whole-order-for-less"),
    pytest.param(AllOf((a("derived.request.amount", "gt", 5000),
                        a("order.amounts.items", "le", 5000))), id="more-than-the-items"),
    pytest.param(AllOf((a("derived.request.whole_order", "eq", False),
                        a("derived.has_pre_order", "eq", True), a("derived.has_digital", "eq", True),
                        a("derived.request.any.pre_order", "eq", False),
                        a("derived.request.any.digital", "eq", False),
                        a("derived.item_count", "le", 2))),
                 id="two-unrequested-types-need-two-more-units"),
    pytest.param(AllOf((a("derived.request.whole_order", "eq", True),
                        a("derived.has_digital", "eq", True),
                        a("derived.request.all.regular", "eq", True))),
                 id="whole-order-all-regular-with-a-digital-line"),
]


@pytest.mark.parametrize("condition", IMPOSSIBLE)
def test_constraints_rule_out_impossible_orders(condition):
    space = Space.for_rules([[rule("x", condition)]], "tiktok_shop")
    assert space.first_valid(space.region(condition)) is None
    enc = Encoding(space)
    assert satisfiable(enc, enc.condition(condition)) is False


POSSIBLE = [
    pytest.param(AllOf((a("order.status", "eq", "completed"), a("derived.has_digital", "eq", True),
                        a("order.fulfillment.shipped_at", "absent"))), id="digital-completed"),
    pytest.param(AllOf((a("order.fulfillment.shipped_at", "within", 3600),
                        a("order.fulfillment.delivered_at", "within", 3600))), id="same-hour"),
    pytest.param(AllOf((a("order.fulfillment.ship_by", "within", 0),
                        a("order.status", "eq", "to_ship"))), id="ship_by-in-future"),
    pytest.param(AllOf((a("request.seller_response.decision", "eq", "reject"),
                        a("request.seller_response.reason", "eq", "already_shipped"))),
                 id="rejection-with-reason"),
    pytest.param(a("request.seller_response.at", "within", 0), id="answer-after-now"),
    pytest.param(AllOf((a("order.amounts.total", "ge", 100000), a("order.amounts.items", "lt", 50000))),
                 id="shipping-makes-up-the-total"),
    pytest.param(AllOf((a("order.amounts.seller_discount", "ge", 600),
                        a("order.amounts.platform_discount", "absent"),
                        a("order.amounts.discount", "lt", 1000))), id="seller-part-alone"),
    pytest.param(AllOf((a("order.amounts.total", "eq", 7), a("derived.item_count", "eq", 3),
                        a("order.amounts.shipping", "eq", 0))), id="lines-add-up-to-an-odd-total"),
    pytest.param(AllOf((a("request.seller_response.at", "older_than", 180000, "request.at"),
                        a("request.at", "within", 86400))), id="late-answer-in-the-future"),
    # only real (sub-second) timestamps reach this: both ages floor to 0 s, yet shipping came
    # half a second before the deadline, a gap that floors to -1 s
    pytest.param(AllOf((a("order.fulfillment.shipped_at", "within", 1),
                        a("order.fulfillment.ship_by", "within", 1),
                        a("order.fulfillment.ship_by", "older_than", 0),
                        a("order.fulfillment.shipped_at", "within", 0,
                          "order.fulfillment.ship_by"))), id="half-a-second-before-the-deadline"),
    pytest.param(AllOf((a("derived.request.whole_order", "eq", False),
                        a("derived.request.any.pre_order", "eq", True),
                        a("derived.request.all.pre_order", "eq", True),
                        a("derived.has_digital", "eq", True),
                        a("derived.request.amount", "ge", 100000),
                        a("order.amounts.items", "lt", 120000))), id="part-of-a-mixed-order"),
    pytest.param(AllOf((a("derived.request.whole_order", "eq", False),
                        a("derived.request.item_count", "eq", 3),
                        a("derived.request.any.regular", "eq", True),
                        a("derived.request.any.custom_made", "eq", True))),
                 id="two-requested-types-three-units"),
]


@pytest.mark.parametrize("condition", POSSIBLE)
def test_possible_orders_get_a_schema_valid_witness_inside_the_region(condition, policies):
    space = Space.for_rules([[rule("x", condition)]], "tiktok_shop")
    box = space.first_valid(space.region(condition))
    assert box is not None
    enc = Encoding(space)
    assert satisfiable(enc, enc.condition(condition)) is True
    facts = realise(space, witness_point(space, box), ANCHOR, "tiktok_shop")
    assert satisfied(condition, flatten_facts(facts))


def _violations(flat) -> list[str]:
    from aturan.analysis.symbolic import CONSTRAINTS, Forbid
    from aturan.runtime.explain import holds

    def value(path):
        return flat.ages.get(path, flat.values.get(path))
    broken = []
    for c in CONSTRAINTS:
        if isinstance(c, Forbid):
            if all(holds(atom, flat) for atom in c.atoms):
                broken.append(c.name)
        elif value(c.earlier) is not None and value(c.later) is not None \
                and value(c.earlier) < value(c.later):
            broken.append(c.name)
    return broken


def test_the_constraints_admit_every_order_the_project_writes(tmp_path):
    """Case files (except those about selection errors), the examples and a sampled corpus are
    all possible orders: a constraint that excluded one would hide real gaps and changes."""
    import json

    from aturan.cli import main
    from aturan.regression.cases import case_files, load_cases
    from conftest import RULESETS
    documents = [(c.name, c.facts) for f in case_files([RULESETS]) for c in load_cases(f)
                 if "error" not in c.expect]
    examples = RULESETS.parent / "examples" / "orders.jsonl"
    documents += [(f"example {n}", json.loads(line))
                  for n, line in enumerate(examples.read_text().splitlines()) if line.strip()]
    corpus = tmp_path / "orders.jsonl"
    assert main(["sample", "--platform", "tiktok_shop", "--n", "2000", "--seed", "5", "-o",
                 str(corpus), "--rulesets", str(RULESETS)]) == 0
    documents += [(f"sample {n}", json.loads(line))
                  for n, line in enumerate(corpus.read_text().splitlines())]
    assert len(documents) > 2000
    broken = [(name, _violations(flatten_facts(doc))) for name, doc in documents]
    assert [b for b in broken if b[1]] == []


def test_subtract_gives_disjoint_pieces_that_cover_the_difference():
    space = Space.for_rules([[rule("x", a("order.status", "in", ["paid", "to_ship"])),
                              rule("y", a("request.by", "eq", "buyer"))]])
    left = space.region(a("order.status", "in", ["paid", "to_ship", "shipped"]))[0]
    right = intersect(space.region(a("order.status", "eq", "paid"))[0],
                      space.region(a("request.by", "eq", "buyer"))[0])
    pieces = subtract(left, right)
    assert all(intersect(p, q) is None for k, p in enumerate(pieces) for q in pieces[k + 1:])
    assert all(intersect(p, right) is None for p in pieces)
    rng = random.Random(3)
    for _ in range(200):
        cells = random_cells(space, rng)
        assert inside(cells, pieces) == (inside(cells, [left]) and not inside(cells, [right]))


def _node_condition(node: dict[str, Any]) -> Condition:
    """A condition node as `describe_box` writes it, read back into the model."""
    if "all" in node:
        return AllOf(tuple(_node_condition(n) for n in node["all"]))
    if "any" in node:
        return AnyOf(tuple(_node_condition(n) for n in node["any"]))
    if "not" in node:
        return Not(_node_condition(node["not"]))
    from aturan.language.model import parse_duration
    op = next(k for k in node if k not in ("fact", "of"))
    value = node[op]
    if op in ("older_than", "within"):
        value = parse_duration(value)
    return a(node["fact"], op, value, of=node.get("of"))  # a duration between two facts


def test_regions_are_written_back_in_the_rulesets_own_syntax(policies):
    """Each gap box, described as conditions and read back, is the same set of valid orders."""
    for rs, base in bundled_targets(policies):
        rules = merge(rs, base)
        space = Space.for_rules([rules], platform_of(rs))
        deciding = [b for r in rules if r.decides for b in space.region(r.when)]
        boxes = merge_boxes(space.valid_boxes([space.universe], deciding))
        assert boxes, rs.key
        for box in boxes[:40]:
            nodes = describe_box(space, box)
            back = space.region(AllOf(tuple(_node_condition(n) for n in nodes)))
            assert space.first_valid(back, [box]) is None, (rs.key, nodes)
            assert space.first_valid([box], back) is None, (rs.key, nodes)


# --- box analysis vs. solver -------------------------------------------------------------------

def _questions(rules: list[Rule] | tuple[Rule, ...], space: Space, enc: Encoding):
    """(name, box answer, z3 term) for: each rule matches some valid order; each deciding rule
    wins somewhere; some valid order falls to the default; equal-priority rules overlap."""
    z = enc.z3
    regions = [space.region(r.when) for r in rules]
    terms = [enc.condition(r.when) for r in rules]
    order = sorted((i for i, r in enumerate(rules) if r.decides),
                   key=lambda i: (-rules[i].priority, i))
    for i, r in enumerate(rules):
        yield f"{r.id} matches", space.first_valid(regions[i]) is not None, terms[i]
    for rank, i in enumerate(order):
        before = [b for k in order[:rank] for b in regions[k]]
        yield (f"{rules[i].id} wins", space.first_valid(regions[i], before) is not None,
               z.And([terms[i]] + [z.Not(terms[k]) for k in order[:rank]]))
    deciding = [b for k in order for b in regions[k]]
    yield ("default decides", space.first_valid([space.universe], deciding) is not None,
           z.And([z.Not(terms[k]) for k in order]) if order else z.BoolVal(True))
    for x, i in enumerate(order):
        for j in order[x + 1:]:
            if rules[i].priority == rules[j].priority:
                yield (f"{rules[i].id} meets {rules[j].id}",
                       space.first_valid(intersect_regions(regions[i], regions[j])) is not None,
                       z.And(terms[i], terms[j]))


@pytest.mark.slow
def test_box_analysis_and_solver_agree_on_bundled_rulesets(policies):
    asked = 0
    for rs, base in bundled_targets(policies):
        rules = merge(rs, base)
        space = Space.for_rules([rules], platform_of(rs))
        enc = Encoding(space)
        for name, boxed, term in _questions(rules, space, enc):
            assert satisfiable(enc, term) == boxed, (rs.key, name)
            asked += 1
    assert asked > 50


FACT_ATOMS = [
    lambda r: a("order.status", "in", r.sample(["unpaid", "paid", "to_ship", "shipped",
                                                "delivered", "completed", "cancelled"], r.randint(1, 3))),
    lambda r: a("order.status", r.choice(["eq", "ne"]), r.choice(["paid", "shipped", "unpaid"])),
    lambda r: a("order.payment.method", r.choice(["eq", "ne"]), r.choice(["cod", "ewallet"])),
    lambda r: a("order.payment.paid_at", r.choice(["exists", "absent"])),
    lambda r: a(r.choice(["order.fulfillment.shipped_at", "order.fulfillment.delivered_at",
                          "request.at", "order.fulfillment.ship_by", "order.placed_at"]),
                r.choice(["older_than", "within"]), r.choice([0, 3600, 86400, 172800, 172860])),
    lambda r: a(r.choice(["order.fulfillment.shipped_at", "request.seller_response.decision"]),
                r.choice(["exists", "absent"])),
    lambda r: a("request.seller_response.decision", "eq", r.choice(["approve", "reject"])),
    lambda r: a("request.by", "eq", r.choice(["buyer", "seller", "system"])),
    lambda r: a(r.choice(["derived.has_digital", "derived.has_pre_order"]), "eq", r.random() < .5),
    lambda r: a("derived.item_count", r.choice(["lt", "ge", "eq"]), r.choice([1, 2, 3])),
    lambda r: a("order.amounts.total", r.choice(["lt", "gt", "le"]), r.choice([0, 100000])),
    lambda r: a(r.choice(["order.amounts.items", "order.amounts.shipping", "order.amounts.discount",
                          "order.amounts.seller_discount"]),
                r.choice(["lt", "gt", "le", "eq"]), r.choice([0, 5000, 100000])),
    lambda r: a("order.seller.policy", r.choice(["eq", "ne", "absent"]), "vip"),
    lambda r: _gap_atom(r),
    lambda r: a(r.choice(["derived.request.whole_order", "derived.request.any.pre_order",
                          "derived.request.all.regular", "derived.request.any.regular"]),
                "eq", r.random() < .5),
    lambda r: a(r.choice(["derived.request.item_count", "derived.request.amount"]),
                r.choice(["lt", "ge"]), r.choice([1, 2, 100000])),
]


def _gap_atom(r: random.Random) -> Atom:
    fact, of = r.choice([("request.seller_response.at", "request.at"),
                         ("order.fulfillment.delivered_at", "order.fulfillment.shipped_at"),
                         ("request.at", "order.fulfillment.delivered_at")])
    return a(fact, r.choice(["older_than", "within"]), r.choice([0, 3600, 172800]), of)


def generated_condition(rng: random.Random, depth: int = 0) -> Condition:
    roll = rng.random()
    if depth < 2 and roll < 0.25:
        return AnyOf(tuple(generated_condition(rng, depth + 1) for _ in range(rng.randint(2, 3))))
    if depth < 2 and roll < 0.35:
        return Not(generated_condition(rng, depth + 1))
    if depth < 2 and roll < 0.8:
        return AllOf(tuple(generated_condition(rng, depth + 1) for _ in range(rng.randint(2, 4))))
    return rng.choice(FACT_ATOMS)(rng)


def generated_rules(rng: random.Random, n: int) -> list[Rule]:
    rules = []
    for k in range(n):
        outcome = rng.choice(["approved", "rejected", "pending_seller", None])
        rules.append(rule(f"g{k}", generated_condition(rng), rng.choice([10, 20, 20, 30]),
                          outcome, (f"s{rng.randrange(3)}",)))
    return rules


@pytest.mark.parametrize("seed", range(12))
def test_box_analysis_and_solver_agree_on_generated_rulesets(seed):
    rng = random.Random(seed)
    rules = generated_rules(rng, rng.randint(3, 9))
    space = Space.for_rules([rules], "tiktok_shop")
    enc = Encoding(space)
    for name, boxed, term in _questions(rules, space, enc):
        assert satisfiable(enc, term) == boxed, (seed, name)


@pytest.mark.parametrize("seed", range(40))
def test_every_region_the_space_calls_possible_has_a_real_order(seed):
    """No spurious feasibility: for generated conditions over every kind of axis (amounts tied
    by sums, durations between timestamps, what a request covers), a region the box analysis
    calls possible gets a witness that validates and satisfies it."""
    rng = random.Random(1000 + seed)
    condition = AllOf(tuple(generated_condition(rng, 1) for _ in range(rng.randint(2, 5))))
    space = Space.for_rules([[rule("x", condition)]], "tiktok_shop")
    box = space.first_valid(space.region(condition))
    if box is None:
        enc = Encoding(space)
        assert satisfiable(enc, enc.condition(condition)) is False
        return
    facts = realise(space, witness_point(space, box), ANCHOR, "tiktok_shop")
    assert satisfied(condition, flatten_facts(facts)), facts
