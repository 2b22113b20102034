"""orjson changes no byte: the canonical writer, the fast reader and pinned selection.

`canonical_json` and `Decision.to_json` write with orjson where it provably writes what
`json.dumps(..., ensure_ascii=False, separators=(",", ":"))` writes; `Policies.decide_text`
reads with orjson where that is provably the strict reader's reading (`jsonio.fast_loads`);
`Policies` remembers pins. Each is compared here with the plain path it replaces.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import random
from collections import OrderedDict
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aturan
from aturan.regression import sample
from aturan.runtime.decision import ExplanationItem, canonical_json
from aturan.runtime.jsonio import UNPROVEN, fast_loads, parse_json
from conftest import RULESETS, make_facts


def plain(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def corpus(policies: aturan.Policies, per_platform: int = 400) -> list[dict[str, Any]]:
    names = [name for name, group in policies.collection.by_name.items()
             if not any(rs.is_overlay for rs in group)]
    return [o for name in names for o in sample.generate(
        sample.plan_for(policies.collection, name), per_platform, 20240301)]


# ---- the writer ---------------------------------------------------------------------------

class Colour(enum.Enum):
    RED = "red"


class Small(enum.IntEnum):
    ONE = 1


class Text(str):
    pass


ODD_VALUES = [1e16, 1e-05, 1.5, -0.0, float("nan"), float("inf"), float("-inf"), 2 ** 63,
              2 ** 64, -(2 ** 63) - 1, 10 ** 30, "\ud800", "\x00\x1f\x7f\u2028\ufeff😀", True,
              None, (1, 2), Small.ONE, Text("x"), OrderedDict(a=1.5), [1, [2.5]], {"k": 1e300}]


@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_canonical_json_writes_what_json_dumps_writes(value):
    for data in (value, {"a": value}, [value, {"b": [value]}]):
        assert canonical_json(data) == plain(data)


def test_what_json_dumps_refuses_canonical_json_refuses():
    for data in ({1: 2}, {"a": Colour.RED}, {"a": object()}, {(1,): 2}):
        try:
            expected: Any = plain(data)
        except (TypeError, ValueError) as exc:
            expected = type(exc)
        try:
            found: Any = canonical_json(data)
        except (TypeError, ValueError) as exc:
            found = type(exc)
        assert found == expected, data


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=5), children, max_size=4), max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_canonical_json_equals_json_dumps_on_any_json_value(data):
    assert canonical_json(data) == plain(data)


def test_decisions_to_json_equal_json_dumps_of_to_dict(policies):
    for facts in corpus(policies):
        for lang in (None, "en", "id"):
            decision = policies.decide(facts, lang=lang)
            written = decision.to_json()  # from the plan's fragments, before anything is read
            assert "_deferred" in decision.__dict__ and "explanation" not in decision.__dict__
            assert written == plain(decision.to_dict())
            assert decision.to_json() == written  # and again once the explanation is rendered


def test_a_broken_json_template_is_caught_here_too(monkeypatch):
    """The comparison above fails when a template writes one wrong byte."""
    from aturan.runtime import deferred
    original = deferred._joined

    def joined(parts):
        head, slots = original(parts)
        return head, tuple((slot, after.replace(',"next_steps":', ', "next_steps":'))
                           for slot, after in slots)
    monkeypatch.setattr(deferred, "_joined", joined)
    fresh = aturan.load(RULESETS)
    try:
        decision = fresh.decide(make_facts())
        assert decision.to_json() != plain(decision.to_dict())
    finally:
        fresh.close()


def test_a_hand_built_decision_with_floats_is_written_by_json_dumps(policies):
    decision = policies.decide(make_facts())
    item = decision.explanation[0]
    for effect, because in (({**item.effect, "odd": 1e-05}, item.because),
                            (item.effect, [{"fact": "x", "op": "gt", "expected": 1e16,
                                            "actual": float("nan")}])):
        odd = ExplanationItem(item.rule, item.priority, effect, because, item.message, item.file,
                              item.line, item.ruleset, item.citation)
        changed = dataclasses.replace(decision, explanation=(odd,))
        assert changed.to_json() == plain(changed.to_dict())
        assert "1e-05" in changed.to_json() or "1e+16" in changed.to_json()


# ---- the reader ----------------------------------------------------------------------------

def strict(text: str | bytes) -> Any:
    try:
        return parse_json(text)
    except aturan.FactsError as exc:
        return exc.diagnostics


def same(a: Any, b: Any) -> bool:
    """Equal, and equal types all the way down (1 is not 1.0, True is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b or (a != a and b != b)


TRICKY_TEXTS = [
    '{"a":1,"a":2}', '{"a":1, "a" :2}', '{"a":"x","a":"\\u002c"}', '{"a":{"b":1,"b":[1,2]}}',
    '{"a":"1,2","b":"3"}', '[NaN]', '{"a":Infinity}', '{"a":-Infinity}', '"\\ud800"',
    '{"n":123456789012345678901234567890}', '{"n":18446744073709551616}',
    '{"n":-9223372036854775809}', '{"n":18446744073709551615}', '{"n":1' + "0" * 5000 + "}",
    '[100000000000000000000,1E0,1.0e20]', '{"f":1.5,"g":1e400}', '\ufeff{}', '{}x', '[1,]',
    '{"a":"\\u00e9"}', '{"a":"é,ü"}', '  {"a" : [ 1 , 2 ] }  ', '[' * 300 + ']' * 300,
    '[' * 2000 + ']' * 2000, '{"a":"\\n\\t\\"\\\\\\/"}', '"\x01"', '01', '-0', '[true,false,null]',
]


@pytest.mark.parametrize("text", TRICKY_TEXTS, ids=lambda t: t[:40])
def test_fast_loads_is_the_strict_reading_or_unproven(text):
    for raw in (text, text.encode("utf-8", "surrogatepass")):
        fast = fast_loads(raw)
        if fast is UNPROVEN:
            continue
        expected = strict(raw)
        if isinstance(expected, tuple):  # the strict reader refused: only a number may differ
            assert "digits" in expected[0].message or expected[0].code == "json-too-deep"
            continue
        # equal, bar integers beyond 64 bits, which orjson reads as floats (facts refuse both)
        assert same(fast, expected) or _has_float(fast), text


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


def test_duplicate_keys_are_never_proven():
    for text in ('{"a":1,"a":2}', '{"x":{"a":[1,2],"a":3}}', '{"a":"\\u002c","a":1}',
                 '{"a":1,"b":2,"a":3}'):
        assert fast_loads(text) is UNPROVEN


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fast_loads_of_written_json_is_the_strict_reading(data):
    for text in (plain(data), json.dumps(data)):  # compact and spaced, ASCII-escaped
        fast = fast_loads(text)
        if fast is not UNPROVEN and not _has_float(fast):
            assert same(fast, strict(text))


def test_orjson_reads_floats_as_float_reads_them():
    rng = random.Random(20240301)
    for _ in range(20_000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 20)))
        text = (rng.choice(("", "-")) + (digits.lstrip("0") or "0") + "."
                + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 20)))
                + (f"e{rng.randint(-330, 330)}" if rng.random() < 0.5 else ""))
        try:
            fast = orjson.loads(text)
        except orjson.JSONDecodeError:
            continue
        assert repr(fast) == repr(float(text)), text


