"""Decision log records: one canonical JSON line per decision, valid against
schemas/decision-log.schema.json, carrying the decision's id, why its version was chosen, the
masked input and a result without text; the decision itself unchanged but for its id."""

from __future__ import annotations

import copy
import json
import threading

import jsonschema
import pytest

import aturan
from aturan.audit import DecisionLog, Masker, MaskRule
from aturan.audit.context import REQUEST_IDS, request_ids
from aturan.audit.ids import DecisionIds, id_time_ms
from aturan.audit.masking import HMAC_PREFIX
from aturan.resources import load_schema
from aturan.runtime.decision import canonical_json
from conftest import RULESETS, make_facts

UUID7 = load_schema("decision")["properties"]["decision_id"]["pattern"]
BUYER = {"id": "B-42", "name": "Siti Rahayu", "phone": "+62 812 5550 1234",
         "email": "siti@example.id", "address": "Jl. Melati 7, Bandung 40115"}


@pytest.fixture
def logged(tmp_path, policies):
    """(policies reporting to a fresh log, the log, a function reading its records)."""
    log = DecisionLog(tmp_path / "decisions.jsonl")
    observed = log.attach(policies, [RULESETS])

    def records() -> list[dict]:
        log.flush()
        return [json.loads(line) for line in
                (tmp_path / "decisions.jsonl").read_text(encoding="utf-8").splitlines()]
    yield observed, log, records
    log.close()


def lines_of(tmp_path) -> list[str]:
    return (tmp_path / "decisions.jsonl").read_text(encoding="utf-8").splitlines()


