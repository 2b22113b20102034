"""The shortcuts of the warm path (issue 18, second pass) change no value and no byte.

- `facts.add_requested` (derived.request.* from a table per set of product types, `covered`
  kept per FlatFacts) against the independent oracle of test_memo_exact, on sampled orders of
  the bundled rulesets and the language v2 fixture, with partial requests made up;
- the deferred JSON's direct writers (covers, a timestamp written from its text, durations
  between two timestamps) against the eager rendering on orders whose timestamps are written
  every way the schema allows (lowercase t, a space, Z, -00:00, fractions, other offsets);
- `display.show` of a timestamp (isoformat instead of strftime) against strftime;
- the fused check parsing each timestamp where it finds it (`prepared._parse_where_found`)
  against the unfused path, on timestamps written every way and broken;
- memo keys leaving out the facts no live rule reads (`runtime/relevance.py`): far fewer
  keys, every answer the engine's;
- each shortcut broken on purpose is caught by the comparison that guards it.
"""

from __future__ import annotations

import copy
import dataclasses
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from test_deferred import eager, sampled, shifted, unfused
from test_memo_exact import oracle_requested

import aturan
from aturan.language import display
from aturan.regression import sample
from aturan.runtime import deferred, prepared, requested
from aturan.runtime import facts as facts_module
from aturan.runtime.decision import canonical_json
from aturan.runtime.facts import add_requested, covered, flatten_without_ages
from conftest import RULESETS, V2_RULESETS

SEED = 20240301


def partial(facts: dict[str, Any], rng: random.Random) -> Iterator[dict[str, Any]]:
    """The order, and requests for some of its lines (units repeated, in another order)."""
    yield facts
    lines = facts["order"]["items"]
    for _ in range(2):
        chosen = rng.sample(lines, rng.randrange(1, len(lines) + 1))
        asked = []
        for line in chosen:
            units = rng.randrange(1, line["quantity"] + 1)
            if units > 1 and rng.random() < 0.5:  # one line asked for in two items
                asked += [{"sku": line["sku"], "quantity": 1},
                          {"sku": line["sku"], "quantity": units - 1}]
            else:
                asked.append({"sku": line["sku"], "quantity": units})
        rng.shuffle(asked)
        variant = copy.deepcopy(facts)
        variant["request"]["items"] = asked
        yield variant


def requested_mismatches(policies: aturan.Policies, orders: list[dict[str, Any]]
                         ) -> tuple[int, list[str]]:
    rng = random.Random(SEED)
    compared, found = 0, []
    for facts in orders:
        for variant in partial(facts, rng):
            try:
                flat, _ = flatten_without_ages(variant, policies.facts_reader)
            except aturan.AturanError:
                continue
            add_requested(flat, policies.catalogue.product_types)
            got = {k: v for k, v in flat.values.items() if k.startswith("derived.request.")}
            expected = oracle_requested(variant)
            if list(got.items()) != list(expected.items()):  # values, types and order
                found.append(f"{variant['order']['id']}: {got} != {expected}")
            lines = covered(flat)
            if lines is not covered(flat):
                found.append("covered() computed twice")
            compared += 1
    return compared, found


def test_add_requested_equals_the_oracle(bundled, v2):
    for policies in (bundled, v2):
        compared, found = requested_mismatches(policies, sampled(policies, 120))
        assert found == [] and compared > 300


def test_a_broken_table_of_product_types_is_caught(v2, monkeypatch):
    def wrong(types: tuple[str, ...], kinds: frozenset[str]) -> dict[str, bool]:
        return {**right(types, kinds), f"derived.request.all.{types[0]}": False}
    right = requested._kinds_values.__wrapped__
    monkeypatch.setattr(requested, "_kinds_values", wrong)
    _, found = requested_mismatches(v2, sampled(v2, 60))
    assert found


# ---- the deferred JSON's direct writers ---------------------------------------------------

