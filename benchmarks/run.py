"""aturan's benchmark: `python benchmarks/run.py [--quick] [--skip-diff]`.

Prints first the targets (benchmarks/targets.py): decide + to_json against the hand-written
function, the CLI's cost per JSON line against the library's, memo misses on a million sampled
orders. Then, on one fixed-seed corpus of the bundled rulesets:
  (a) Policies.decide: validated facts, full explanation (the product)
  (b) the same orders on bare durable_rules: assert_fact + delete_state, no explanation
  (c) tiktok_shop 1.0.0 written by hand in plain Python (benchmarks/handwritten.py)
  (d) batches: decide_many and `aturan decide` on JSON Lines, in 1 and 2 processes
  (e) the decision log: (a) + to_json and `aturan decide --format json`, logging off and on
then cold start, memory over 1M decisions, `aturan diff` over 1M orders x 2 versions, and
cost against the number of rules (synthetic rulesets of 20, 100 and 500 rules).

Times are per decision, the median of several passes over the corpus, on one core unless a
line says 2 processes; the machine is named in the header. A script, not a test: nothing here
asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import corpus as corpus_module  # noqa: E402
import decision_log  # noqa: E402
import handwritten  # noqa: E402
import synthetic  # noqa: E402
import targets  # noqa: E402

import aturan  # noqa: E402
from aturan.runtime.evaluate import engine_fact  # noqa: E402
from aturan.runtime.facts import flatten_facts  # noqa: E402

RULESETS = targets.RULESETS
SEED = targets.SEED


# ---- measuring --------------------------------------------------------------------------------

def per_item(run: Callable[[], Any], count: int, repeats: int) -> float:
    """Median seconds per item over `repeats` timed passes (after one warm-up pass)."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / count


def each(function: Callable[[Any], Any], items: list[Any]) -> Callable[[], None]:
    """A pass calling `function` on every item, dropping each result at once (as a service
    does after answering): keeping 20,000 decisions alive would time the garbage collector."""
    def run() -> None:
        for item in items:
            function(item)
    return run


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def row(label: str, seconds: float | None, note: str = "") -> str:
    if seconds is None:
        return f"  {label:<52} {'—':>12} {'—':>10}  {note}"
    return f"  {label:<52} {1 / seconds:>12,.0f} {seconds * 1e6:>10.1f}  {note}"


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()} "
            f"({platform.python_implementation()}), {platform.system()} {platform.release()}; "
            f"load average at start {load:.2f}")


def cli(*args: str, stdin: Any = None, stdout: Any = subprocess.DEVNULL) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "aturan", *args], stdin=stdin, stdout=stdout,
                            stderr=subprocess.PIPE, cwd=ROOT)


# `aturan` as the console script runs it, reporting its peak RSS (VmHWM) on stderr at exit
MEASURED_CLI = ("import atexit, sys\n"
                "def peak():\n"
                "    status = open('/proc/self/status').read().split('VmHWM:')[1]\n"
                "    sys.stderr.write('VmHWM ' + status.split()[0] + '\\n')\n"
                "atexit.register(peak)\n"
                "from aturan.cli import main\n"
                "sys.exit(main(sys.argv[1:]))\n")


def measured_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", MEASURED_CLI, *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)


# ---- (a)-(c): one core -------------------------------------------------------------------------

def single_core(policies: aturan.Policies, orders: list[dict[str, Any]], repeats: int
                ) -> dict[str, float]:
    out: dict[str, float] = {}
    out["a"] = per_item(each(policies.decide, orders), len(orders), repeats)
    out["a_json"] = per_item(each(lambda o: policies.decide(o).to_json(), orders), len(orders),
                             repeats)
    flats = [flatten_facts(o) for o in orders]
    compiled = [policies.compiled_for(f) for f in flats]
    engines = [policies._engines[c.engine_name] for c in compiled]
    facts = [engine_fact(c, f) for c, f in zip(compiled, flats)]
    jobs = list(zip(engines, facts))
    out["b"] = per_item(each(lambda job: job[0].fire(job[1]), jobs), len(jobs), repeats)
    # (c) on its one ruleset, with (a) on the same orders
    tiktok = [o for o, c in zip(orders, compiled) if c.ruleset.key == "tiktok_shop@1.0.0"
              and c.base is None]
    agree = sum(_same(handwritten.decide(o), policies.decide(o)) for o in tiktok)
    out["c_orders"], out["c_agree"] = len(tiktok), agree
    if tiktok:
        out["c"] = per_item(each(handwritten.decide, tiktok), len(tiktok), repeats)
        out["a_tiktok"] = per_item(each(policies.decide, tiktok), len(tiktok), repeats)
    out["keys"] = policies.cache.total_keys()
    return out


