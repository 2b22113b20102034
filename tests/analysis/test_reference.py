"""The reference interpreter: its own reading of facts and time, its agreement with the engine on
the bundled cases, and why-not explanations in the library and in `aturan decide --why-not`."""

from __future__ import annotations

import json

import pytest

import aturan
from aturan.analysis import reference
from aturan.cli import main
from aturan.language.model import AllOf, AnyOf, Atom, Not
from aturan.regression.cases import case_files, load_cases
from aturan.runtime.facts import flatten_facts
from conftest import MINIMAL_RULESET, RULESETS, make_facts, write_ruleset

CASES = [c for f in case_files([RULESETS]) for c in load_cases(f) if "error" not in c.expect]
NS = reference.NS


@pytest.mark.parametrize("text, seconds, nanos", [
    pytest.param("1970-01-01T00:00:00Z", 0, 0, id="epoch"),
    pytest.param("1970-01-01T07:00:00+07:00", 0, 0, id="offset"),
    pytest.param("1969-12-31 19:00:00-05:00", 0, 0, id="space-and-negative-offset"),
    pytest.param("1970-01-01t00:00:01.5z", 1, 500_000_000, id="lowercase"),
    pytest.param("2024-03-01T10:00:00.000000001+07:00", 1_709_262_000, 1, id="nanosecond"),
    pytest.param("2024-02-29T23:59:59+05:45", 1_709_230_499, 0, id="leap-day-odd-offset"),
])
def test_instants_are_exact_nanoseconds(text, seconds, nanos):
    assert reference.instant_ns(text) == seconds * NS + nanos


def test_lookup_reads_raw_facts_nulls_derived_and_defaults():
    facts = make_facts({"order": {"items": [
        {"sku": "A", "product_type": "digital", "quantity": 2, "unit_price": 1, "delivered": True},
        {"sku": "B", "product_type": "pre_order", "quantity": 3, "unit_price": 1}]}})
    assert reference.lookup(facts, "order.status") == "paid"
    assert reference.lookup(facts, "order.payment.deadline_at") is reference.ABSENT  # null
    assert reference.lookup(facts, "request.seller_response.decision") is reference.ABSENT
    assert reference.lookup(facts, "order.fulfillment.awaiting_collection_at") is reference.ABSENT
    assert reference.lookup(facts, "order.fulfillment.production_started") is False  # default
    assert reference.lookup(facts, "derived.has_digital") is True
    assert reference.lookup(facts, "derived.digital_delivered") is True
    assert reference.lookup(facts, "derived.has_custom_made") is False
    assert reference.lookup(facts, "derived.item_count") == 5


def atom(fact, op, value):
    return Atom(fact, op, value)


NOW = "2024-03-03T12:00:00+07:00"


@pytest.mark.parametrize("condition, expected", [
    pytest.param(atom("order.status", "eq", "paid"), True, id="eq"),
    pytest.param(atom("order.status", "ne", "paid"), False, id="ne"),
    pytest.param(atom("order.status", "in", ("unpaid", "paid")), True, id="in"),
    pytest.param(atom("order.status", "not_in", ("unpaid", "paid")), False, id="not_in"),
    pytest.param(atom("order.amounts.total", "lt", 162000), False, id="lt-equal"),
    pytest.param(atom("order.amounts.total", "le", 162000), True, id="le-equal"),
    pytest.param(atom("order.amounts.total", "gt", 161999), True, id="gt"),
    pytest.param(atom("order.amounts.total", "ge", 162001), False, id="ge"),
    pytest.param(atom("derived.has_digital", "eq", 0), False, id="false-is-not-zero"),
    pytest.param(atom("order.payment.deadline_at", "ne", "x"), False, id="ne-on-absent"),
    pytest.param(atom("order.payment.deadline_at", "not_in", ("x",)), False, id="not_in-absent"),
    pytest.param(Not(atom("order.payment.deadline_at", "eq", "x")), True, id="not-on-absent"),
    pytest.param(atom("order.payment.deadline_at", "absent", True), True, id="absent"),
    pytest.param(atom("order.payment.deadline_at", "older_than", 0), False, id="time-on-absent"),
    # placed 2024-03-01T10:00:00+07:00, now 2024-03-03T12:00:00+07:00: 2 days 2 hours before
    pytest.param(atom("order.placed_at", "older_than", 2 * 86400 + 7200), True, id="older-on"),
    pytest.param(atom("order.placed_at", "older_than", 2 * 86400 + 7201), False, id="older-1s"),
    pytest.param(atom("order.placed_at", "within", 2 * 86400 + 7200), False, id="within-on"),
    pytest.param(atom("order.placed_at", "within", 2 * 86400 + 7201), True, id="within-1s"),
    pytest.param(AnyOf((atom("order.status", "eq", "x"), atom("request.by", "eq", "buyer"))),
                 True, id="any"),
    pytest.param(AllOf((atom("order.status", "eq", "paid"), atom("request.by", "eq", "seller"))),
                 False, id="all"),
])
def test_operators_as_documented(condition, expected):
    facts = make_facts({"now": NOW})
    assert reference.holds(condition, facts, reference.now_ns(facts)) is expected


