"""Fuzzing the two doors input comes through: the ruleset loader and the facts validator.

Random bytes, random YAML-ish text, random JSON-like documents and random mutations of valid
rulesets and facts. The only outcomes allowed are a result (a loaded ruleset, valid facts, a
decision) or a documented `AturanError` subclass: `RulesetError` from the loader, `FactsError`
from the facts validator, `FactsError`/`SelectionError` from `Policies.decide`. Anything else —
KeyError, TypeError, ValueError, RecursionError, an `EngineError` for a ruleset that validated —
is a bug. A few hundred examples per test by default (derandomized, so the suite is
reproducible); ATURAN_FUZZ_EXAMPLES=N runs N per test.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aturan
from aturan.errors import FactsError, RulesetError, SelectionError
from aturan.language.loader import parse_yaml
from aturan.language.repository import load_file
from aturan.runtime.facts import flatten_facts
from aturan.runtime.jsonio import parse_json
from conftest import BASE_FACTS, MINIMAL_RULESET, RULESETS

pytestmark = pytest.mark.slow  # long-running: `make test-fast` skips it, `make test` runs it

EXAMPLES = int(os.environ.get("ATURAN_FUZZ_EXAMPLES", "0")) or 250
FUZZ = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

# Words the loader and validator give meaning to, so random documents reach past the first check.
RULESET_WORDS = ["ruleset", "version", "effective_from", "effective_until", "description",
                 "sources", "default", "rules", "id", "priority", "when", "then", "explain",
                 "source", "all", "any", "not", "fact", "eq", "ne", "in", "not_in", "lt", "ge",
                 "exists", "absent", "older_than", "within", "outcome", "refund", "penalties",
                 "next_steps", "amount", "destination", "eta", "final", "extends", "en",
                 "publisher", "title", "order.status", "request.at", "paid", "approved", "demo",
                 "1.0.0", "2d", "0s", "48h", "2024-01-01T00:00:00+07:00", "tiktok_shop@^1"]
FACT_WORDS = ["order", "request", "now", "derived", "id", "platform", "placed_at", "status",
              "payment", "method", "paid_at", "deadline_at", "amounts", "items", "total", "sku",
              "product_type", "quantity", "unit_price", "seller", "policy", "fulfillment",
              "ship_by", "type", "by", "reason", "at", "seller_response", "decision", "paid",
              "tiktok_shop", "cod", "cancel", "buyer", "2024-03-01T12:00:00+07:00"]
TIMESTAMPS = st.from_regex(r"\A\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?"
                           r"([Zz]|[+-]\d{2}:\d{2})\Z")


def scalars(words: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                     st.sampled_from(words), TIMESTAMPS)


def documents(words: list[str]) -> st.SearchStrategy[Any]:
    keys = st.one_of(st.sampled_from(words), st.text(max_size=8))
    return st.recursive(scalars(words), lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)), max_leaves=25)


def pointers(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a plain tree (the root included)."""
    found = [prefix]
    if isinstance(tree, dict):
        for key, value in tree.items():
            found += pointers(value, prefix + (key,))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found += pointers(value, prefix + (index,))
    return found


@st.composite
def mutated(draw, base: Any, words: list[str]) -> Any:
    """`base` with one to three random edits: a value replaced, a key dropped or added, a list
    item duplicated."""
    tree = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(pointers(tree)))
        if not path:
            continue
        parent = tree
        for step in path[:-1]:
            parent = parent[step]
        key = path[-1]
        action = draw(st.sampled_from(["replace", "replace", "drop", "add", "duplicate"]))
        if action == "replace":
            parent[key] = draw(documents(words))
        elif action == "drop" and isinstance(parent, dict):
            del parent[key]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(words))] = draw(documents(words))
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
    return tree


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """One folder for the whole module: a temporary folder per example costs more than the test."""
    return tmp_path_factory.mktemp("fuzz")


def load_tree_as_file(folder: Path, text: str) -> None:
    """Write `text` as rulesets/demo/1.0.0.yaml and run it through `load_file` (YAML, schema,
    model, semantic checks); when that accepts it, through the whole `aturan.load` too (collection
    checks, compiler, engine registration), which must then accept it as well."""
    root = folder / "rulesets"
    target = root / "demo" / "1.0.0.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    ruleset, problems = load_file(target, "rulesets/demo/1.0.0.yaml")
    if ruleset is None:
        assert any(d.severity == "error" for d in problems)
        return
    aturan.load(root).close()


