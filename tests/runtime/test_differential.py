"""Differential test: durable_rules (`Policies.decide`) and the reference interpreter
(`aturan.analysis.reference`) must give byte-identical decisions for generated, schema-valid facts on every
loaded ruleset version, including timestamps on and around every duration threshold.

Two drivers over the same generator (tests/strategies.py): a fixed-seed run of at least 20,000
examples with `random.Random` (cheap, in the normal suite), and a hypothesis run (a few hundred
examples, derandomized) whose failures shrink to a small order. ATURAN_FUZZ_EXAMPLES=N raises
both to N for a longer profile. A mutation test proves the harness can fail: a compiler with one
operator broken is caught.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aturan
from aturan.analysis import reference
from aturan.language.model import Atom
from aturan.runtime import compiler
from aturan.runtime import plan as plan_module
from aturan.runtime.evaluate import Policies
from conftest import RULESETS, V2_RULESETS
from strategies import RandomDraw, Target, build_facts, facts_for, targets, thresholds

LONG = int(os.environ.get("ATURAN_FUZZ_EXAMPLES", "0"))
FIXED_SEED_EXAMPLES = max(20_000, LONG)
HYPOTHESIS_EXAMPLES = LONG or 200
SEED = 20260301


def both_paths(policies: Policies, facts: dict[str, Any], pin: str) -> tuple[aturan.Decision,
                                                                             aturan.Decision]:
    """(production decision, reference decision): `Policies.decide` exactly as callers use it
    (whatever caching sits in front of durable_rules), and `reference.decide`, which differs only
    in how it finds the matching rules."""
    return policies.decide(facts, pin), reference.decide(policies, facts, pin)


def mismatch_report(facts: dict[str, Any], pin: str, engine: aturan.Decision,
                    oracle: aturan.Decision) -> str:
    return (f"ruleset {pin}: durable_rules fired {sorted(engine.fired_rules)}, the reference "
            f"interpreter {sorted(oracle.fired_rules)}\nfacts: {json.dumps(facts)}\n"
            f"engine:    {engine.to_json()}\nreference: {oracle.to_json()}")


def run_fixed_seed(policies: Policies, count: int, seed: int = SEED,
                   stop_after: int = 3) -> tuple[list[str], Counter[tuple[str, str]]]:
    """Generate `count` examples round-robin over the targets; return the mismatches (at most
    `stop_after`) and how often each (pin, rule) fired."""
    choices, limits = targets(policies), thresholds(policies)
    draw = RandomDraw(seed)
    failures: list[str] = []
    fired: Counter[tuple[str, str]] = Counter()
    for index in range(count):
        target = choices[index % len(choices)]
        facts = build_facts(draw, target, limits)
        engine, oracle = both_paths(policies, facts, target.pin)
        fired.update((target.pin, rule) for rule in engine.fired_rules)
        if engine.to_json() != oracle.to_json():
            failures.append(mismatch_report(facts, target.pin, engine, oracle))
            if len(failures) >= stop_after:
                break
    return failures, fired


@pytest.fixture(scope="module")
def own() -> Iterator[Policies]:
    """The bundled rulesets loaded for this module alone: tens of thousands of decisions fill the
    memo of the rulesets they use, which other tests' shared `policies` should not inherit."""
    loaded = aturan.load(RULESETS)
    yield loaded
    loaded.close()


def test_bundled_versions_are_all_targeted(own):
    pins = {t.pin for t in targets(own)}
    assert pins == {rs.key for rs in own.collection.versions}
    assert 0 in thresholds(own) and len(thresholds(own)) > 1


@pytest.mark.slow
def test_engine_and_reference_agree_on_fixed_seed_examples(own):
    failures, fired = run_fixed_seed(own, FIXED_SEED_EXAMPLES)
    assert not failures, "\n\n".join(failures)
    never = [f"{t.pin}: {rule.id} ({rule.location.file}:{rule.location.line})"
             for t in targets(own) for rule in t.rules if not fired[(t.pin, rule.id)]]
    assert not never, ("rules no generated order made fire (unreachable? try `aturan lint`): "
                       + "; ".join(never))


