"""Validation of the language v2 constructs: what a ruleset may say with them, and the located
error when it says it wrong (`aturan validate`)."""

from __future__ import annotations

import pytest

import aturan
from aturan.errors import RulesetError
from aturan.language.model import Atom, Not
from aturan.language.semantic import requires_present
from conftest import V2_RULESETS, make_facts, write_ruleset

HEADER = """\
ruleset: tiktok_shop
version: 1.0.0
effective_from: 2024-01-01T00:00:00+07:00
description: A ruleset for one check.
sources:
  - { publisher: Test, title: Test source }
default:
  then: { outcome: escalated }
  explain: { en: Nothing matched., id: Tidak ada yang cocok. }
rules:
  - id: r1
    description: d
    priority: 10
    when:
      all:
%s
    then:
%s
    explain: { en: e, id: i }
    source: { publisher: Test, title: T }
"""


def codes_of(tmp_path, when: str, then: str, extra: str = "") -> list[str]:
    text = HEADER % (when, then)
    if extra:
        text = text.replace("sources:", extra + "\nsources:", 1)
    try:
        aturan.load(write_ruleset(tmp_path, text, name="tiktok_shop")).close()
    except RulesetError as exc:
        return [d.code for d in exc.diagnostics]
    return []


def test_the_fixture_is_valid():
    aturan.load(V2_RULESETS).close()


# ---- effective_at and holidays -------------------------------------------------------------

ANSWERED = "        - { fact: request.seller_response.at, within: 2d, of: request.at }"


@pytest.mark.parametrize("when, then, codes", [
    pytest.param(ANSWERED, "      outcome: approved\n      effective_at: { fact: request.seller_response.at }",
                 [], id="answer-tested-by-the-condition"),
    pytest.param("        - { fact: request.seller_response.decision, eq: approve }",
                 "      outcome: approved\n      effective_at: { fact: request.seller_response.at }",
                 ["effective-at-may-be-absent"], id="answer-may-be-absent"),
    pytest.param("        - { fact: order.status, eq: paid }",
                 "      outcome: approved\n      effective_at: { fact: request.at, plus: 2d }",
                 [], id="request-is-always-there"),
    pytest.param("        - { fact: order.status, eq: paid }",
                 "      next_steps: [x]\n      effective_at: { fact: request.at }",
                 ["effective-at-without-outcome"], id="additive-rule"),
    pytest.param("        - { fact: order.status, eq: paid }",
                 "      outcome: approved\n      effective_at: { fact: order.status }",
                 ["bad-effective-at"], id="not-a-timestamp"),
    pytest.param("        - { fact: order.status, eq: paid }",
                 "      outcome: approved\n      effective_at: { fact: request.att }",
                 ["unknown-fact"], id="unknown-fact"),
    pytest.param("        - { fact: order.status, eq: paid }",
                 "      outcome: approved\n      effective_at: { fact: request.at, plus: 2 days }",
                 ["schema"], id="bad-duration"),
])
def test_effective_at(tmp_path, when, then, codes):
    assert codes_of(tmp_path, when, then) == codes


LONGEST = "401769d"  # a little more than 1900-01-01 to the end of 2999, the years facts may have


@pytest.mark.parametrize("when, then", [
    pytest.param("        - { fact: request.at, within: 401770d, of: order.placed_at }",
                 "      outcome: approved", id="within-of"),
    pytest.param("        - { fact: order.placed_at, older_than: 99999999999999d }",
                 "      outcome: approved", id="older-than"),
    pytest.param("        - { fact: order.placed_at, older_than: %sd }" % ("9" * 5000),
                 "      outcome: approved", id="5000-digits"),
    pytest.param("        - { fact: order.status, eq: paid }",
                 "      outcome: approved\n      effective_at: { fact: request.at, plus: 3000000d }",
                 id="effective-at-plus"),
])
def test_a_duration_longer_than_the_years_facts_may_span_is_refused_located(tmp_path, when,
                                                                              then):
    """Such a duration can never decide anything; before, validation passed it and then
    deciding (an effective instant past the year 9999: OverflowError in `decide`, a 500 over
    HTTP), `aturan lint` (a witness's timestamp) or, for 5,000 digits, validation itself
    (Python's int conversion limit) crashed."""
    with pytest.raises(RulesetError) as caught:
        aturan.load(write_ruleset(tmp_path, HEADER % (when, then), name="tiktok_shop"))
    (found,) = caught.value.diagnostics
    assert found.code == "duration-too-long" and f"write at most {LONGEST}" in found.message
    assert (found.location.line, found.location.pointer) == (
        (19, "/rules/0/then/effective_at/plus") if "effective_at" in then
        else (16, "/rules/0/when/all/0"))
    assert len(found.full_message) < 400  # not the 5,000 digits echoed back


