"""The fast evaluation path changes no decision, byte for byte.

`Policies.decide` now validates facts through a compiled check (`aturan.runtime.fastcheck`), asks the
engine once per memo key (`aturan.runtime.memo`) and renders a cached plan (`aturan.runtime.plan`). The oracle
below is the evaluator as it was before: jsonschema validation, `because` and `messages` per
order (kept here, as they were, since the package no longer needs them), and durable_rules asked
for every order (`cached=False`).

What is compared, on fixed-seed `aturan.regression.sample` corpora of every bundled platform:
- fired rules, memoised vs the engine asked afresh, on 100,000 orders (10,000 sampled orders,
  each also re-evaluated at 9 other instants `now`, which moves every age across thresholds);
- whole decisions (`to_json`), fast path vs oracle, on the 10,000 sampled orders (both
  languages on a tenth of them), and again with a memo capped at 8 keys (eviction);
- validation: every sampled order is accepted by both paths with equal `FlatFacts`, and a few
  hundred broken variants get exactly the diagnostics `validate_facts` gives.
"""

from __future__ import annotations

import copy
import json
import random
import subprocess
import sys
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import aturan
from aturan.analysis.reference import instant_ns
from aturan.language.catalogue import catalogue
from aturan.language.model import (
    PLACEHOLDER,
    AnyOf,
    Atom,
    Condition,
    Not,
    Rule,
    RulesetVersion,
    format_duration,
    parse_timestamp,
)
from aturan.regression import sample
from aturan.runtime import facts as facts_module
from aturan.runtime import memo as memo_module
from aturan.runtime.businessdays import add_business_days
from aturan.runtime.compiler import CompiledRuleset
from aturan.runtime.decision import (
    Decision,
    ExplanationItem,
    Overridden,
    PenaltyDecision,
    RefundDecision,
    RulesetRef,
    canonical_json,
)
from aturan.runtime.explain import satisfied
from aturan.runtime.facts import (
    FlatFacts,
    _age,
    _derived,
    _flatten,
    flatten_facts,
    validate_facts,
)
from conftest import ROOT, RULESETS, V2_RULESETS

SEED = 20240301
PER_PLATFORM = 2500
INSTANTS = 9  # extra `now`s per order for the fired-rules comparison: 10k x (1 + 9) = 100k


# ---- the oracle: the evaluator before the fast path, kept verbatim --------------------------

JAKARTA = ZoneInfo("Asia/Jakarta")


def _gap_text(gap: int) -> str:
    return format_duration(gap) if gap >= 0 else "-" + format_duration(-gap)


def atom_report(atom: Atom, facts: FlatFacts, negated: bool = False) -> dict[str, Any]:
    if atom.of is not None:  # a duration between two timestamps (language v2)
        item = {"fact": atom.fact, "op": atom.op, "expected": atom.expected(), "of": atom.of}
        for key, path in (("actual", atom.fact), ("of_actual", atom.of)):
            value = facts.values.get(path)
            item[key] = value.isoformat() if isinstance(value, datetime) else value
        gap = facts.gaps.get(f"gap:{atom.fact}:{atom.of}")
        if gap is not None:
            item["gap"] = _gap_text(gap)
        if negated:
            item["negated"] = True
        return item
    actual = facts.values.get(atom.fact)
    item: dict[str, Any] = {"fact": atom.fact, "op": atom.op, "expected": atom.expected(),
                            "actual": actual.isoformat() if isinstance(actual, datetime)
                            else actual}
    if atom.fact in facts.ages:
        item["age"] = format_duration(abs(facts.ages[atom.fact]))
        if facts.ages[atom.fact] < 0:
            item["age"] = "in " + item["age"]
    if negated:
        item["negated"] = True
    return item


def because(condition: Condition, facts: FlatFacts, negated: bool = False
            ) -> list[dict[str, Any]]:
    """The atoms that make a satisfied condition true (all of an `all`, the true branches of an
    `any`); atoms under `not` are reported with `negated: true`."""
    if isinstance(condition, Atom):
        return [atom_report(condition, facts, negated)]
    if isinstance(condition, Not):
        return because(condition.child, facts, not negated)
    children = condition.children
    if isinstance(condition, AnyOf) != negated:  # an `any`, or a negated `all`
        wanted = not negated
        children = tuple(c for c in children if satisfied(c, facts) == wanted)
    return [item for child in children for item in because(child, facts, negated)]


LABELS = json.loads((ROOT / "schemas" / "labels.json").read_text(encoding="utf-8"))