def test_a_nanosecond_before_the_threshold_is_not_older():
    facts = make_facts({"order": {"placed_at": "2024-03-01T10:00:00.000000001+07:00"},
                        "now": "2024-03-03T10:00:00+07:00"})
    now = reference.now_ns(facts)
    assert not reference.holds(atom("order.placed_at", "older_than", 2 * 86400), facts, now)
    assert reference.holds(atom("order.placed_at", "within", 2 * 86400), facts, now)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_reference_decides_every_bundled_case_like_the_engine(policies, case):
    flat = flatten_facts(case.facts)
    assert reference.flat_view(case.facts) == flat
    assert (reference.decide(policies, case.facts, case.ruleset).to_json()
            == policies.decide(case.facts, case.ruleset).to_json())


# -- why-not ---------------------------------------------------------------------------------

WHY_RULES = MINIMAL_RULESET.replace("ruleset: demo", "ruleset: tiktok_shop") + """\
  - id: nested
    description: Exercises any, not and a time operator.
    priority: 20
    when:
      all:
        - any:
            - { fact: order.status, eq: unpaid }
            - { fact: order.payment.method, eq: cod }
        - not: { fact: request.by, eq: seller }
        - { fact: order.placed_at, older_than: 1h }
    then: { outcome: rejected }
    explain: { en: Nested., id: Bersarang. }
    source: { publisher: Test, title: Test source }
  - id: adds-a-step
    description: Additive.
    priority: 5
    when: { fact: request.type, eq: cancel }
    then: { next_steps: [note] }
    explain: { en: Noted., id: Dicatat. }
    source: { publisher: Test, title: Test source }
"""


@pytest.fixture(scope="module")
def why_policies(tmp_path_factory):
    folder = tmp_path_factory.mktemp("why")
    write_ruleset(folder, WHY_RULES, name="tiktok_shop")
    with pytest.MonkeyPatch.context() as patch:  # loaded as `rulesets`, named so
        patch.chdir(folder)
        loaded = aturan.load("rulesets")
    yield loaded
    loaded.close()


def test_why_not_shows_every_condition_as_a_tree(why_policies):
    report = reference.why_not(why_policies, make_facts(), "nested")
    assert not report.fired and report.role == "not_matched"
    assert reference.format_why_not(report) == [
        "why not nested (tiktok_shop@1.0.0, priority 20)  rulesets/tiktok_shop/1.0.0.yaml:20",
        "  it did not fire: the conditions marked ✘ failed",
        "    ✘ all of:",
        "      ✘ any of:",
        "        ✘ order.status eq unpaid — actual paid",
        "        ✘ order.payment.method eq cod — actual ewallet",
        "      ✔ not:",
        "        ✘ request.by eq seller — actual buyer",
        "      ✔ order.placed_at older_than 1h — actual 2024-03-01T10:00:00+07:00 (2h ago)",
        "  decision: escalated (escalated to customer service) by default",
    ]
    data = report.to_dict()
    assert data["condition"]["conditions"][0] == {
        "op": "any", "holds": False, "line": 25, "conditions": [
            {"fact": "order.status", "op": "eq", "expected": "unpaid", "actual": "paid",
             "holds": False, "line": 26},
            {"fact": "order.payment.method", "op": "eq", "expected": "cod", "actual": "ewallet",
             "holds": False, "line": 27}]}
    assert data["decision"] == {"order_id": "TS-1001", "outcome": "escalated",
                                "decided_by": "default"}


def test_why_not_says_how_a_fired_rule_took_part(why_policies):
    unpaid = make_facts({"order": {"status": "unpaid"}})
    assert reference.why_not(why_policies, unpaid, "nested").role == "decided"
    assert reference.why_not(why_policies, unpaid, "unpaid-cancel").role == "overridden"
    report = reference.why_not(why_policies, unpaid, "adds-a-step")
    assert report.fired and report.role == "added"
    assert reference.format_why_not(report)[:2] == [
        "why adds-a-step (tiktok_shop@1.0.0, priority 5)  rulesets/tiktok_shop/1.0.0.yaml:33",
        "  it fired and added its penalties and next steps"]


def test_why_not_an_unknown_rule_suggests_one(why_policies):
    with pytest.raises(aturan.SelectionError) as info:
        reference.why_not(why_policies, make_facts(), "nestd")
    assert str(info.value) == ('<input>: unknown-rule: tiktok_shop@1.0.0 has no rule "nestd" '
                               'Did you mean "nested"?')


def test_decide_why_not_on_the_command_line(tmp_path, capsys, why_policies):
    root = write_ruleset(tmp_path, WHY_RULES, name="tiktok_shop")
    order = tmp_path / "order.json"
    order.write_text(json.dumps(make_facts()))
    assert main(["decide", str(order), "--rulesets", str(root), "--why-not", "nested"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ESCALATED (escalated to customer service)  order TS-1001")
    assert "        ✘ order.payment.method eq cod — actual ewallet\n" in out
    assert main(["decide", str(order), "--rulesets", str(root), "--why-not", "nested",
                 "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["rule"], report["fired"], report["role"]) == ("nested", False, "not_matched")
    # a rule no loaded version has is a usage error, with a suggestion
    assert main(["decide", str(order), "--rulesets", str(root), "--why-not", "nestd"]) == 2
    err = capsys.readouterr().err
    assert 'Invalid value for --why-not: no rule "nestd" in any loaded ruleset' in err
    assert 'Did you mean "nested"?' in err
    assert main(["decide", str(order), "--rulesets", str(root), "--why-not", "nested",
                 "--ruleset", "tiktok_shop@9.9.9"]) == 2
    assert 'no rule "nested" in tiktok_shop@9.9.9' in capsys.readouterr().err
