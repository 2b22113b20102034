"""The cluster benchmark: `python benchmarks/cluster.py [--n 1000000] [--corpus FILE] [--log-n 100000]`.

On one corpus from `aturan sample` (tiktok_shop, seed 7; 1M orders unless --n), runs
`aturan diff tiktok_shop@1.0.0 tiktok_shop@2.0.0 --format json` three ways, as a user would:

  1 process        --workers 1
  2 processes      --workers 2         (the spawn pool: the client reads, workers decide)
  Dask local:2     --cluster local:2   (2 single-threaded Dask workers read their own blocks)

after timing, in this process on the corpus's first 20,000 orders, the diff's per-order comparison
(`VersionPair.compare`: facts validated once, verdicts off the memo's plans) against deciding
each order twice with `Policies.decide` (what the diff did before), and prints wall clock, orders/s (incl. start-up: loading, compiling, a cluster's start) and the
peak RSS of the aturan process and of each worker process (sampled every 0.1 s with psutil),
and the cores each run got (CPU seconds of the command and its workers over wall seconds),
then checks that the three JSON summaries are the same bytes. Then (unless --log-n 0) it logs
the decisions of the corpus's first 100,000 orders and times `aturan replay LOG --verify` the
same three ways (`replay`). At the start and the end it measures how many cores two busy
processes get (`cores_available`: on a shared machine, often well under 2), which bounds any
two-process speed-up. A script, not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
OLD, NEW = "tiktok_shop@1.0.0", "tiktok_shop@2.0.0"
MODES = [("1 process", ["--workers", "1"]), ("2 processes", ["--workers", "2"]),
         ("Dask local:2", ["--cluster", "local:2"])]


def aturan(*args: str) -> list[str]:
    return [sys.executable, "-m", "aturan", *args]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "engine"), env.get("PYTHONPATH", "")])
    return env


class PeakRSS:
    """Peak resident memory of a process and of each of its descendants, sampled."""

    def __init__(self, pid: int):
        self.root = psutil.Process(pid)
        self.peaks: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            for proc in processes:
                try:
                    rss = proc.memory_info().rss
                    # every time: a child seen between fork and exec still shows its parent's
                    # command line (the resource tracker would pass for a worker)
                    self.names[proc.pid] = " ".join(proc.cmdline())
                except psutil.Error:
                    continue
                self.peaks[proc.pid] = max(rss, self.peaks.get(proc.pid, 0))
            self._stop.wait(0.1)

    def stop(self) -> tuple[int, list[int]]:
        """(the aturan process's peak, the workers' peaks, largest first)."""
        self._stop.set()
        self._thread.join()
        own = self.peaks.get(self.root.pid, 0)
        workers = [rss for pid, rss in self.peaks.items() if pid != self.root.pid
                   and "resource_tracker" not in self.names.get(pid, "")]
        return own, sorted(workers, reverse=True)


def run(label: str, extra: list[str], corpus: Path
        ) -> tuple[float, dict, int, list[int], float]:
    return run_command(label, aturan("diff", OLD, NEW, "--orders", str(corpus), "--format",
                                     "json", "--no-progress", "--rulesets",
                                     str(ROOT / "rulesets"), *extra))


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_command(label: str, command: list[str], ok: tuple[int, ...] = (0,)
                ) -> tuple[float, dict, int, list[int], float]:
    """(wall s, the JSON it printed, its peak RSS, its workers' peak RSS, the cores it got: CPU
    seconds of the command and every process it waited for, over wall seconds)."""
    cpu = _cpu_of_children()
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, env=environment())
        peaks = PeakRSS(proc.pid)
        _, err = proc.communicate()
        seconds = time.perf_counter() - start
        cores = (_cpu_of_children() - cpu) / seconds
        own, workers = peaks.stop()
        if proc.returncode not in ok:
            sys.exit(f"{label}: exit {proc.returncode}: {err.decode()[-2000:]}")
        out.seek(0)
        return seconds, json.loads(out.read()), own, workers, cores


def per_order(corpus: Path, count: int = 20_000) -> None:
    """Median of 3 passes each, after a warm-up: the diff's per-order comparison against
    deciding twice (on parsed facts), and reading a line strictly (`jsonio.read_lines`) against
    orjson where provably the same (`fastread.fast_items`), with the comparison after it."""
    sys.path.insert(0, str(ROOT / "engine"))
    import statistics

    import aturan
    from aturan.regression.diff import VersionPair
    from aturan.regression.fastread import fast_items
    from aturan.runtime.jsonio import read_lines
    from aturan.runtime.verdict import Verdict

    policies = aturan.load(ROOT / "rulesets")
    pair = VersionPair(policies, OLD, NEW)
    with open(corpus, "rb") as handle:
        raw = [line for _, line in zip(range(count), handle)]
    items = [f for _, f in read_lines(enumerate(raw, 1), "corpus")]
    assert items == [f for _, f in fast_items(read_lines(enumerate(raw, 1), "corpus", raw=True),
                                              "corpus")], "the readings disagree"

    def twice(facts: dict) -> tuple:
        return Verdict.of(policies.decide(facts, OLD)), Verdict.of(policies.decide(facts, NEW))

    def median_rate(run: Callable[[], object]) -> float:
        run()
        times = []
        for _ in range(3):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        return len(items) / statistics.median(times)

    assert all(twice(f) == pair.compare(f) for f in items), "the comparisons disagree"
    numbered = list(enumerate(raw, 1))
    def drain(values: Iterable[object]) -> None:  # consumed as made: no list, no GC of one
        deque(values, maxlen=0)

    rates = {
        "decide twice": median_rate(lambda: drain(twice(f) for f in items)),
        "compare": median_rate(lambda: drain(pair.compare(f) for f in items)),
        "strict read": median_rate(lambda: drain(read_lines(numbered, "corpus"))),
        "fast read": median_rate(lambda: drain(fast_items(read_lines(numbered, "corpus",
                                                                     raw=True), "corpus"))),
        "strict read + compare": median_rate(lambda: drain(pair.compare(f) for _, f in read_lines(
            numbered, "corpus"))),
        "fast read + compare": median_rate(lambda: drain(pair.compare(f) for _, f in fast_items(
            read_lines(numbered, "corpus", raw=True), "corpus"))),
    }
    print(f"per order, one core, {len(items):,} orders: Policies.decide x2 "
          f"{rates['decide twice']:,.0f}/s, VersionPair.compare {rates['compare']:,.0f}/s "
          f"({rates['compare'] / rates['decide twice']:.2f}x), same verdicts")
    print(f"reading a line: strict {1e6 / rates['strict read']:.1f} us, orjson where provably "
          f"the same {1e6 / rates['fast read']:.1f} us; read + compare: strict "
          f"{rates['strict read + compare']:,.0f}/s, orjson {rates['fast read + compare']:,.0f}/s "
          f"({rates['fast read + compare'] / rates['strict read + compare']:.2f}x), same facts\n")
    policies.close()


def make_corpus(n: int, folder: Path) -> Path:
    path = folder / f"orders-{n}.jsonl"
    start = time.perf_counter()
    with open(path, "wb") as out:
        subprocess.run(aturan("sample", "--platform", "tiktok_shop", "--n", str(n), "--seed",
                              "7", "--rulesets", str(ROOT / "rulesets")),
                       stdout=out, check=True, env=environment())
    print(f"corpus: {n:,} orders, {path.stat().st_size / 1e6:,.0f} MB, sampled in "
          f"{time.perf_counter() - start:.0f} s")
    return path


def _spin(_: int) -> int:
    total = 0
    for i in range(20_000_000):
        total += i
    return total


def cores_available() -> float:
    """How many cores two busy processes get here now: the work of two processes over the time
    they take, in units of one process's time alone (2.0 on an idle 2-core machine; near 1.0
    when other work holds a core). Spawned pools, best of 2."""
    import multiprocessing

    times = {}
    for n in (1, 2):
        best = float("inf")
        for _ in range(2):
            start = time.perf_counter()
            with multiprocessing.get_context("spawn").Pool(n) as pool:
                pool.map(_spin, range(n))
            best = min(best, time.perf_counter() - start)
        times[n] = best
    return 2 * times[1] / times[2]


REPLAY_MODES = [("1 process", []), ("2 processes", ["--workers", "2"]),
                ("Dask local:2", ["--cluster", "local:2"])]


def replay(corpus: Path, count: int, folder: Path) -> None:
    """A decision log of the corpus's first `count` orders (`aturan decide --decision-log`,
    rotated every 32 MiB and gzipped, the last file live), replayed with --verify three ways:
    one process (no flag), --workers 2, --cluster local:2 (each .gz file a partition, the
    live file cut into 32 MiB blocks); the three reports must be the same bytes."""
    head = folder / "head.jsonl"
    with open(corpus, "rb") as source, open(head, "wb") as out:
        for _, line in zip(range(count), source):
            out.write(line)
    log = folder / "log" / "decisions.jsonl"
    start = time.perf_counter()
    subprocess.run(aturan("decide", str(head), "--format", "json", "--decision-log", str(log),
                          "--decision-log-max-bytes", str(32 * 2**20), "--rulesets",
                          str(ROOT / "rulesets")),
                   stdout=subprocess.DEVNULL, check=False, env=environment())
    files = sorted(log.parent.glob("decisions*.jsonl*"))
    size = sum(f.stat().st_size for f in files)
    print(f"\naturan replay LOG --verify --format json: {count:,} records logged in "
          f"{time.perf_counter() - start:.0f} s, {len(files)} files ({size / 1e6:,.0f} MB on "
          f"disk)\n")
    print(f"  {'':<14}{'wall s':>8}{'records/s':>11}{'per worker/s':>14}{'cores':>7}"
          f"{'aturan RSS':>12}  worker peak RSS")
    reports = []
    for label, extra in REPLAY_MODES:
        seconds, report, own, workers, cores = run_command(label, aturan(
            "replay", str(log.parent), "--verify", "--format", "json", "--rulesets",
            str(ROOT / "rulesets"), *(extra and [*extra, "--no-progress"])), ok=(0, 1))
        reports.append(report)
        rate = report["records"] / seconds
        count_ = max(1, len(workers)) if extra else 1
        shown = ", ".join(f"{w / 2**20:.0f} MB" for w in workers) or "(none: in-process)"
        print(f"  {label:<14}{seconds:>8.1f}{rate:>11,.0f}{rate / count_:>14,.0f}{cores:>7.2f}"
              f"{own / 2**20:>9.0f} MB  {shown}", flush=True)
    same = all(r == reports[0] for r in reports)
    print(f"\n  {reports[0]['records']:,} records, {reports[0]['rederived']:,} re-derived, "
          f"ok {reports[0]['ok']}; the three reports are {'identical' if same else 'DIFFERENT'}")
    if not same:
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="orders in the corpus")
    parser.add_argument("--corpus", type=Path, help="use this JSON Lines corpus instead")
    parser.add_argument("--log-n", type=int, default=100_000,
                        help="decisions in the replayed log (0: no replay)")
    args = parser.parse_args()
    print(f"aturan cluster benchmark — {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, load average at start "
          f"{os.getloadavg()[0]:.2f}; two busy processes get {cores_available():.2f} cores")
    with tempfile.TemporaryDirectory() as folder:
        corpus = args.corpus or make_corpus(args.n, Path(folder))
        per_order(corpus)
        print(f"aturan diff {OLD} {NEW} --orders {corpus.name} --format json\n")
        print(f"  {'':<14}{'wall s':>8}{'orders/s':>10}{'per worker/s':>14}{'cores':>7}"
              f"{'aturan RSS':>12}  worker peak RSS")
        summaries = []
        for label, extra in MODES:
            seconds, summary, own, workers, cores = run(label, extra, corpus)
            summaries.append(summary)
            count = max(1, len(workers)) if extra != ["--workers", "1"] else 1
            rate = summary["orders"] / seconds
            shown = ", ".join(f"{w / 2**20:.0f} MB" for w in workers) or "(none: in-process)"
            print(f"  {label:<14}{seconds:>8.1f}{rate:>10,.0f}{rate / count:>14,.0f}{cores:>7.2f}"
                  f"{own / 2**20:>9.0f} MB  {shown}", flush=True)
        same = all(s == summaries[0] for s in summaries)
        first = summaries[0]
        print(f"\n  {first['orders']:,} orders, {first['changed']:,} changed, "
              f"{first['invalid']:,} invalid; the three summaries are "
              f"{'identical' if same else 'DIFFERENT'}")
        if not same:
            sys.exit(1)
        if args.log_n:
            replay(corpus, args.log_n, Path(folder))
        print(f"\nload average at the end {os.getloadavg()[0]:.2f} (1 min), "
              f"{os.getloadavg()[1]:.2f} (5 min); two busy processes get "
              f"{cores_available():.2f} cores")


if __name__ == "__main__":
    main()
