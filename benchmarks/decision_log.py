"""What the decision log costs: `python benchmarks/decision_log.py [--count N] [--rounds R]`.

The same orders decided with logging off and on, in alternating rounds in one process, in CPU
time (process time: every thread, the log's writer and gzip threads too; a pass with the log
ends only once every record is on disk), for

  library  `Policies.decide(facts).to_json()`, without and with a `DecisionLog`
  cli      `aturan decide x.jsonl --format json`, without and with `--decision-log` (the
           child's user + system time, start-up taken out: a run on every line minus a run
           on one line)
  http     `aturan serve` (1 worker, 8 requests in flight from benchmarks/load.py), the server
           process's CPU per request (`--http`, slow: it needs the serve extra)

Logging costs are medians of the per-round ratios on/off (robust to a neighbour's load
changing between rounds). `--max-bytes` sets the rotation size (default 8 MiB, so every pass
rotates and the gzip of closed files is in the figures, as it is in a long-running log).
`--parts` prints where a record's time goes, part by part (thread time). Section (e) of
benchmarks/run.py measures the library and CLI the same way with 64 MiB files. A script, not a
test: nothing here asserts a speed."""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import corpus as corpus_module  # noqa: E402

import aturan  # noqa: E402
from aturan.audit import DecisionLog, LogOptions  # noqa: E402

RULESETS = ROOT / "rulesets"
SEED = 20240301
MIB = 1024 * 1024


def _ratios(times: dict[str, list[float]]) -> tuple[float, float, float]:
    ratios = [b / a for a, b in zip(times["off"], times["on"])]
    return (statistics.median(times["off"]), statistics.median(times["on"]),
            statistics.median(ratios))


def compressed(folder: Path, timeout: float = 120.0) -> None:
    """Wait until every rotated file in `folder` is gzipped (the compressor thread's work
    belongs to the pass that rotated)."""
    deadline = time.monotonic() + timeout
    while any(p.name.count(".") > 1 and p.name.endswith(".jsonl") for p in folder.iterdir()):
        if time.monotonic() > deadline:
            raise RuntimeError("rotated files still uncompressed")
        time.sleep(0.01)


def library(policies: aturan.Policies, orders: list[dict[str, Any]], rounds: int,
            folder: Path, max_bytes: int) -> tuple[float, float, float]:
    """(off, on, median ratio) CPU seconds per `decide(...).to_json()`."""
    log = DecisionLog(folder / "lib" / "decisions.jsonl", options=LogOptions(max_bytes))
    observed = log.attach(policies, [RULESETS])

    def off() -> None:
        for facts in orders:
            policies.decide(facts).to_json()

    def on() -> None:
        for facts in orders:
            observed.decide(facts).to_json()
        log.flush()
        compressed(folder / "lib")
    off()
    on()
    times: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(rounds):
        for name, run in (("off", off), ("on", on)):
            start = time.process_time()
            run()
            times[name].append((time.process_time() - start) / len(orders))
    log.close()
    shutil.rmtree(folder / "lib")
    return _ratios(times)


