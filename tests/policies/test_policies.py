"""The policy library: versions in force by date, seller overlays, and cases that exercise every
bundled rule."""

from collections import defaultdict

import pytest

import aturan
from aturan.language.repository import load_collection
from aturan.regression.cases import case_files, load_cases, run_case
from conftest import RULESETS, make_facts, write_ruleset

BOUNDARY = "2025-03-26T00:00:00+07:00"


def order_at(moment):
    return make_facts({"order": {"placed_at": moment}, "request": {"at": moment}})


def test_same_order_decided_by_1_0_before_and_2_0_after_the_switch(policies):
    before = policies.decide(order_at("2025-03-25T23:59:59+07:00"))
    after = policies.decide(order_at(BOUNDARY))
    assert (before.ruleset.version, before.outcome) == ("1.0.0", "pending_seller")
    assert (after.ruleset.version, after.outcome) == ("2.0.0", "approved")
    assert before.to_dict()["ruleset"]["name"] == after.to_dict()["ruleset"]["name"] == "tiktok_shop"


@pytest.mark.parametrize("moment, version", [
    ("2023-10-04T16:59:59+07:00", "0.9.0"),  # the last second before the shutdown
    ("2023-12-12T00:00:00+07:00", "1.0.0"),  # the first day orders were taken again
])
def test_tiktok_shop_versions_around_the_2023_shutdown(policies, moment, version):
    assert policies.decide(order_at(moment)).ruleset.version == version


@pytest.mark.parametrize("moment", ["2023-10-04T17:00:00+07:00", "2023-12-11T23:59:59+07:00"])
def test_no_tiktok_shop_version_is_in_force_while_it_took_no_orders(policies, moment):
    """TikTok Shop Indonesia stopped taking orders on 4 Oct 2023 17:00 WIB and took them again on
    12 Dec 2023: a request in between is refused, naming the versions and their ranges."""
    with pytest.raises(aturan.SelectionError) as caught:
        policies.decide(order_at(moment))
    message = str(caught.value)
    assert "no version of tiktok_shop is in force" in message
    assert "until 2023-10-04T17:00:00+07:00" in message and "1.0.0 from 2023-12-12" in message


def test_a_pin_overrides_the_date(policies):
    pinned = policies.decide(order_at("2025-06-01T10:00:00+07:00"), ruleset="tiktok_shop@1.0.0")
    assert pinned.ruleset.version == "1.0.0"


def test_overlay_decision_names_overlay_and_platform_version(policies):
    facts = order_at("2025-07-01T10:00:00+07:00")
    facts["order"]["seller"]["policy"] = "preorder_firm"
    facts["order"]["items"][0]["product_type"] = "pre_order"
    ruleset = policies.decide(facts).to_dict()["ruleset"]
    assert (ruleset["name"], ruleset["version"]) == ("preorder_firm", "1.0.0")
    assert (ruleset["extends"]["name"], ruleset["extends"]["version"]) == ("tiktok_shop", "2.0.0")


OVERLAY = """\
ruleset: loose
version: 1.0.0
extends: tiktok_shop@^2
effective_from: 2025-03-26T00:00:00+07:00
description: An overlay that tries to loosen final rules.
sources: [ { publisher: Test, title: Test } ]
default: { then: { outcome: escalated }, explain: { en: e, id: i } }
rules:
  - id: RULE_ID
    description: d
    priority: PRIORITY
    when: { all: [ { fact: order.status, in: [shipped] } ] }
    then: { outcome: approved }
    explain: { en: e, id: i }
    source: { publisher: Test, title: Test }
"""


