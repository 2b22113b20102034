"""`aturan diff`: counts checked against an independent, sequential recount; the same summary
from one process or two, and from any partitioning of the corpus; invalid orders counted; the
CLI's text, JSON, --changes and --fail-on-change."""

from __future__ import annotations

import io
import json
import random
import re
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import pytest

import aturan
from aturan.cli import main
from aturan.language.repository import load_rulesets
from aturan.regression.diff import DiffSummary, VersionPair, diff_items
from aturan.regression.diffrun import RunOptions, run_diff
from aturan.regression.sample import generate, plan_for, to_line
from aturan.runtime.jsonio import read_lines
from conftest import RULESETS, make_facts

OLD, NEW = "tiktok_shop@1.0.0", "tiktok_shop@1.1.0"
N = 3000


def second_version(text: str) -> str:
    """1.0.0 -> 1.1.0 taking over from 1.0.0's end date, with one rule's outcome changed and
    the first duration threshold moved, so decisions change in two different ways."""
    until = re.search(r"^effective_until: (\S+)\n", text, re.M)
    assert until, "tiktok_shop 1.0.0 has an end date"
    text = text.replace(until.group(0), "").replace("version: 1.0.0", "version: 1.1.0")
    text = re.sub(r"^effective_from: \S+", f"effective_from: {until.group(1)}", text, flags=re.M)
    rules = text.index("\nrules:")
    outcome = re.compile(r"outcome: (\w+)").search(text, rules)
    assert outcome
    new = "rejected" if outcome.group(1) != "rejected" else "escalated"
    text = text[:outcome.start(1)] + new + text[outcome.end(1):]
    return re.sub(r"older_than: (\w+)", "older_than: 1h", text, count=1)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Rulesets with tiktok_shop 1.0.0 and an edited 1.1.0, and a 3,000-order corpus."""
    root = tmp_path_factory.mktemp("diff") / "rulesets"
    (root / "tiktok_shop").mkdir(parents=True)
    original = (RULESETS / "tiktok_shop" / "1.0.0.yaml").read_text(encoding="utf-8")
    (root / "tiktok_shop" / "1.0.0.yaml").write_text(original, encoding="utf-8")
    (root / "tiktok_shop" / "1.1.0.yaml").write_text(second_version(original), encoding="utf-8")
    plan = plan_for(load_rulesets([root]), "tiktok_shop")
    orders = root.parent / "orders.jsonl"
    with open(orders, "w", encoding="utf-8") as out:
        for facts in generate(plan, N, seed=11):
            out.write(to_line(facts))
        out.write('{"not json\n')  # line N+1
        shopee = json.loads(to_line(next(generate(plan, 1, seed=11))))
        shopee["order"]["platform"] = "shopee"
        out.write(json.dumps(shopee) + "\n")  # line N+2: valid facts, wrong platform
    return root, orders


def verdict(decision):
    d = decision.to_dict()
    penalties = sorted((p["party"], p["code"], p["points"]) for p in d["penalties"])
    return (d["outcome"], d["refund"], penalties, d["next_steps"])


def recount(root: Path, orders: Path) -> dict:
    """The same counts, computed the plain way: decide each order twice, one after another."""
    policies = aturan.load(root)
    by_outcome, by_rule, invalid = Counter(), Counter(), Counter()
    first_lines = defaultdict(list)
    changed = total = 0
    for number, line in enumerate(orders.read_text(encoding="utf-8").splitlines(), start=1):
        total += 1
        try:
            facts = json.loads(line)
            old = policies.decide(facts, OLD)
            new = policies.decide(facts, NEW)
        except (aturan.AturanError, ValueError):
            invalid["any"] += 1
            continue
        if verdict(old) != verdict(new):
            changed += 1
            key = (old.outcome, new.outcome)
            by_outcome[key] += 1
            by_rule[(old.explanation[0].rule, new.explanation[0].rule)] += 1
            first_lines[key].append(number)
    policies.close()
    return {"orders": total, "changed": changed, "invalid": invalid["any"],
            "by_outcome": dict(by_outcome), "by_rule": dict(by_rule),
            "examples": {k: v[:3] for k, v in first_lines.items()}}


@pytest.fixture(scope="module")
def expected(setup):
    return recount(*setup)


@pytest.fixture(scope="module")
def parallel(setup):
    root, orders = setup
    with open(orders, "rb") as stream:
        return run_diff([root], OLD, NEW, stream, str(orders), RunOptions(workers=2,
                                                                          chunk_size=250))


def test_counts_match_an_independent_recount(parallel, expected):
    got = parallel.to_dict()
    assert expected["changed"] > 100  # the edits change a real share of decisions
    assert len(expected["by_outcome"]) >= 2
    assert got["orders"] == expected["orders"] == N + 2
    assert got["changed"] == expected["changed"]
    assert got["invalid"] == expected["invalid"] == 2
    assert got["unchanged"] == N + 2 - expected["changed"] - 2
    assert {(r["old"], r["new"]): r["count"] for r in got["by_outcome"]} == expected["by_outcome"]
    assert {(r["old"], r["new"]): r["count"] for r in got["by_rule"]} == expected["by_rule"]
    for row in got["by_outcome"]:
        lines = [e["line"] for e in row["examples"]]
        assert lines == expected["examples"][(row["old"], row["new"])]
    assert {(r["side"], r["code"]): r["count"] for r in got["invalid_orders"]} == {
        ("input", "json-syntax"): 1, ("both", "platform-mismatch"): 1}


def head(orders: Path, lines: int, folder: Path) -> Path:
    """The first `lines` lines of the corpus as a file of their own (cheaper CLI runs)."""
    part = folder / f"head{lines}.jsonl"
    part.write_bytes(b"".join(orders.read_bytes().splitlines(True)[:lines]))
    return part


def test_any_partitioning_merges_to_the_same_summary(setup):
    root, orders = setup
    policies = aturan.load(root)
    pair = VersionPair(policies, OLD, NEW)
    items = list(read_lines(enumerate(orders.read_bytes().splitlines(True)[:600], start=1),
                            "x"))
    whole = diff_items(pair, items)
    rng = random.Random(3)
    rng.shuffle(items)
    cuts = sorted(rng.sample(range(1, len(items)), 6))
    parts = [items[a:b] for a, b in zip([0] + cuts, cuts + [len(items)])]
    summaries = [diff_items(pair, part) for part in parts]
    forward, backward = DiffSummary(OLD, NEW), DiffSummary(OLD, NEW)
    for s in summaries:
        forward = forward.merge(s)
    for s in reversed(summaries):
        backward = s.merge(backward)
    assert whole.changed > 0
    assert forward.to_dict() == backward.to_dict() == whole.to_dict()
    with pytest.raises(ValueError):
        forward.merge(DiffSummary(NEW, OLD))
    policies.close()


def test_one_process_cli_json_matches_and_fails_on_change(setup, parallel, capsys, tmp_path):
    root, orders = setup
    changes = tmp_path / "changes.jsonl"
    code = main(["diff", OLD, NEW, "--orders", str(orders), "--rulesets", str(root),
                 "--format", "json", "--workers", "1", "--fail-on-change",
                 "--changes", str(changes)])
    out = capsys.readouterr().out
    assert code == 1
    data = json.loads(out)
    assert data == {**parallel.to_dict(), "source": str(orders)}
    listed = [json.loads(line) for line in changes.read_text().splitlines()]
    assert len(listed) == data["changed"]
    assert [c["line"] for c in listed] == sorted(c["line"] for c in listed)
    assert all(c["changed"] and c["old"] != c["new"] for c in listed)


def test_identical_versions_change_nothing(setup, capsys, tmp_path):
    root, orders = setup
    part = head(orders, 200, tmp_path)
    code = main(["diff", OLD, OLD, "--orders", str(part), "--rulesets", str(root),
                 "--workers", "1", "--fail-on-change"])
    assert code == 0
    assert "200 orders: 0 changed (0.0%), 200 unchanged, 0 invalid" in capsys.readouterr().out


def test_cli_text_report(setup, capsys, tmp_path):
    root, orders = setup
    part = head(orders, 600, tmp_path)
    assert main(["diff", OLD, NEW, "--orders", str(part), "--rulesets", str(root),
                 "--workers", "1", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert main(["diff", OLD, NEW, "--orders", str(part), "--rulesets", str(root),
                 "--workers", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{OLD} → {NEW} over {part}"
    assert out[1] == (f"  600 orders: {data['changed']} changed "
                      f"({100 * data['changed'] / 600:.1f}%), {data['unchanged']} unchanged, "
                      "0 invalid for either version")
    top = data["by_outcome"][0]
    first = out[out.index("By outcome (old → new)") + 1]
    assert f"{top['count']:,}  {top['old']} → {top['new']}" in first
    example = top["examples"][0]
    assert f"e.g. {example['order_id']} (line {example['line']})" in first
    rule = data["by_rule"][0]
    assert f"{rule['old']} → {rule['new']}" in out[out.index("By deciding rule (old → new)") + 1]


def test_bad_pins_and_missing_orders_are_usage_errors(setup, capsys):
    root, orders = setup
    args = ["--orders", str(orders), "--rulesets", str(root)]
    assert main(["diff", OLD, "tiktok_shop@9.9.9", *args]) == 2
    assert "tiktok_shop@9.9.9 is not loaded" in capsys.readouterr().err
    assert main(["diff", "tiktok_shop", NEW, *args]) == 2
    assert "needs a version" in capsys.readouterr().err
    assert main(["diff", OLD, NEW, "--rulesets", str(root)]) == 2
    assert "--orders ORDERS.jsonl is required" in capsys.readouterr().err


def test_versions_of_different_platforms_are_refused(capsys, tmp_path):
    """No order can be decided by both: the diff would only count every order invalid."""
    orders = tmp_path / "orders.jsonl"
    orders.write_text("".join(to_line(f) for f in generate(plan_for(
        load_rulesets([RULESETS]), "tiktok_shop"), 5, 1)))
    args = ["--orders", str(orders), "--rulesets", str(RULESETS), "--workers", "1"]
    assert main(["diff", "tiktok_shop@1.0.0", "shopee@1.0.0", *args]) == 2
    err = capsys.readouterr().err
    assert ("tiktok_shop@1.0.0 (tiktok_shop) and shopee@1.0.0 (shopee) decide orders of "
            "different platforms") in err
    # an overlay is compared with its platform's versions
    assert main(["diff", "tiktok_shop@2.0.0", "preorder_firm@1.0.0", *args]) == 0


def test_stdin_is_read_as_a_stream(setup, monkeypatch, capsys):
    root, orders = setup
    head = b"".join(orders.read_bytes().splitlines(True)[:40])

    class Stdin:
        buffer = io.BytesIO(head)

    monkeypatch.setattr("sys.stdin", Stdin)
    assert main(["diff", OLD, NEW, "--orders", "-", "--rulesets", str(root), "--workers", "1",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["orders"] == 40


def test_compare_gives_the_verdicts_of_decide_for_every_order(setup):
    """The diff validates each order once and reads verdicts off the memo's plans without
    rendering explanations; each must equal `Verdict.of(Policies.decide(facts, pin))`, and an
    order a version cannot decide must name that version's error, on every order of the
    corpus (valid, and a wrong platform), and bad facts the error `decide` gives."""
    from aturan.runtime.verdict import Verdict

    root, orders = setup
    policies = aturan.load(root)
    pair = VersionPair(policies, OLD, NEW)
    checked = mismatched_side = 0
    for number, facts in read_lines(enumerate(orders.read_bytes().splitlines(True), 1), "x"):
        if isinstance(facts, aturan.AturanError):
            continue
        got = pair.compare(facts)
        expected = []
        for pin in (OLD, NEW):
            try:
                expected.append(Verdict.of(policies.decide(facts, pin)))
            except aturan.AturanError as exc:
                expected.append(exc.first.code)
        if all(isinstance(e, Verdict) for e in expected):
            assert got == tuple(expected), number
            assert [v.rule for v in got] == [e.rule for e in expected], number
            checked += 1
        else:
            assert got[0] == "both" and got[1] == expected[0] == expected[1], number
            mismatched_side += 1
    assert checked == N and mismatched_side == 1
    bad = make_facts({"order": {"amounts": {"total": -5}}})
    with pytest.raises(aturan.AturanError) as raised:
        policies.decide(bad, OLD)
    assert pair.compare(bad) == ("input", raised.value.first.code)
    policies.close()


def returned_for_replacement() -> dict:
    """A delivered order the buyer asks to replace (damaged, opened): the v2 fixture's
    `replacement-for-a-faulty-item` decides it, with a return the seller pays for."""
    return make_facts({
        "order": {"placed_at": "2025-07-01T09:00:00+07:00", "status": "delivered",
                  "payment": {"paid_at": "2025-07-01T09:02:00+07:00"},
                  "fulfillment": {"shipped_at": "2025-07-02T09:00:00+07:00",
                                  "delivered_at": "2025-07-03T09:00:00+07:00"}},
        "request": {"type": "return_refund", "reason": "damaged", "resolution": "replacement",
                    "item_condition": "opened", "at": "2025-07-04T09:00:00+07:00"}})


def test_compare_keeps_the_effective_instant_its_due_date_and_the_return():
    """The diff's verdicts read off memo plans carry what `decide` reports for language v2
    effects: the instant an outcome takes effect, the refund's due date counted from it (not from
    `now`), and a return's resolution; without them the corpus diff missed changes of these."""
    from aturan.runtime.verdict import Verdict
    from conftest import V2_RULESETS

    policies = aturan.load(V2_RULESETS)
    pin = "tiktok_shop@1.0.0"
    pair = VersionPair(policies, pin, pin)
    approved_late = make_facts({"order": {"placed_at": "2025-07-01T09:00:00+07:00",
                                          "payment": {"paid_at": "2025-07-01T09:02:00+07:00"}},
                                "request": {"at": "2025-07-01T10:00:00+07:00", "seller_response": {
                                    "decision": "approve", "at": "2025-07-02T10:00:00+07:00"}},
                                "now": "2025-07-10T10:00:00+07:00"})
    returned = returned_for_replacement()
    for facts, rule in ((approved_late, "seller-approves-in-window"),
                        (returned, "replacement-for-a-faulty-item")):
        decision = policies.decide(facts, pin)
        old, new = pair.compare(facts)
        assert old == new == Verdict.of(decision) and old.rule == rule
        assert (old.effective_at, old.return_) == (decision.effective_at,
                                                   Verdict.of(decision).return_)
    assert pair.compare(approved_late)[0].refund[-1] == "2025-07-22"  # 14 business days from 2 July
    assert pair.compare(returned)[0].return_ == (("resolution", "replacement"),
                                                 ("shipping_paid_by", "seller"))