def dump(tree: Any) -> str:
    return yaml.safe_dump(tree, allow_unicode=True, sort_keys=False)


# -- the ruleset loader ---------------------------------------------------------------------

@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes_are_loaded_or_refused(raw):
    try:
        parse_yaml(raw, "fuzz.yaml")
    except RulesetError:
        pass


@FUZZ
@given(st.text(alphabet=st.sampled_from(list("ab01 :-,[]{}&*!|>'\"#%@`?\n\t.\\<=~") + ["\x00",
                                                                                  "\x85", "é"]),
               max_size=80))
def test_random_yaml_text_is_loaded_or_refused(text):
    try:
        parse_yaml(text, "fuzz.yaml")
    except RulesetError:
        pass


@FUZZ
@given(documents(RULESET_WORDS))
def test_random_documents_are_loaded_or_refused(scratch, tree):
    load_tree_as_file(scratch, dump(tree))


VALID_RULESET = parse_yaml(MINIMAL_RULESET).tree
BUNDLED_RULESET = parse_yaml((RULESETS / "tiktok_shop" / "2.0.0.yaml").read_bytes()).tree
# two real rules (time operators, `any`, `in`, absent facts) keep each example quick to parse
SMALL_BUNDLED = {**BUNDLED_RULESET, "ruleset": "demo", "version": "1.0.0",
                 "sources": BUNDLED_RULESET["sources"][:1],
                 "rules": [BUNDLED_RULESET["rules"][1], BUNDLED_RULESET["rules"][3]]}


@FUZZ
@given(st.one_of(mutated(VALID_RULESET, RULESET_WORDS),
                 mutated(SMALL_BUNDLED, RULESET_WORDS)))
def test_mutated_rulesets_are_loaded_or_refused(scratch, tree):
    load_tree_as_file(scratch, dump(tree))


@FUZZ
@given(st.sampled_from(["effective_from", "effective_until"]),
       st.from_regex(r"\A\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}([Zz]|[+-]\d{2}:\d{2})\Z"))
def test_any_effective_date_the_schema_pattern_admits_is_loaded_or_refused(scratch, key, value):
    load_tree_as_file(scratch, dump({**VALID_RULESET, key: value}))


@FUZZ
@given(st.sampled_from(["a: 1", "version: 1.0.0", "when: {fact: order.status, eq: paid}"]),
       st.sampled_from(["!!int", "!!float", "!!bool", "!!binary", "!!set", "!!omap",
                        "!!python/object:os.system", "!local", "!!timestamp", "!!str", "!!null"]),
       st.text(max_size=10))
def test_tagged_values_are_loaded_or_refused(line, tag, value):
    key = line.split(":", 1)[0]
    try:
        parse_yaml(f"{key}: {tag} {json.dumps(value)}\n", "fuzz.yaml")
    except RulesetError:
        pass


# -- the facts validator --------------------------------------------------------------------

@FUZZ
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300),
                 documents(FACT_WORDS).map(lambda d: json.dumps(d, allow_nan=True)),
                 st.integers(1, 6000).map(lambda digits: '{"n": ' + "7" * digits + "}")))
def test_random_json_is_parsed_or_refused(text):
    try:
        parse_json(text)
    except FactsError:
        pass


@FUZZ
@given(documents(FACT_WORDS))
def test_random_documents_are_flattened_or_refused(tree):
    try:
        flatten_facts(tree)
    except FactsError:
        pass


@FUZZ
@given(mutated(BASE_FACTS, FACT_WORDS))
def test_mutated_facts_are_decided_or_refused(policies, facts):
    try:
        policies.decide(facts)
    except (FactsError, SelectionError):
        pass


@FUZZ
@given(st.sampled_from(["/order/placed_at", "/order/payment/paid_at", "/request/at", "/now",
                        "/order/fulfillment/ship_by", "/request/seller_response/at"]), TIMESTAMPS)
def test_any_timestamp_the_schema_pattern_admits_is_decided_or_refused(policies, pointer, value):
    facts = copy.deepcopy(BASE_FACTS)
    *parents, key = pointer.strip("/").split("/")
    node = facts
    for part in parents:
        if node.get(part) is None:
            node[part] = {"decision": "approve", "at": "2024-03-01T12:00:00+07:00"}
        node = node[part]
    node[key] = value
    try:
        policies.decide(facts)
    except (FactsError, SelectionError):
        pass
