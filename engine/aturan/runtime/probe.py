"""Build a rule set in a child process first, under a time limit, before a serving process does.

durable_rules never releases the GIL: while one of its calls loops, no other thread of the process
runs and no signal handler either, so no watchdog inside a process can stop it. The network check
(`engine_network`) refuses every shape known to hang or crash the engine; this probe is the guard
against the unknown ones. The child loads the rulesets exactly as the server will (`aturan.load`:
compile, check, register, prime) and asserts one fact with no facts set into each ruleset; if it
has not finished within the time limit it is killed, and the caller keeps what it had.

Cost: one Python start-up plus one load (about 0.5 s for the bundled rulesets on this machine;
docs/reliability.md has the measurement), paid at `aturan serve` start-up and on every reload,
never per request.

    python -m aturan.runtime.probe ROOT      # exit 0: built; 1: invalid rulesets; else: failed
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

from ..errors import Diagnostic, EngineError, Location, RulesetError
from .compiler import FACT_MARKER

EXIT_INVALID = 1  # the rulesets are invalid: the in-process load reports why, without the engine


@dataclass(frozen=True)
class ProbeResult:
    """How building the rule set went in the child: `ok` when the caller may build it too."""

    ok: bool
    seconds: float
    problem: str = ""


def probe(root: Path, timeout: float) -> ProbeResult:
    """Load `root` in a child process, killed after `timeout` seconds."""
    began = perf_counter()
    command = [sys.executable, "-m", "aturan.runtime.probe", str(root)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return ProbeResult(False, perf_counter() - began,
                           f"building the rulesets in a probe process did not finish within "
                           f"{timeout:g} s, so the engine would have hung this process; it was "
                           "killed and nothing was changed")
    except OSError as exc:
        return ProbeResult(False, perf_counter() - began, f"cannot start a probe process: {exc}")
    seconds = perf_counter() - began
    if done.returncode in (0, EXIT_INVALID):
        return ProbeResult(True, seconds)
    last = (done.stderr.strip().splitlines() or [""])[-1][:500]
    how = (f"was killed by signal {-done.returncode}" if done.returncode < 0
           else f"exited with status {done.returncode}")
    return ProbeResult(False, seconds, f"building the rulesets in a probe process failed: it "
                                       f"{how}{': ' + last if last else ''}; nothing was changed")


def require(root: Path, timeout: float) -> None:
    """`probe`, raising `EngineError` when the child hung or crashed."""
    result = probe(root, timeout)
    if not result.ok:
        raise EngineError(Diagnostic("engine-probe", result.problem, Location(str(root))))


def main(argv: list[str]) -> int:
    from .evaluate import load
    try:
        policies = load(argv[0])
    except RulesetError:
        return EXIT_INVALID
    for engine in policies.engine_rulesets():
        engine.fire({FACT_MARKER: 1})  # a fact that matches no test: what a hang at 512 needs
    policies.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