def test_a_changed_return_is_named_return_as_decisions_name_it(tmp_path, capsys):
    """A corpus diff named a return that changed `return_` (the Verdict's field) in its text,
    JSON and changes file, where decisions, cases and the exhaustive diff say `return`."""
    from conftest import V2_RULESETS

    root = tmp_path / "rulesets"
    shutil.copytree(V2_RULESETS, root, ignore=shutil.ignore_patterns("cases"))
    old_file = root / "tiktok_shop" / "1.0.0.yaml"
    text = old_file.read_text(encoding="utf-8")
    start = "effective_from: 2024-01-01T00:00:00+07:00\n"
    old_file.write_text(text.replace(start, start + "effective_until: 2024-06-01T00:00:00+07:00\n"),
                        encoding="utf-8")
    replacement = "return: { resolution: replacement, shipping_paid_by: seller }"
    assert replacement in text
    (root / "tiktok_shop" / "1.0.1.yaml").write_text(
        text.replace("version: 1.0.0", "version: 1.0.1")
        .replace(start, "effective_from: 2024-06-01T00:00:00+07:00\n")
        .replace(replacement, replacement.replace("seller", "buyer")), encoding="utf-8")
    returned = returned_for_replacement()
    orders, changes = tmp_path / "o.jsonl", tmp_path / "changes.jsonl"
    orders.write_text(json.dumps(returned) + "\n", encoding="utf-8")
    args = ["diff", "tiktok_shop@1.0.0", "tiktok_shop@1.0.1", "--orders", str(orders),
            "--rulesets", str(root)]
    assert main(args) == 0
    assert "  changed parts: return 1\n" in capsys.readouterr().out
    assert main([*args, "--format", "json", "--changes", str(changes)]) == 0
    assert json.loads(capsys.readouterr().out)["changed_parts"] == {"return": 1}
    assert json.loads(changes.read_text())["changed"] == ["return"]