REWRITES: list[Callable[[str], str]] = [
    lambda text: text,
    lambda text: text.replace("T", "t"),
    lambda text: text.replace("T", " "),
    lambda text: text[:19] + "Z",
    lambda text: text[:19] + "z",
    lambda text: text[:19] + "-00:00",
    lambda text: text[:19] + "+00:00",
    lambda text: text[:19] + ".5" + text[19:],
    lambda text: text[:19] + ".123456789" + text[19:],
    lambda text: text[:19] + "+05:30",
]


def rewritten(facts: dict[str, Any], change: Callable[[str], str]) -> dict[str, Any]:
    """The order with every timestamp written by `change` (the same instants or not)."""
    out = copy.deepcopy(facts)

    def walk(node: Any) -> None:
        for key, value in node.items() if isinstance(node, dict) else ():
            if isinstance(value, dict):
                walk(value)
            elif (isinstance(value, str) and len(value) == 25 and value[10] == "T"
                  and value[19] in "+-"):
                node[key] = change(value)
    walk(out)
    return out


def json_mismatches(policies: aturan.Policies, orders: list[dict[str, Any]]
                    ) -> tuple[str, list[str]]:
    found, shown = [], []
    for index, facts in enumerate(orders):
        variant = rewritten(facts, REWRITES[index % len(REWRITES)])
        for lang in (None, "en") if index % 3 == 0 else (None,):
            try:
                decision = policies.decide(variant, lang=lang)
            except aturan.AturanError:
                continue
            assert "_deferred" in decision.__dict__
            written = decision.to_json()
            shown.append(written)
            if written != eager(policies, variant, lang).to_json() or (
                    written != canonical_json(decision.to_dict())):
                found.append(f"{variant['order']['id']} {lang}: {written}")
    return "".join(shown), found


def test_deferred_json_with_timestamps_written_every_way(bundled, v2):
    text, found = json_mismatches(bundled, sampled(bundled, 150))
    assert found == []
    for key in ('"age"', '.500000+', '.123456+'):  # isoformat writes 6 digits of a fraction
        assert key in text, f"no decision exercises {key}"
    text, found = json_mismatches(v2, sampled(v2, 600))
    assert found == []
    for key in ('"of_actual"', '"covers"', '"gap"', '"age"'):
        assert key in text, f"no decision exercises {key}"


@pytest.mark.parametrize("breakage", ["isoformat", "covers", "between", "inline"])
def test_a_broken_direct_writer_is_caught(monkeypatch, breakage):
    if breakage == "inline":  # the generated writer's inline value read from another fact
        original_slot = deferred._actual_slot

        def actual_slot(report):
            slot = original_slot(report)
            if getattr(slot, "inline", None) is not None:
                slot.inline = (slot.inline[0], "request.type")
            return slot
        monkeypatch.setattr(deferred, "_actual_slot", actual_slot)
        path, orders = RULESETS, 150
    elif breakage == "isoformat":  # the text taken as isoformat whatever its form
        monkeypatch.setattr(deferred, "_isoformat", lambda value, text: canonical_json(
            text if text is not None else value.isoformat()))
        path, orders = RULESETS, 150
    elif breakage == "covers":  # quantity and amount swapped
        original = deferred._covers
        monkeypatch.setattr(deferred, "_covers", lambda covers: original(tuple(
            {"sku": c["sku"], "quantity": c["amount"], "amount": c["quantity"]}
            for c in covers)))
        path, orders = V2_RULESETS, 600
    else:  # the gap's sign lost
        monkeypatch.setattr(deferred, "gap_between",
                            lambda facts, fact, of: abs(facts_module.gap_between(facts, fact, of)
                                                        or 0) + 1)
        path, orders = V2_RULESETS, 600
    fresh = aturan.load(path)  # templates are cached per plan: a fresh set builds them
    try:
        _, found = json_mismatches(fresh, sampled(fresh, orders))
        assert found
    finally:
        fresh.close()


# ---- display.show of a timestamp ----------------------------------------------------------

def test_show_writes_timestamps_as_strftime_does():
    rng = random.Random(SEED)
    for number in range(20_000):
        moment = datetime(rng.randrange(1, 10_000), rng.randrange(1, 13), rng.randrange(1, 29),
                          rng.randrange(24), rng.randrange(60), rng.randrange(60),
                          rng.randrange(10 ** 6) if number % 2 else 0,
                          tzinfo=timezone(timedelta(minutes=rng.randrange(-1439, 1440))))
        try:
            local = moment.astimezone(display.JAKARTA)
        except OverflowError:
            continue
        assert display.show(moment) == local.strftime("%Y-%m-%d %H:%M WIB"), moment


