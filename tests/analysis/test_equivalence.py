"""Exhaustive comparison of two versions: a reordered, reformatted copy is proved equal; a
one-minute change of a duration threshold is found (with a witness the evaluator confirms) where
a 100k-order random corpus sees no change; the solver and the box analysis agree; time-outs say
"unknown"; without z3 the command says how to install it."""

from __future__ import annotations

import json
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_symbolic import generated_rules, ruleset

import aturan
from aturan.analysis.comparison import verdict_dict
from aturan.analysis.equivalence import Version, compare, exhaustive_diff
from aturan.analysis.witness import Evaluator, verdict_of_decision
from aturan.cli import main
from aturan.language.loader import parse_yaml
from aturan.runtime.compiler import compile_ruleset
from aturan.runtime.evaluate import combine, interpreted_rules
from aturan.runtime.explain import satisfied
from aturan.runtime.facts import flatten_facts
from conftest import RULESETS

BUNDLED = RULESETS / "tiktok_shop" / "2.0.0.yaml"
WIB = timezone(timedelta(hours=7))


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def load_copy(tmp_path: Path, text: str) -> aturan.Policies:
    target = tmp_path / "rulesets" / "tiktok_shop" / "2.0.0.yaml"
    target.parent.mkdir(parents=True)
    target.write_text(text, encoding="utf-8")
    return aturan.load(tmp_path / "rulesets")


def version(policies: aturan.Policies, key: str = "2.0.0") -> Version:
    return Version(policies.collection.get("tiktok_shop", key))


def reordered_reformatted(text: str) -> str:
    tree = parse_yaml(text).tree
    tree["rules"] = list(reversed(tree["rules"]))
    for rule in tree["rules"]:
        rule["then"] = dict(reversed(list(rule["then"].items())))
    return "# reordered and reformatted\n" + yaml.safe_dump(tree, sort_keys=True, width=70,
                                                             allow_unicode=True)


@pytest.mark.parametrize("method", ["z3", "box", "both"])
def test_a_reordered_reformatted_copy_is_proved_equal(tmp_path, policies, method):
    text = BUNDLED.read_text(encoding="utf-8")
    copy = reordered_reformatted(text)
    assert copy != text and parse_yaml(copy).tree["rules"][0]["id"] != parse_yaml(text).tree["rules"][0]["id"]
    other = load_copy(tmp_path, copy)
    result = compare(Evaluator(policies, other), version(policies), version(other), method)
    assert (result.status, result.groups, result.note) == ("equal", [], "")


ONE_MINUTE = [("{ fact: request.at, within: 2d }", "{ fact: request.at, within: 2d1m }"),
              ("{ fact: request.at, older_than: 2d }", "{ fact: request.at, older_than: 2d1m }")]


def one_minute_later(text: str) -> str:
    """The cancellation review window one minute longer (the returns section after it, whose
    review also lasts 2 days, is left as it is)."""
    cancellations, returns = text.split("# --- returns and refunds", 1)
    for old, new in ONE_MINUTE:
        assert old in cancellations
        cancellations = cancellations.replace(old, new)
    return cancellations + "# --- returns and refunds" + returns


