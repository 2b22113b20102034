"""A bounded, thread-safe cache of what the engine decided, keyed by what a ruleset can see.

A rule's firing depends only on the truth values of its atoms, and an atom reads one fact. So
each fact a ruleset reads is mapped to a small class id such that two values in one class make
every atom on that fact agree: for enum/string/boolean facts, each constant an atom names is its
own class and every other value shares one; for integers and ages, the constants cut the number
line into points and open intervals (`bisect`). Absent is class 0. The tuple of class ids (the
*key*) therefore fixes every atom's truth value, so durable_rules gives one answer per key: it
decides each key once, and the answer, with everything derived from it that does not depend on
fact values (`evaluate.Plan`), is reused for every later order with that key.

The cache is a pure cache: dropping any entry changes no result, only speed. Each compiled
ruleset has its own (`memo_for`), capped at `CAPACITY` keys (oldest dropped first), so a
process's memory does not grow with the number of orders. Reads take no lock (a dict lookup is
atomic); writes take the memo's lock.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any, Callable, Hashable

from .compiler import CompiledRuleset
from .facts import FlatFacts, catalogue
from .model import TIME_OPS, Atom, atoms_of

CAPACITY = 4096  # keys per compiled ruleset; the bundled rulesets meet a few hundred at most
_OTHER = 1  # class of a value equal to no constant
_ATTRIBUTE = "_aturan_memo"
_CREATE = threading.Lock()


def _numeric(atoms: list[Atom]) -> tuple[int, ...] | None:
    """Sorted constants of a fact whose atoms all compare integers, else None."""
    constants: set[int] = set()
    for atom in atoms:
        if atom.op in ("exists", "absent"):
            continue
        values = atom.value if isinstance(atom.value, tuple) else (atom.value,)
        for value in values:
            if type(value) is not int:
                return None
            constants.add(value)
    return tuple(sorted(constants))


def _point_class(cuts: tuple[int, ...]) -> Callable[[Any], int]:
    """Class of an integer among `cuts`: 2i+2 below cuts[i] (above cuts[i-1]), 2i+3 on it."""
    size = len(cuts)

    def classify(value: Any) -> int:
        if value is None:
            return 0
        if type(value) is not int:
            return -1  # never met on validated facts; kept apart from every integer class
        i = bisect_left(cuts, value)
        return 2 * i + (3 if i < size and cuts[i] == value else 2)
    return classify


def _value_class(atoms: list[Atom]) -> dict[Hashable, int]:
    """value -> class for a fact tested only by (in)equality and presence."""
    table: dict[Hashable, int] = {None: 0}
    for atom in atoms:
        if atom.op in ("exists", "absent"):
            continue
        for value in atom.value if isinstance(atom.value, tuple) else (atom.value,):
            table.setdefault(value, len(table) + 1)
    return table


@dataclass(frozen=True)
class _Reader:
    path: str
    age: bool  # read the age of a timestamp, as the engine does
    table: dict[Hashable, int] | None  # equality facts
    classify: Callable[[Any], int] | None  # ordered facts


class RulesetMemo:
    """The key function and the cache of one compiled ruleset."""

    def __init__(self, compiled: CompiledRuleset, capacity: int | None = None):
        self.capacity = capacity or CAPACITY
        self._lock = threading.Lock()
        self._entries: dict[tuple[int, ...], Any] = {}
        self.misses = 0
        by_fact: dict[str, list[Atom]] = {}
        for rule in compiled.rules:
            for atom in atoms_of(rule.when):
                by_fact.setdefault(atom.fact, []).append(atom)
        fields = catalogue()
        readers = []
        for fact in sorted(by_fact):
            atoms = by_fact[fact]
            field = fields.get(fact)
            age = field is not None and field.kind == "timestamp"
            cuts = _numeric(atoms)
            ordered = age or any(a.op in ("lt", "le", "gt", "ge") + TIME_OPS for a in atoms)
            if cuts is not None and (ordered or (field is not None and field.kind == "integer")):
                readers.append(_Reader(fact, age, None, _point_class(cuts)))
            elif ordered:
                raise ValueError(f"{fact}: ordered comparison of non-integers")
            else:
                readers.append(_Reader(fact, age, _value_class(atoms), None))
        self._tables = tuple((r.path, r.table) for r in readers if r.table is not None
                             and not r.age)
        self._values = tuple((r.path, r.classify) for r in readers if r.classify is not None
                             and not r.age)
        self._ages = tuple((r.path, r.classify) for r in readers if r.classify is not None
                           and r.age)
        self._presence = tuple(r.path for r in readers if r.table is not None and r.age)

    def key(self, facts: FlatFacts) -> tuple[int, ...]:
        """The class of every fact the ruleset reads (see the module docstring)."""
        values, ages = facts.values, facts.ages
        key = [table.get(values.get(path), _OTHER) for path, table in self._tables]
        key += [classify(values.get(path)) for path, classify in self._values]
        key += [classify(ages.get(path)) for path, classify in self._ages]
        key += [int(path in ages) for path in self._presence]
        return tuple(key)

    def get(self, key: tuple[int, ...]) -> Any:
        return self._entries.get(key)

    def put(self, key: tuple[int, ...], entry: Any) -> Any:
        """Store `entry` unless another thread stored one first; returns the one kept."""
        with self._lock:
            kept = self._entries.get(key)
            if kept is not None:
                return kept
            self.misses += 1
            if len(self._entries) >= self.capacity:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = entry
            return entry

    def __len__(self) -> int:
        return len(self._entries)


def memo_for(compiled: CompiledRuleset) -> RulesetMemo:
    """The memo of `compiled`, created on first use and kept on the object itself, so it lives
    exactly as long as the compiled ruleset (a reload builds new ones with empty memos)."""
    memo = compiled.__dict__.get(_ATTRIBUTE)
    if memo is None:
        with _CREATE:
            memo = compiled.__dict__.get(_ATTRIBUTE)
            if memo is None:
                memo = RulesetMemo(compiled)
                compiled.__dict__[_ATTRIBUTE] = memo  # a cache beside the frozen fields
    return memo
