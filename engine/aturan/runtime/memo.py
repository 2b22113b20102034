"""A bounded, thread-safe cache of what the engine decided, keyed by what a ruleset can see.

A rule's firing depends only on the truth values of its atoms, and an atom reads one value (a
fact, a timestamp's age, or the gap between two timestamps: `operators.measure`). So each value
a ruleset reads is mapped to a small class id such that two values in one class make every atom
on it agree: for enum/string/boolean facts, each constant an atom names is its own class and
every other value shares one; for integers, ages and gaps, the points where an atom's truth
changes cut the number line into intervals (`bisect`); absent (for a gap: either timestamp
absent) is a class of its own. The tuple of class ids (the *key*) therefore fixes every atom's truth value, so
durable_rules gives one answer per key: it decides each key once, and the answer, with
everything derived from it that does not depend on fact values (`plan.Plan`), is reused for
every later order with that key.

The cache is a pure cache: dropping any entry changes no result, only speed. A `Policies`
builds a `RuntimeCache` with one `RulesetMemo` per compiled ruleset it holds, so a memo lives
exactly as long as its rulesets (a reload builds new ones, with empty memos); each is capped at
`CAPACITY` keys (oldest dropped first), so a process's memory does not grow with the number of
orders. Reads take no lock (a dict lookup is atomic); writes take the memo's lock.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ..language.model import Atom, atoms_of
from ..language.operators import BY_NAME, ORDERED_OPS, cut_points, subject
from .compiler import CompiledRuleset

if TYPE_CHECKING:
    from .plan import Entry, Plan

CAPACITY = 4096  # keys per compiled ruleset; the bundled rulesets meet a few hundred at most
_OTHER = 1  # class of a value equal to no constant


def _boundaries(atoms: list[Atom]) -> tuple[float, ...] | None:
    """For a fact whose atoms all compare integers (amounts, counts, ages), the points where
    some atom's truth changes (`operators.cut_points`, shared with the box analysis), for
    `bisect_right`; None if an operand is not an integer.

    Between two consecutive points every atom keeps its truth value, so the interval is the
    class: the coarsest exact partition, which keeps the key space small. +inf ends the list:
    an integer lands below it, and the NaN standing for an absent fact compares false with
    everything and lands past the end, a class of its own."""
    points = cut_points(atoms)
    return None if points is None else points + (_INF,)


def _table(atoms: list[Atom]) -> dict[Hashable, int]:
    """value -> class for a fact tested only by (in)equality and presence: absent (None) is 0,
    a value equal to no constant gets `_OTHER` (from `dict.get`), each constant its own."""
    table: dict[Hashable, int] = {None: 0}
    for atom in atoms:
        for value in BY_NAME[atom.op].values(atom.value):
            table.setdefault(value, len(table) + 1)
    return table


class RulesetMemo:
    """The key function and the caches of one compiled ruleset: the plan per key, and the
    explanation entries plans are built from (`plan.plan`'s `entries`)."""

    def __init__(self, compiled: CompiledRuleset, capacity: int | None = None):
        self.compiled = compiled
        self.capacity = capacity or CAPACITY
        self._lock = threading.Lock()
        self.plans: dict[tuple[int, ...], Plan] = {}
        self.entries: dict[Any, Entry] = {}
        self.misses = 0
        by_fact: dict[str, list[Atom]] = {}
        gap_atoms: dict[str, list[Atom]] = {}
        fields = compiled.catalogue.fields
        for rule in compiled.rules:
            for atom in atoms_of(rule.when):
                if atom.of is not None:  # the engine reads the gap between two timestamps
                    gap_atoms.setdefault(subject(atom.fact, atom.of, "timestamp"), []).append(
                        atom)
                else:
                    by_fact.setdefault(atom.fact, []).append(atom)
        tables: list[tuple[str, dict[Hashable, int]]] = []
        ordered: list[tuple[str, tuple[float, ...]]] = []
        ages: list[tuple[str, tuple[float, ...]]] = []
        gaps: list[tuple[str, tuple[float, ...]]] = []
        for key in sorted(gap_atoms):
            cuts = _boundaries(gap_atoms[key])
            if cuts is None:
                raise ValueError(f"{key}: a duration between timestamps with a non-duration")
            gaps.append((key, cuts))
        for fact in sorted(by_fact):
            atoms = by_fact[fact]
            field = fields.get(fact)
            cuts = _boundaries(atoms)
            if field is not None and field.kind == "timestamp":  # the engine reads its age
                if cuts is None:
                    raise ValueError(f"{fact}: a timestamp compared with a non-duration")
                ages.append((fact, cuts))
            elif cuts is not None and (field is None or field.kind == "integer" or any(
                    a.op in ORDERED_OPS for a in atoms)):
                ordered.append((fact, cuts))
            elif any(a.op in ORDERED_OPS for a in atoms):
                raise ValueError(f"{fact}: ordered comparison of non-integers")
            else:
                tables.append((fact, _table(atoms)))
        self.facts = len(tables) + len(ordered) + len(ages) + len(gaps)
        self.key_of = _key_function(tables, ordered, ages, gaps)

    def put(self, key: tuple[int, ...], plan: Plan) -> Plan:
        """Store `plan` unless another thread stored one first; returns the one kept."""
        with self._lock:
            kept = self.plans.get(key)
            if kept is not None:
                return kept
            self.misses += 1
            if len(self.plans) >= self.capacity:
                del self.plans[next(iter(self.plans))]
            self.plans[key] = plan
            return plan

    def __len__(self) -> int:
        return len(self.plans)


_INF = float("inf")


def _key_function(tables: list[tuple[str, dict[Hashable, int]]],
                  ordered: list[tuple[str, tuple[float, ...]]],
                  ages: list[tuple[str, tuple[float, ...]]],
                  gaps: list[tuple[str, tuple[float, ...]]],
                  ) -> Callable[[dict[str, Any], dict[str, int], dict[str, int]],
                                tuple[int, ...]]:
    """The key as one tuple display, one term per fact: a third cheaper than looping. The
    source holds generated names only; fact paths, tables and cuts are passed as constants
    (nothing from a ruleset file becomes code)."""
    names: dict[str, Any] = {"bisect_right": bisect_right, "NAN": float("nan")}
    terms = []
    for i, (path, table) in enumerate(tables):
        names[f"P{i}"], names[f"T{i}"] = path, table
        terms.append(f"T{i}.get(get(P{i}), {_OTHER})")
    for i, (path, cuts) in enumerate(ordered):
        names[f"Q{i}"], names[f"C{i}"] = path, cuts
        terms.append(f"bisect_right(C{i}, get(Q{i}, NAN))")
    for i, (path, cuts) in enumerate(ages):
        names[f"A{i}"], names[f"D{i}"] = path, cuts
        terms.append(f"bisect_right(D{i}, age(A{i}, NAN))")
    for i, (key, cuts) in enumerate(gaps):
        names[f"G{i}"], names[f"E{i}"] = key, cuts
        terms.append(f"bisect_right(E{i}, gap(G{i}, NAN))")
    source = ("def key(values, ages, gaps):\n    get, age, gap = values.get, ages.get, gaps.get\n"
              f"    return ({''.join(term + ', ' for term in terms)})\n")
    namespace = {**names, "__builtins__": {}}
    exec(compile(source, "<aturan memo key>", "exec"), namespace)  # noqa: S102 - see above
    return namespace["key"]


class RuntimeCache:
    """The memos of one `Policies`: a `RulesetMemo` per compiled ruleset it holds, all made
    when it is built. A compiled ruleset it does not hold (one a caller compiled itself) has
    none, so its decisions are worked out afresh."""

    def __init__(self, memos: Iterable[RulesetMemo]):
        self._memos = {id(memo.compiled): memo for memo in memos}

    def memo(self, compiled: CompiledRuleset) -> RulesetMemo | None:
        memo = self._memos.get(id(compiled))
        return memo if memo is not None and memo.compiled is compiled else None

    def __iter__(self) -> Iterator[RulesetMemo]:
        return iter(self._memos.values())

    def total_keys(self) -> int:
        """How many keys all the memos hold."""
        return sum(len(memo) for memo in self._memos.values())