def test_a_record_per_decision_valid_canonical_and_carrying_the_decisions_id(logged, tmp_path,
                                                                             policies):
    observed, log, records = logged
    facts = make_facts()
    decision = observed.decide(facts)
    assert decision.decision_id is not None
    assert jsonschema.Draft202012Validator(load_schema("decision")).is_valid(decision.to_dict())
    plain = policies.decide(facts)
    assert plain.decision_id is None and "decision_id" not in plain.to_json()
    # the decision is the plain one, with its id first
    assert decision.to_json() == plain.to_json().replace(
        "{", '{"decision_id":"' + decision.decision_id + '",', 1)
    [record] = records()
    jsonschema.validate(record, load_schema("decision-log"),
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    [line] = lines_of(tmp_path)
    assert canonical_json(record) == line  # the writer's splicing is canonical JSON
    assert record["decision_id"] == decision.decision_id
    assert record["input"] == facts and record["masked"] == {}
    assert record["now"] == decision.evaluated_at and record["now_source"] == "request.at"
    assert record["selection"] == {"reason": "in_force", "at": facts["request"]["at"]}
    assert record["ruleset"] == decision.ruleset.to_dict()
    assert set(record["software"]) == {"aturan", "durable_rules", "holidays", "python"}
    assert record["seq"] == 1 and record["prev"] == "sha256:" + "0" * 64
    result = record["result"]
    assert (result["outcome"], result["refund"], result["next_steps"]) == (
        decision.outcome, None, list(decision.next_steps))
    assert result["rules"][0]["rule"] == decision.explanation[0].rule
    assert result["rules"][0]["role"] == "decided"
    assert all(c["holds"] for c in result["rules"][0]["conditions"])


def test_the_result_keeps_every_condition_and_each_rules_role(logged, policies):
    observed, _, records = logged
    # seller rejects a paid order: one rule decides, others add or are outranked
    facts = make_facts({"order": {"platform": "shopee"},
                        "request": {"by": "seller", "reason": "out_of_stock"}})
    decision = observed.decide(facts)
    [record] = records()
    rules = record["result"]["rules"]
    applied = [r["rule"] for r in rules if r["role"] in ("decided", "default", "added")]
    assert applied == [item.rule for item in decision.explanation]
    assert [r["rule"] for r in rules if r["role"] == "overridden"] == [
        o.rule for o in decision.overridden]
    compiled = policies.compiled_for(aturan.runtime.facts.flatten_facts(facts))
    by_id = {rule.id: rule for rule in compiled.rules}
    for entry in rules:
        if entry["role"] == "default":
            assert entry["conditions"] == []
            continue
        atoms = aturan.language.model.atoms_of(by_id[entry["rule"]].when)
        assert [(c["fact"], c["op"]) for c in entry["conditions"]] == [
            (a.fact, a.op) for a in atoms]
    assert record["result"]["penalties"] == [p.to_dict() for p in decision.penalties]


def test_orders_sharing_a_plan_keep_their_own_refund(tmp_path, policies):
    """The rules part of a result is cached per plan; the refund is each order's own."""
    events = []
    log = DecisionLog(tmp_path / "d.jsonl")
    observed = policies.observed(lambda e: events.append(e) or log.record(e))
    seller = {"by": "seller", "reason": "out_of_stock"}
    one = make_facts({"request": seller})
    two = make_facts({"order": {  # another total, its amounts and line adding up
        "id": "X", "amounts": {"total": 50000, "items": 38000},
        "items": [{"sku": "KAOS-M", "product_type": "regular", "quantity": 1,
                   "unit_price": 38000}]}, "request": seller})
    decisions = [observed.decide(f) for f in (one, two)]
    log.close()
    assert events[0].plan is events[1].plan  # one memo key: the same combination
    results = [json.loads(line)["result"]
               for line in (tmp_path / "d.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["refund"] for r in results] == [d.refund.to_dict() for d in decisions]
    assert results[0]["refund"] != results[1]["refund"]
    assert results[0]["rules"] == results[1]["rules"]


def test_selection_reason_pin_and_overlay(logged):
    observed, _, records = logged
    facts = make_facts()
    observed.decide(facts, "tiktok_shop@1.0.0")
    observed.decide(facts, "tiktok_shop")
    overlay = make_facts({"order": {"seller": {"policy": "preorder_firm"},
                                    "placed_at": "2025-06-01T10:00:00+07:00",
                                    "payment": {"paid_at": "2025-06-01T10:05:00+07:00"},
                                    "fulfillment": {"ship_by": "2025-06-03T23:59:00+07:00"},
                                    "items": [{"sku": "PO-1", "product_type": "pre_order",
                                               "quantity": 1, "unit_price": 150000}]},
                          "request": {"at": "2025-06-01T12:00:00+07:00"}})
    decision = observed.decide(overlay)
    with_now = make_facts({"now": "2024-03-02T12:00:00+07:00"})
    observed.decide(with_now)
    pinned, named, seller, timed = records()
    at = facts["request"]["at"]
    assert pinned["selection"] == {"reason": "pinned", "pin": "tiktok_shop@1.0.0", "at": at}
    assert named["selection"] == {"reason": "named", "pin": "tiktok_shop", "at": at}
    assert seller["selection"] == {"reason": "seller_overlay", "policy": "preorder_firm",
                                   "at": "2025-06-01T12:00:00+07:00"}
    assert seller["ruleset"]["extends"]["digest"] == decision.ruleset.extends.digest
    assert (timed["now"], timed["now_source"]) == ("2024-03-02T12:00:00+07:00", "now")


def test_buyer_data_never_reaches_the_log_and_the_decision_keeps_it(tmp_path, policies):
    log = DecisionLog(tmp_path / "d.jsonl", Masker.default(key=b"k" * 32))
    observed = log.attach(policies, [RULESETS])
    facts = make_facts({"order": {"buyer": dict(BUYER)}})
    before = copy.deepcopy(facts)
    decision = observed.decide(facts)
    log.close()
    assert facts == before  # masking touched only the log's copy
    text = (tmp_path / "d.jsonl").read_text(encoding="utf-8")
    for value in BUYER.values():
        assert value not in text
    record = json.loads(text)
    buyer = record["input"]["order"]["buyer"]
    assert set(buyer) == {"id"} and buyer["id"].startswith(HMAC_PREFIX)
    assert record["masked"] == {"/order/buyer/address": "erase", "/order/buyer/email": "erase",
                                "/order/buyer/id": "hmac", "/order/buyer/name": "erase",
                                "/order/buyer/phone": "erase"}
    # the decision (what the caller gets) is unchanged by masking
    assert decision.to_dict() == {**policies.decide(before).to_dict(),
                                  "decision_id": decision.decision_id}


def test_decisions_read_from_text_record_the_same_input_and_still_mask_it(tmp_path, policies):
    """`decide_text` hands the log the facts' canonical JSON it already made (no second
    encoding): the record's input is byte for byte the one a dict gives, and masked facts
    are never written from those bytes."""
    log = DecisionLog(tmp_path / "decisions.jsonl", Masker.default(key=b"k" * 32))
    observed = log.attach(policies, [RULESETS])
    plain, personal = make_facts(), make_facts({"order": {"buyer": dict(BUYER)}})
    # spaces and key order as a client may send them: the input is the canonical form
    texts = [json.dumps(plain, indent=1), json.dumps(personal)]
    for text in texts:
        observed.decide_text(text)
    for facts in (plain, personal):
        observed.decide(facts)
    log.close()
    lines = lines_of(tmp_path)
    inputs = [line[line.index(',"input":') + 9:line.index(',"masked":')] for line in lines]
    assert inputs[0] == inputs[2] == canonical_json(plain)
    assert inputs[1] == inputs[3] and json.loads(inputs[1])["order"]["buyer"]["id"].startswith(
        HMAC_PREFIX)
    for value in BUYER.values():
        assert value not in "\n".join(lines)


def test_hmac_links_a_buyer_only_with_the_same_key_and_without_a_key_erases():
    facts = make_facts({"order": {"buyer": {"id": "B-42"}}})
    first = Masker.default(key=b"one").apply(facts)[0]["order"]["buyer"]["id"]
    again = Masker.default(key=b"one").apply(facts)[0]["order"]["buyer"]["id"]
    other = Masker.default(key=b"two").apply(facts)[0]["order"]["buyer"]["id"]
    assert first == again != other and "B-42" not in first
    masked, which = Masker.default().apply(facts)
    assert masked["order"]["buyer"] == {} and which == {"/order/buyer/id": "erase"}


def test_extra_mask_rules_by_pointer_with_a_wildcard():
    facts = make_facts({"order": {"items": [
        {"sku": "A-1", "product_type": "regular", "quantity": 1, "unit_price": 1},
        {"sku": "B-2", "product_type": "regular", "quantity": 1, "unit_price": 2}]}})
    masker = Masker.default([MaskRule.parse("/order/items/*/sku=hmac"),
                             MaskRule.parse("/order/seller/id")], key=b"k")
    masked, which = masker.apply(facts)
    assert [i["sku"][:12] for i in masked["order"]["items"]] == [HMAC_PREFIX] * 2
    assert "id" not in masked["order"]["seller"]
    assert which == {"/order/items/0/sku": "hmac", "/order/items/1/sku": "hmac",
                     "/order/seller/id": "erase"}
    assert facts["order"]["items"][0]["sku"] == "A-1" and facts["order"]["seller"]["id"] == "S-77"
    untouched = make_facts()
    assert Masker.default().apply(untouched)[0] is untouched  # nothing to mask: no copy
    for bad in ("order/x", "/", "/order/x=scramble"):
        with pytest.raises(ValueError):
            MaskRule.parse(bad)


def test_request_ids_come_from_traceparent_and_x_request_id(logged):
    observed, _, records = logged
    trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    token = REQUEST_IDS.set(request_ids(trace, "req-7"))
    try:
        observed.decide(make_facts())
    finally:
        REQUEST_IDS.reset(token)
    observed.decide(make_facts())
    first, second = records()
    assert first["request"] == {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
                                "span_id": "00f067aa0ba902b7", "request_id": "req-7"}
    assert second["request"] == {}
    assert request_ids("00-" + "0" * 32 + "-00f067aa0ba902b7-01", None) is None
    assert request_ids("garbage", "bad id with spaces") is None


def test_decision_ids_are_uuid7_time_ordered_and_unique_across_threads():
    ids = DecisionIds()
    found: list[str] = []
    lock = threading.Lock()

    def take() -> None:
        mine = [ids.next()[0] for _ in range(3000)]
        with lock:
            found.extend(mine)
    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == len(found) == 12000
    import re
    assert all(re.match(UUID7, i) for i in found)
    one = [ids.next() for _ in range(5000)]
    assert [i for i, _ in one] == sorted(i for i, _ in one)  # one thread: strictly increasing
    decision_id, made_at = one[-1]
    from datetime import datetime
    stamp = datetime.fromisoformat(made_at.replace("Z", "+00:00"))
    assert int(stamp.timestamp() * 1000) == id_time_ms(decision_id)


def test_every_record_of_a_varied_corpus_is_canonical_and_valid(tmp_path, policies):
    from aturan.regression import sample
    validator = jsonschema.Draft202012Validator(load_schema("decision-log"))
    log = DecisionLog(tmp_path / "d.jsonl")
    observed = log.attach(policies, [RULESETS])
    decided = []
    for platform in ("tiktok_shop", "lazada", "shopee", "tokopedia"):
        for facts in sample.generate(sample.plan_for(policies.collection, platform), 60, 7):
            try:
                decided.append((facts, observed.decide(facts)))
            except aturan.AturanError:
                pass
    log.close()
    lines = (tmp_path / "d.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(decided) > 200
    refunds = set()
    for line, (facts, decision) in zip(lines, decided):
        record = json.loads(line)
        assert canonical_json(record) == line
        validator.validate(record)
        # the fragments cached per plan, refund kind and selection are this order's own
        assert record["decision_id"] == decision.decision_id and record["input"] == facts
        assert record["result"]["outcome"] == decision.outcome
        assert record["result"]["refund"] == (decision.refund.to_dict() if decision.refund
                                              else None)
        assert record["result"]["penalties"] == [p.to_dict() for p in decision.penalties]
        assert record["ruleset"] == decision.ruleset.to_dict()
        assert record["now"] == decision.evaluated_at
        assert record["selection"]["at"] == facts["request"]["at"]
        assert record["selection"]["reason"] == ("seller_overlay"
                                                 if facts["order"]["seller"].get("policy")
                                                 else "in_force")
        refund = record["result"]["refund"]
        refunds.add("none" if refund is None else "eta" if refund["eta"] else "no-eta")
    assert refunds == {"none", "eta", "no-eta"}  # each shape of refund was written
