"""Evaluation: decisions, the combination rules, explanations, bad facts, selection, determinism
and thread safety."""

import json
import threading

import pytest

import aturan
from aturan.regression.cases import case_files, load_cases, run_case
from aturan.runtime.evaluate import interpreted_rules
from aturan.runtime.facts import flatten_facts
from conftest import MINIMAL_RULESET, RULESETS, make_facts, write_ruleset

ALL_CASES = [case for file in case_files([RULESETS]) for case in load_cases(file)]


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.name for c in ALL_CASES])
def test_bundled_cases(policies, case):
    result = run_case(policies, case)
    assert result.passed, "\n".join(result.mismatches)


def test_every_v2_decision_matches_the_decision_schema():
    """The language v2 fixture's decisions, with every new part, on a sampled corpus."""
    import aturan
    from aturan.language.schema import validator_for
    from aturan.regression import sample
    from conftest import V2_RULESETS
    loaded = aturan.load(V2_RULESETS)
    try:
        seen = set()
        for facts in sample.generate(sample.plan_for(loaded.collection, "tiktok_shop"), 400, 2):
            data = loaded.decide(facts).to_dict()
            validator_for("decision").validate(data)
            seen.update(data)
        assert "effective_at" in seen
    finally:
        loaded.close()


def test_decision_matches_the_decision_schema(policies):
    from aturan.language.schema import validator_for
    decision = policies.decide(make_facts({"request": {"by": "seller", "reason": "out_of_stock"}}))
    validator_for("decision").validate(decision.to_dict())
    assert decision.to_dict()["refund"] == {
        "amount": 162000, "destination": "original_method",
        "eta": {"min_business_days": 3, "max_business_days": 14, "due_by": "2024-03-22"}}


def test_explanation_names_conditions_source_and_messages(policies):
    decision = policies.decide(make_facts())
    item = decision.to_dict()["explanation"][0]
    assert item["rule"] == "paid-buyer-cancel-needs-seller"
    yaml_lines = (RULESETS / "tiktok_shop" / "1.0.0.yaml").read_text().splitlines()
    line = yaml_lines.index("  - id: paid-buyer-cancel-needs-seller") + 1
    # loaded from an absolute path (conftest's RULESETS): the file is named absolutely
    assert item["source"] == {"file": (RULESETS / "tiktok_shop" / "1.0.0.yaml").as_posix(),
                              "line": line,
                              "ruleset": "tiktok_shop@1.0.0"}
    assert {"fact": "order.status", "op": "in", "expected": ["paid", "to_ship"],
            "actual": "paid"} in item["because"]
    assert item["message"]["en"].startswith("Order TS-1001 is already paid")
    assert item["message"]["id"].startswith("Pesanan TS-1001 sudah dibayar")
    assert item["citation"]["publisher"] == "Cianjur Ekspres"
    assert list(policies.decide(make_facts(), lang="id").to_dict()["explanation"][0]
                ["message"]) == ["id"]


def test_time_conditions_report_the_age(policies):
    facts = make_facts({"order": {"status": "unpaid", "payment": {
        "method": "bank_transfer", "paid_at": None,
        "deadline_at": "2024-03-01T10:30:00+07:00"}}})
    decision = policies.decide(facts)
    because = decision.to_dict()["explanation"][0]["because"]
    assert {"fact": "order.payment.deadline_at", "op": "older_than", "expected": "0s",
            "actual": "2024-03-01T10:30:00+07:00", "age": "1h30m"} in because
    assert [o.rule for o in decision.overridden] == ["unpaid-buyer-cancel"]


def test_now_defaults_to_request_at_and_can_be_given(policies):
    facts = make_facts({"order": {"status": "unpaid", "payment": {
        "method": "bank_transfer", "paid_at": None, "deadline_at": "2024-03-01T13:00:00+07:00"}},
        "request": {"by": "system", "reason": "payment_timeout"}})
    before = policies.decide(facts)  # at request.at, before the deadline: no ground yet
    assert (before.outcome, before.explanation[0].rule) == (
        "rejected", "system-cancel-unpaid-before-deadline")
    facts["now"] = "2024-03-01T13:00:00+07:00"
    later = policies.decide(facts)
    assert later.outcome == "approved"
    assert later.evaluated_at == "2024-03-01T13:00:00+07:00"


@pytest.mark.parametrize("patch, pointer, words", [
    pytest.param({"order": {"status": "sent"}}, "/order/status", "'sent' is not one of", id="enum"),
    pytest.param({"order": {"amounts": {"total": 162000.5}}}, "/order/amounts/total",
                 "fractional number", id="float-money"),
    pytest.param({"order": {"amounts": {"total": -1}}}, "/order/amounts/total",
                 "less than the minimum", id="negative-money"),
    pytest.param({"request": {"at": "2024-03-01T12:00:00"}}, "/request/at",
                 "not well-formed: RFC 3339 timestamp with an offset",
                 id="naive-timestamp"),
    pytest.param({"order": {"amounts": {"total": float("nan")}}}, "/order/amounts/total",
                 "not a number JSON allows", id="nan"),
    pytest.param({"order": {"colour": "red"}}, "/order/colour", 'unknown field "colour"',
                 id="unknown-field"),
    pytest.param({"order": {"platform": "bukalapak"}}, "/order/platform", "is not one of",
                 id="unknown-platform"),
    pytest.param({"derived": {"has_digital": True}}, "/derived", "computed by aturan",
                 id="derived-sent"),
])
def test_bad_facts_name_the_pointer(policies, patch, pointer, words):
    with pytest.raises(aturan.FactsError) as info:
        policies.decide(make_facts(patch))
    assert any(d.location.pointer == pointer and words in d.message
               for d in info.value.diagnostics), str(info.value)


