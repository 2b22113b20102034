"""`aturan sample`: schema-valid, consistent orders, reproducible by seed, covering every enum
value, every version's dates, and both sides of every threshold the rulesets use."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from aturan.cli import main
from aturan.language.catalogue import catalogue
from aturan.language.model import TIME_OPS, atoms_of, parse_timestamp
from aturan.language.repository import load_rulesets
from aturan.regression.sample import generate, plan_for, product_types
from aturan.runtime.facts import flatten_facts, validate_facts
from conftest import MINIMAL_RULESET, RULESETS, write_ruleset

N = 1500


@pytest.fixture(scope="module")
def collection():
    return load_rulesets([RULESETS])


@pytest.fixture(scope="module")
def corpus(collection):
    return list(generate(plan_for(collection, "tiktok_shop"), N, seed=7))


def sample_bytes(capsys, *argv: str) -> str:
    assert main(["sample", "--rulesets", str(RULESETS), *argv]) == 0
    return capsys.readouterr().out


def test_every_order_is_valid_facts(corpus):
    for facts in corpus:
        assert validate_facts(facts) == [], facts["order"]["id"]
    assert len({f["order"]["id"] for f in corpus}) == N


def test_same_seed_same_bytes_and_a_longer_corpus_extends_a_shorter_one(capsys):
    first = sample_bytes(capsys, "--platform", "tiktok_shop", "--n", "300", "--seed", "7")
    again = sample_bytes(capsys, "--platform", "tiktok_shop", "--n", "300", "--seed", "7")
    other = sample_bytes(capsys, "--platform", "tiktok_shop", "--n", "300", "--seed", "8")
    short = sample_bytes(capsys, "--platform", "tiktok_shop", "--n", "120", "--seed", "7")
    assert first == again
    assert first != other
    assert first.startswith(short)
    assert len(first.splitlines()) == 300
    assert json.loads(first.splitlines()[0])["order"]["platform"] == "tiktok_shop"


def test_unknown_platform_is_a_usage_error_with_a_suggestion(capsys):
    assert main(["sample", "--rulesets", str(RULESETS), "--platform", "tiktok", "--n", "1"]) == 2
    err = capsys.readouterr().err
    assert 'no platform ruleset named "tiktok"' in err and 'Did you mean "tiktok_shop"?' in err


def test_every_enum_value_appears(corpus):
    fields = catalogue()
    seen: dict[str, set] = {}
    for facts in corpus:
        flat = flatten_facts(facts).values
        for path in ("order.status", "order.payment.method", "request.type", "request.by",
                     "request.reason", "request.seller_response.decision",
                     "request.seller_response.reason"):
            seen.setdefault(path, set()).add(flat.get(path))
        seen.setdefault("product_type", set()).update(
            i["product_type"] for i in facts["order"]["items"])
        seen.setdefault("digital delivered", set()).update(
            i["delivered"] for i in facts["order"]["items"] if i["product_type"] == "digital")
    for path in seen:
        want = set(fields[path].enum) if path in fields else (
            set(product_types()) if path == "product_type" else {True, False})
        assert want <= seen[path], (path, want - seen[path])
    assert None in seen["request.seller_response.decision"]  # unanswered requests too


def test_facts_are_consistent(corpus):
    for facts in corpus:
        order, request = facts["order"], facts["request"]
        payment, amounts, ship = order["payment"], order["amounts"], order["fulfillment"]
        if payment["method"] == "cod" or order["status"] == "unpaid":
            assert payment["paid_at"] is None
        assert amounts["total"] == amounts["items"] + amounts["shipping"] - amounts["discount"]
        assert amounts["items"] == sum(i["quantity"] * i["unit_price"] for i in order["items"])
        assert all(isinstance(v, int) and v >= 0 for v in amounts.values())
        if ship["delivered_at"] is not None:
            assert ship["shipped_at"] is not None
        chain = [order["placed_at"], payment["paid_at"], ship.get("awaiting_collection_at"),
                 ship["shipped_at"], ship["delivered_at"], request["at"],
                 (request["seller_response"] or {}).get("at"), facts.get("now", request["at"])]
        moments = [parse_timestamp(t) for t in chain if t is not None]
        assert moments == sorted(moments), order["id"]
        if payment["deadline_at"] is not None:
            assert parse_timestamp(payment["deadline_at"]) > parse_timestamp(order["placed_at"])
        if order["status"] in ("shipped", "delivered", "completed", "returned"):
            assert ship["shipped_at"] is not None


def test_request_dates_cover_every_version_and_straddle_the_change(corpus, collection):
    versions = collection.by_name["tiktok_shop"]
    at = [parse_timestamp(f["request"]["at"]) for f in corpus]
    for rs in versions:
        assert any(rs.in_force(moment) for moment in at), rs.key
    for rs in versions[1:]:
        change = rs.effective_from
        assert any(0 <= (m - change).total_seconds() <= 60 for m in at)
        if any(v.in_force(change - timedelta(seconds=1)) for v in versions):
            assert any(0 < (change - m).total_seconds() <= 60 for m in at)
        else:  # a gap (tiktok_shop took no orders from 2023-10-04 17:00 to 2023-12-12): none
            assert not any(0 < (change - m).total_seconds() <= 60 for m in at)


def test_every_duration_threshold_is_straddled(corpus, collection):
    ages: dict[str, set[int]] = {}
    for facts in corpus:
        for path, age in flatten_facts(facts).ages.items():
            ages.setdefault(path, set()).add(age)
    atoms = [atom for rs in collection.by_name["tiktok_shop"] for rule in rs.rules
             for atom in atoms_of(rule.when) if atom.op in TIME_OPS]
    thresholds = {(atom.fact, atom.value) for atom in atoms if atom.of is None}  # ages to now
    assert thresholds
    between = {(atom.fact, atom.of, atom.value) for atom in atoms if atom.of is not None}
    assert between  # the bundled windows between two facts: straddled as gaps, not as ages
    from aturan.analysis.reference import instant_ns
    for fact, of, seconds in between:
        seen = set()
        for facts in corpus:
            flat = flatten_facts(facts)
            later, earlier = flat.texts.get(fact), flat.texts.get(of)
            if later and earlier:
                seen.add((instant_ns(later) - instant_ns(earlier)) // 10 ** 9)
        assert {seconds + d for d in (-60, -1, 0, 1, 60)} <= seen, (fact, of, seconds)
    for fact, seconds in thresholds:
        assert {seconds + 60, seconds + 1, seconds} <= ages[fact], (fact, seconds)
        below = {seconds - 60, seconds - 1} if seconds else {-60, -1}
        if fact == "request.at" and not seconds:
            below = set()  # a request is never after `now`
        assert below <= ages[fact], (fact, seconds)


def test_thresholds_come_from_the_rulesets_it_is_given(tmp_path):
    ruleset = MINIMAL_RULESET.replace("ruleset: demo", "ruleset: shopee").replace(
        "        - { fact: order.status, eq: unpaid }",
        "        - { fact: order.status, eq: to_ship }\n"
        "        - { fact: request.at, older_than: 48h }\n"
        "        - { fact: order.amounts.total, gt: 100000 }")
    root = write_ruleset(tmp_path, ruleset, name="shopee")
    orders = list(generate(plan_for(load_rulesets([root]), "shopee"), 400, seed=1))
    ages = {flatten_facts(f).ages["request.at"] for f in orders}
    assert {47 * 3600 + 59 * 60, 48 * 3600 + 60} <= ages  # 47h59m and 48h01m
    totals = {f["order"]["amounts"]["total"] for f in orders}
    assert {99999, 100000, 100001} <= totals
    start = datetime.fromisoformat("2024-01-01T00:00:00+07:00")
    assert all(parse_timestamp(f["request"]["at"]) >= start for f in orders)
    edge = [f for f in orders if flatten_facts(f).ages["request.at"] == 48 * 3600 + 60]
    assert any(f["order"]["status"] == "to_ship" for f in edge)  # the rule's other atoms too


def test_durations_between_two_facts_are_straddled_on_both_sides():
    """Every `{fact, within|older_than: D, of}` of the v2 fixture gets orders whose fact comes
    D - 60s, D - 1s, D, D + 1s and D + 60s after `of`, both timestamps present."""
    from aturan.analysis.reference import instant_ns
    from conftest import V2_RULESETS
    collection = load_rulesets([V2_RULESETS])
    orders = list(generate(plan_for(collection, "tiktok_shop"), 1500, seed=3))
    pairs = {(atom.fact, atom.of, atom.value) for rs in collection.versions for rule in rs.rules
             for atom in atoms_of(rule.when) if atom.of is not None}
    assert len(pairs) == 2
    for fact, of, seconds in pairs:
        seen = set()
        for facts in orders:
            flat = flatten_facts(facts)
            later, earlier = flat.texts.get(fact), flat.texts.get(of)
            if later and earlier:
                seen.add((instant_ns(later) - instant_ns(earlier)) // 10 ** 9)
        assert {seconds + d for d in (-60, -1, 0, 1, 60)} <= seen, (fact, of)
