"""Imported once by the sandbox's fork server (`sandbox.PRELOAD`): runs each kind of job once on
a bundled ruleset, so the caches every job needs (the compiled JSON Schema validators, the fact
catalogue, the facts check) are filled in the fork server and every forked child starts with
them. Without it each child would build them again: about 150 ms per request.

It reads bundled files (the package's own, never a request's) and does nothing when they are
missing; the engine rulesets it compiles are closed again before any child is forked."""

from __future__ import annotations

import json

from ...language.repository import RulesetCollection
from ...resources import bundled_dir
from .jobs import run_job
from .requests import Limits, parse_request


def prime() -> None:
    try:  # the first example order, and the first version of the ruleset named by its platform
        first = (bundled_dir("examples") / "orders.jsonl").read_text(encoding="utf-8")
        order = json.loads(first.splitlines()[0])
        folder = bundled_dir("rulesets") / order["order"]["platform"]
        path = sorted(folder.glob("*.yaml"))[0]
        ruleset = path.read_text(encoding="utf-8")
        cases = (folder / "cases" / path.name).read_text(encoding="utf-8")
        facts = json.dumps(order)
    except (OSError, ValueError, IndexError, KeyError, TypeError):
        return
    limits = Limits()
    for job, body in (("decide", {"facts": facts}), ("test", {"cases": cases}), ("lint", {})):
        run_job(parse_request(job, {"ruleset": ruleset, **body}, limits),
                RulesetCollection.of(()), limits)


prime()