def test_compare_reads_the_requested_items_as_decide_does():
    """Rules on derived.request.* (a request for part of an order) decide the same in the diff as
    in `decide`: the diff's facts get the requested-item facts too (before, they lacked them and a
    partial cancellation read as neither whole nor partial)."""
    from aturan.runtime.verdict import Verdict
    from conftest import V2_RULESETS

    policies = aturan.load(V2_RULESETS)
    pin = "tiktok_shop@1.0.0"
    pair = VersionPair(policies, pin, pin)
    order = {"placed_at": "2025-07-01T09:00:00+07:00",
             "payment": {"paid_at": "2025-07-01T09:02:00+07:00"},
             "amounts": {"items": 300000, "shipping": 10000, "discount": 20000, "total": 290000},
             "items": [{"sku": "SEPATU-42", "product_type": "regular", "quantity": 1,
                        "unit_price": 240000},
                       {"sku": "KAOS-M", "product_type": "regular", "quantity": 2,
                        "unit_price": 30000}]}
    part = make_facts({"order": order, "request": {"at": "2025-07-01T10:00:00+07:00",
                                                   "items": [{"sku": "KAOS-M", "quantity": 1}]}})
    whole = make_facts({"order": order, "request": {"at": "2025-07-01T10:00:00+07:00"}})
    for facts, rule in ((part, "partial-cancel"), (whole, "pending-seller")):
        decision = policies.decide(facts, pin)
        old, new = pair.compare(facts)
        assert old == new == Verdict.of(decision) and (old.rule, decision.explanation[0].rule) == (
            rule, rule)
    assert pair.compare(part)[0].refund[0] == 30000