# ---- timestamps parsed where the fused check finds them -----------------------------------

def fused_disagreements(prepare: Any, policies: aturan.Policies) -> int:
    """Variants (odd timestamps, broken sums) on which `prepare` accepts what the unfused path
    refuses, or gives other flat values, texts (or their order) or `now`; refusing what it
    accepts (a `z` offset, which `datetime.fromisoformat` does not read) is allowed."""
    rng = random.Random(SEED)
    found = 0
    for facts in sampled(policies, 30):
        for variant in shifted(facts, rng):
            fused, before = prepare(variant), unfused(variant, policies)
            if fused is not None and before is None:
                found += 1
            elif fused is not None:
                flat, texts = before
                found += (fused[0], fused[1], fused[2], fused[3]) != (
                    flat.values, texts, flat.now, texts[""]) or list(fused[1]) != list(texts)
    return found


def test_the_fused_parse_agrees_and_a_broken_one_is_caught(bundled, v2, monkeypatch):
    for policies in (bundled, v2):
        assert fused_disagreements(policies.facts_reader.prepare, policies) == 0
    original = prepared._parse_where_found

    def lax(catalogue):  # the year range forgotten
        parse = original(catalogue)
        return dataclasses.replace(parse, lines=(parse.lines[0], parse.lines[2]))
    monkeypatch.setattr(prepared, "_parse_where_found", lax)
    broken = prepared.compile_prepare(bundled.catalogue)
    assert broken is not None and fused_disagreements(broken, bundled) > 0


def test_plans_of_one_shape_share_their_writer(bundled):
    """A plan keeps its constants; the generated function is one per template shape."""
    plans = {}
    for facts in sampled(bundled, 150):
        decision = bundled.decide(facts)
        decision.to_json()
        plan = decision.__dict__["_deferred"].plan
        plans[id(plan)] = plan
    writers = [plan.json_templates[None] for plan in plans.values()]
    functions = {id(write) for write, _ in writers}
    assert len(plans) > 100 and len(functions) * 4 < len(plans)
    assert all(type(constants) is tuple for _, constants in writers)


# ---- coarser memo keys: facts no live rule reads left out (runtime/relevance.py) ----------

def engine_disagreements(policies: aturan.Policies, orders: list[dict[str, Any]]) -> int:
    found = 0
    for facts in orders:
        flat = facts_module.flatten_facts(facts, policies.facts_reader)
        compiled = policies.compiled_for(flat)
        found += policies.engine_rules(compiled, flat) != policies.engine_rules(
            compiled, flat, cached=False)
    return found


def test_masked_keys_are_fewer_and_a_lax_mask_is_caught(monkeypatch):
    """The masks leave facts out (far fewer keys on sampled orders, every answer the
    engine's: test_memo_exact checks 130,000 orders); reading an unknown atom as false, which
    declares live rules dead, is caught."""
    from aturan.runtime import memo, relevance
    fresh = aturan.load(RULESETS)
    try:
        orders = list(sample.generate(sample.plan_for(fresh.collection, "tiktok_shop"), 4000,
                                      SEED))
        assert engine_disagreements(fresh, orders) == 0
        masked = fresh.cache.total_keys()
    finally:
        fresh.close()
    monkeypatch.setattr(memo, "masks", lambda positions, conditions: None)
    plain = aturan.load(RULESETS)
    try:
        assert engine_disagreements(plain, orders) == 0
        assert masked * 3 < plain.cache.total_keys()
    finally:
        plain.close()
    monkeypatch.undo()
    original = relevance._reading

    def lax(condition, known):  # unknown read as false: live rules declared dead
        found = original(condition, known)
        return False if found is None else found
    monkeypatch.setattr(relevance, "_reading", lax)
    broken = aturan.load(RULESETS)
    try:
        assert engine_disagreements(broken, orders) > 0
    finally:
        broken.close()