def test_engine_and_reference_agree_on_the_v2_fixture(v2):
    failures, fired = run_fixed_seed(v2, 6_000)
    assert not failures, "\n\n".join(failures)
    never = [f"{t.pin}: {rule.id}" for t in targets(v2) for rule in t.rules
             if not fired[(t.pin, rule.id)]]
    assert not never, "rules no generated order made fire: " + "; ".join(never)


@pytest.fixture(scope="module")
def target_space(own) -> tuple[list[Target], tuple[int, ...]]:
    return targets(own), thresholds(own)


@settings(max_examples=HYPOTHESIS_EXAMPLES, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_engine_and_reference_agree_on_hypothesis_examples(own, target_space, data):
    choices, limits = target_space
    target, facts = data.draw(facts_for(choices, limits))
    engine, oracle = both_paths(own, facts, target.pin)
    assert engine.to_json() == oracle.to_json(), mismatch_report(facts, target.pin, engine,
                                                                 oracle)


# -- the harness can fail: compile with one operator broken, and expect a mismatch -----------

def _within_as_older_than(original: Callable[..., Any], atom: Atom) -> Any:
    if atom.op == "within":  # the `$lt` of `within` flipped to `$gte`
        return original(Atom(atom.fact, "older_than", atom.value, atom.location))
    return None


def _older_than_strict(original: Callable[..., Any], atom: Atom) -> Any:
    if atom.op == "older_than":  # off by one: now - t > d instead of >= d
        return {"$gt": {compiler.engine_key(atom): atom.value}}
    return None


def _ne_as_eq(original: Callable[..., Any], atom: Atom) -> Any:
    if atom.op == "ne":
        return original(Atom(atom.fact, "eq", atom.value, atom.location))
    return None


def _between_from_now(original: Callable[..., Any], atom: Atom) -> Any:
    if atom.of is not None:  # the duration measured from the fact to now, `of` ignored
        return original(Atom(atom.fact, atom.op, atom.value, atom.location))
    return None


def _between_off_by_one(original: Callable[..., Any], atom: Atom) -> Any:
    if atom.of is not None and atom.op == "within":  # fact - of <= d instead of < d
        return {"$lte": {compiler.engine_key(atom): atom.value}}
    return None


# -- ... and a broken reading of the effects the runtime works out per order ------------------

def _plus_ignored(monkeypatch) -> None:
    """`effective_at: { fact, plus }` taken at the fact alone."""
    from aturan.language.model import Effect, EffectiveAt
    original = plan_module.effective_instant

    def broken(effect: Effect, facts: Any) -> Any:
        at = effect.effective_at
        if at is not None and at.plus:
            effect = Effect(effect.outcome, effect.refund, effect.penalties, effect.next_steps,
                            EffectiveAt(at.fact))
        return original(effect, facts)
    monkeypatch.setattr(plan_module, "effective_instant", broken)


def _due_from_now(monkeypatch) -> None:
    """The refund's due date counted from `now` whatever the rule says."""
    original = plan_module._refund
    monkeypatch.setattr(plan_module, "_refund", lambda effect, facts, plan,
                        effective=None: original(effect, facts, plan, None))


def _public_holidays_only(monkeypatch) -> None:
    """The ruleset's `holidays` ignored: public holidays only."""
    original = plan_module._due_by
    monkeypatch.setattr(plan_module, "_due_by", lambda start, days, calendar, holidays="": (
        original(start, days, calendar, "public")))


def _half_up_as_down(monkeypatch) -> None:
    """A percentage rounded down whatever the rule declares."""
    from aturan.language import amounts
    original = amounts.round_percent
    monkeypatch.setattr(amounts, "round_percent", lambda percent, value, rounding: original(
        percent, value, "down"))


def _min_as_max(monkeypatch) -> None:
    """`max` read as `min` by the amount interpreter."""
    from aturan.language import amounts
    original = amounts.evaluate

    def broken(expr: Any, value: Any) -> Any:
        if isinstance(expr, amounts.Combine) and expr.op == "max":
            return min(original(a, value) for a in expr.args)
        return original(expr, value)
    monkeypatch.setattr(amounts, "evaluate", broken)


def _paid_only_ignored(monkeypatch) -> None:
    """An expression refunded on unpaid orders too."""
    from aturan.language.model import Refund
    monkeypatch.setattr(Refund, "paid_only", property(lambda self: self.amount == "paid"))


def _asked_units_ignored(monkeypatch) -> None:
    """A request for part of a line read as a request for the whole line."""
    from aturan.runtime import facts as facts_module
    original = facts_module.covered

    def broken(flat: Any) -> Any:
        by_sku = {line["sku"]: line for line in flat.lines or ()}
        return [(sku, by_sku[sku]["quantity"], by_sku[sku]["quantity"] * by_sku[sku]["unit_price"],
                 kind) for sku, _, _, kind in original(flat)]
    monkeypatch.setattr(facts_module, "covered", broken)
    monkeypatch.setattr(plan_module, "covered", broken)


def _postage_payer_dropped(monkeypatch) -> None:
    """A return's resolution reported without who pays the postage."""
    from aturan.language.model import ReturnEffect
    monkeypatch.setattr(ReturnEffect, "to_dict", lambda self: {
        k: v for k, v in (("resolution", self.resolution),) if v})


@pytest.mark.parametrize("breakage", [
    pytest.param(_postage_payer_dropped, id="return-postage-payer-dropped"),
    pytest.param(_asked_units_ignored, id="requested-units-ignored"),
    pytest.param(_half_up_as_down, id="percent-rounding-ignored"),
    pytest.param(_min_as_max, id="max-as-min"),
    pytest.param(_paid_only_ignored, id="paid_only-ignored"),
    pytest.param(_plus_ignored, id="effective_at-plus-ignored"),
    pytest.param(_due_from_now, id="due-date-from-now"),
    pytest.param(_public_holidays_only, id="joint-leave-ignored"),
])
def test_a_broken_effect_reading_is_caught(monkeypatch, v2, breakage):
    breakage(monkeypatch)
    fresh = aturan.load(V2_RULESETS)  # plans cached before the breakage would hide it
    try:
        failures, _ = run_fixed_seed(fresh, 5_000, stop_after=1)
    finally:
        fresh.close()
    assert failures, "the differential test did not notice a broken effect"


@pytest.mark.parametrize("mutation, rulesets", [
    pytest.param(_within_as_older_than, RULESETS, id="within-flipped"),
    pytest.param(_older_than_strict, RULESETS, id="older_than-off-by-one"),
    pytest.param(_ne_as_eq, RULESETS, id="ne-as-eq"),
    pytest.param(_between_from_now, V2_RULESETS, id="of-ignored"),
    pytest.param(_between_off_by_one, V2_RULESETS, id="within-of-off-by-one"),
])
def test_a_broken_compiler_is_caught(tmp_path, monkeypatch, mutation, rulesets):
    original = compiler.translate

    def broken(condition, fields=None):
        if isinstance(condition, Atom):
            replaced = mutation(original, condition)
            if replaced is not None:
                return replaced
        return original(condition, fields)

    monkeypatch.setattr(compiler, "translate", broken)
    copy = tmp_path / "rulesets"
    shutil.copytree(rulesets, copy)
    for path in copy.glob("*/*.yaml"):  # a new digest, so a new engine name for the mutant
        path.write_text(path.read_text(encoding="utf-8") + "\n# mutant\n", encoding="utf-8")
    mutant = aturan.load(copy)
    try:
        failures, _ = run_fixed_seed(mutant, 5_000, stop_after=1)
    finally:
        mutant.close()
    assert failures, "the differential test did not notice a broken compiler"