def _child_cpu(*args: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = subprocess.run([sys.executable, "-m", "aturan", *args], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, cwd=ROOT, check=False)
    if run.returncode not in (0, 1):
        raise RuntimeError(run.stderr.decode())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def cli(lines: list[str], rounds: int, folder: Path, max_bytes: int
        ) -> tuple[float, float, float]:
    """(off, on, median ratio) CPU seconds per JSON line of `aturan decide --format json`."""
    path, one = folder / "orders.jsonl", folder / "one.jsonl"
    path.write_text("".join(lines), encoding="utf-8")
    one.write_text(lines[0], encoding="utf-8")
    base = ("--format", "json", "--rulesets", str(RULESETS))
    times: dict[str, list[float]] = {"off": [], "on": []}
    for n in range(rounds):
        for name in ("off", "on"):
            logs = {tag: ["--decision-log", str(folder / f"cli-{n}-{tag}" / "d.jsonl"),
                          "--decision-log-max-bytes", str(max_bytes)]
                    if name == "on" else [] for tag in ("all", "one")}
            whole = _child_cpu("decide", str(path), *base, *logs["all"])
            start_up = _child_cpu("decide", str(one), *base, *logs["one"])
            times[name].append((whole - start_up) / (len(lines) - 1))
            for tag in ("all", "one"):
                shutil.rmtree(folder / f"cli-{n}-{tag}", ignore_errors=True)
    return _ratios(times)


def http(folder: Path, duration: float, rounds: int) -> tuple[float, float, float]:
    """(off, on, median ratio) server CPU seconds per request (its process tree, shutdown
    included, so the log's last writes count)."""
    import asyncio
    import os
    import signal

    import load
    times: dict[str, list[float]] = {"off": [], "on": []}
    for n in range(rounds):
        for name in ("off", "on"):
            extra = ["--decision-log", str(folder / f"http-{n}" / "d.jsonl")] \
                if name == "on" else []
            process, url = load.start_server(1, RULESETS, *extra)
            try:
                cpu = load.server_cpu(process.pid)
                latencies, errors, _ = asyncio.run(load.drive(url, duration, 8))
            finally:
                process.send_signal(signal.SIGTERM)
                _, status, usage = os.wait4(process.pid, 0)
                process.returncode = status
            if errors:
                raise RuntimeError(f"load errors: {dict(errors)}")
            times[name].append((usage.ru_utime + usage.ru_stime - cpu) / len(latencies))
            shutil.rmtree(folder / f"http-{n}", ignore_errors=True)
    return _ratios(times)


def parts(policies: aturan.Policies, orders: list[dict[str, Any]]) -> list[tuple[str, float]]:
    """Thread-time µs per record of each part of a record, measured alone."""
    import hashlib

    from aturan.audit.chain import finish
    from aturan.audit.ids import DecisionIds
    from aturan.audit.masking import Masker
    from aturan.audit.record import RecordBuilder
    from aturan.runtime.decision import canonical_json_of_facts
    events: list[Any] = []
    observed = policies.observed(lambda e: events.append(e) or None)
    for facts in orders:
        observed.decide(facts)
    builder, ids = RecordBuilder(Masker.default()), DecisionIds()
    stamp = ids.next()
    bodies = [builder.body(e, *stamp) for e in events]
    lines = [finish(b, stamp[0], 1, "sha256:" + "0" * 64) for b in bodies]

    def timed(function: Callable[[Any], Any], items: list[Any]) -> float:
        best = float("inf")
        for _ in range(5):
            start = time.thread_time()
            for item in items:
                function(item)
            best = min(best, (time.thread_time() - start) / len(items))
        return best * 1e6
    return [("id (UUIDv7)", timed(lambda e: ids.next(), events)),
            ("masking check", timed(lambda e: builder.masker.apply(e.facts), events)),
            ("input encoding (dict)", timed(lambda e: canonical_json_of_facts(e.facts), events)),
            ("whole body (dict input)", timed(lambda e: builder.body(e, *stamp), events)),
            ("chain line", timed(lambda b: finish(b, stamp[0], 1, "sha256:" + "0" * 64),
                                 bodies)),
            ("sha256", timed(lambda line: hashlib.sha256(line).hexdigest(), lines))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-bytes", type=int, default=8 * MIB)
    parser.add_argument("--only", choices=["library", "cli", "http"], action="append")
    parser.add_argument("--http", action="store_true", help="also the HTTP service (slow)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per HTTP round")
    parser.add_argument("--parts", action="store_true")
    args = parser.parse_args(argv)
    sections = args.only or ["library", "cli"] + (["http"] if args.http else [])
    policies = aturan.load(RULESETS)
    orders, source = corpus_module.corpus(policies, args.count, SEED)
    print(f"decision log cost: {len(orders):,} orders from {source}, {args.rounds} rounds, "
          f"files rotated at {args.max_bytes / MIB:g} MiB; CPU µs per decision")
    rows: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "library" in sections:
            rows["library"] = library(policies, orders, args.rounds, folder, args.max_bytes)
        if "cli" in sections:
            lines = [json.dumps(o, separators=(",", ":"), ensure_ascii=False) + "\n"
                     for o in orders]
            rows["cli"] = cli(lines, max(args.rounds // 2, 2), folder, args.max_bytes)
        if "http" in sections:
            rows["http"] = http(folder, args.duration, 2)
    labels = {"library": "Policies.decide + to_json", "cli": "aturan decide x.jsonl --format json",
              "http": "aturan serve, server CPU per request"}
    for name, (off, on, ratio) in rows.items():
        print(f"  {labels[name]:<40} off {off * 1e6:7.1f}  on {on * 1e6:7.1f}  "
              f"record {(on - off) * 1e6:5.1f}  logging costs {100 * (ratio - 1):+.0f}%")
    if args.parts:
        for label, micros in parts(policies, orders[:5000]):
            print(f"  {label:<40} {micros:6.2f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