def placeholder_text(path: str, facts: FlatFacts, lang: str) -> str:
    """How `{path}` reads in a message: timestamps in WIB, money as Rp, absent as a dash, an
    enum code as its label in the message's language (read straight from labels.json)."""
    if path == "now":
        return facts.now.astimezone(JAKARTA).isoformat()
    raw = facts.values.get(path)
    if raw is None:
        return "—"
    if catalogue()[path].kind == "enum" and raw in LABELS.get(path, {}):
        return LABELS[path][raw][lang]
    if isinstance(raw, datetime):
        return raw.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M WIB")
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int) and (path.startswith("order.amounts")
                                 or path in ("derived.request.amount",  # v2: rupiah too
                                             "request.return_shipping_fee")):
        return f"Rp{raw:,}".replace(",", ".")
    return str(raw)


def messages(templates: dict[str, str], facts: FlatFacts, lang: str | None) -> dict[str, str]:
    langs = [lang] if lang else sorted(templates)
    return {code: PLACEHOLDER.sub(lambda match, code=code: placeholder_text(match.group(1),
                                                                           facts, code),
                                  templates[code])
            for code in langs if code in templates}


def oracle_covered(facts: dict[str, Any]) -> list[tuple[dict[str, Any], int]]:
    """(line, units) the request covers, in the order it asks (language v2)."""
    lines, asked = facts["order"]["items"], facts["request"].get("items")
    if asked is None:
        return [(line, line["quantity"]) for line in lines]
    units: dict[str, int] = {}
    for item in asked:
        units[item["sku"]] = units.get(item["sku"], 0) + item["quantity"]
    return [(next(line for line in lines if line["sku"] == sku), n) for sku, n in units.items()]


def oracle_requested(facts: dict[str, Any]) -> dict[str, Any]:
    covered = oracle_covered(facts)
    kinds = {line["product_type"] for line, _ in covered}
    count = sum(n for _, n in covered)
    found: dict[str, Any] = {
        "derived.request.whole_order": count == sum(i["quantity"]
                                                    for i in facts["order"]["items"]),
        "derived.request.item_count": count,
        "derived.request.amount": sum(n * line["unit_price"] for line, n in covered)}
    for kind in ("regular", "custom_made", "pre_order", "digital", "perishable"):
        found[f"derived.request.any.{kind}"] = kind in kinds
        found[f"derived.request.all.{kind}"] = kinds == {kind}
    return found


def oracle_flat(facts: dict[str, Any]) -> FlatFacts:
    """`facts.flatten_facts` as it was, after validation (the caller validates)."""
    values: dict[str, Any] = {}
    _flatten({k: v for k, v in facts.items() if k != "now"}, "", values)
    order = facts["order"]
    values.update(_derived(order))
    values.setdefault("order.fulfillment.production_started", False)
    request_at = parse_timestamp(facts["request"]["at"])
    now_text = facts.get("now") or facts["request"]["at"]
    now = parse_timestamp(now_text)
    fields = catalogue()
    ages: dict[str, int] = {}
    texts: dict[str, str] = {}
    for path, value in list(values.items()):
        field = fields.get(path)
        if field is not None and field.kind == "timestamp":
            moment = parse_timestamp(value)
            values[path] = moment
            texts[path] = value
            ages[path] = _age(now, now_text, moment, value)
    values.update(oracle_requested(facts))  # language v2: what the request covers
    # every duration between two timestamps, exact to the nanosecond (language v2)
    gaps = {f"gap:{b}:{a}": (instant_ns(texts[b]) - instant_ns(texts[a])) // 10 ** 9
            for a in texts for b in texts if a != b}
    return FlatFacts(values=values, ages=ages, now=now, order_id=order["id"],
                     platform=order["platform"], seller_policy=order["seller"]["policy"],
                     request_at=request_at, gaps=gaps)


def _ref(rs: RulesetVersion) -> RulesetRef:
    return RulesetRef(rs.name, rs.version, rs.digest)


def _item(rule: Rule, facts: FlatFacts, lang: str | None) -> ExplanationItem:
    return ExplanationItem(rule=rule.id, priority=rule.priority, effect=rule.then.to_dict(),
                           because=because(rule.when, facts),
                           message=messages(rule.messages, facts, lang),
                           file=rule.location.file, line=rule.location.line, ruleset=rule.origin,
                           citation=rule.citation.to_dict() if rule.citation else None)


