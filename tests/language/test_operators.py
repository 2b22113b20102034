"""The operator table (`aturan.language.operators`) is the one definition of every operator, and
no reading of the language misses one: the schema, docs/reference.md, the semantic kind check,
the compiler, the shared cut function (memo keys, box cells), explanations, and the two readings
kept independent on purpose (the reference interpreter, the z3 encoding).

The agreement tests run each operator, on every fact kind it accepts, at values on both sides of
every cut and around every operand, plus absent, and require the table's `holds` (and its
negation) to equal what durable_rules answers (fresh and through the memo), `explain.holds`,
the reference interpreter, the symbolic cell predicate and the z3 encoding.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import aturan
from aturan.analysis import reference, solver
from aturan.analysis.symbolic import ABSENT, Space, build_axes, cell_holds, integer_domain
from aturan.language.catalogue import catalogue
from aturan.language.model import Atom, Not, format_duration
from aturan.language.operators import (
    BY_NAME,
    KINDS,
    MODIFIERS,
    OPERATORS,
    OPERATORS_BY_KIND,
    TABLE,
    Operator,
    cut_points,
)
from aturan.language.semantic import check_atom
from aturan.resources import load_schema
from aturan.runtime import explain
from aturan.runtime.compiler import negation_normal_form, translate
from aturan.runtime.facts import FlatFacts
from conftest import ROOT, write_ruleset

EACH = [pytest.param(op, id=op.name) for op in TABLE]
WIB = timezone(timedelta(hours=7))
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=WIB)

# one fact of every kind (the nullable timestamp also has an ABSENT cell in the box analysis)
FACT_OF_KIND = {"enum": "order.status", "string": "order.seller.id",
                "integer": "order.amounts.total", "boolean": "order.fulfillment.production_started",
                "timestamp": "order.payment.paid_at"}


def operands(op: Operator, kind: str) -> list[Any]:
    """Operands of `op` that fit a `kind` fact, several where their cuts differ."""
    if op.operand == "none":
        return [True]
    if op.operand == "duration":
        return [0, 5400, 172800]
    scalar = {"enum": "paid", "string": "S-77", "integer": 1000, "boolean": True}[kind]
    if op.operand == "scalar":
        return [scalar, 0] if kind == "integer" else [scalar]
    return [{"enum": ("paid", "shipped"), "string": ("S-1", "S-3"),
             "integer": (1000, 1003)}[kind]]


def cases(op: Operator) -> list[tuple[str, Atom]]:
    return [(kind, Atom(FACT_OF_KIND[kind], op.name, operand))
            for kind in KINDS if kind in op.kinds for operand in operands(op, kind)]


def probes(kind: str, atoms: list[Atom]) -> list[Any]:
    """Present values to try, ascending for numbers (so a cut the memo missed shows as a class
    answered for a value on the other side), then None (absent). Numbers: both sides of every
    cut the table gives, and -2..+2 around every operand whatever the table says."""
    if kind in ("integer", "timestamp"):
        found = {-1, 0, 1}
        for atom in atoms:
            spec = BY_NAME[atom.op]
            found.update(c + d for c in spec.cuts(atom.value) if spec.values(atom.value)
                         for d in (-1, 0))
            found.update(v + d for v in spec.values(atom.value) for d in range(-2, 3))
        return sorted(found) + [None]
    if kind == "enum":
        return list(catalogue()[FACT_OF_KIND[kind]].enum) + [None]
    if kind == "boolean":
        return [False, True, None]
    named = [v for a in atoms for v in BY_NAME[a.op].values(a.value)]
    return list(dict.fromkeys(named)) + ["S-other", None]


def flat(kind: str, actual: Any) -> FlatFacts:
    """The facts the engine path sees: only the tested fact, present or absent."""
    values: dict[str, Any] = {}
    ages: dict[str, int] = {}
    if actual is not None:
        fact = FACT_OF_KIND[kind]
        if kind == "timestamp":
            values[fact], ages[fact] = NOW - timedelta(seconds=actual), actual
        else:
            values[fact] = actual
    return FlatFacts(values=values, ages=ages, now=NOW, order_id="T-1", platform="tiktok_shop",
                     seller_policy=None, request_at=NOW)


def expected(atom: Atom, actual: Any, negated: bool = False) -> bool:
    return BY_NAME[atom.op].holds(actual, atom.value) != negated


# ---- every reading covers every operator ------------------------------------------------------

def test_the_table_is_keyed_by_name_and_its_views_are_derived():
    assert tuple(op.name for op in TABLE) == OPERATORS and set(BY_NAME) == set(OPERATORS)
    assert {field.kind for field in catalogue().values()} <= set(KINDS)
    assert set(OPERATORS_BY_KIND) == set(KINDS)
    for op in TABLE:
        assert op.kinds and op.kinds <= set(KINDS), op.name
        assert op.operand in ("scalar", "list", "duration", "none"), op.name
        assert [k for k in KINDS if op.name in OPERATORS_BY_KIND[k]] == [
            k for k in KINDS if k in op.kinds]


@pytest.mark.parametrize("op", EACH)
def test_negation_is_an_operator_of_the_table_and_the_complement(op):
    opposite = BY_NAME[op.negation]
    assert opposite.negation == op.name and opposite.operand == op.operand
    assert opposite.kinds == op.kinds and opposite.tests_presence == op.tests_presence
    for kind, atom in cases(op):
        for actual in probes(kind, [atom]):
            if actual is None and not op.tests_presence:
                # a comparison and its opposite are both false on an absent fact, which is why
                # negation normal form adds `absent` (checked against the engine below)
                assert not op.holds(None, atom.value) and not opposite.holds(None, atom.value)
                continue
            assert opposite.holds(actual, atom.value) == (not op.holds(actual, atom.value))


def test_the_schema_lists_exactly_the_operators_with_their_operand_shapes():
    atom = load_schema("ruleset")["$defs"]["atom"]["properties"]
    listed = {name: spec for name, spec in atom.items()
              if name != "fact" and name not in MODIFIERS}
    assert sorted(listed) == sorted(OPERATORS)
    assert set(MODIFIERS) <= set(atom)  # `of`: declared beside the operators

    def shape(spec: dict[str, Any]) -> str:
        if spec.get("type") == "array":
            return "list"
        if spec.get("const") is True:
            return "none"
        if "pattern" in spec or "$ref" in spec:
            return "duration"
        return "scalar"
    assert {name: shape(spec) for name, spec in listed.items()} == {
        op.name: op.operand for op in TABLE}


def test_the_reference_page_lists_every_operator_with_its_kinds():
    text = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    section = text.split("## Operators", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip("|").split(" | ")]
            rows[cells[0].strip("`")] = cells[-1]
    assert rows == {op.name: ", ".join(k for k in KINDS if k in op.kinds) for op in TABLE}


@pytest.mark.parametrize("op", EACH)
def test_the_semantic_check_accepts_an_operator_exactly_on_its_kinds(op):
    for kind in KINDS:
        operand = operands(op, kind if kind in op.kinds else next(iter(sorted(op.kinds))))[0]
        found = [d.code for d in check_atom(Atom(FACT_OF_KIND[kind], op.name, operand))]
        assert found == ([] if kind in op.kinds else ["bad-operator"]), (kind, found)


@pytest.mark.parametrize("op", EACH)
def test_the_compiler_translates_an_operator_and_its_negation(op):
    for _, atom in cases(op):
        assert isinstance(translate(atom), dict)
        assert isinstance(translate(negation_normal_form(Not(atom))), dict)


def test_the_reference_interpreter_reads_every_operator():
    assert set(reference.ATOM_TESTS) == set(OPERATORS)


def test_the_z3_encoding_reads_every_operator():
    assert set(solver.ENCODERS) == set(OPERATORS)


@pytest.mark.parametrize("op", EACH)
def test_cuts_are_exactly_where_the_truth_changes(op):
    """`cuts` are the points c with holds(c - 1) != holds(c): none missing (the memo would
    merge two classes), none extra (the key space would grow for nothing)."""
    for kind, atom in cases(op):
        if kind not in ("integer", "timestamp"):
            continue
        values = op.values(atom.value) or (0,)
        span = range(min(values) - 50, max(values) + 50)
        changes = [x for x in span if op.holds(x - 1, atom.value) != op.holds(x, atom.value)]
        assert sorted(set(op.cuts(atom.value))) == changes, atom
        assert cut_points([atom]) == tuple(changes)


def test_cut_points_joins_the_cuts_and_refuses_non_integers():
    atoms = [Atom("x", "lt", 5), Atom("x", "le", 5), Atom("x", "in", (1, 9)),
             Atom("x", "exists", True)]
    assert cut_points(atoms) == (1, 2, 5, 6, 9, 10)
    assert cut_points([Atom("x", "exists", True)]) == ()
    assert cut_points([Atom("x", "eq", "paid")]) is None
    assert cut_points([Atom("x", "eq", True)]) is None  # booleans are classified by equality


# ---- every reading agrees with the table -------------------------------------------------------

HEADER = """\
ruleset: tiktok_shop
version: 1.0.0
effective_from: 2024-01-01T00:00:00+07:00
description: One operator on every fact kind it accepts, plain and negated.
sources:
  - { publisher: Test, title: Test source }
