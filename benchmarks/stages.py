"""Where a decision's time goes, stage by stage: `python benchmarks/stages.py [--rounds N]`.

`Policies.decide(facts).to_json()` on the tiktok_shop 1.0.0 orders of benchmarks/run.py's
corpus, cut into the steps `Policies.decide` takes, each timed over all the orders in turn
(CPU time per order, median of the rounds; the stages alternate within a round, so load hits
them all). Passes over 1,644 orders walk megabytes, so these are the costs with the caches
missed, as in benchmarks/targets.py; `timeit` on one order gives less (docs/performance.md).

The steps are re-enacted from `Policies.decide` (private functions, no hook); the script
first checks that doing them one after another writes the same JSON as `decide` for every
order, so a change to `decide` that this does not follow stops it instead of timing
something else. A script, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus as corpus_module  # noqa: E402
import handwritten  # noqa: E402
import targets  # noqa: E402

import aturan  # noqa: E402
from aturan.runtime.deferred import decide_deferred  # noqa: E402
from aturan.runtime.facts import _flat_of, add_gaps, add_requested  # noqa: E402


def stages(policies: aturan.Policies, orders: list[dict[str, Any]]
           ) -> dict[str, Callable[[], None]]:
    """One function per stage, each doing that stage for every order from the previous
    stage's results (computed here once)."""
    prepare = policies.facts_reader.prepare
    if prepare is None:
        raise RuntimeError("the bundled catalogue has no fused check")

    def one_after_another(facts: dict[str, Any]) -> str:
        """Every stage for one order, as `Policies.decide` takes them (and then to_json)."""
        values, texts, now, now_text = prepare(facts)
        flat = _flat_of(facts, values, texts, now, now_text)
        memo = policies._select(flat, None)
        compiled = memo.compiled
        if compiled.reads_request:
            add_requested(flat, compiled.catalogue.product_types)
        if compiled.gap_pairs:
            add_gaps(flat, compiled.gap_pairs)
        key = memo.ages_and_key(flat.values, flat.ages, flat.gaps, texts, flat.now, texts[""])
        return decide_deferred(policies._plan_of(memo, flat, key), flat, None).to_json()
    prepared = [prepare(facts) for facts in orders]
    if any(p is None for p in prepared):
        raise RuntimeError("the fused check does not accept every order")

    flats = [_flat_of(facts, p[0].copy(), *p[1:]) for facts, p in zip(orders, prepared)]
    memos = [policies._select(flat, None) for flat in flats]

    def derived() -> None:
        for flat, memo in zip(flats, memos):
            if memo.compiled.reads_request:
                add_requested(flat, memo.compiled.catalogue.product_types)

    def gaps() -> None:
        for flat, memo in zip(flats, memos):
            if memo.compiled.gap_pairs:
                add_gaps(flat, memo.compiled.gap_pairs)

    derived()
    gaps()
    texts = [p[1] for p in prepared]

    def keys() -> list[tuple[int, ...]]:
        return [memo.ages_and_key(flat.values, flat.ages, flat.gaps, text, flat.now, text[""])
                for flat, memo, text in zip(flats, memos, texts)]

    plans = [policies._plan_of(memo, flat, key)
             for flat, memo, key in zip(flats, memos, keys())]
    staged = [decide_deferred(found, flat, None).to_json() for found, flat in zip(plans, flats)]
    def agrees(facts: dict[str, Any], mine: str) -> bool:
        expected = policies.decide(facts).to_json()
        return mine == expected and one_after_another(facts) == expected

    differ = sum(not agrees(facts, mine) for mine, facts in zip(staged, orders))
    if differ:
        raise RuntimeError(f"{differ} orders decide differently stage by stage: follow "
                           "Policies.decide")

    def each(step: Callable[..., Any], *columns: list[Any]) -> Callable[[], None]:
        def run() -> None:
            for row in zip(*columns):
                step(*row)
        return run

    return {
        "the fused facts check (reader.prepare)": each(prepare, orders),
        "FlatFacts built, values copied": each(
            lambda facts, found: _flat_of(facts, found[0].copy(), *found[1:]), orders, prepared),
        "  of which copying the values (not in decide)": each(lambda found: found[0].copy(),
                                                             prepared),
        "selection": each(lambda flat: policies._select(flat, None), flats),
        "derived.request.*": derived,
        "gaps": gaps,
        "ages and the memo key": keys,
        "memo lookup": each(policies._plan_of, memos, flats, keys()),
        "the decision": each(lambda found, flat: decide_deferred(found, flat, None), plans,
                             flats),
        "the decision + to_json": each(
            lambda found, flat: decide_deferred(found, flat, None).to_json(), plans, flats),
        "the stages one after another, per order": each(one_after_another, orders),
        "decide + to_json, whole": each(lambda facts: policies.decide(facts).to_json(), orders),
        "the hand-written function": each(handwritten.decide, orders),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    policies = aturan.load(targets.RULESETS)
    orders, _ = corpus_module.corpus(policies, 20_000, targets.SEED)
    tiktok = targets.tiktok_orders(policies, orders)
    timed = stages(policies, tiktok)
    seconds: dict[str, list[float]] = {label: [] for label in timed}
    for _ in range(args.rounds):
        for label, run in timed.items():
            start = time.thread_time()
            run()
            seconds[label].append((time.thread_time() - start) / len(tiktok))
    print(f"tiktok_shop 1.0.0, {len(tiktok):,} orders, CPU µs per order (median of "
          f"{args.rounds} rounds)")
    for label, values in seconds.items():
        print(f"  {label:<48} {statistics.median(values) * 1e6:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