def oracle_combine(compiled: CompiledRuleset, facts: FlatFacts, fired: Iterable[int],
                   lang: str | None = None, raw: dict[str, Any] | None = None) -> Decision:
    """`evaluate.combine` as it was (`raw`: the facts as sent, for what a request for part of
    the order covers, language v2)."""
    indices = sorted(set(fired), key=lambda i: (-compiled.rules[i].priority, i))
    matched = [compiled.rules[i] for i in indices]
    deciding = [r for r in matched if r.decides]
    additive = [r for r in matched if not r.decides]
    rs = compiled.ruleset
    if deciding:
        winner = deciding[0]
        effect = winner.then
        items = [_item(winner, facts, lang)]
    else:
        winner = None
        effect = compiled.default
        items = [ExplanationItem(rule="default", priority=-1, effect=effect.to_dict(), because=[],
                                 message=messages(compiled.default_messages, facts, lang),
                                 file=rs.default_location.file, line=rs.default_location.line, ruleset=rs.key)]
    items += [_item(rule, facts, lang) for rule in additive]
    penalties = [PenaltyDecision(p.party, p.code, p.points, winner.id if winner else "default")
                 for p in effect.penalties]
    steps = list(effect.next_steps)
    for rule in additive:
        penalties += [PenaltyDecision(p.party, p.code, p.points, rule.id)
                      for p in rule.then.penalties]
        steps += rule.then.next_steps
    refund = None
    unpaid = "order.payment.paid_at" not in facts.values
    effective = None  # language v2: when the outcome takes effect, the refund counted from it
    if effect.effective_at is not None:
        effective = (facts.values[effect.effective_at.fact]
                     + timedelta(seconds=effect.effective_at.plus))
    if effect.refund and not (effect.refund.paid_only and unpaid):
        total = facts.values["order.amounts.total"]
        if effect.refund.expression is not None:  # language v2: an amount expression
            amount = oracle_amount(effect.refund.amount_tree(), facts.values)
        else:
            amount = total if effect.refund.amount in ("full", "paid") else max(
                0, total - facts.values["order.amounts.shipping"])
        due = None
        if effect.refund.max_business_days is not None:
            due = add_business_days((effective or facts.now).astimezone(JAKARTA).date(),
                                    effect.refund.max_business_days, "ID",
                                    compiled.holidays).isoformat()
        refund = RefundDecision(amount, effect.refund.destination, effect.refund.min_business_days,
                                effect.refund.max_business_days, due)
    ref = _ref(rs)
    if compiled.base is not None:
        ref = RulesetRef(rs.name, rs.version, rs.digest, _ref(compiled.base))
    assert effect.outcome is not None
    return Decision(
        order_id=facts.order_id, ruleset=ref, outcome=effect.outcome, refund=refund,
        penalties=tuple(penalties), next_steps=tuple(dict.fromkeys(steps)),
        explanation=tuple(items), evaluated_at=facts.now.isoformat(),
        overridden=tuple(Overridden(r.id, r.then.outcome or "", r.priority, winner.id)
                         for r in deciding[1:] if winner is not None),
        effective_at=None if effective is None else effective.isoformat(),
        return_=None if effect.return_ is None else {  # language v2: a return's resolution
            key: value for key, value in (("resolution", effect.return_.resolution),
                                          ("shipping_paid_by", effect.return_.shipping_paid_by))
            if value is not None},
        covers=() if raw is None or raw["request"].get("items") is None
        else tuple({"sku": line["sku"], "quantity": n, "amount": n * line["unit_price"]}
                   for line, n in oracle_covered(raw)))


def oracle_amount(tree: Any, values: dict[str, Any]) -> int:
    """A refund amount expression's value, read from its tree (language v2)."""
    from fractions import Fraction
    from math import ceil, floor
    if isinstance(tree, int):
        return tree
    if isinstance(tree, str):
        return values[tree]
    if "percent" in tree:
        exact = Fraction(tree["percent"]) * oracle_amount(tree["of"], values) / 100
        return {"down": floor(exact), "up": ceil(exact),
                "half_up": floor(exact + Fraction(1, 2))}[tree.get("round", "down")]
    [(op, args)] = tree.items()
    got = [oracle_amount(a, values) for a in args]
    return {"add": sum(got), "sub": got[0] - sum(got[1:]), "min": min(got),
            "max": max(got)}[op]


