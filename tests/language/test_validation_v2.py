"""Validation of the language v2 constructs: what a ruleset may say with them, and the located
error when it says it wrong (`aturan validate`)."""

from __future__ import annotations

import pytest

import aturan
from aturan.errors import RulesetError
from aturan.language.model import Atom, Not
from aturan.language.semantic import requires_present
from conftest import V2_RULESETS, write_ruleset

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
