"""Facts consistency (language/consistency.py) in its one place, facts validation: the total is
items + shipping - discount, the items are the sum of their lines, a split discount adds up.
Each violation is a facts error naming every JSON pointer involved, through the library, the
CLI, HTTP and regression cases alike."""

from __future__ import annotations

import copy
import json
import random

import pytest

import aturan
from aturan.cli import main
from aturan.language import consistency
from aturan.regression import sample
from aturan.runtime.facts import validate_facts
from conftest import RULESETS, make_facts


def refused(policies, facts) -> list:
    with pytest.raises(aturan.FactsError) as raised:
        policies.decide(facts)
    assert aturan.FactsError(validate_facts(facts)).diagnostics == raised.value.diagnostics
    return raised.value.diagnostics


def test_a_total_that_does_not_add_up_is_refused_naming_every_amount(policies):
    [problem] = refused(policies, make_facts({"order": {"amounts": {"total": 250000}}}))
    assert problem.code == "facts-inconsistent"
    assert problem.pointers == ("/order/amounts/total", "/order/amounts/items",
                                "/order/amounts/shipping", "/order/amounts/discount")
    assert "/order/amounts/total (Rp250.000) is not /order/amounts/items + " \
           "/order/amounts/shipping - /order/amounts/discount (Rp150.000 + Rp12.000 - Rp0 = " \
           "Rp162.000)" in problem.message


def test_items_must_be_the_sum_of_the_lines(policies):
    facts = make_facts({"order": {"amounts": {"items": 300000, "total": 312000}}})
    [problem] = refused(policies, facts)
    assert problem.pointers == ("/order/amounts/items", "/order/items")
    assert "1 x Rp150.000 = Rp150.000" in problem.message


def test_every_violation_is_reported_at_once(policies):
    facts = make_facts({"order": {"amounts": {"items": 1, "total": 5}}})
    found = {d.location.pointer for d in refused(policies, facts)}
    assert found == {"/order/amounts/total", "/order/amounts/items"}


def test_a_split_discount_adds_up_and_each_part_is_within_the_discount(policies):
    ok = {"order": {"amounts": {"discount": 10000, "total": 152000, "seller_discount": 7000,
                                "platform_discount": 3000}}}
    assert policies.decide(make_facts(ok)).outcome
    assert policies.decide(make_facts({"order": {"amounts": {
        "discount": 10000, "total": 152000, "seller_discount": 10000}}})).outcome
    [split] = refused(policies, make_facts({"order": {"amounts": {
        "discount": 10000, "total": 152000, "seller_discount": 7000,
        "platform_discount": 2000}}}))
    assert split.pointers == ("/order/amounts/discount", "/order/amounts/seller_discount",
                              "/order/amounts/platform_discount")
    [alone] = refused(policies, make_facts({"order": {"amounts": {
        "discount": 10000, "total": 152000, "platform_discount": 10001}}}))
    assert alone.pointers == ("/order/amounts/platform_discount", "/order/amounts/discount")
    assert "is more than" in alone.message


def test_the_quick_check_is_exactly_the_diagnostics(policies):
    """`consistent` (run for every decision) says yes exactly when `problems` finds none, on
    sampled orders and on variants with one amount or line moved."""
    rng = random.Random(7)
    plan = sample.plan_for(policies.collection, "tiktok_shop")
    checked = 0
    for facts in sample.generate(plan, 300, 11):
        variants = [facts]
        for _ in range(4):
            moved = copy.deepcopy(facts)
            target = rng.choice([("amounts", k) for k in ("items", "shipping", "discount",
                                                         "total", "seller_discount",
                                                         "platform_discount")]
                                + [("line", "quantity"), ("line", "unit_price")])
            if target[0] == "amounts":
                moved["order"]["amounts"][target[1]] = rng.choice((0, 1, 5000, 999999))
            else:
                rng.choice(moved["order"]["items"])[target[1]] = rng.choice((1, 2, 7))
            variants.append(moved)
        for variant in variants:
            assert consistency.consistent(variant) == (not consistency.problems(variant))
            checked += 1
    assert checked == 1500


