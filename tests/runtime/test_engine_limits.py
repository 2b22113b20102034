"""The engine's limits (issue 14, item 1): a ruleset the durable_rules network cannot take is
refused by `aturan validate` and `aturan.load` with located errors, before the engine is called.

Past its limits the engine hangs holding the GIL (513 distinct tests under one node), or crashes,
so every command that could reach it runs in a subprocess under a timeout: a regression fails
the test instead of hanging the suite."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import aturan
from aturan.errors import EngineError, RulesetError
from aturan.runtime import _engine, engine_network
from aturan.runtime.engine_network import violations
from aturan.runtime.limits import check_collection, compiled_versions
from conftest import RULESETS

TIMEOUT = 60  # seconds: generous under load; the checks themselves take well under one

HEAD = """\
ruleset: tiktok_shop
version: 1.0.0
effective_from: 2024-01-01T00:00:00+07:00
description: generated to probe the engine's limits
sources:
  - {publisher: test, title: test}
default:
  then: {outcome: escalated}
  explain: {en: no rule, id: tidak ada}
rules:
"""


def rule(i: int, when: str) -> str:
    return (f"  - {{id: rule-{i}, description: rule {i}, priority: {i % 1000}, when: {when},\n"
            f"     then: {{outcome: approved}}, explain: {{en: r{i}, id: r{i}}},\n"
            f"     source: {{publisher: test, title: test}}}}\n")


def write(tmp_path: Path, whens: list[str]) -> Path:
    root = tmp_path / "rulesets"
    (root / "tiktok_shop").mkdir(parents=True)
    (root / "tiktok_shop" / "1.0.0.yaml").write_text(
        HEAD + "".join(rule(i, w) for i, w in enumerate(whens)), encoding="utf-8")
    return root


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=TIMEOUT)


def nested_any(groups: int) -> str:
    parts = ", ".join(f"{{any: [{{fact: order.amounts.total, eq: {2 * k}}}, "
                      f"{{fact: order.amounts.total, eq: {2 * k + 1}}}]}}" for k in range(groups))
    return f"{{all: [{parts}]}}"


SHAPES = {
    # name: (the rules' conditions, the code refused with, the rule it points at)
    "513 rules": ([f"{{fact: order.amounts.total, eq: {i}}}" for i in range(513)],
                  "engine-children", 511),
    "512 children": ([f"{{fact: order.amounts.total, eq: {i}}}" for i in range(512)],
                     "engine-children", 511),
    "128 links": ([f"{{not: {{fact: order.amounts.total, eq: {i}}}}}" for i in range(128)],
                  "engine-links", 127),
    "16 connectives": ([nested_any(14)], "engine-connectives", 0),
    "65 tiers": ([f"{{fact: order.amounts.total, gt: {i}}}" for i in range(65)],
                 "engine-stack", 64),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_validate_and_load_refuse_past_the_engine_limits_at_the_rule(tmp_path, shape):
    whens, code, index = SHAPES[shape]
    root = write(tmp_path, whens)
    text = (root / "tiktok_shop" / "1.0.0.yaml").read_text(encoding="utf-8").splitlines()
    line = next(n for n, t in enumerate(text, 1) if t.startswith(f"  - {{id: rule-{index},"))
    where = f"rulesets/tiktok_shop/1.0.0.yaml:{line}:5: {code}: rule rule-{index}"

    validated = run("-m", "aturan", "validate", str(root), cwd=tmp_path)
    assert validated.returncode == 1, validated.stderr
    assert where in validated.stderr

    loaded = run("-c", textwrap.dedent(f"""
        import aturan
        try:
            aturan.load({str(root)!r})
        except aturan.RulesetError as exc:
            print(exc)
            raise SystemExit(1)
        """), cwd=tmp_path)
    assert loaded.returncode == 1, loaded.stderr
    assert where in loaded.stdout


def test_just_under_the_limits_loads_and_decides(tmp_path, facts):
    whens = ([f"{{fact: order.amounts.total, eq: {i}}}" for i in range(200)]
             + [f"{{fact: order.amounts.items, gt: {i}}}" for i in range(40)]
             + [nested_any(13)])
    root = write(tmp_path, whens)
    assert check_collection(aturan.load(root).collection) == []
    order = json.dumps(facts({"order": {  # a total of 7 that adds up (facts consistency)
        "amounts": {"items": 7, "shipping": 0, "total": 7},
        "items": [{"sku": "KAOS-M", "product_type": "regular", "quantity": 1, "unit_price": 7}]}}))
    decided = subprocess.run(
        [sys.executable, "-m", "aturan", "decide", "-", "--rulesets", str(root), "--format",
         "json"], input=order, cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT)
    assert decided.returncode == 0, decided.stderr
    assert json.loads(decided.stdout)["outcome"] == "approved"


def test_the_bundled_rulesets_are_well_within_every_limit():
    for compiled in compiled_versions(aturan.load(RULESETS).collection):
        definition = _engine.full_definition(compiled.definition)
        assert violations(definition) == []
        net = engine_network.Network()
        for name, body in definition.items():
            net.add_rule(name, body)
        depth, _ = engine_network.stack_bound(net.root)
        assert depth <= 16  # 12 at most today (preorder_firm over tiktok_shop 2.0.0)


def test_the_adapter_never_calls_the_engine_with_a_network_it_cannot_build(monkeypatch):
    def never(*args):
        raise AssertionError("create_ruleset must not be called")

    monkeypatch.setattr(_engine._engine, "create_ruleset", never)
    definition = {f"r{i}": {"all": [{"m": {"$and": [{"aturan:fact": 1}, {"v": i}]}}]}
                  for i in range(513)}
    with pytest.raises(EngineError) as caught:
        _engine.EngineRuleset("demo@1.0.0", definition)
    assert caught.value.first.code == "engine-children"


def test_error_107_names_its_real_cause(monkeypatch):
    def refuse(name, payload):
        raise Exception("Could not create ruleset, error code: 107")

    monkeypatch.setattr(_engine._engine, "create_ruleset", refuse)
    with pytest.raises(EngineError) as caught:
        _engine.EngineRuleset("demo@1.0.0", {"r0": {"all": [{"m": {"aturan:fact": 1}}]}})
    hint = caught.value.first.hint
    assert "split long" not in hint and "share one test" in hint


# The model against the engine itself, at each limit: the largest network the model accepts is
# built and asserted by durable_rules (in a subprocess, under a timeout), one more is refused.
PROBE = """
import json, sys
import durable_rules_engine as e
definition, fact = json.loads(sys.stdin.read())
h = e.create_ruleset("probe", json.dumps(definition))
code, state = e.assert_fact(h, json.dumps(dict(fact, sid="1")))
fired = []
if code == 0:
    started = e.start_action_for_state(h, state)
    message = started[1] if started else None
    while message:
        fired.extend(json.loads(message))
        message = e.complete_and_start_action(h, state)
