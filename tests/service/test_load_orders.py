"""benchmarks/load.py's orders are facts the server accepts: when the facts check grew the
amounts consistency check, its orders all got HTTP 422 and the HTTP benchmark measured error
responses until someone read its `errors` line."""

from __future__ import annotations

import sys

import aturan
from conftest import ROOT, RULESETS

sys.path.insert(0, str(ROOT / "benchmarks"))
import load  # noqa: E402


def test_every_order_of_the_load_mix_is_decided():
    policies = aturan.load(RULESETS)
    base = load.base_order()
    decided = [policies.decide(load.order(base, i)) for i in range(600)]
    assert len({d.order_id for d in decided}) == 600
    assert len({(d.ruleset.name, d.ruleset.version) for d in decided}) >= 4