def _same(mine: tuple[Any, ...], decision: aturan.Decision) -> bool:
    refund = decision.refund
    return mine == (decision.outcome, refund.amount if refund else None,
                    refund.due_by if refund else None, decision.next_steps)


# ---- (d): batches, 1 and 2 processes ------------------------------------------------------------

def _worker(orders: list[dict[str, Any]], repeats: int, barrier: Any, results: Any) -> None:
    policies = aturan.load(RULESETS)
    list(policies.decide_many(orders))  # warm: memo and caches
    barrier.wait()
    start = time.perf_counter()
    for _ in range(repeats):
        for _result in policies.decide_many(orders):
            pass
    results.put(time.perf_counter() - start)


def decide_many_processes(orders: list[dict[str, Any]], processes: int, repeats: int) -> float:
    """Seconds per decision, all processes working at once (wall clock, after loading)."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes + 1), context.Queue()
    share = [orders[i::processes] for i in range(processes)]
    workers = [context.Process(target=_worker, args=(part, repeats, barrier, results))
               for part in share]
    for worker in workers:
        worker.start()
    barrier.wait()
    start = time.perf_counter()
    spans = [results.get() for _ in workers]
    wall = time.perf_counter() - start
    for worker in workers:
        worker.join()
    assert max(spans) <= wall + 0.5
    return wall / (len(orders) * repeats)


def cli_processes(lines: list[str], processes: int, folder: Path) -> tuple[float, float]:
    """(seconds per decision including start-up and loading, peak RSS of one process in MB)."""
    files = []
    for i in range(processes):
        path = folder / f"part{processes}-{i}.jsonl"
        path.write_text("".join(lines[i::processes]), encoding="utf-8")
        files.append(path)
    start = time.perf_counter()
    runs = [measured_cli("decide", str(path), "--format", "json", "--rulesets", str(RULESETS))
            for path in files]
    peaks = []
    for run in runs:
        _, err = run.communicate()
        if run.returncode not in (0, 1):
            raise RuntimeError(err.decode())
        peaks.append(int(err.decode().rsplit("VmHWM ", 1)[1].split()[0]) / 1024)
    return (time.perf_counter() - start) / len(lines), max(peaks)


# ---- (e): the decision log --------------------------------------------------------------------
# CPU time, not wall clock: the machine is shared, and wall time then measures the neighbours.
# Every thread counts (the log's writer and gzip threads too), and a pass with the log ends only
# when every record is on disk, so nothing of the log's work is left out.

def cold_start(folder: Path, order: dict[str, Any], runs: int = 5) -> float:
    path = folder / "one.json"
    path.write_text(json.dumps(order), encoding="utf-8")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run = cli("decide", str(path), "--format", "json", "--rulesets", str(RULESETS))
        run.communicate()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ---- memory --------------------------------------------------------------------------------

def memory_child(count: int) -> None:
    """Run in a fresh process: RSS with every bundled ruleset loaded, then over `count`
    decisions (the corpus cycled), as JSON on stdout."""
    policies = aturan.load(RULESETS)
    loaded = rss_mb()  # before the corpus, which this process then holds too
    orders, _ = corpus_module.corpus(policies, 20_000, SEED)
    with_corpus = rss_mb()
    samples = []
    step = max(count // 10, 1)
    done = 0
    while done < count:
        for facts in orders[: min(len(orders), count - done)]:
            policies.decide(facts)
        done += min(len(orders), count - done)
        if done % step < len(orders):
            samples.append((done, round(rss_mb(), 1)))
    print(json.dumps({"loaded": round(loaded, 1), "with_corpus": round(with_corpus, 1),
                      "samples": samples, "peak": round(peak_rss_mb(), 1),
                      "keys": policies.cache.total_keys()}))


def memory(count: int) -> dict[str, Any]:
    run = subprocess.run([sys.executable, __file__, "--memory-child", str(count)],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(run.stdout)


# ---- diff ------------------------------------------------------------------------------------

def diff_run(folder: Path, count: int, workers: int) -> tuple[float, str]:
    base = subprocess.run([sys.executable, "-m", "aturan", "sample", "--platform", "tiktok_shop",
                           "--n", "20000", "--seed", str(SEED), "--rulesets", str(RULESETS)],
                          capture_output=True, check=True, cwd=ROOT).stdout
    path = folder / "diff-orders.jsonl"
    lines = base.splitlines(keepends=True)
    with open(path, "wb") as out:
        for start in range(0, count, len(lines)):
            out.writelines(lines[: min(len(lines), count - start)])
    begin = time.perf_counter()
    run = cli("diff", "tiktok_shop@1.0.0", "tiktok_shop@2.0.0", "--orders", str(path),
              "--workers", str(workers), "--format", "json", "--rulesets", str(RULESETS),
              stdout=subprocess.PIPE)
    out, err = run.communicate()
    elapsed = time.perf_counter() - begin
    path.unlink()
    if run.returncode not in (0, 1):
        return elapsed, "failed: " + err.decode()[-300:]
    summary = json.loads(out)
    return elapsed, ", ".join(f"{k}={v}" for k, v in summary.items()
                              if isinstance(v, int))[:160]


# ---- rules scaling ----------------------------------------------------------------------------

def scaling(sizes: Iterable[int], count: int, repeats: int, folder: Path
            ) -> list[tuple[int, float, float, float, float, float]]:
    from aturan.regression import sample
    found = []
    for size in sizes:
        policies = aturan.load(synthetic.write(folder / f"synthetic-{size}", size))
        plan = sample.plan_for(policies.collection, "shopee")
        orders = list(sample.generate(plan, count, SEED))
        few = orders[:1000]  # keys that fit the memo: the usual case for real rulesets
        warm = per_item(each(policies.decide, few), len(few), repeats)
        a = per_item(each(policies.decide, orders), count, repeats)
        flats = [flatten_facts(o) for o in orders]
        compiled = [policies.compiled_for(f) for f in flats]
        jobs = [(policies._engines[c.engine_name], engine_fact(c, f))
                for c, f in zip(compiled, flats)]
        b = per_item(each(lambda job: job[0].fire(job[1]), jobs), count, repeats)
        memo = policies.cache.memo(compiled[0])
        assert memo is not None
        before = memo.misses
        list(policies.decide_many(orders))
        missed = (memo.misses - before) / count
        entries = statistics.mean(len(d.explanation) for d in policies.decide_many(orders))
        found.append((size, warm, a, b, missed, entries))
        policies.close()
    return found


# ---- the report ---------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (a minute)")
    parser.add_argument("--skip-diff", action="store_true", help="no 1M-order aturan diff run")
    parser.add_argument("--targets-only", action="store_true",
                        help="print the three target figures and stop")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child)
        return 0
    count = 5_000 if args.quick else 20_000
    repeats = 3 if args.quick else 7
    million = 100_000 if args.quick else 1_000_000
    print(f"aturan benchmark — {machine()}")
    policies = aturan.load(RULESETS)
    orders, source = corpus_module.corpus(policies, count, SEED)
    versions = ", ".join(rs.key for rs in policies.collection.versions)
    print(f"corpus: {len(orders):,} orders from {source}; rulesets: {versions}\n")
    tiktok = targets.tiktok_orders(policies, orders)
    rounds = 3 if args.quick else 7
    with tempfile.TemporaryDirectory() as tmp:
        lines = [json.dumps(o, separators=(",", ":")) + "\n" for o in orders]
        versus = targets.versus_handwritten(policies, tiktok, handwritten.decide, rounds)
        cli_ratio = targets.cli_versus_library(policies, orders, lines, rounds, Path(tmp),
                                               RULESETS, ROOT)
    memo = targets.memo_misses(RULESETS, "tiktok_shop", "tiktok_shop@2.0.0", million, SEED)
    print("\n".join(targets.report(versus, cli_ratio, memo, len(tiktok), len(orders))) + "\n")
    if args.targets_only:
        return 0

    single = single_core(policies, orders, repeats)
    a, b = single["a"], single["b"]
    print(f"  {'one core':<52} {'decisions/s':>12} {'µs/decision':>10}")
    print(row("(a) Policies.decide (validated, full explanation)", a))
    print(row("    … and Decision.to_json()", single["a_json"]))
    print(row("(b) bare durable_rules (assert_fact + delete_state)", b))
    if "c" in single:
        print(row(f"(a) on the {single['c_orders']:,} tiktok_shop 1.0.0 orders", single["a_tiktok"]))
        print(row("(c) tiktok_shop 1.0.0 by hand, plain Python", single["c"],
                  f"agrees with (a) on {single['c_agree']:,}/{single['c_orders']:,}"))
    print(f"  (a)/(b): (a) decides at {b / a:.2f}x the rate of the bare engine"
          + (f"; (a)/(c): {single['c'] / single['a_tiktok']:.2f} (the hand-written function is "
             f"{single['a_tiktok'] / single['c']:.1f}x faster)" if "c" in single else ""))
    stats = policies.cache.stats()
    print(f"  memo: {single['keys']:,} keys after {stats.hits + stats.misses:,} decisions "
          f"(each key asked of durable_rules once): {stats.hits:,} hits, {stats.misses:,} "
          f"misses, {stats.evictions:,} evictions\n")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        lines = [json.dumps(o, separators=(",", ":")) + "\n" for o in orders]
        print(f"  {'batches (wall clock)':<52} {'decisions/s':>12} {'µs/decision':>10}")
        for processes in (1, 2):
            print(row(f"(d) decide_many, {processes} process{'es' if processes > 1 else ''}",
                      decide_many_processes(orders, processes, max(repeats // 2, 1))))
        for processes in (1, 2):
            seconds, peak = cli_processes(lines, processes, folder)
            print(row(f"(d) aturan decide x.jsonl --format json, {processes} proc.", seconds,
                      f"incl. start-up; peak RSS {peak:.0f} MB"))
        print(f"\n  {'decision log (e), CPU time':<52} {'decisions/s':>12} {'µs/decision':>10}")
        # the decision log's own benchmark (benchmarks/decision_log.py), at the default 64 MiB
        # files: every thread's CPU time, alternating rounds, rotated files compressed
        log_bytes = 64 * 1024 * 1024
        off, on, ratio = decision_log.library(policies, orders, repeats, folder, log_bytes)
        print(row("(e) Policies.decide + to_json, no log", off, "all threads"))
        print(row("    … with a DecisionLog (every record written)", on,
                  f"logging costs {100 * (ratio - 1):+.0f}% (median of {repeats} rounds)"))
        off, on, ratio = decision_log.cli(lines, 3, folder, log_bytes)
        print(row("(e) aturan decide x.jsonl --format json, no log", off, "start-up taken out"))
        print(row("    … with --decision-log", on, f"logging costs {100 * (ratio - 1):+.0f}%"))
        off, on, ratio = decision_log.http(folder, 5.0 if args.quick else 10.0, 2)
        print(row("(e) aturan serve, 1 worker, server CPU per request", off,
                  "client on the same machine"))
        print(row("    … with --decision-log", on, f"logging costs {100 * (ratio - 1):+.0f}% "
                  "server CPU"))
        print(f"\n  cold start, `aturan decide one.json --format json`: "
              f"{cold_start(folder, orders[0]) * 1000:.0f} ms (median of 5)")
        print(f"  (this benchmark process, holding the corpus: peak RSS {peak_rss_mb():.0f} MB)")
        found = memory(million)
        growth = found["samples"][-1][1] - found["samples"][0][1]
        print(f"  memory, fresh process, every bundled ruleset loaded: {found['loaded']} MB RSS "
              f"({found['with_corpus']} MB with a 20,000-order corpus in memory); after "
              f"{million:,} decisions {found['samples'][-1][1]} MB (peak {found['peak']} MB; "
              f"{growth:+.1f} MB since the first {found['samples'][0][0]:,}; "
              f"{found['keys']:,} memo keys)")
        if not args.skip_diff:
            elapsed, summary = diff_run(folder, million, 2)
            print(f"  aturan diff tiktok_shop@1.0.0 tiktok_shop@2.0.0, {million:,} orders, "
                  f"--workers 2: {elapsed:.1f} s ({million / elapsed:,.0f} orders/s) — {summary}")
        sizes = 2_000 if args.quick else 5_000
        print(f"\n  rules in a synthetic shopee@9.0.0; (a) on 1,000 orders (their keys fit the "
              f"memo) and on {sizes:,} (they may not), (b) on {sizes:,}:")
        print(f"  {'rules':>7} {'(a) 1,000':>10} {'(a) ' + format(sizes, ','):>10} {'(b)':>9} "
              f"{'(b)/(a) 1,000':>14} {'memo misses/decision':>21} {'explained rules':>16}")
        for size, warm, sa, sb, missed, entries in scaling((20, 100, 500), sizes, repeats,
                                                            folder):
            print(f"  {size:>7} {warm * 1e6:>8.1f}µs {sa * 1e6:>8.1f}µs {sb * 1e6:>7.1f}µs "
                  f"{sb / warm:>13.1f}x {missed:>21.2f} {entries:>16.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