def _variants(facts: dict[str, Any]) -> list[str | bytes]:
    text = plain(facts)
    amount = '"total":%d' % facts["order"]["amounts"]["total"]
    return [
        text, json.dumps(facts), json.dumps(facts, indent=2), text.encode(),
        text.replace(amount, '"total":18446744073709551616'),
        text.replace(amount, '"total":123456789012345678901234567890'),
        text.replace(amount, '"total":1.5'), text.replace(amount, '"total":1e3'),
        text.replace(amount, '"total":NaN'), text.replace(amount, amount + "," + amount),
        text.replace('"order":{', '"order":{"id":"dup",'), text[:-1],
        text.replace('"request":{', '"request":{"note":"\\u002c",'),
        json.dumps(facts).encode("utf-16"), b"\xef\xbb\xbf" + text.encode(),
        text.replace(amount, '"total":' + "1" * 5000),
    ]


def outcome_of(call: Any, *args: Any, **kwargs: Any) -> Any:
    """The decision's JSON, or its error's diagnostics."""
    try:
        return call(*args, **kwargs).to_json()
    except aturan.AturanError as exc:
        return [(d.code, d.message, d.location) for d in exc.diagnostics]


def strict_decide(policies: aturan.Policies, text: str | bytes, pin: str | None) -> Any:
    return policies.decide(parse_json(text, "<in>", 3), pin)


def test_decide_text_gives_the_strict_decision_or_error(policies):
    for facts in corpus(policies, 25):
        for text in _variants(facts):
            for pin in (None, f"{facts['order']['platform']}@1.0.0"):
                assert (outcome_of(policies.decide_text, text, pin, source="<in>", line=3)
                        == outcome_of(strict_decide, policies, text, pin))


def test_decide_text_applies_the_size_limit_before_reading(policies):
    text = plain(make_facts())
    with pytest.raises(aturan.FactsError) as info:
        policies.decide_text(text, limit=len(text) - 1)
    assert info.value.first.code == "json-too-large"


# ---- pinned selection ------------------------------------------------------------------------

class Forgetful(dict):
    """A pin table that never remembers: every decision goes through `select`."""

    def __setitem__(self, key: Any, value: Any) -> None:
        pass


def test_a_remembered_pin_selects_what_select_selects():
    fresh, oracle = aturan.load(RULESETS), aturan.load(RULESETS)
    oracle._pins = Forgetful()
    try:
        pins = [None, "", "nosuch@1.0.0", "tiktok_shop@9.9.9"] + [
            rs.key for rs in fresh.collection.versions] + [
            rs.name for rs in fresh.collection.versions]
        for facts in corpus(fresh, 50):
            for pin in pins:
                first = outcome_of(fresh.decide, facts, pin)
                again = outcome_of(fresh.decide, facts, pin)  # remembered now
                assert first == again == outcome_of(oracle.decide, facts, pin)
        assert 0 < len(fresh._pins) <= len(fresh.collection.versions) and not oracle._pins
    finally:
        fresh.close()
        oracle.close()
