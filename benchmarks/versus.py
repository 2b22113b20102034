"""Two or more source trees of aturan deciding the same orders, side by side, in one run:
`python benchmarks/versus.py NAME=TREE NAME=TREE ... [--orders N] [--rounds R]`.

Each TREE (a checkout: its `engine/` is put on PYTHONPATH, its `rulesets/` loaded) runs in a
long-lived worker process of its own; the driver asks the workers for one timed pass each in
turn (a, b, c, a, b, c, ...), so load on the shared machine hits every tree alike. A pass is
`decide(facts)` over the corpus, then `decide(facts).to_json()`, in CPU time of the worker's
thread (`time.thread_time`), after one warm-up pass (the memos hold every key by then).

The corpus is generated once by the first tree (`benchmarks/corpus.py` under its package) and
sent to every worker as JSON, so every tree decides exactly the same facts; the first tree
should be the oldest, whose facts schema the later ones accept. Every worker's decisions are
fingerprinted (sha256 of the JSON lines) so the output says whether the trees agree.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

WORKER = r"""
import hashlib, json, sys, time
sys.path.insert(0, sys.argv[3])
import aturan
policies = aturan.load(sys.argv[1] + "/rulesets")
orders = json.load(open(sys.argv[2]))
def run(function):
    start = time.thread_time()
    for facts in orders:
        function(facts)
    return (time.thread_time() - start) / len(orders)
decide = policies.decide
def both(facts):
    return decide(facts).to_json()
digest = hashlib.sha256("\n".join(both(o).replace(sys.argv[1], "") for o in orders).encode()
                        ).hexdigest()[:16]  # the same bytes, bar where the tree is
run(decide); run(both)
print(json.dumps({"digest": digest}), flush=True)
for line in sys.stdin:
    print(json.dumps({"decide": run(decide), "json": run(both)}), flush=True)
"""

GENERATE = r"""
import json, sys
sys.path.insert(0, sys.argv[3])
import aturan, corpus
policies = aturan.load(sys.argv[1] + "/rulesets")
orders, source = corpus.corpus(policies, int(sys.argv[4]), 20240301)
json.dump(orders, open(sys.argv[2], "w"))
print(source)
"""


def _python(tree: Path, script: str, *args: str) -> list[str]:
    return [sys.executable, "-c", script, str(tree), *args]


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree / "engine")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="+", help="NAME=PATH of a checkout")
    parser.add_argument("--orders", type=int, default=8_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    trees = [(name, Path(path).resolve()) for name, path in
             (item.split("=", 1) for item in args.trees)]
    with tempfile.TemporaryDirectory() as tmp:
        orders = Path(tmp) / "orders.json"
        first = trees[0][1]
        source = subprocess.run(_python(first, GENERATE, str(orders), str(HERE),
                                        str(args.orders)),
                                env=_env(first), check=True, capture_output=True, text=True)
        print(f"corpus: {args.orders:,} orders from {source.stdout.strip()} under {trees[0][0]}")
        workers = [subprocess.Popen(_python(path, WORKER, str(orders), str(HERE)),
                                    env=_env(path), stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, text=True) for _, path in trees]
        try:
            digests = [json.loads(w.stdout.readline())["digest"] for w in workers]  # type: ignore[union-attr]
            figures: dict[str, dict[str, list[float]]] = {
                name: {"decide": [], "json": []} for name, _ in trees}
            for _ in range(args.rounds):
                for (name, _), worker in zip(trees, workers):
                    worker.stdin.write("go\n")  # type: ignore[union-attr]
                    worker.stdin.flush()  # type: ignore[union-attr]
                    result = json.loads(worker.stdout.readline())  # type: ignore[union-attr]
                    for key in ("decide", "json"):
                        figures[name][key].append(result[key])
        finally:
            for worker in workers:
                worker.stdin.close()  # type: ignore[union-attr]
                worker.wait()
    base = trees[0][0]
    print(f"{'tree':<14} {'decide µs':>10} {'+to_json µs':>12} {'decide/' + base:>14} "
          f"{'json/' + base:>12}  decisions (sha256 of the JSON lines)")
    for (name, _), digest in zip(trees, digests):
        row = figures[name]
        ratios = {key: [mine / theirs for mine, theirs in zip(row[key], figures[base][key])]
                  for key in row}
        print(f"{name:<14} {statistics.median(row['decide']) * 1e6:>10.2f} "
              f"{statistics.median(row['json']) * 1e6:>12.2f} "
              f"{statistics.median(ratios['decide']):>8.3f} ({min(ratios['decide']):.2f}-"
              f"{max(ratios['decide']):.2f}) {statistics.median(ratios['json']):>6.3f} "
              f"({min(ratios['json']):.2f}-{max(ratios['json']):.2f})  {digest}")
    print(f"(CPU time per order, medians of {args.rounds} alternating rounds; ratios are "
          "per round)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
