"""Measure the limits docs/reliability.md promises: for each engine limit, a generated ruleset
just past it is refused by `aturan validate` (exit 1, located) in a subprocess under a time-out,
with its wall time and peak RSS; also a 5,800-rule 1 MiB file.

    python benchmarks/limits.py            # prints one line per shape
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAD = """\
ruleset: tiktok_shop
version: 1.0.0
effective_from: 2024-01-01T00:00:00+07:00
description: generated to probe the engine's limits
sources:
  - {publisher: t, title: t}
default:
  then: {outcome: escalated}
  explain: {en: d, id: d}
rules:
"""


def rule(i: int, when: str) -> str:
    return (f"  - {{id: r{i}, description: d, priority: {i % 1000}, when: {when}, then: "
            f"{{outcome: approved}}, explain: {{en: e, id: i}}, source: {{publisher: p, "
            f"title: t}}}}\n")


def nested_any(groups: int) -> str:
    return "{all: [" + ", ".join(
        f"{{any: [{{fact: order.amounts.total, eq: {2 * k}}}, "
        f"{{fact: order.amounts.total, eq: {2 * k + 1}}}]}}" for k in range(groups)) + "]}"


TOTAL = "{fact: order.amounts.total, %s: %d}"
SHAPES = {
    "children: 511 distinct tests ok": [TOTAL % ("eq", i) for i in range(511)],
    "children: 513 rules refused": [TOTAL % ("eq", i) for i in range(513)],
    "links: 128 negated tests refused": ["{not: %s}" % (TOTAL % ("eq", i)) for i in range(128)],
    "stack: 64 tiers ok": [TOTAL % ("gt", i) for i in range(64)],
    "stack: 65 tiers refused": [TOTAL % ("gt", i) for i in range(65)],
    "connectives: 15 ok": [nested_any(13)],
    "connectives: 16 refused": [nested_any(14)],
    "rules: 5,800 in 1 MiB refused": [TOTAL % ("eq", i) for i in range(5800)],
}


def measure(whens: list[str], timeout: float) -> tuple[int, float, float, str]:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "rulesets"
        (root / "tiktok_shop").mkdir(parents=True)
        (root / "tiktok_shop" / "1.0.0.yaml").write_text(
            HEAD + "".join(rule(i, w) for i, w in enumerate(whens)), encoding="utf-8")
        code = ("import sys\nfrom aturan.cli import main\n"
                "rc = main(['validate', sys.argv[1]])\n"  # peak RSS of this process alone:
                "print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0],\n"
                "      file=sys.stderr)\n"
                "sys.exit(rc)")
        began = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True,
                              text=True, timeout=timeout)
        seconds = time.perf_counter() - began
        lines = done.stderr.strip().splitlines()
        first = next((line for line in lines if ": engine-" in line or "too-many" in line), "")
        return done.returncode, seconds, int(lines[-1]) / 1024, first.split(": ", 2)[1:2][0] \
            if first else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    for name, whens in SHAPES.items():
        code, seconds, peak, refused = measure(whens, args.timeout)
        print(f"{name:34} exit {code}  {seconds:5.2f} s  {peak:5.0f} MB peak  {refused}")


if __name__ == "__main__":
    main()