def test_the_longest_duration_decides_without_overflow(tmp_path):
    """At the limit, the effective instant of the latest request (2999) is about 4100: within
    what dates and business days can count."""
    when = "        - { fact: request.at, within: %s, of: order.placed_at }" % LONGEST
    then = ("      outcome: approved\n      effective_at: { fact: request.at, plus: %s }\n"
            "      refund: { amount: paid, destination: original_method,\n"
            "                eta: { min_business_days: 1, max_business_days: 60 } }" % LONGEST)
    policies = aturan.load(write_ruleset(tmp_path, HEADER % (when, then), name="tiktok_shop"))
    try:
        late = {"order": {"placed_at": "2999-12-30T10:00:00+07:00",
                          "payment": {"paid_at": "2999-12-30T10:05:00+07:00"},
                          "fulfillment": {"ship_by": "2999-12-31T10:00:00+07:00"}},
                "request": {"at": "2999-12-31T12:00:00+07:00"}}
        decision = policies.decide(make_facts(late))
        assert decision.outcome == "approved" and decision.effective_at.startswith("4100-")
        assert decision.refund is not None and decision.refund.due_by.startswith("4100-")
    finally:
        policies.close()


def test_holidays_are_one_of_two(tmp_path):
    when, then = "        - { fact: order.status, eq: paid }", "      outcome: approved"
    assert codes_of(tmp_path, when, then, "holidays: public_and_joint_leave") == []
    assert codes_of(tmp_path, when, then, "holidays: public") == []
    assert codes_of(tmp_path, when, then, "holidays: every_holiday") == ["schema"]


def test_requires_present_reads_all_any_and_not():
    fact = "request.seller_response.at"
    tested = Atom(fact, "within", 60, of="request.at")
    exists = Atom(fact, "exists", True)
    absent = Atom(fact, "absent", True)
    other = Atom("order.status", "eq", "paid")
    from aturan.language.model import AllOf, AnyOf
    assert requires_present(tested, fact) and requires_present(exists, fact)
    assert requires_present(tested, "request.at")  # both timestamps of a duration
    assert not requires_present(absent, fact) and not requires_present(other, fact)
    assert requires_present(AllOf((other, tested)), fact)
    assert not requires_present(AnyOf((other, tested)), fact)
    assert requires_present(AnyOf((exists, tested)), fact)
    assert requires_present(Not(absent), fact)
    assert not requires_present(Not(tested), fact)  # not(within) admits an absent answer
    assert requires_present(Not(AnyOf((absent, other))), fact)


# ---- refund amounts --------------------------------------------------------------------------

PAID = "        - { fact: order.status, eq: paid }"


def refund(amount: str, extra: str = "") -> str:
    return (f"      outcome: approved\n      refund:\n        amount: {amount}\n"
            f"        destination: original_method{extra}")


