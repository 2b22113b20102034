"""Load test of `aturan serve` on loopback: requests/s, p50/p99 latency and errors.

    python benchmarks/load.py --workers 2 --duration 30          # starts its own server
    python benchmarks/load.py --url http://127.0.0.1:8000 --duration 10

Starts `aturan serve --workers N` on a free 127.0.0.1 port (or drives one already running on a
loopback address), then keeps `--concurrency` requests in flight with httpx/asyncio for
`--duration` seconds (at most 600) and stops by itself. Every request is a different order
(its own id, and a mix of platforms, ruleset versions, statuses, requesters and reasons), so the
server decides each one for real. An error is any answer but 200, or a failed connection.

The client runs on the same machine and takes CPU from the server: on a small machine the
figures are a floor for the server, not a ceiling. Once the server is saturated, mean latency is
simply requests in flight / requests per second (Little's law), so raise --concurrency to find
the throughput ceiling, not to measure latency."""

from __future__ import annotations

import argparse
import asyncio
import copy
import ipaddress
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
MAX_DURATION = 600.0
STATUSES = ["unpaid", "paid", "to_ship", "shipped", "delivered", "completed"]
METHODS = ["cod", "ewallet", "bank_transfer", "virtual_account", "credit_card", "paylater"]
REASONS = ["changed_mind", "wrong_item", "found_cheaper", "shipping_delay", "not_as_described",
           "damaged", "out_of_stock", "cannot_ship", "address_issue", "payment_timeout", "other"]
PLATFORMS = ["tiktok_shop", "lazada", "shopee", "tokopedia"]


def base_order() -> dict:
    with open(ROOT / "examples" / "orders.jsonl", encoding="utf-8") as handle:
        return json.loads(handle.readline())


def order(base: dict, i: int) -> dict:
    """The i-th order of the mix: distinct id, amounts and request, two policy periods."""
    facts = copy.deepcopy(base)
    day = "2025-06-01" if i % 3 == 0 else "2024-03-01"
    o, r = facts["order"], facts["request"]
    o.update(id=f"LOAD-{i:08d}", platform=PLATFORMS[i % 4], status=STATUSES[(i // 4) % 6],
             placed_at=f"{day}T10:00:00+07:00")
    o["payment"].update(method=METHODS[(i // 3) % 6], paid_at=f"{day}T10:05:00+07:00",
                        deadline_at=None)
    o["amounts"] = {"items": 10_000 + i % 90_000, "shipping": 12_000, "discount": 0,
                    "total": 22_000 + i % 90_000}
    # one line priced at the items amount: the facts check refuses lines that do not add up
    o["items"] = [{**o["items"][0], "quantity": 1, "unit_price": o["amounts"]["items"]}]
    o["fulfillment"].update(ship_by=f"{day}T23:59:00+07:00")
    r.update(type=["cancel", "return_refund"][(i // 7) % 2],
             by=["buyer", "seller", "system"][(i // 5) % 3], reason=REASONS[i % 11],
             at=f"{day}T{10 + i % 12:02d}:30:00+07:00")
    return facts


def loopback_only(url: str) -> str:
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(f"refusing to load-test {url}: only loopback addresses (127.0.0.1)")
    return url.rstrip("/")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(workers: int, rulesets: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    """`aturan serve` on a free port (`extra`: more options, e.g. --decision-log PATH)."""
    port = free_port()
    command = [sys.executable, "-m", "aturan", "serve", "--port", str(port), "--workers",
               str(workers), "--rulesets", str(rulesets), "--log-level", "warning", *extra]
    # access lines would cost the server time and fill the terminal: drop stdout
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited:\n{process.stderr.read().decode()}")
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                time.sleep(1.0 if workers > 1 else 0)  # let every worker finish starting
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("server did not start within 60 s")


async def drive(url: str, duration: float, concurrency: int) -> tuple[list[float], Counter, int]:
    base = base_order()
    numbers = itertools.count()
    latencies: list[float] = []
    errors: Counter = Counter()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        deadline = time.perf_counter() + duration

        async def user() -> None:
            while time.perf_counter() < deadline:  # the bound: no request starts after it
                body = json.dumps(order(base, next(numbers)))
                began = time.perf_counter()
                try:
                    response = await client.post("/v1/decisions", content=body,
                                                 headers={"content-type": "application/json"})
                    if response.status_code != 200:
                        errors[f"HTTP {response.status_code}"] += 1
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] += 1
                latencies.append(time.perf_counter() - began)

        await asyncio.gather(*(user() for _ in range(concurrency)))
    return latencies, errors, next(numbers)


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process `pid` and all its descendants, from
    /proc: what the server spent, whatever the client on the same machine took."""
    tick = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):  # exited meanwhile
            continue
    return total


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a running server on loopback (default: start one)")
    parser.add_argument("--workers", type=int, default=2, help="workers of the started server")
    parser.add_argument("--rulesets", type=Path, default=ROOT / "rulesets")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds (at most 600)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="requests in flight (8 saturate two workers on a small machine; "
                             "more only add queueing: latency = in flight / throughput)")
    args = parser.parse_args(argv)
    duration = min(max(args.duration, 1.0), MAX_DURATION)
    process = None
    if args.url:
        url = loopback_only(args.url)
    else:
        process, url = start_server(args.workers, args.rulesets)
    try:
        cpu_before = server_cpu(process.pid) if process is not None else None
        client_before = time.process_time()
        began = time.perf_counter()
        latencies, errors, sent = asyncio.run(drive(url, duration, args.concurrency))
        elapsed = time.perf_counter() - began
        client_cpu = time.process_time() - client_before
        cpu = server_cpu(process.pid) - cpu_before if process is not None else None
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
    ordered = sorted(latencies)
    ms = [1000 * v for v in ordered]
    where = f"{args.workers} worker(s), started here" if process else url
    print(f"aturan serve load: {where}; {args.concurrency} in flight for {duration:g} s")
    print(f"requests   {len(latencies):>9,}   ({sent:,} orders generated)")
    print(f"req/s      {len(latencies) / elapsed:>9,.1f}")
    print(f"latency ms p50 {percentile(ms, 50):.2f}  p90 {percentile(ms, 90):.2f}  "
          f"p99 {percentile(ms, 99):.2f}  max {ms[-1] if ms else float('nan'):.2f}  "
          f"mean {statistics.fmean(ms) if ms else float('nan'):.2f}")
    if cpu is not None and latencies:
        print(f"server CPU {cpu:>9.1f} s   ({1000 * cpu / len(latencies):.3f} ms per decision, "
              f"user + system of the server and its workers; the client used {client_cpu:.1f} s)")
    print(f"errors     {sum(errors.values()):>9,}" + (f"   {dict(errors)}" if errors else ""))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