def oracle_decide(policies: aturan.Policies, facts: dict[str, Any],
                  lang: str | None = None) -> Decision:
    flat = oracle_flat(facts)
    compiled = policies.compiled_for(flat)
    return oracle_combine(compiled, flat, policies.engine_rules(compiled, flat, cached=False),
                          lang, facts)


# ---- corpora -------------------------------------------------------------------------------

def platforms(policies: aturan.Policies) -> list[str]:
    return [name for name, group in policies.collection.by_name.items()
            if not any(rs.is_overlay for rs in group)]


@pytest.fixture(scope="module")
def corpus(policies) -> list[dict[str, Any]]:
    """`PER_PLATFORM` sampled orders of every platform, interleaved."""
    streams = [list(sample.generate(sample.plan_for(policies.collection, name), PER_PLATFORM,
                                    SEED)) for name in platforms(policies)]
    return [order for group in zip(*streams) for order in group]


def at_other_instants(facts: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    """The same order judged `INSTANTS` other times: `now` from a minute to 40 days after the
    request, or just around a whole number of hours and days (where durations are written)."""
    request_at = parse_timestamp(facts["request"]["at"])
    out = []
    for _ in range(INSTANTS):
        if rng.random() < 0.5:
            offset = rng.randrange(60, 40 * 86400)
        else:
            offset = rng.choice((3600, 86400)) * rng.randrange(1, 30) + rng.choice((-1, 0, 1))
        moved = dict(facts)
        moved["now"] = (request_at + timedelta(seconds=offset)).isoformat()
        out.append(moved)
    return out


# ---- fired rules: 100k orders -----------------------------------------------------------------

@pytest.mark.slow
def test_memoised_fired_rules_equal_the_engine_on_100k_orders(policies, corpus):
    rng = random.Random(SEED)
    compared = 0
    for facts in corpus:
        for variant in [facts] + at_other_instants(facts, rng):
            flat = flatten_facts(variant)
            compiled = policies.compiled_for(flat)
            memoised = policies.engine_rules(compiled, flat)
            fresh = policies.engine_rules(compiled, flat, cached=False)
            assert memoised == fresh, (variant, memoised, fresh)
            compared += 1
    assert compared == len(corpus) * (1 + INSTANTS) >= 100_000
    # the memo did its job: far fewer keys than orders
    keys = policies.cache.total_keys()
    assert 0 < keys < compared // 10


# ---- the language v2 fixture: every new construct -------------------------------------------

@pytest.fixture(scope="module")
def v2_policies():
    loaded = aturan.load(V2_RULESETS)
    yield loaded
    loaded.close()


@pytest.fixture(scope="module")
def v2_corpus(v2_policies) -> list[dict[str, Any]]:
    return list(sample.generate(sample.plan_for(v2_policies.collection, "tiktok_shop"), 3000,
                                SEED))


def test_memoised_fired_rules_equal_the_engine_on_the_v2_fixture(v2_policies, v2_corpus):
    rng = random.Random(SEED)
    compared = 0
    for facts in v2_corpus:
        for variant in [facts] + at_other_instants(facts, rng):
            flat = flatten_facts(variant)
            compiled = v2_policies.compiled_for(flat)
            assert (v2_policies.engine_rules(compiled, flat)
                    == v2_policies.engine_rules(compiled, flat, cached=False)), variant
            compared += 1
    assert compared == 30_000
    assert 0 < v2_policies.cache.total_keys() < compared // 10


def test_v2_decisions_equal_the_oracle_byte_for_byte(v2_policies, v2_corpus):
    for index, facts in enumerate(v2_corpus):
        decision, oracle = v2_policies.decide(facts), oracle_decide(v2_policies, facts)
        assert decision.to_json() == oracle.to_json()  # the plan's fragments (runtime/deferred)
        assert canonical_json(decision.to_dict()) == oracle.to_json()  # the rendered items
        assert decision == oracle
        if index % 10 == 0:
            for lang in ("en", "id"):
                assert (v2_policies.decide(facts, lang=lang).to_json()
                        == oracle_decide(v2_policies, facts, lang).to_json())


# ---- whole decisions: 10k orders ----------------------------------------------------------

@pytest.mark.slow
def test_decisions_equal_the_oracle_byte_for_byte(policies, corpus):
    for index, facts in enumerate(corpus):
        assert policies.decide(facts).to_json() == oracle_decide(policies, facts).to_json()
        if index % 10 == 0:
            for lang in ("en", "id"):
                assert (policies.decide(facts, lang=lang).to_json()
                        == oracle_decide(policies, facts, lang).to_json())


def test_a_tiny_memo_evicts_and_changes_nothing(monkeypatch, corpus):
    monkeypatch.setattr(memo_module, "CAPACITY", 8)
    fresh = aturan.load(RULESETS)
    try:
        for facts in corpus[:3000]:
            assert fresh.decide(facts).to_json() == oracle_decide(fresh, facts).to_json()
        sizes = [len(memo) for memo in fresh.cache]
        assert len(sizes) == len(fresh._compiled)
        assert max(sizes) == 8 and sum(memo.misses for memo in fresh.cache) > sum(sizes)
    finally:
        fresh.close()


def test_more_keys_than_capacity_still_decide_exactly(corpus):
    """A memo of 64 keys per compiled ruleset meets thousands: it keeps evicting (least recently
    used first), never holds more than its capacity, counts every lookup, and every decision
    is the oracle's."""
    fresh = aturan.load(RULESETS, memo_capacity=64)
    try:
        for facts in corpus[:4000]:
            assert fresh.decide(facts).to_json() == oracle_decide(fresh, facts).to_json()
        stats = fresh.cache.stats()
        assert stats.hits + stats.misses == 4000 and stats.evictions > 0
        assert stats.evictions == stats.misses - stats.keys
        assert all(len(memo) <= 64 == memo.capacity for memo in fresh.cache)
        assert stats.capacity == 64 * len(fresh._compiled)
    finally:
        fresh.close()


def test_the_memo_drops_the_least_recently_used_key(policies):
    memo = memo_module.RulesetMemo(next(iter(policies.cache)).compiled, capacity=3)
    plans = {key: object() for key in ((1,), (2,), (3,), (4,))}
    for key in ((1,), (2,), (3,)):
        memo.put(key, plans[key])  # type: ignore[arg-type]
    assert memo.get((1,)) is plans[(1,)]  # (1,) is now the most recently used
    memo.put((4,), plans[(4,)])  # type: ignore[arg-type]
    assert list(memo.plans) == [(3,), (1,), (4,)]
    assert memo.get((2,)) is None
    assert memo.stats() == memo_module.MemoStats(3, 3, 1, 4, 1)
    with pytest.raises(ValueError):
        memo_module.RulesetMemo(memo.compiled, capacity=-1)


def test_values_every_atom_answers_alike_share_a_class():
    """Key classes are truth signatures: below and above `eq 5` (and absent) answer alike, and
    so do paid and to_ship when they are only ever named together."""
    total = [Atom("order.amounts.total", "eq", 5)]
    assert memo_module._intervals(total, memo_module._boundaries(total)) == (0, 1, 0, 0)
    apart = [Atom("order.amounts.total", "gt", 5), Atom("order.amounts.total", "lt", 3)]
    assert memo_module._intervals(apart, memo_module._boundaries(apart)) == (0, 1, 2, 1)
    both = [Atom("order.amounts.total", "ge", 3), Atom("order.amounts.total", "lt", 6)]
    assert memo_module._intervals(both, memo_module._boundaries(both)) is None  # all distinct
    status = [Atom("order.status", "in", ("paid", "to_ship")),
              Atom("order.status", "eq", "delivered")]
    table, other = memo_module._table(status)
    assert table == {None: 0, "paid": 1, "to_ship": 1, "delivered": 2} and other == 0
    assert memo_module._table([Atom("order.status", "absent", True)]) == ({None: 0}, 1)


def test_combine_with_other_fired_rules_is_not_served_from_the_memo(policies, corpus):
    """A caller may pass its own fired rules (the reference interpreter, a what-if): a plan
    cached for the engine's answer must not be reused for a different set."""
    from aturan.runtime.evaluate import combine
    for facts in corpus[:200]:
        flat = flatten_facts(facts)
        compiled = policies.compiled_for(flat)
        policies.engine_rules(compiled, flat)  # the engine's answer is now cached
        for fired in ([], [0], list(range(len(compiled.rules)))):
            assert (combine(compiled, flat, fired).to_json()
                    == oracle_combine(compiled, oracle_flat(facts), fired, raw=facts).to_json())


# ---- validation ---------------------------------------------------------------------------

def test_sampled_orders_are_accepted_by_the_compiled_check_with_equal_flat_facts(corpus):
    check = facts_module._fast_check()
    assert check is not None, "the facts schema no longer compiles: validation is slow again"
    for facts in corpus[::5]:
        assert check(facts) is not None
        assert validate_facts(facts) == []
        assert flatten_facts(facts) == oracle_flat(facts)


def _paths(tree: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(tree, dict):
        for key, child in tree.items():
            found += _paths(child, prefix + (key,))
    elif isinstance(tree, list):
        for index, child in enumerate(tree):
            found += _paths(child, prefix + (index,))
    return found


def _set(tree: Any, path: tuple, value: Any) -> Any:
    tree = copy.deepcopy(tree)
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return tree


def _delete(tree: Any, path: tuple) -> Any:
    tree = copy.deepcopy(tree)
    node = tree
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return tree


def _deep(levels: int) -> Any:
    node: Any = 1
    for _ in range(levels):
        node = [node]
    return {"deep": node}


REPLACEMENTS = [None, 0, -1, 1.5, 1.0, float("nan"), True, "", "x" * 129, "x" * 1100, [], {},
                2 ** 63, 10 ** 12 + 1, "paid", "2024-02-30T10:00:00+07:00",
                "1800-01-01T00:00:00+07:00", "3000-01-01T00:00:00Z", "2024-03-01T10:00:00",
                "2024-03-01t10:00:00z", "2024-03-01 10:00:00.123456789+07:00",
                "2024-03-01T24:00:00+07:00", _deep(20)]


def variants(facts: dict[str, Any], rng: random.Random) -> Iterable[Any]:
    """Broken (and a few still valid) versions of `facts`: every value replaced, keys removed
    and added at every level, the whole thing replaced."""
    paths = [p for p in _paths(facts) if p]
    for path in paths:
        yield _set(facts, path, rng.choice(REPLACEMENTS))
        if isinstance(path[-1], str):
            yield _delete(facts, path)
    for path in [()] + [p for p in paths if isinstance(p[-1], str)]:
        parent = path if path == () else path
        node: Any = facts
        for key in parent:
            node = node[key]
        if isinstance(node, dict):
            yield _set(facts, parent + ("colour",), "red") if parent else {**facts, "colour": 1}
    yield {**facts, "derived": {"has_digital": True}}
    yield {**facts, "now": "2024-13-01T00:00:00+07:00"}
    yield _set(facts, ("order", "items"), [facts["order"]["items"][0]] * 501)
    yield _set(facts, ("request", "seller_response"), {"decision": "approve"})
    yield _set(facts, ("request", "seller_response"),
               {"decision": "reject", "at": facts["request"]["at"], "reason": "nope"})
    yield [facts]
    yield "facts"


def test_broken_facts_get_exactly_the_diagnostics_of_validate_facts(corpus):
    rng = random.Random(SEED)
    checked = 0
    for facts in corpus[:40:4]:
        for variant in variants(facts, rng):
            expected = validate_facts(variant)
            if expected:
                with pytest.raises(aturan.FactsError) as info:
                    flatten_facts(variant)
                assert info.value.diagnostics == aturan.FactsError(expected).diagnostics
            else:
                assert flatten_facts(variant) == oracle_flat(variant)
            checked += 1
    assert checked > 500


def test_the_compiled_check_refuses_a_schema_it_cannot_translate():
    from aturan.runtime.fastcheck import Limits, compile_checker
    limits = Limits(1024, 2 ** 63, 16, 10_000)
    schema = {"type": "object", "additionalProperties": False,
              "properties": {"a": {"type": "integer"}}}
    assert compile_checker(schema, limits)({"a": 1}) == {"a": 1}
    assert compile_checker(schema, limits)({"a": 1.0}) is None
    for unknown in ({"oneOf": [{"type": "integer"}]}, {"type": "integer", "multipleOf": 2},
                    {"type": ["integer", "null"]}, {}):
        assert compile_checker({**schema, "properties": {"a": unknown}}, limits) is None
    assert compile_checker({**schema, "additionalProperties": True}, limits) is None


# ---- the engine's uninitialised session state -------------------------------------------------

def test_an_order_no_rule_matches_is_decided_in_a_fresh_process(tmp_path, corpus, policies):
    """durable_rules crashed the process (segfault) when the first session of a ruleset
    matched no rule; the memo still sends every new key to the engine, so check it end to end
    through the CLI, which imports everything first."""
    unmatched = next(f for f in corpus if policies.decide(f).explanation[0].rule == "default")
    path = tmp_path / "order.json"
    import json
    path.write_text(json.dumps(unmatched), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "aturan", "decide", str(path), "--format", "json",
                          "--rulesets", str(RULESETS)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == policies.decide(unmatched).to_json()
