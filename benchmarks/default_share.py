"""How much each bundled platform leaves to its catch-all default, by request type.

    python benchmarks/default_share.py [--n 20000] [--seed 7] [--by-version]
        [--corpus-rulesets DIR]

For every platform with a bundled ruleset, `aturan sample` draws N orders (both request types,
every version's effective range), each is decided, and the share decided by the ruleset's
`default:` block is printed per request type, with the commonest situations that still reach
the default (status, who asks, the reason) so that docs/policies.md's "not covered" list can name
them. The policy-library issue's targets: at most 10% of cancellations and 20% of return/refund
requests by the default. This is a script that prints figures, not a test.

`aturan sample` draws orders either side of every threshold the rules name, so a new rule with
a deadline also brings orders just inside it: the corpus itself changes with the rules. To
compare two versions of the library on the same orders, `--corpus-rulesets` draws the corpus
from another rulesets folder (e.g. `git archive main rulesets | tar -x -C /tmp/main`) and
decides it with this one.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "engine"))

import aturan  # noqa: E402
from aturan.regression.sample import generate, plan_for  # noqa: E402

TARGETS = {"cancel": 0.10, "return_refund": 0.20}


def whole_order(facts: dict) -> bool:
    """Whether the request covers every unit of every line (derived.request.whole_order)."""
    asked: Counter[str] = Counter()
    for line in facts["request"]["items"]:
        asked[line["sku"]] += line["quantity"]
    return all(asked[item["sku"]] >= item["quantity"] for item in facts["order"]["items"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="orders per platform")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--top", type=int, default=6, help="default situations shown")
    parser.add_argument("--corpus-rulesets", type=Path, default=None,
                        help="draw the orders from this rulesets folder (default: the bundled)")
    parser.add_argument("--by-version", action="store_true",
                        help="also the share of each ruleset version in force")
    args = parser.parse_args(argv)
    policies = aturan.load(ROOT / "rulesets")
    drawn = (aturan.load(args.corpus_rulesets).collection if args.corpus_rulesets
             else policies.collection)
    platforms = sorted({rs.name for rs in policies.collection.versions if rs.extends is None})
    worst = 0.0
    print(f"{'platform':<12} {'request':<14} {'orders':>7} {'default':>8} {'share':>7}  target")
    for platform in platforms:
        totals: Counter[str] = Counter()
        defaults: Counter[str] = Counter()
        situations: Counter[tuple[str, ...]] = Counter()
        per_version: Counter[tuple[str, str]] = Counter()
        per_version_default: Counter[tuple[str, str]] = Counter()
        partial: Counter[str] = Counter()  # defaults that are requests for part of an order
        parts: Counter[str] = Counter()  # requests for part of an order
        for facts in generate(plan_for(drawn, platform), args.n, args.seed):
            kind = facts["request"]["type"]
            try:
                decision = policies.decide(facts)
            except aturan.AturanError:
                continue  # e.g. a request while no version was in force
            totals[kind] += 1
            is_part = bool(facts["request"].get("items")) and not whole_order(facts)
            parts[kind] += is_part
            version = decision.ruleset.version
            per_version[(version, kind)] += 1
            if decision.explanation[0].rule == "default":
                defaults[kind] += 1
                per_version_default[(version, kind)] += 1
                partial[kind] += is_part
                situations[(kind, facts["order"]["status"], facts["request"]["by"],
                            facts["request"]["reason"])] += 1
        for kind in sorted(totals):
            share = defaults[kind] / totals[kind]
            target = TARGETS.get(kind, 1.0)
            worst = max(worst, share / target)
            mark = "ok" if share <= target else "OVER"
            print(f"{platform:<12} {kind:<14} {totals[kind]:>7} {defaults[kind]:>8} "
                  f"{share:>7.1%}  ≤{target:.0%} {mark}"
                  + (f"  (whole-order requests: {defaults[kind] - partial[kind]} of "
                     f"{totals[kind] - parts[kind]}, "
                     f"{(defaults[kind] - partial[kind]) / (totals[kind] - parts[kind]):.1%})"
                     if parts[kind] else ""))
        if args.by_version:
            for version, kind in sorted(per_version):
                n = per_version[(version, kind)]
                share = per_version_default[(version, kind)] / n
                print(f"{'':<12}   @{version:<8} {kind:<14} {n:>7} "
                      f"{per_version_default[(version, kind)]:>8} {share:>7.1%}")
        for wanted in sorted(totals):
            top = [(s, n) for s, n in situations.most_common() if s[0] == wanted][:args.top]
            for (kind, status, by, reason), count in top:
                print(f"{'':<12}   default: {kind} {status} by {by} ({reason}): {count}")
    print(f"worst share / target: {worst:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