@pytest.mark.parametrize("rule_id, priority, code, words", [
    ("buyer-cancel-in-transit-rejected", 10, "overlay-replaces-final",
     'rule "buyer-cancel-in-transit-rejected" replaces final rule'),
    ("allow-in-transit", 60, "overlay-loosens-final",
     'rule "allow-in-transit" (priority 60, approved) could outrank final rule '
     '"buyer-cancel-in-transit-rejected" of tiktok_shop@2.0.0 (priority 60, rejected)'),
])
def test_an_overlay_cannot_loosen_a_final_rule(tmp_path, rule_id, priority, code, words):
    import shutil
    root = tmp_path / "rulesets"
    shutil.copytree(RULESETS / "tiktok_shop", root / "tiktok_shop")
    write_ruleset(tmp_path, OVERLAY.replace("RULE_ID", rule_id).replace("PRIORITY", str(priority)),
                  name="loose")
    _, problems = load_collection([root])
    assert [d.code for d in problems] == [code]
    assert str(problems[0]).startswith(f"{root.as_posix()}/loose/1.0.0.yaml:9:5: {code}: {words}")
    with pytest.raises(aturan.RulesetError):
        aturan.load(root)


def test_an_overlay_below_the_final_priority_is_accepted(tmp_path):
    import shutil
    root = tmp_path / "rulesets"
    shutil.copytree(RULESETS / "tiktok_shop", root / "tiktok_shop")
    write_ruleset(tmp_path, OVERLAY.replace("RULE_ID", "allow").replace("PRIORITY", "59"),
                  name="loose")
    assert load_collection([root])[1] == []


ALL_CASES = [case for file in case_files([RULESETS]) for case in load_cases(file)]


def test_every_platform_ruleset_has_at_least_12_cases():
    counts: dict[str, int] = defaultdict(int)
    for case in ALL_CASES:
        if case.ruleset and "@" in case.ruleset:
            counts[case.ruleset] += 1
    platform_versions = [rs.key for rs in aturan.load(RULESETS).collection.versions
                         if not rs.is_overlay]
    assert platform_versions and all(counts[key] >= 12 for key in platform_versions), counts


def test_every_bundled_rule_is_exercised_by_a_case(policies):
    fired: dict[str, set[str]] = defaultdict(set)
    for case in ALL_CASES:
        result = run_case(policies, case)
        assert result.passed, (case.name, result.mismatches)
        if result.decision:
            fired[result.decision.ruleset.name + "@" + result.decision.ruleset.version] |= set(
                result.decision.fired_rules)
    missing = [f"{rs.key}:{rule.id}" for rs in policies.collection.versions
               for rule in rs.rules if rule.id not in fired[rs.key]]
    assert missing == []


def lazada_partial(discount: int) -> dict:
    """A paid Lazada order of two T-shirts (Rp75.000 each, shipping Rp12.000); the buyer cancels one
    and the seller confirms."""
    facts = make_facts({
        "order": {"platform": "lazada",
                  "amounts": {"items": 150000, "shipping": 12000, "discount": discount,
                              "total": 162000 - discount}},
        "request": {"items": [{"sku": "KAOS-M", "quantity": 1}],
                    "seller_response": {"decision": "approve",
                                        "at": "2024-03-01T13:00:00+07:00"}},
    })
    facts["order"]["items"] = [{"sku": "KAOS-M", "product_type": "regular", "quantity": 2,
                                "unit_price": 75000}]
    return facts


def test_lazada_refunds_the_cancelled_unit_of_an_order_without_a_voucher(policies):
    """iNews.id (secondary) excludes partial cancellation only for a multi-item order with a free
    voucher: without any discount the confirmed unit is refunded at its price, not the shipping."""
    decision = policies.decide(lazada_partial(discount=0)).to_dict()
    assert (decision["outcome"], decision["refund"]["amount"]) == ("approved", 75000)
    assert decision["covers"] == [{"sku": "KAOS-M", "quantity": 1, "amount": 75000}]
    assert decision["explanation"][0]["rule"] == "seller-confirms-partial-buyer-cancel"


def test_lazada_partial_cancellation_with_a_discount_stays_with_customer_service(policies):
    """A discount may be the free voucher iNews.id names, and no fact tells: the default decides."""
    decision = policies.decide(lazada_partial(discount=1)).to_dict()
    assert (decision["outcome"], decision["refund"]) == ("escalated", None)