@pytest.mark.parametrize("when, amount, codes", [
    pytest.param(PAID, "{ min: [order.amounts.items, order.amounts.total] }", [], id="min-total"),
    pytest.param(PAID, "{ max: [0, { sub: [order.amounts.total, order.amounts.shipping] }] }", [],
                 id="items-only-spelt-out"),
    pytest.param(PAID, "{ percent: 50, of: order.amounts.total, round: up }", [], id="half"),
    pytest.param(PAID, "{ add: [order.amounts.items, order.amounts.shipping] }",
                 ["amount-above-paid"], id="items-and-shipping-above-a-discounted-total"),
    pytest.param(PAID, "order.amounts.items", ["amount-above-paid"], id="items-above-total"),
    pytest.param(PAID, "{ sub: [order.amounts.total, 5000] }", ["amount-may-be-negative"],
                 id="negative"),
    pytest.param(PAID, "{ add: [order.amounts.total, { percent: 1, of: order.amounts.total }] }",
                 ["amount-above-paid"], id="a-percent-on-top"),
    pytest.param(PAID, "{ max: [0, { sub: [order.amounts.total, order.amounts.seller_discount] }] }",
                 ["amount-may-be-absent"], id="seller-discount-may-be-absent"),
    pytest.param(PAID + "\n        - { fact: order.amounts.seller_discount, exists: true }",
                 "{ max: [0, { sub: [order.amounts.total, order.amounts.seller_discount] }] }", [],
                 id="seller-discount-tested"),
    pytest.param(PAID, "derived.item_count", ["bad-amount"], id="not-money"),
    pytest.param(PAID, "order.amounts.tip", ["unknown-fact"], id="unknown"),
    pytest.param(PAID, "{ percent: 150, of: order.amounts.total }", ["schema"], id="percent-150"),
    pytest.param(PAID, "{ add: [order.amounts.total] }", ["schema"], id="add-of-one"),
    pytest.param(PAID, "-5", ["schema"], id="negative-literal"),
])
def test_a_refund_amount_is_typed_and_never_above_what_was_paid(tmp_path, when, amount, codes):
    assert codes_of(tmp_path, when, refund(amount)) == codes


def test_the_refusal_shows_an_order_where_the_amount_goes_wrong(tmp_path):
    text = HEADER % (PAID, refund("{ add: [order.amounts.items, order.amounts.shipping] }"))
    with pytest.raises(RulesetError) as raised:
        aturan.load(write_ruleset(tmp_path, text, name="tiktok_shop"))
    [problem] = raised.value.diagnostics
    assert problem.message.startswith("the refund amount (order.amounts.items + "
                                      "order.amounts.shipping) can be more than what was paid")
    assert "discount Rp" in problem.message  # the example order has a discount
    assert "min: [..., order.amounts.total]" in problem.hint
    assert problem.location.line == 20  # the `amount:` line


def test_evaluation_is_integer_arithmetic_with_declared_rounding():
    from aturan.language.amounts import evaluate, parse, round_percent
    assert [round_percent(10, 10005, r) for r in ("down", "up", "half_up")] == [1000, 1001, 1001]
    assert [round_percent(10, 10004, r) for r in ("down", "up", "half_up")] == [1000, 1001, 1000]
    assert round_percent(33, 1, "up") == 1 and round_percent(33, 1, "down") == 0
    tree = {"max": [0, {"sub": ["order.amounts.total", {"percent": 10,
                                                          "of": "order.amounts.shipping",
                                                          "round": "half_up"}]}]}
    values = {"order.amounts.total": 230005, "order.amounts.shipping": 10005}
    assert evaluate(parse(tree), values.__getitem__) == 229004
    assert evaluate(parse(tree), {"order.amounts.total": 0, "order.amounts.shipping": 10}
                    .__getitem__) == 0


def test_canonical_forms_compare_formulas_not_their_spelling():
    from aturan.language.amount_check import label
    assert label("full") == label("paid") == label("order.amounts.total") == "total"
    assert label({"add": ["order.amounts.items", "order.amounts.shipping",
                          {"sub": [0, "order.amounts.discount"]}]}) == "total"
    assert label("items_only") == label({"max": [0, {"sub": ["order.amounts.total",
                                                             "order.amounts.shipping"]}]})
    assert label({"min": ["order.amounts.items", "order.amounts.total"]}) == label(
        {"min": ["order.amounts.total", "order.amounts.items"]})
    assert label({"percent": 50, "of": "order.amounts.total"}) != label(
        {"percent": 50, "of": "order.amounts.total", "round": "up"})