print(len(fired))
"""


def aturan_shape(conditions: list) -> dict:
    definition = {f"r{i}": {"all": [{"m": {"$and": [{"aturan:fact": 1}, c]}}]}
                  for i, c in enumerate(conditions)}
    return _engine.full_definition(definition)


EDGES = {
    # name: (shape at n, n the model accepts, the code at n + 1, a fact matching them all)
    "children": (lambda n: aturan_shape([{"v": i} for i in range(n)]), 511, "engine-children",
                 {"v": 0}),
    "stack": (lambda n: aturan_shape([{"$gt": {"amount": i}} for i in range(n)]), 64,
              "engine-stack", {"amount": 10 ** 6}),
    # links (127) are always outgrown by the stack first: each link is pushed when its node
    # matches
    "shared-or": (lambda n: aturan_shape([{"$or": [{"v": 0}, {"v": 1}]} for _ in range(n)]), 64,
              "engine-stack", {"v": 0}),
    "same": (lambda n: {f"r{i}": {"all": [{"m": {"v": 1}}]} for i in range(n)}, 255,
             "engine-same-condition", {"v": 1}),
    "connectives": (lambda n: {"r0": {"all": [{"m": {"$and": [
        {"$or": [{f"a{k}": 1}, {f"b{k}": 1}]} for k in range(n - 1)]}}]}}, 15,
        "engine-connectives", {f"a{k}": 1 for k in range(14)}),
}


@pytest.mark.slow
@pytest.mark.parametrize("edge", EDGES)
def test_the_model_agrees_with_the_engine_at_each_limit(edge):
    build, n, code, fact = EDGES[edge]
    assert violations(build(n)) == []
    assert code in {v.code for v in violations(build(n + 1))}
    fact = {"aturan:fact": 1, **fact}
    done = subprocess.run([sys.executable, "-c", PROBE], input=json.dumps([build(n), fact]),
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 1


def test_a_load_past_the_limits_changes_nothing(tmp_path, policies, facts):
    before = policies.decide(facts()).to_json()
    root = write(tmp_path, [f"{{fact: order.amounts.total, eq: {i}}}" for i in range(513)])
    with pytest.raises(RulesetError):
        aturan.load(root)
    assert policies.decide(facts()).to_json() == before