def test_missing_request_is_reported():
    facts = make_facts()
    del facts["request"]
    with pytest.raises(aturan.FactsError) as info:
        flatten_facts(facts)
    assert [d.location.pointer for d in info.value.diagnostics] == ["/request"]
    assert "required field 'request' is missing" in info.value.first.message


def test_selection_errors(policies):
    with pytest.raises(aturan.SelectionError) as info:
        policies.decide(make_facts({"request": {"at": "2020-01-01T00:00:00+07:00"}}))
    assert info.value.first.code == "no-version-in-force"
    assert "no version of tiktok_shop is in force at 2020-01-01T00:00:00+07:00" in str(info.value)
    with pytest.raises(aturan.SelectionError) as info:
        policies.decide(make_facts(), ruleset="tiktok_shop@9.9.9")
    assert info.value.first.code == "unknown-ruleset"
    with pytest.raises(aturan.SelectionError) as info:
        policies.decide(make_facts({"order": {"seller": {"policy": "nosuch"}}}))
    assert info.value.first.location.pointer == "/order/seller/policy"


def test_a_pin_with_nothing_after_the_at_sign_is_refused(policies):
    """`tiktok_shop@` was read as `tiktok_shop` and decided by the version in force (HTTP 200
    for `?ruleset=tiktok_shop@`, exit 0 for `aturan decide --ruleset tiktok_shop@`)."""
    with pytest.raises(aturan.SelectionError) as info:
        policies.decide(make_facts(), ruleset="tiktok_shop@")
    assert info.value.first.code == "unknown-ruleset"
    assert 'pin "tiktok_shop@" has no version after "@"' in info.value.first.message
    assert info.value.first.hint.startswith('Did you mean "tiktok_shop@')
    assert policies.decide(make_facts(), ruleset="tiktok_shop").ruleset.name == "tiktok_shop"


def test_combination_rules_and_independence_of_rule_order(tmp_path):
    """Highest-priority deciding rule wins; additive rules add steps and penalties; losers are
    listed as overridden; reversing the rules in the file changes nothing."""
    extra = """  - id: paid-reject
    description: d
    priority: 20
    when: { all: [ { fact: order.status, in: [unpaid, paid] } ] }
    then: { outcome: rejected, next_steps: [b] }
    explain: { en: e, id: i }
    source: { publisher: Test, title: Test source }
  - id: add-step
    description: additive
    priority: 5
    when: { fact: order.status, exists: true }
    then: { next_steps: [a], penalties: [{ party: seller, code: x, points: 2 }] }
    explain: { en: e, id: i }
    source: { publisher: Test, title: Test source }
"""
    forward = aturan.load(write_ruleset(tmp_path / "a", MINIMAL_RULESET + extra))
    head, rules = (MINIMAL_RULESET + extra).split("rules:\n")
    blocks = ["  - id:" + b for b in rules.split("  - id:")[1:]]
    backward = aturan.load(write_ruleset(tmp_path / "b", head + "rules:\n" + "".join(reversed(blocks))))
    order = make_facts({"order": {"status": "unpaid"}})
    from aturan.runtime.compiler import compile_ruleset
    from aturan.runtime.evaluate import combine
    results = []
    for policies in (forward, backward):
        compiled = compile_ruleset(policies.collection.versions[0])
        flat = flatten_facts(order)
        d = combine(compiled, flat, policies.engine_rules(compiled, flat))
        results.append((d.outcome, d.next_steps, [p.to_dict() for p in d.penalties],
                        [o.rule for o in d.overridden]))
    assert results[0] == results[1] == ("rejected", ("b", "a"),
                                        [{"party": "seller", "code": "x", "points": 2,
                                          "rule": "add-step"}], ["unpaid-cancel"])


def test_engine_and_interpreter_agree_on_bundled_cases(policies):
    for case in ALL_CASES:
        if "error" in case.expect:
            continue
        flat = flatten_facts(case.facts)
        compiled = policies.compiled_for(flat, case.ruleset)
        assert sorted(policies.engine_rules(compiled, flat)) == interpreted_rules(compiled, flat), case.name


def test_concurrent_decisions_equal_sequential_ones(policies):
    orders = []
    statuses = ["unpaid", "paid", "to_ship", "shipped"]
    for i in range(400):
        patch = {"order": {"id": f"T-{i}", "status": statuses[i % 4]},
                 "request": {"by": ["buyer", "seller"][i % 2],
                             "reason": ["changed_mind", "out_of_stock"][i % 3 % 2]}}
        orders.append(make_facts(patch))
    expected = [policies.decide(o).to_json() for o in orders]
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def worker(offset):
        try:
            for i in range(offset, len(orders), 8):
                results[i] = policies.decide(orders[i]).to_json()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [results[i] for i in range(len(orders))] == expected
    assert len({json.loads(r)["order_id"] for r in expected}) == len(orders)


def test_a_pinned_ruleset_must_be_for_the_orders_platform(tmp_path):
    policies = aturan.load(write_ruleset(tmp_path, MINIMAL_RULESET))
    with pytest.raises(aturan.SelectionError) as info:
        policies.decide(make_facts(), ruleset="demo@1.0.0")
    assert info.value.first.code == "platform-mismatch"
    assert info.value.first.location.pointer == "/order/platform"