def random_order(rng: random.Random, n: int) -> dict[str, Any]:
    """A plain seeded random order: every field drawn independently and uniformly over a
    plausible range (no knowledge of any rule's thresholds)."""
    now = datetime(2025, 6, 1, 12, tzinfo=WIB) + timedelta(seconds=rng.randrange(86400 * 60))
    ts = lambda age: (now - timedelta(seconds=age)).isoformat()  # noqa: E731
    status = rng.choice(["unpaid", "paid", "to_ship", "shipped", "delivered", "completed",
                         "cancelled", "returned"])
    method = rng.choice(["cod", "ewallet", "bank_transfer", "virtual_account", "credit_card"])
    request_age = rng.randrange(10 * 86400)
    placed = request_age + rng.randrange(20 * 86400)
    paid = None if status == "unpaid" or method == "cod" else placed - rng.randrange(min(placed, 3600) + 1)
    shipped = placed // 2 if status in ("shipped", "delivered", "completed", "returned") else None
    delivered = shipped // 2 if shipped is not None and status != "shipped" else None
    awaiting = rng.choice([None, placed // 3]) if status == "to_ship" else (
        placed // 3 if shipped is not None else None)
    kind = rng.choice(["regular", "regular", "custom_made", "pre_order", "digital", "perishable"])
    item = {"sku": "A", "product_type": kind, "quantity": rng.randint(1, 3), "unit_price": 50000}
    if kind == "digital":
        item["delivered"] = rng.random() < 0.5
    total = item["quantity"] * 50000
    decision = rng.choice([None, None, "approve", "reject"])
    response = None if decision is None else {
        "decision": decision, "at": ts(rng.randrange(request_age + 1))}
    if decision == "reject" and rng.random() < 0.5:
        response["reason"] = rng.choice(["already_shipped", "pre_order_in_production", "other"])
    fulfillment = {"ship_by": ts(-rng.randrange(-86400 * 3, 86400 * 3)),
                   "shipped_at": None if shipped is None else ts(shipped),
                   "delivered_at": None if delivered is None else ts(delivered)}
    if awaiting is not None:
        fulfillment["awaiting_collection_at"] = ts(awaiting)
    return {
        "order": {"id": f"R-{n}", "platform": "tiktok_shop", "placed_at": ts(placed),
                  "status": status,
                  "payment": {"method": method, "paid_at": None if paid is None else ts(paid),
                              "deadline_at": ts(placed - 86400) if status == "unpaid" else None},
                  "amounts": {"items": total, "shipping": 9000, "discount": 0,
                              "total": total + 9000},
                  "items": [item], "seller": {"id": "S", "policy": None},
                  "fulfillment": fulfillment},
        "request": {"type": rng.choice(["cancel", "return_refund"]),
                    "by": rng.choice(["buyer", "seller", "system"]),
                    "reason": rng.choice(["changed_mind", "out_of_stock", "other"]),
                    "at": ts(request_age), "seller_response": response},
        "now": now.isoformat()}


def corpus_changes(old_rs, new_rs, documents) -> list[str]:
    """A corpus diff by aturan's Python interpreter (`interpreted_rules` + `combine`), made cheap
    honestly: the two versions differ only in some rules' conditions (same rules, same order,
    same effects), so an order whose changed rules match alike under both is decided alike;
    only the others are decided in full and compared."""
    old_c, new_c = compile_ruleset(old_rs), compile_ruleset(new_rs)
    changed = [i for i, (a, b) in enumerate(zip(old_c.rules, new_c.rules)) if a.when != b.when]
    assert [r.then for r in old_c.rules] == [r.then for r in new_c.rules] and changed
    differing = []
    for facts in documents:
        flat = flatten_facts(facts)
        if all(satisfied(old_c.rules[i].when, flat) == satisfied(new_c.rules[i].when, flat)
               for i in changed):
            continue
        before = combine(old_c, flat, interpreted_rules(old_c, flat))
        after = combine(new_c, flat, interpreted_rules(new_c, flat))
        if verdict_of_decision(before, facts) != verdict_of_decision(after, facts):
            differing.append(flat.order_id)
    return differing


@pytest.mark.slow
def test_a_one_minute_threshold_change_is_found_where_a_random_corpus_sees_none(tmp_path,
                                                                                policies):
    other = load_copy(tmp_path, one_minute_later(BUNDLED.read_text(encoding="utf-8")))
    old, new = version(policies), version(other)
    result = compare(Evaluator(policies, other), old, new, "both")
    assert result.status == "different" and result.note == ""
    assert result.groups and all(g.confirmed for g in result.groups)
    ages = set()
    for group in result.groups:
        now = datetime.fromisoformat(group.witness["now"])
        ages.add((now - datetime.fromisoformat(group.witness["request"]["at"])).total_seconds())
    assert ages <= set(range(2 * 86400, 2 * 86400 + 60))  # inside the one-minute window
    rng = random.Random(20250326)
    corpus = (random_order(rng, n) for n in range(100_000))
    assert corpus_changes(old.ruleset, new.ruleset, corpus) == []
    # the same corpus check does see the change on the exhaustive witnesses
    witnesses = [g.witness for g in result.groups]
    assert len(corpus_changes(old.ruleset, new.ruleset, witnesses)) == len(witnesses)


def test_a_change_group_no_valid_order_reaches_stays_unconfirmed_instead_of_a_crash(tmp_path,
                                                                                   capsys):
    """Ages just under the 1,100 years facts may span: the box analysis (which does not bound
    ages) finds a group whose witness would be placed before 1900; that crashed with the
    witness's FactsError. Now the group has no witness and says it is not confirmed."""
    from conftest import MINIMAL_RULESET, write_ruleset
    text = MINIMAL_RULESET.replace("ruleset: demo", "ruleset: tiktok_shop").replace(
        "        - { fact: order.status, eq: unpaid }",
        "        - { fact: order.status, eq: unpaid }\n"
        "        - { fact: order.placed_at, within: 401769d }")
    old = text.replace("effective_from: 2024-01-01T00:00:00+07:00",
                       "effective_from: 2024-01-01T00:00:00+07:00\n"
                       "effective_until: 2024-06-01T00:00:00+07:00")
    new = text.replace("version: 1.0.0", "version: 1.1.0").replace(
        "2024-01-01T00:00:00", "2024-06-01T00:00:00").replace("401769d", "401768d")
    write_ruleset(tmp_path, old, name="tiktok_shop")
    root = write_ruleset(tmp_path, new, name="tiktok_shop", version="1.1.0")
    code, out, err = run(capsys, "diff", "tiktok_shop@1.0.0", "tiktok_shop@1.1.0", "--exhaustive",
                         "--method", "box", "--rulesets", root, "--format", "json")
    assert code == 1 and "Traceback" not in err  # an unconfirmed group fails, as designed
    (group,) = json.loads(out)["groups"]
    assert not group["witness"] and not group["confirmed"]


def test_cli_exhaustive_diff_lists_confirmed_change_groups(capsys):
    code, out, _ = run(capsys, "diff", "tiktok_shop@1.0.0", "tiktok_shop@2.0.0", "--exhaustive",
                       "--format", "json", "--rulesets", RULESETS)
    data = json.loads(out)
    assert code == 0 and data["status"] == "different" and data["method"] == "z3"
    assert data["groups"] and all(g["confirmed"] for g in data["groups"])
    boxed = exhaustive_diff(aturan.load(RULESETS), "tiktok_shop@1.0.0", "tiktok_shop@2.0.0", "box")
    assert {(json.dumps(g["old"], sort_keys=True), json.dumps(g["new"], sort_keys=True))
            for g in data["groups"]} == {
        (json.dumps(verdict_dict(g.old), sort_keys=True), json.dumps(verdict_dict(g.new), sort_keys=True))
        for g in boxed.groups}
    group = data["groups"][0]
    assert flatten_facts(group["witness"])  # a complete, schema-valid order
    assert run(capsys, "diff", "tiktok_shop@1.0.0", "tiktok_shop@2.0.0", "--exhaustive",
               "--fail-on-change", "--rulesets", RULESETS)[0] == 1


def test_cli_exhaustive_diff_text_proves_equality(capsys):
    code, out, _ = run(capsys, "diff", "tiktok_shop@2.0.0", "tiktok_shop@2.0.0", "--exhaustive",
                       "--fail-on-change", "--rulesets", RULESETS)
    assert code == 0
    assert out.startswith("EQUAL  tiktok_shop@2.0.0 and tiktok_shop@2.0.0 decide every "
                          "schema-valid order alike (proved by z3")


def test_without_z3_the_command_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "z3", None)  # `import z3` now raises ImportError
    code, out, err = run(capsys, "diff", "tiktok_shop@1.0.0", "tiktok_shop@2.0.0",
                         "--exhaustive", "--rulesets", RULESETS)
    assert code == 1 and out == ""
    assert "pip install 'aturan[verify]'" in err and "--method box" in err
    code, out, _ = run(capsys, "diff", "tiktok_shop@1.0.0", "tiktok_shop@2.0.0", "--exhaustive",
                       "--method", "box", "--rulesets", RULESETS)
    assert code == 0 and out.startswith("DIFFERENT  tiktok_shop@1.0.0 -> tiktok_shop@2.0.0")


def test_a_solver_time_out_reports_unknown_never_equal(monkeypatch, policies):
    import z3
    monkeypatch.setattr(z3.Optimize, "check", lambda self, *a: z3.unknown)
    result = exhaustive_diff(policies, "tiktok_shop@2.0.0", "tiktok_shop@2.0.0", "z3")
    assert result.status == "unknown" and result.groups == []


def test_versions_of_different_platforms_are_refused(capsys):
    code, _, err = run(capsys, "diff", "tiktok_shop@1.0.0", "lazada@1.0.0", "--exhaustive",
                       "--rulesets", RULESETS)
    assert code == 2 and "different platforms" in err


class Interpreter:
    """Decides generated rulesets (which no Policies loads) with aturan's Python reading."""

    def decide(self, facts, rs, base=None):
        compiled = compile_ruleset(rs, base)
        flat = flatten_facts(facts)
        return combine(compiled, flat, interpreted_rules(compiled, flat))


def perturbed(rng: random.Random, rules):
    """The same rules with one change: a priority, an outcome, or one rule dropped."""
    rules = list(rules)
    k = rng.randrange(len(rules))
    roll = rng.random()
    if roll < 0.4:
        rules[k] = type(rules[k])(**{**rules[k].__dict__, "priority": rules[k].priority + 15})
    elif roll < 0.8 and len(rules) > 1:
        del rules[k]
    else:
        effect = type(rules[k].then)(outcome="rejected", next_steps=("changed",))
        rules[k] = type(rules[k])(**{**rules[k].__dict__, "then": effect})
    return rules


@pytest.mark.parametrize("seed", range(10))
def test_solver_and_box_analysis_find_the_same_change_groups(seed):
    rng = random.Random(seed)
    rules = generated_rules(rng, rng.randint(3, 7))
    old, new = Version(ruleset(rules, "1.0.0")), Version(ruleset(perturbed(rng, rules), "1.0.1"))
    boxed = compare(Interpreter(), old, new, "box")
    solved = compare(Interpreter(), old, new, "z3")
    assert {g.key() for g in boxed.groups} == {g.key() for g in solved.groups}, seed
    assert all(g.confirmed for g in boxed.groups + solved.groups), seed
    assert (boxed.status == "equal") == (solved.status == "equal") == (not boxed.groups)


def test_solver_and_box_analysis_agree_on_every_bundled_version(policies):
    """Each bundled version against itself without one of its deciding rules (the first and
    the last): both routes find the same change groups, every witness confirmed."""
    from dataclasses import replace

    from aturan.analysis.lint.run import targets_of
    compared = 0
    for rs, base in targets_of(policies.collection):
        deciding = [r for r in rs.rules if r.decides]
        for dropped in {deciding[0].id, deciding[-1].id}:
            smaller = replace(rs, rules=tuple(r for r in rs.rules if r.id != dropped),
                              digest=rs.digest + "-" + dropped)
            result = compare(Interpreter(), Version(rs, base), Version(smaller, base), "both")
            assert result.note == "" and result.status == "different", (rs.key, dropped)
            assert all(g.confirmed for g in result.groups), (rs.key, dropped)
            compared += 1
    assert compared >= 10
