"""A bounded, thread-safe cache of what the engine decided, keyed by what a ruleset can see.

A rule's firing depends only on the truth values of its atoms, and an atom reads one fact. So
each fact a ruleset reads is mapped to a small class id such that two values in one class make
every atom on that fact agree: for enum/string/boolean facts, each constant an atom names is its
own class and every other value shares one; for integers and ages, the constants cut the number
line into points and open intervals (`bisect`); absent is a class of its own. The tuple of class ids (the
*key*) therefore fixes every atom's truth value, so durable_rules gives one answer per key: it
decides each key once, and the answer, with everything derived from it that does not depend on
fact values (`plan.Plan`), is reused for every later order with that key.

The cache is a pure cache: dropping any entry changes no result, only speed. Each compiled
ruleset has its own (`memo_for`), capped at `CAPACITY` keys (oldest dropped first), so a
process's memory does not grow with the number of orders. Reads take no lock (a dict lookup is
atomic); writes take the memo's lock.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from itertools import repeat
from typing import Any, Hashable

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


def _cuts(constants: tuple[int, ...]) -> tuple[float, ...]:
    """Boundaries for `bisect_right`: each constant c and c + 1 (so the integer c is a class of
    its own), then +inf. An integer lands below +inf; the NaN that stands for an absent fact
    compares false with everything and lands past the end, a class of its own."""
    return tuple(sorted({b for c in constants for b in (c, c + 1)})) + (_INF,)


def _table(atoms: list[Atom]) -> dict[Hashable, int]:
    """value -> class for a fact tested only by (in)equality and presence: absent (None) is 0,
    a value equal to no constant gets `_OTHER` (from `dict.get`), each constant its own."""
    table: dict[Hashable, int] = {None: 0}
    for atom in atoms:
        if atom.op in ("exists", "absent"):
            continue
        for value in atom.value if isinstance(atom.value, tuple) else (atom.value,):
            table.setdefault(value, len(table) + 1)
    return table


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
        tables: list[tuple[str, dict[Hashable, int]]] = []
        ordered: list[tuple[str, tuple[float, ...]]] = []
        ages: list[tuple[str, tuple[float, ...]]] = []
        for fact in sorted(by_fact):
            atoms = by_fact[fact]
            field = fields.get(fact)
            constants = _numeric(atoms)
            if field is not None and field.kind == "timestamp":  # the engine reads its age
                if constants is None:
                    raise ValueError(f"{fact}: a timestamp compared with a non-duration")
                ages.append((fact, _cuts(constants)))
            elif constants is not None and (field is None or field.kind == "integer" or any(
                    a.op in ("lt", "le", "gt", "ge") for a in atoms)):
                ordered.append((fact, _cuts(constants)))
            elif any(a.op in ("lt", "le", "gt", "ge") + TIME_OPS for a in atoms):
                raise ValueError(f"{fact}: ordered comparison of non-integers")
            else:
                tables.append((fact, _table(atoms)))
        self._table_paths = tuple(path for path, _ in tables)
        self._tables = tuple(table for _, table in tables)
        self._value_paths = tuple(path for path, _ in ordered)
        self._value_cuts = tuple(cuts for _, cuts in ordered)
        self._age_paths = tuple(path for path, _ in ages)
        self._age_cuts = tuple(cuts for _, cuts in ages)

    def key(self, facts: FlatFacts) -> tuple[int, ...]:
        """The class of every fact the ruleset reads (see the module docstring); built with
        `map` over C functions, as it runs for every decision."""
        values, ages = facts.values, facts.ages
        return (*map(_get, self._tables, map(values.get, self._table_paths), _OTHERS),
                *map(bisect_right, self._value_cuts, map(values.get, self._value_paths, _NANS)),
                *map(bisect_right, self._age_cuts, map(ages.get, self._age_paths, _NANS)))

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


_get = dict.get
_INF = float("inf")
_NANS = repeat(float("nan"))  # the stand-in for an absent number (see `_cuts`)
_OTHERS = repeat(_OTHER)


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