default:
  then: { outcome: escalated }
  explain: { en: Nothing matched., id: Tidak ada yang cocok. }
rules:
"""


def _yaml_operand(atom: Atom) -> str:
    if atom.op in ("older_than", "within"):
        return json.dumps(format_duration(atom.value))
    return json.dumps(list(atom.value) if isinstance(atom.value, tuple) else atom.value)


def load_operator(folder: Path, op: Operator) -> tuple[aturan.Policies, list[tuple[Atom, bool]]]:
    """A ruleset with one rule per (kind, operand) of `op` and one for its `not`."""
    rules, text = [], HEADER
    for _, atom in cases(op):
        for negated in (False, True):
            test = f"{{ fact: {atom.fact}, {atom.op}: {_yaml_operand(atom)} }}"
            when = f"{{ not: {test} }}" if negated else test
            rules.append((atom, negated))
            text += (f"  - id: r{len(rules)}\n    description: d\n    priority: {len(rules)}\n"
                     f"    when: {{ all: [ {when} ] }}\n    then: {{ outcome: approved }}\n"
                     "    explain: { en: e, id: i }\n    source: { publisher: Test, title: T }\n")
    return aturan.load(write_ruleset(folder, text, name="tiktok_shop")), rules


@pytest.mark.parametrize("op", EACH)
def test_holds_agrees_with_the_engine_fresh_and_memoised_and_with_explain(tmp_path, op):
    policies, rules = load_operator(tmp_path, op)
    try:
        for kind in dict.fromkeys(kind for kind, _ in cases(op)):
            for actual in probes(kind, [a for k, a in cases(op) if k == kind]):
                facts = flat(kind, actual)
                compiled = policies.compiled_for(facts)
                fresh = set(policies.engine_rules(compiled, facts, cached=False))
                memoised = set(policies.engine_rules(compiled, facts))
                for index, (atom, negated) in enumerate(rules):
                    value = actual if atom.fact == FACT_OF_KIND[kind] else None
                    want = expected(atom, value, negated)
                    where = (atom, "not" if negated else "", kind, actual)
                    assert (index in fresh) == want, ("engine", *where)
                    assert (index in memoised) == want, ("memo", *where)
                    assert explain.holds(atom, facts) == expected(atom, value), where
    finally:
        policies.close()


@pytest.mark.parametrize("op", EACH)
def test_holds_agrees_with_the_reference_interpreter(op):
    now = reference.instant_ns(NOW.isoformat())
    for kind, atom in cases(op):
        for actual in probes(kind, [atom]):
            raw: Any = actual
            if actual is None:
                raw = reference.ABSENT
            elif kind == "timestamp":
                raw = (NOW - timedelta(seconds=actual)).isoformat()
            assert reference.atom_holds(atom, raw, now) == expected(atom, actual), (atom, raw)


@pytest.mark.parametrize("op", EACH)
def test_holds_agrees_with_the_symbolic_cells(op):
    """Every value of a cell answers like the cell (so the cells, cut by `cut_points`, are
    exact) and `cell_holds` gives that answer."""
    for kind, atom in cases(op):
        axis = build_axes([atom])[0]
        lowest = integer_domain(atom.fact)[0] if kind == "integer" else None
        for actual in probes(kind, [atom]):
            if actual is None and ABSENT not in axis.cells:
                continue
            if lowest is not None and actual is not None and actual < lowest:
                continue  # not a value of the fact (amounts are not negative)
            cell = axis.cells[axis.cell_of(actual)]
            assert cell_holds(atom, cell) == expected(atom, actual), (atom, cell, actual)


@pytest.mark.parametrize("op", EACH)
def test_holds_agrees_with_the_z3_encoding(op):
    z3 = pytest.importorskip("z3")
    for kind, atom in cases(op):
        encoding = solver.Encoding(Space(build_axes([atom]), ()))
        term = encoding.atom(atom)
        var, present = encoding.var[atom.fact], encoding.present[atom.fact]
        nullable = catalogue()[atom.fact].nullable
        options = encoding.values.get(atom.fact)
        for actual in probes(kind, [atom]):
            if actual is None and not nullable:
                continue
            if actual is None:
                number = 0
            elif options is None:
                number = actual
            else:
                number = next((i for i, v in enumerate(options) if type(v) is type(actual)
                               and v == actual), len(options) - 1)  # last: "other"
            pairs = [(var, z3.IntVal(number))]
            if nullable:
                pairs.append((present, z3.BoolVal(actual is not None)))
            value = z3.simplify(z3.substitute(term, *pairs))
            assert z3.is_true(value) == expected(atom, actual), (atom, actual)


# ---- durations between two facts (`of`): every reading measures fact - of alike ---------------

# (fact, of): the seller's answer after the request (request.at is never absent), and delivery
# after payment (either may be absent)
PAIRS = [("request.seller_response.at", "request.at"),
         ("order.fulfillment.delivered_at", "order.payment.paid_at")]
BETWEEN = [op for op in TABLE if op.between]


def between_cases(op: Operator) -> list[Atom]:
    return [Atom(fact, op.name, operand, of=of) for fact, of in PAIRS
            for operand in operands(op, "timestamp")]


def gap_probes(atoms: list[Atom]) -> list[tuple[Any, Any]]:
    """(gap in seconds or None for the fact absent, "of absent" flag): both sides of every
    cut, around every operand, a negative gap (the fact first), and each timestamp absent
    (where the facts schema lets it be)."""
    gaps = sorted({g for a in atoms for c in BY_NAME[a.op].cuts(a.value) for g in (c - 1, c)}
                  | {a.value + d for a in atoms for d in range(-2, 3)} | {-3600, -1})
    absent_of = [(0, True)] if catalogue()[atoms[0].of].nullable else []
    return [(g, False) for g in gaps] + [(None, False)] + absent_of


def between_flat(atom: Atom, gap: Any, of_absent: bool) -> FlatFacts:
    values: dict[str, Any] = {}
    if not of_absent:
        values[atom.of] = NOW - timedelta(days=3)
    if gap is not None:
        values[atom.fact] = NOW - timedelta(days=3) + timedelta(seconds=gap)
    if atom.of != "request.at":
        values.setdefault("request.at", NOW)
    ages = {path: (NOW - moment) // timedelta(seconds=1) for path, moment in values.items()}
    return FlatFacts(values=values, ages=ages, now=NOW, order_id="T-1", platform="tiktok_shop",
                     seller_policy=None, request_at=values.get("request.at", NOW))


def between_expected(atom: Atom, gap: Any, of_absent: bool, negated: bool = False) -> bool:
    return BY_NAME[atom.op].holds(None if of_absent else gap, atom.value) != negated


def test_of_is_declared_for_the_duration_operators_only():
    assert {op.name for op in BETWEEN} == {"older_than", "within"}
    assert all(op.operand == "duration" for op in BETWEEN)
    for op in TABLE:
        atom = Atom("request.seller_response.at", op.name,
                    0 if op.operand == "duration" else True if op.operand == "none" else "x",
                    of="request.at")
        codes = [d.code for d in check_atom(atom)]
        assert ("bad-of" in codes) == (not op.between), (op.name, codes)
    assert [d.code for d in check_atom(Atom("request.at", "within", 0, of="order.status"))] == [
        "bad-of"]
    assert [d.code for d in check_atom(Atom("request.at", "within", 0, of="request.at"))] == [
        "bad-of"]
    assert [d.code for d in check_atom(Atom("request.at", "within", 0, of="request.atx"))] == [
        "unknown-fact"]


def _load_between(folder: Path, op: Operator) -> tuple[aturan.Policies, list[tuple[Atom, bool]]]:
    rules, text = [], HEADER
    for atom in between_cases(op):
        for negated in (False, True):
            test = (f"{{ fact: {atom.fact}, {atom.op}: {_yaml_operand(atom)}, "
                    f"of: {atom.of} }}")
            when = f"{{ not: {test} }}" if negated else test
            rules.append((atom, negated))
            text += (f"  - id: r{len(rules)}\n    description: d\n    priority: {len(rules)}\n"
                     f"    when: {{ all: [ {when} ] }}\n    then: {{ outcome: approved }}\n"
                     "    explain: { en: e, id: i }\n    source: { publisher: Test, title: T }\n")
    return aturan.load(write_ruleset(folder, text, name="tiktok_shop")), rules


@pytest.mark.parametrize("op", [pytest.param(op, id=op.name) for op in BETWEEN])
def test_between_agrees_with_the_engine_fresh_and_memoised_and_with_explain(tmp_path, op):
    policies, rules = _load_between(tmp_path, op)
    try:
        for fact, _ in PAIRS:
            mine = [a for a in between_cases(op) if a.fact == fact]
            for gap, of_absent in gap_probes(mine):
                facts = between_flat(mine[0], gap, of_absent)
                compiled = policies.compiled_for(facts)
                fresh = set(policies.engine_rules(compiled, facts, cached=False))
                memoised = set(policies.engine_rules(compiled, facts))
                for index, (atom, negated) in enumerate(rules):
                    if atom.fact != fact:
                        continue
                    want = between_expected(atom, gap, of_absent, negated)
                    where = (atom, "not" if negated else "", gap, of_absent)
                    assert (index in fresh) == want, ("engine", *where)
                    assert (index in memoised) == want, ("memo", *where)
                    assert explain.holds(atom, facts) == between_expected(atom, gap, of_absent)
    finally:
        policies.close()


def _raw(atom: Atom, gap: Any, of_absent: bool) -> dict[str, Any]:
    """Raw facts holding just the two timestamps, for the reference interpreter."""
    raw: dict[str, Any] = {}
    for path, moment in ((atom.of, None if of_absent else NOW - timedelta(days=3)),
                         (atom.fact, None if gap is None else
                          NOW - timedelta(days=3) + timedelta(seconds=gap))):
        node = raw
        *parents, key = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[key] = None if moment is None else moment.isoformat()
    return raw


@pytest.mark.parametrize("op", [pytest.param(op, id=op.name) for op in BETWEEN])
def test_between_agrees_with_the_reference_interpreter(op):
    for atom in between_cases(op):
        for gap, of_absent in gap_probes([atom]):
            raw = _raw(atom, gap, of_absent)
            assert reference.between_holds(atom, raw) == between_expected(atom, gap, of_absent)
            node = reference.trace(atom, raw, 0)
            assert node.holds == between_expected(atom, gap, of_absent)


@pytest.mark.parametrize("op", [pytest.param(op, id=op.name) for op in BETWEEN])
def test_between_agrees_with_the_symbolic_cells_and_the_z3_encoding(op):
    z3 = pytest.importorskip("z3")
    for atom in between_cases(op):
        axes = build_axes([atom])
        gap_axis = next(axis for axis in axes if axis.kind == "gap")
        encoding = solver.Encoding(Space(axes, ()))
        term = encoding.atom(atom)
        for gap, of_absent in gap_probes([atom]):
            value = None if of_absent else gap
            if value is None and ABSENT not in gap_axis.cells:
                continue
            cell = gap_axis.cells[gap_axis.cell_of(value)]
            assert cell_holds(atom, cell) == between_expected(atom, gap, of_absent), (atom, gap)
            pairs = [(encoding.var[gap_axis.path], z3.IntVal(0 if value is None else value))]
            for path in atom.facts:
                present = encoding.present[path]
                if not z3.is_bool(present) or z3.is_true(present):
                    continue
                absent = (path == atom.of and of_absent) or (path == atom.fact and gap is None)
                pairs.append((present, z3.BoolVal(not absent)))
            result = z3.simplify(z3.substitute(term, *pairs))
            assert z3.is_true(result) == between_expected(atom, gap, of_absent), (atom, gap)
