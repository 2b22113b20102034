"""Figures for policy analysis (docs/analysis.md): lint of every bundled ruleset, lint of
synthetic 100- and 300-rule rulesets, and the exhaustive diff of tiktok_shop 1.0.0 vs 2.0.0
(box analysis and z3). A script that prints, not a timed test.

    python benchmarks/analysis.py [--rules 100 300] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "engine"))

from aturan.analysis.equivalence import exhaustive_diff  # noqa: E402
from aturan.analysis.lint import CHECKS, lint_collection  # noqa: E402
from aturan.language.repository import load_rulesets  # noqa: E402
from aturan.runtime.evaluate import Policies  # noqa: E402

STATUSES = ["unpaid", "paid", "to_ship", "shipped", "delivered", "completed", "cancelled",
            "returned"]
REASONS = ["changed_mind", "wrong_item", "found_cheaper", "shipping_delay", "not_as_described",
           "damaged", "out_of_stock", "cannot_ship", "address_issue", "payment_timeout", "other"]
METHODS = ["cod", "ewallet", "bank_transfer", "virtual_account", "credit_card", "paylater"]
TIMES = ["order.placed_at", "order.fulfillment.shipped_at", "order.fulfillment.delivered_at",
         "request.at", "order.fulfillment.ship_by"]
DURATIONS = ["1h", "6h", "24h", "2d", "3d", "7d", "15d", "30d"]
OUTCOMES = ["approved", "rejected", "pending_seller", "auto_approved", "escalated"]


def _atom(rng: random.Random) -> str:
    kind = rng.randrange(9)
    if kind == 0:
        return f"{{ fact: order.status, in: [{', '.join(rng.sample(STATUSES, rng.randint(1, 3)))}] }}"
    if kind == 1:
        return f"{{ fact: request.type, eq: {rng.choice(['cancel', 'return_refund'])} }}"
    if kind == 2:
        return f"{{ fact: request.by, eq: {rng.choice(['buyer', 'seller', 'system'])} }}"
    if kind == 3:
        return f"{{ fact: request.reason, in: [{', '.join(rng.sample(REASONS, rng.randint(1, 3)))}] }}"
    if kind == 4:
        return f"{{ fact: order.payment.method, {rng.choice(['eq', 'ne'])}: {rng.choice(METHODS)} }}"
    if kind == 5:
        return (f"{{ fact: {rng.choice(TIMES)}, {rng.choice(['older_than', 'within'])}: "
                f"{rng.choice(DURATIONS)} }}")
    if kind == 6:
        flag = rng.choice(["has_custom_made", "has_pre_order", "has_digital", "has_perishable"])
        return f"{{ fact: derived.{flag}, eq: {rng.choice(['true', 'false'])} }}"
    if kind == 7:
        return f"{{ fact: order.amounts.total, {rng.choice(['ge', 'lt'])}: {rng.choice([50000, 200000, 1000000])} }}"
    return f"{{ fact: request.seller_response.decision, {rng.choice(['absent: true', 'eq: approve', 'eq: reject'])} }}"


def synthetic(n_rules: int, seed: int = 7) -> str:
    """A valid ruleset of n rules, ~3 conditions each, unique priorities (validation rejects
    equal-priority rules with different outcomes that may overlap), a few additive rules."""
    rng = random.Random(seed)
    priorities = rng.sample(range(1, 1000), n_rules)
    lines = ["ruleset: tiktok_shop", "version: 9.0.0",
             "effective_from: 2030-01-01T00:00:00+07:00",
             f"description: Synthetic benchmark ruleset ({n_rules} rules).",
             "sources:", "  - { publisher: aturan benchmarks, title: synthetic }",
             "default:", "  then: { outcome: escalated }",
             "  explain: { en: Default., id: Bawaan. }", "rules:"]
    for k in range(n_rules):
        atoms = [_atom(rng) for _ in range(rng.choice([2, 3, 3, 4]))]
        if rng.random() < 0.15:
            then = "{ penalties: [ { party: seller, code: p%d } ] }" % rng.randrange(5)
        else:
            then = "{ outcome: %s, next_steps: [s%d] }" % (rng.choice(OUTCOMES), rng.randrange(6))
        lines += [f"  - id: r{k}", "    description: Synthetic rule.",
                  f"    priority: {priorities[k]}", "    when:", "      all:"]
        lines += [f"        - {a}" for a in atoms]
        lines += [f"    then: {then}", "    explain: { en: Rule., id: Aturan. }",
                  "    source: { publisher: aturan benchmarks, title: synthetic }"]
    return "\n".join(lines) + "\n"


def _lint(paths: list[Path]) -> tuple[float, list]:
    collection = load_rulesets(paths)
    policies = Policies(collection)
    started = time.perf_counter()
    findings, _ = lint_collection(policies, collection)
    seconds = time.perf_counter() - started
    policies.close()
    return seconds, findings


def _counts(findings: list) -> str:
    active = [f for f in findings if f.silenced is None]
    counts = {code: sum(1 for f in active if f.code == code) for code in CHECKS}
    text = ", ".join(f"{c} {n}" for c, n in counts.items() if n) or "no findings"
    silenced = len(findings) - len(active)
    return text + (f"; {silenced} silenced" if silenced else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, nargs="*", default=[100, 300])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    bundled = ROOT / "rulesets"
    seconds, findings = _lint([bundled])
    versions = len(load_rulesets([bundled]).versions)
    print(f"lint bundled rulesets ({versions} versions): {seconds:.2f} s  [{_counts(findings)}]")
    for n in args.rules:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "rulesets" / "tiktok_shop" / "9.0.0.yaml"
            path.parent.mkdir(parents=True)
            path.write_text(synthetic(n, args.seed), encoding="utf-8")
            conditions = path.read_text().count("{ fact:")
            seconds, findings = _lint([path.parent.parent])
        print(f"lint synthetic {n} rules / {conditions} conditions: {seconds:.2f} s  "
              f"[{_counts(findings)}]")
    collection = load_rulesets([bundled])
    if collection.get("tiktok_shop", "2.0.0") and collection.get("tiktok_shop", "1.0.0"):
        policies = Policies(collection)
        for method in ("box", "z3"):
            try:
                result = exhaustive_diff(policies, "tiktok_shop@1.0.0", "tiktok_shop@2.0.0",
                                         method)
            except Exception as exc:  # noqa: BLE001 - z3 missing: say so and go on
                print(f"exhaustive diff tiktok_shop 1.0.0 -> 2.0.0 ({method}): {exc}")
                continue
            confirmed = sum(g.confirmed for g in result.groups)
            print(f"exhaustive diff tiktok_shop 1.0.0 -> 2.0.0 ({method}): {result.status}, "
                  f"{len(result.groups)} change groups ({confirmed} witnesses confirmed), "
                  f"{result.seconds:.2f} s")
        same = exhaustive_diff(policies, "tiktok_shop@2.0.0", "tiktok_shop@2.0.0", "z3")
        print(f"exhaustive diff tiktok_shop 2.0.0 -> 2.0.0 (z3): {same.status}, "
              f"{same.seconds:.2f} s")
        policies.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
