"""The cheaper warm path changes no byte and no value.

- Deferred explanations (`runtime/deferred.py`): a decision's `to_json()` written from the
  plan's pre-serialised fragments is `canonical_json(to_dict())` and the eager `render`'s JSON,
  for every sampled order of the bundled rulesets and of the language v2 fixture, in every
  language, with and without a decision id; a template broken on purpose is caught; reading
  `outcome` renders nothing; equality, pickling, `replace` and threads see the eager decision.
- The fused facts check (`runtime/prepared.py`): what it accepts is what the unfused path
  accepts, with equal flat facts; anything else goes on to that path.
- The fused ages and key (`RulesetMemo.ages_and_key`): the ages `add_ages` fills and the key
  `key_of` computes, on orders judged at instants with fractions and other offsets.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import random
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import aturan
from aturan.language.model import format_duration
from aturan.regression import sample
from aturan.runtime import deferred
from aturan.runtime import plan as plan_module
from aturan.runtime.decision import Decision, canonical_json
from aturan.runtime.facts import (
    _consistent,
    _parse,
    add_ages,
    add_gaps,
    add_requested,
    flatten_without_ages,
    validate_facts,
)
from aturan.runtime.observe import with_decision_id
from conftest import RULESETS, make_facts

SEED = 20240301
LANGS = (None, "en", "id", "fr")


def sampled(policies: aturan.Policies, per_platform: int) -> list[dict[str, Any]]:
    names = [name for name, group in policies.collection.by_name.items()
             if not any(rs.is_overlay for rs in group)]
    return [o for name in names for o in sample.generate(
        sample.plan_for(policies.collection, name), per_platform, SEED)]


def eager(policies: aturan.Policies, facts: dict[str, Any], lang: str | None) -> Decision:
    """The decision as `render` builds it, explanation and all (the path before deferral)."""
    flat, texts = flatten_without_ages(facts, policies.facts_reader)
    memo = policies._select(flat, None)
    add_ages(flat, texts, memo.compiled.age_paths)
    if memo.compiled.reads_request:
        add_requested(flat, memo.compiled.catalogue.product_types)
    return plan_module.render(policies._plan(memo, flat), flat, lang)


def mismatches(policies: aturan.Policies, orders: list[dict[str, Any]]) -> list[str]:
    """Orders whose deferred JSON is not the eager one, in any language or with an id."""
    found = []
    for index, facts in enumerate(orders):
        for lang in LANGS if index % 4 == 0 else (None,):
            decision = policies.decide(facts, lang=lang)
            assert "_deferred" in decision.__dict__  # the template path is the one tested
            written = decision.to_json()
            expected = eager(policies, facts, lang).to_json()
            if written != expected or written != canonical_json(decision.to_dict()):
                found.append(f"{facts['order']['id']} {lang}: {written} != {expected}")
            if index % 8 == 0:
                logged = with_decision_id(decision, "0190-id")
                if logged.to_json() != canonical_json(logged.to_dict()):
                    found.append(f"{facts['order']['id']} with an id")
    return found


def test_deferred_json_is_the_eager_json_on_sampled_orders(bundled):
    orders = sampled(bundled, 300)
    assert mismatches(bundled, orders) == []
    shown = "".join(bundled.decide(o).to_json() for o in orders)
    for key in ('"negated":true', '"age"', '"eta":{', '"citation"', '"eta":null'):
        assert key in shown, f"no sampled decision exercises {key}"


def test_deferred_json_is_the_eager_json_on_the_v2_fixture(v2):
    """Durations between two facts, effective_at, refund expressions, per-item requests
    (`covers`) and returns: every slot kind the templates have."""
    orders = sampled(v2, 1500)
    assert mismatches(v2, orders) == []
    shown = "".join(v2.decide(o).to_json() for o in orders)
    for key in ('"of_actual"', '"effective_at"', '"covers"', '"return"', '"age"', '"eta":{'):
        assert key in shown, f"no sampled decision exercises {key}"


@pytest.mark.parametrize("breakage", ["literal", "duration", "message"])
def test_a_broken_template_is_caught(bundled, monkeypatch, breakage):
    """The comparison above fails when the templates are wrong (each breakage alone)."""
    orders = sampled(bundled, 60)
    if breakage == "literal":
        original = deferred._joined

        def joined(parts):
            head, slots = original(parts)  # one space more after a key
            return head, tuple((slot, after.replace('"outcome":', '"outcome": '))
                               for slot, after in slots)
        monkeypatch.setattr(deferred, "_joined", joined)
    elif breakage == "duration":
        monkeypatch.setattr(deferred, "_duration", lambda seconds: f"{seconds}s")
    else:
        monkeypatch.setattr(deferred, "_text", lambda text: canonical_json(text.upper()))
    fresh = aturan.load(RULESETS)  # templates are cached per plan: a fresh set builds them
    try:
        assert mismatches(fresh, orders)
    finally:
        fresh.close()


def test_durations_are_written_as_format_duration_writes_them():
    rng = random.Random(SEED)
    for seconds in [0, 1, 59, 60, 61, 3600, 86399, 86400, 90061, *[
            rng.randrange(10 ** rng.randrange(1, 10)) for _ in range(3000)]]:
        assert deferred._duration(seconds) == format_duration(seconds)


def test_reading_the_outcome_renders_no_explanation(bundled, monkeypatch):
    calls = []
    original = deferred.explanation_items

    def counted(*args: Any) -> Any:
        calls.append(args)
        return original(*args)
    monkeypatch.setattr(deferred, "explanation_items", counted)
    decision = bundled.decide(make_facts())
    assert (decision.outcome, decision.refund is not None, decision.next_steps) == (
        "pending_seller", False, ("contact_seller",))
    text = decision.to_json()
    assert decision.fired_rules and calls == []
    items = decision.explanation
    assert len(calls) == 1 and decision.explanation is items and len(calls) == 1
    assert text == canonical_json(decision.to_dict())


def test_a_deferred_decision_is_the_eager_decision(bundled):
    for facts in sampled(bundled, 40):
        for lang in LANGS:
            decision, expected = bundled.decide(facts, lang=lang), eager(bundled, facts, lang)
            assert decision.fired_rules == expected.fired_rules
            assert decision == expected and expected == decision
            assert repr(decision) == repr(expected)
            for copied in (pickle.loads(pickle.dumps(bundled.decide(facts, lang=lang))),
                           copy.deepcopy(bundled.decide(facts, lang=lang)),
                           copy.copy(bundled.decide(facts, lang=lang))):
                assert copied == expected and copied.to_json() == expected.to_json()
            assert "_deferred" not in pickle.loads(pickle.dumps(decision)).__dict__
            changed = dataclasses.replace(bundled.decide(facts, lang=lang), outcome="other")
            assert changed.explanation == expected.explanation
            assert changed.to_json() == canonical_json(changed.to_dict())
            assert dataclasses.asdict(decision) == dataclasses.asdict(expected)


def test_deferred_decisions_read_from_many_threads_are_exact(bundled):
    orders = sampled(bundled, 100)
    expected = [eager(bundled, facts, None).to_json() for facts in orders]
    decisions = [bundled.decide(facts) for facts in orders]  # shared, read by every thread
    failures: list[str] = []

    def reader(offset: int) -> None:
        for index in range(len(orders)):
            k = (index + offset) % len(orders)
            decision = decisions[k]
            first = decision.to_json() if offset % 2 else canonical_json(decision.to_dict())
            again = bundled.decide(orders[k]).to_json()
            if first != expected[k] or again != expected[k]:
                failures.append(orders[k]["order"]["id"])
    threads = [threading.Thread(target=reader, args=(n * 37,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []


# ---- the fused facts check ----------------------------------------------------------------

def unfused(facts: Any, policies: aturan.Policies) -> Any:
    """What `flatten_without_ages` gave before the fused check: the check, then `_parse`."""
    reader = policies.facts_reader
    values = reader.check(facts) if reader.check is not None else None
    if values is None:
        return None
    parsed = _parse(facts, values, True, reader.timestamp_paths)
    if parsed is None or not _consistent(facts):
        return None
    return parsed


def shifted(facts: dict[str, Any], rng: random.Random) -> Iterator[dict[str, Any]]:
    """The order with its timestamps written other ways, and broken in a few."""
    def rewrite(change: Callable[[str], str]) -> dict[str, Any]:
        out = copy.deepcopy(facts)
        request = out["request"]
        request["at"] = change(request["at"])
        payment = out["order"]["payment"]
        if payment.get("paid_at"):
            payment["paid_at"] = change(payment["paid_at"])
        return out
    yield facts
    yield rewrite(lambda text: text.replace("+07:00", "Z"))
    yield rewrite(lambda text: text.replace("+07:00", "z"))
    yield rewrite(lambda text: text.replace("T", "t"))
    yield rewrite(lambda text: text[:19] + ".123456789" + text[19:])
    yield rewrite(lambda text: text[:19] + ".5" + text[19:])
    yield rewrite(lambda text: "0999" + text[4:])
    yield rewrite(lambda text: text[:5] + "02-30" + text[10:])
    yield rewrite(lambda text: text[:19] + "+05:30")
    yield {**facts, "now": facts["request"]["at"][:19] + ".25-03:00"}
    broken = copy.deepcopy(facts)
    broken["order"]["amounts"]["total"] += rng.choice((-1, 1))
    yield broken
    extra = copy.deepcopy(facts)
    extra["order"]["payment"]["extra"] = 1
    yield extra
    missing = copy.deepcopy(facts)
    del missing["order"]["amounts"]["items"]
    yield missing


def test_the_fused_check_accepts_what_the_unfused_path_accepts(bundled, v2):
    rng = random.Random(SEED)
    accepted = refused = 0
    for policies in (bundled, v2):
        prepare = policies.facts_reader.prepare
        assert prepare is not None, "the fused check no longer compiles"
        for facts in sampled(policies, 40):
            for variant in shifted(facts, rng):
                fused = prepare(variant)
                before = unfused(variant, policies)
                if fused is None:
                    refused += 1
                else:
                    accepted += 1
                    assert before is not None and validate_facts(variant, policies.facts_reader) == []
                    flat, texts = before
                    assert (fused[0], fused[1], fused[2]) == (flat.values, texts, flat.now)
                    assert fused[3] == texts[""]
                    assert list(fused[0]) == list(flat.values)  # the same order, too
                    assert list(fused[1]) == list(texts)
                got, _ = flatten_without_ages(variant, policies.facts_reader) if (
                    not validate_facts(variant, policies.facts_reader)) else (None, None)
                if before is not None:
                    assert got == before[0]
    assert accepted > 100 and refused > 100


# ---- the fused ages and key ---------------------------------------------------------------

def test_fused_ages_and_key_equal_add_ages_and_key_of(bundled, v2):
    rng = random.Random(SEED)
    zones = [timezone(timedelta(hours=h)) for h in (7, 8, 9, 0, -3)]
    compared = 0
    for policies in (bundled, v2):
        for facts in sampled(policies, 60):
            at = datetime.fromisoformat(facts["request"]["at"])
            for _ in range(6):
                moment = at + timedelta(seconds=rng.randrange(0, 40 * 86400),
                                        microseconds=rng.choice((0, 0, 250_000)))
                text = moment.astimezone(rng.choice(zones)).isoformat()
                if rng.random() < 0.2:
                    text = text[:19] + ".123456789" + text[-6:]
                variant = {**facts, "now": text}
                try:
                    flat, texts = flatten_without_ages(variant, policies.facts_reader)
                    memo = policies._select(flat, None)
                except aturan.AturanError:
                    continue
                if memo.compiled.reads_request:
                    add_requested(flat, memo.compiled.catalogue.product_types)
                add_gaps(flat, memo.compiled.gap_pairs)
                plain = copy.copy(flat)
                object.__setattr__(plain, "ages", {})
                add_ages(plain, texts, memo.compiled.age_paths)
                expected = memo.key_of(plain.values, plain.ages, plain.gaps)
                ages: dict[str, int] = {}
                key = memo.ages_and_key(flat.values, ages, flat.gaps, texts, flat.now,
                                        texts[""])
                assert (key, ages) == (expected, plain.ages)
                assert list(ages) == list(plain.ages)
                compared += 1
    assert compared > 500


def test_a_decision_built_by_hand_keeps_its_explanation_as_given(bundled):
    decision = bundled.decide(make_facts())
    fields = {f.name: getattr(decision, f.name) for f in dataclasses.fields(Decision)}
    for given in (None, (), decision.explanation[:1]):
        built = Decision(**{**fields, "explanation": given})
        assert built.explanation is given and "_deferred" not in built.__dict__