def test_sampled_orders_and_the_bundled_examples_are_consistent(policies):
    for name in ("tiktok_shop", "shopee", "lazada", "tokopedia"):
        plan = sample.plan_for(policies.collection, name)
        for facts in sample.generate(plan, 500, 3):
            assert consistency.consistent(facts), facts
    with open(RULESETS.parent / "examples" / "orders.jsonl", encoding="utf-8") as lines:
        for line in lines:
            assert consistency.consistent(json.loads(line))


def test_the_cli_refuses_a_bad_total_with_both_pointers(tmp_path, capsys):
    path = tmp_path / "order.json"
    path.write_text(json.dumps(make_facts({"order": {"amounts": {"total": 250000}}})))
    code = main(["decide", str(path), "--rulesets", str(RULESETS)])
    _, err = capsys.readouterr()
    assert code == 1
    assert "facts-inconsistent" in err
    assert "/order/amounts/total" in err and "/order/amounts/items" in err
    code = main(["decide", str(path), "--format", "json", "--rulesets", str(RULESETS)])
    out, _ = capsys.readouterr()
    assert code == 1
    [error] = json.loads(out)["errors"]
    assert error["pointer"] == "/order/amounts/total"
    assert error["pointers"][:2] == ["/order/amounts/total", "/order/amounts/items"]


def test_a_case_with_facts_that_do_not_add_up_fails_naming_them(tmp_path, capsys):
    root = tmp_path / "rulesets"
    (root / "tiktok_shop" / "cases").mkdir(parents=True)
    (root / "tiktok_shop" / "1.0.0.yaml").write_text(
        (RULESETS / "tiktok_shop" / "1.0.0.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    base = make_facts()
    (root / "tiktok_shop" / "cases" / "1.0.0.yaml").write_text(
        "ruleset: tiktok_shop@1.0.0\nbase: " + json.dumps(base) + "\ncases:\n"
        "  - name: bad total\n    patch: { order: { amounts: { total: 1 } } }\n"
        "    expect: { outcome: pending_seller }\n", encoding="utf-8")
    code = main(["test", str(root)])
    out, _ = capsys.readouterr()
    assert code == 1
    assert "facts-inconsistent" in out and "/order/amounts/total" in out


TWO_LINES = {"order": {"amounts": {"items": 210000, "total": 222000},
                       "items": [{"sku": "KAOS-M", "product_type": "regular", "quantity": 1,
                                  "unit_price": 150000},
                                 {"sku": "TOPI", "product_type": "regular", "quantity": 2,
                                  "unit_price": 30000}]}}


def test_requested_items_name_lines_of_the_order_and_no_more_units(policies):
    ok = make_facts({**TWO_LINES, "request": {"items": [{"sku": "TOPI", "quantity": 2}]}})
    assert policies.decide(ok).outcome
    [unknown] = refused(policies, make_facts({**TWO_LINES, "request": {
        "items": [{"sku": "SEPATU", "quantity": 1}]}}))
    assert unknown.pointers == ("/request/items/0/sku", "/order/items")
    [too_many] = refused(policies, make_facts({**TWO_LINES, "request": {
        "items": [{"sku": "TOPI", "quantity": 2}, {"sku": "TOPI", "quantity": 1}]}}))
    assert too_many.pointers == ("/request/items/0/quantity", "/order/items/1/quantity")
    assert "asks for 3 of TOPI, more than /order/items/1/quantity (2)" in too_many.message


def test_requested_items_need_unique_skus(policies):
    twice = make_facts({**TWO_LINES, "request": {"items": [{"sku": "KAOS-M", "quantity": 1}]}})
    twice["order"]["items"][1]["sku"] = "KAOS-M"
    [duplicate] = refused(policies, twice)
    assert duplicate.pointers == ("/order/items/1/sku", "/order/items/0/sku", "/request/items")
    twice["request"].pop("items")
    assert policies.decide(twice).outcome  # without request.items, skus may repeat
