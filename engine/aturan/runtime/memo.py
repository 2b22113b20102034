"""A bounded, thread-safe cache of what the engine decided, keyed by what a ruleset can see.

A rule's firing depends only on the truth values of its atoms, and an atom reads one value (a
fact, a timestamp's age, or the gap between two timestamps: `operators.measure`). So each value
a ruleset reads is mapped to a small class id such that two values in one class make every atom
on it agree: for enum/string/boolean facts, the constants an atom names, any other value and
absence; for integers, ages and gaps, the intervals between the points where an atom's truth
changes (`bisect`), and absence (for a gap: either timestamp absent). Values whose atoms all
answer alike share one id (their truth signature): `x eq 5` makes below, above and absent one
class. The tuple of class ids (the *key*) therefore fixes every atom's truth value, so
durable_rules gives one answer per key: it decides each key once, and the answer, with
everything derived from it that does not depend on fact values (`plan.Plan`), is reused for
every later order with that key.

A key leaves out (writes 0 for) the classes of facts that only rules already false in its
*context* read (`runtime/relevance.py`: a few facts read by most rules, such as the request's
type and the order's status, make many rules false whatever the rest says): such rules cannot
fire, so orders differing only there get one engine call and one plan. On a million sampled
tiktok_shop orders under tiktok_shop@2.0.0 that is 361 keys instead of about 13,000.

The cache is a pure cache: dropping any entry changes no result, only speed. A `Policies`
builds a `RuntimeCache` with one `RulesetMemo` per compiled ruleset it holds, so a memo lives
exactly as long as its rulesets (a reload builds new ones, with empty memos); each holds at
most `capacity` keys (`CAPACITY` unless the `Policies` is given another) and drops the least
recently used one to make room, so a process's memory does not grow with the number of orders
and keys that keep coming back stay. Reads take no lock (an `OrderedDict` lookup and
`move_to_end` are each atomic); writes take the memo's lock. `stats()` counts hits, misses and
evictions for the benchmark and `/metrics`.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..language.model import Atom, atoms_of
from ..language.operators import BY_NAME, ORDERED_OPS, cut_points, subject
from .compiler import CompiledRuleset
from .relevance import Position, masks, truths_of

Masks = tuple[tuple[int, ...], dict[tuple[int, ...], tuple[int, ...]]]

if TYPE_CHECKING:
    from .plan import Entry, Plan

# Keys per compiled ruleset, chosen from measurement (docs/performance.md, "The memo"): a
# million sampled tiktok_shop orders decided under tiktok_shop@2.0.0 met 4,470 distinct keys
# (0.45% misses from 8,192 keys up), 13,196 once partial requests came in (1.97% misses at
# 8,192), and 373 with keys masked by context (0.04%); a key holds about 1.6 kB (plan and
# explanation entries), so a full memo is about 13 MB, reached only by orders that do not
# repeat. `aturan.load(memo_capacity=...)`,
# `aturan serve --memo-capacity`.
CAPACITY = 8_192
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


class _NoConstant:
    """A value equal to no constant an atom names: the representative of `_table`'s default."""

    def __repr__(self) -> str:
        return "other"


_NO_CONSTANT = _NoConstant()


class _Signatures:
    """Class ids by truth signature: two values on which every atom on the fact agrees get
    one id, however many of the finer classes (constants, intervals) lie between them, so
    `x eq 5` makes below 5 and above 5 one class and `status in [paid, to_ship]` makes paid
    and to_ship one. Coarser keys, the same answer per key: fewer engine calls and plans."""

    def __init__(self, atoms: list[Atom]):
        self.atoms = atoms
        self.ids: dict[tuple[bool, ...], int] = {}

    def of(self, actual: Any) -> int:
        truth = tuple(bool(BY_NAME[a.op].holds(actual, a.value)) for a in self.atoms)
        return self.ids.setdefault(truth, len(self.ids))


def _table(atoms: list[Atom]) -> tuple[dict[Hashable, int], int]:
    """value -> class for a fact tested only by (in)equality and presence, and the class of a
    value equal to no constant (the `dict.get` default); absent is the value None. Constants
    are classed by their truth signature when every atom can judge a stand-in for "any other
    value", else each constant is a class of its own (absent 0, other 1, as before)."""
    try:
        signatures = _Signatures(atoms)
        table: dict[Hashable, int] = {None: signatures.of(None)}
        other = signatures.of(_NO_CONSTANT)
        for atom in atoms:
            for value in BY_NAME[atom.op].values(atom.value):
                if value not in table:
                    table[value] = signatures.of(value)
        return table, other
    except (TypeError, ValueError, AttributeError):  # an operator that cannot judge `other`
        table = {None: 0}
        for atom in atoms:
            for value in BY_NAME[atom.op].values(atom.value):
                table.setdefault(value, len(table) + 1)
        return table, _OTHER


def _intervals(atoms: list[Atom], cuts: tuple[float, ...]) -> tuple[int, ...] | None:
    """interval index (`bisect_right(cuts, value)`, the last one for an absent fact) -> class
    by truth signature; None when no two intervals share one (the index is the class)."""
    points = [int(c) for c in cuts[:-1]]
    representatives: list[int | None] = [points[0] - 1 if points else 0, *points, None]
    signatures = _Signatures(atoms)
    classes = tuple(signatures.of(value) for value in representatives)
    return None if len(set(classes)) == len(classes) else classes


class RulesetMemo:
    """The key function and the caches of one compiled ruleset: the plan per key, and the
    explanation entries plans are built from (`plan.plan`'s `entries`)."""

    def __init__(self, compiled: CompiledRuleset, capacity: int | None = None):
        self.compiled = compiled
        self.capacity = capacity or CAPACITY
        if self.capacity < 1:
            raise ValueError(f"a memo holds at least one key, not {self.capacity}")
        self._lock = threading.Lock()
        self.plans: OrderedDict[tuple[int, ...], Plan] = OrderedDict()
        self._touch = self.plans.move_to_end
        self.entries: dict[Any, Entry] = {}
        self.hits = 0  # counted without the lock: threads racing may lose an increment
        self.misses = 0
        self.evictions = 0
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
        fields = compiled.catalogue.fields
        tables: list[tuple[str, tuple[dict[Hashable, int], int]]] = []
        ordered: list[tuple[str, tuple[float, ...], tuple[int, ...] | None]] = []
        ages: list[tuple[str, tuple[float, ...], tuple[int, ...] | None]] = []
        gaps: list[tuple[str, tuple[float, ...], tuple[int, ...] | None]] = []
        for key in sorted(gap_atoms):
            cuts = _boundaries(gap_atoms[key])
            if cuts is None:
                raise ValueError(f"{key}: a duration between timestamps with a non-duration")
            gaps.append((key, cuts, _intervals(gap_atoms[key], cuts)))
        for fact in sorted(by_fact):
            atoms = by_fact[fact]
            field = fields.get(fact)
            cuts = _boundaries(atoms)
            if field is not None and field.kind == "timestamp":  # the engine reads its age
                if cuts is None:
                    raise ValueError(f"{fact}: a timestamp compared with a non-duration")
                ages.append((fact, cuts, _intervals(atoms, cuts)))
            elif cuts is not None and (field is None or field.kind == "integer" or any(
                    a.op in ORDERED_OPS for a in atoms)):
                ordered.append((fact, cuts, _intervals(atoms, cuts)))
            elif any(a.op in ORDERED_OPS for a in atoms):
                raise ValueError(f"{fact}: ordered comparison of non-integers")
            else:
                tables.append((fact, _table(atoms)))
        self.facts = len(tables) + len(ordered) + len(ages) + len(gaps)
        # facts no live rule reads left out of the key, per context (`runtime/relevance.py`)
        self.masks = masks(_positions(tables, ordered, ages, gaps, by_fact, gap_atoms),
                           [rule.when for rule in compiled.rules])
        self.key_of = _key_function(tables, ordered, ages, gaps, masked=self.masks)
        # the same key, computing on the way the ages of every timestamp the ruleset reads
        # (`facts.add_ages`, fused: `Policies.decide` calls this instead of both)
        self.ages_and_key = _key_function(tables, ordered, ages, gaps, compiled.age_paths,
                                          self.masks)

    def get(self, key: tuple[int, ...]) -> Plan | None:
        """The plan stored under `key`, now the most recently used, or None."""
        found = self.plans.get(key)
        if found is not None:
            self.hits += 1
            try:
                self._touch(key)
            except KeyError:  # evicted by another thread since: it is still a valid plan
                pass
        return found

    def put(self, key: tuple[int, ...], plan: Plan) -> Plan:
        """Store `plan` unless another thread stored one first; returns the one kept."""
        with self._lock:
            kept = self.plans.get(key)
            if kept is not None:
                return kept
            self.misses += 1
            while len(self.plans) >= self.capacity:
                self.plans.popitem(last=False)  # the least recently used
                self.evictions += 1
            self.plans[key] = plan
            return plan

    def stats(self) -> MemoStats:
        return MemoStats(len(self.plans), self.capacity, self.hits, self.misses, self.evictions)

    def __len__(self) -> int:
        return len(self.plans)


@dataclass(frozen=True)
class MemoStats:
    """What a memo (or all of a `Policies`' memos, summed) holds and has met."""

    keys: int
    capacity: int
    hits: int
    misses: int
    evictions: int

    def __add__(self, other: MemoStats) -> MemoStats:
        return MemoStats(self.keys + other.keys, self.capacity + other.capacity,
                         self.hits + other.hits, self.misses + other.misses,
                         self.evictions + other.evictions)


_INF = float("inf")


def _positions(tables: list[tuple[str, tuple[dict[Hashable, int], int]]],
               ordered: list[tuple[str, tuple[float, ...], tuple[int, ...] | None]],
               ages: list[tuple[str, tuple[float, ...], tuple[int, ...] | None]],
               gaps: list[tuple[str, tuple[float, ...], tuple[int, ...] | None]],
               by_fact: dict[str, list[Atom]], gap_atoms: dict[str, list[Atom]]
               ) -> list[Position]:
    """The key's terms, in its order, as `relevance.Position`s: each class with a value of it
    (a constant, "other", absent; an interval's lowest point, absent)."""
    found = []
    for fact, (table, other) in tables:
        representatives = [(cls, value) for value, cls in table.items()]
        found.append(Position(tuple(by_fact[fact]), truths_of(
            by_fact[fact], representatives + [(other, _NO_CONSTANT)])))
    for group, atoms_by in ((ordered, by_fact), (ages, by_fact), (gaps, gap_atoms)):
        for name, cuts, classes in group:
            points = [int(c) for c in cuts[:-1]]
            values: list[int | None] = [points[0] - 1 if points else 0, *points, None]
            found.append(Position(tuple(atoms_by[name]), truths_of(atoms_by[name], [
                (classes[i] if classes is not None else i, value)
                for i, value in enumerate(values)])))
    return found


def _key_function(tables: list[tuple[str, tuple[dict[Hashable, int], int]]],
                  ordered: list[tuple[str, tuple[float, ...], tuple[int, ...] | None]],
                  ages: list[tuple[str, tuple[float, ...], tuple[int, ...] | None]],
                  gaps: list[tuple[str, tuple[float, ...], tuple[int, ...] | None]],
                  age_paths: tuple[str, ...] | None = None,
                  masked: Masks | None = None) -> Callable[..., tuple[int, ...]]:
    """The key as one tuple display, one term per fact: a third cheaper than looping. The
    source holds generated names only; fact paths, tables, cuts and interval classes are
    passed as constants (nothing from a ruleset file becomes code).

    Without `age_paths`: `key(values, ages, gaps)`. With them: `key(values, ages, gaps,
    texts, now, now_text)`, which first fills `ages` for those paths exactly as
    `facts.add_ages` does (the same wall-clock shortcut for whole seconds in now's offset,
    `facts.exact_age` otherwise) and reads the key's ages from its locals."""
    names: dict[str, Any] = {"bisect_right": bisect_right, "NAN": float("nan")}
    terms = []
    for i, (path, (table, other)) in enumerate(tables):
        names[f"P{i}"], names[f"T{i}"] = path, table
        terms.append(f"T{i}.get(get(P{i}), {int(other)})")
    local = {} if age_paths is None else {path: f"a{i}" for i, path in enumerate(age_paths)}
    for prefix, lookup, found in (("Q", "get", ordered), ("A", "age", ages), ("G", "gap", gaps)):
        for i, (path, cuts, classes) in enumerate(found):
            names[f"{prefix}{i}"], names[f"{prefix}C{i}"] = path, cuts
            read = local.get(path) if prefix == "A" else None
            term = f"bisect_right({prefix}C{i}, {read or f'{lookup}({prefix}{i}, NAN)'})"
            if classes is not None:
                names[f"{prefix}S{i}"] = classes
                term = f"{prefix}S{i}[{term}]"
            terms.append(term)
    lines = ["    get, age, gap = values.get, ages.get, gaps.get"]
    if age_paths is None:
        head = "def key(values, ages, gaps):"
    else:
        from .facts import exact_age
        names["EXACT_AGE"] = exact_age
        head = "def key(values, ages, gaps, texts, now, now_text):"
        if age_paths:
            lines += [
                "    whole = '.' not in now_text and now_text[-6] in '+-'",
                "    if whole:",
                "        offset = now_text[-6:]",
                "        day = now.toordinal()",
                "        second = now.hour * 3600 + now.minute * 60 + now.second"]
        for i, path in enumerate(age_paths):
            names[f"Z{i}"] = path
            lines += [
                f"    t = texts.get(Z{i})",
                "    if t is None:",
                f"        a{i} = NAN",
                "    else:",
                f"        m = values[Z{i}]",
                "        if whole and len(t) == 25 and t.endswith(offset):",
                f"            a{i} = ((day - m.toordinal()) * 86400 + second",
                "                  - m.hour * 3600 - m.minute * 60 - m.second)",
                "        else:",
                f"            a{i} = EXACT_AGE(now, now_text, m, t)",
                f"        ages[Z{i}] = a{i}"]
    if masked is None:
        lines.append(f"    return ({''.join(term + ', ' for term in terms)})")
    else:  # 0 for the terms no live rule of the context reads (`runtime/relevance.py`):
        # the context's terms first, then each other term only where the mask keeps it
        context, by_context = masked
        names["MASKS"] = {classes: mask for classes, mask in by_context.items()
                          if not all(mask)}
        lines += [f"    c{n} = {terms[n]}" for n in context]
        plain = [f"c{n}" if n in context else term for n, term in enumerate(terms)]
        kept = [f"c{n}" if n in context else f"({term} if mk[{n}] else 0)"
                for n, term in enumerate(terms)]
        lines += [f"    mk = MASKS.get(({''.join(f'c{n}, ' for n in context)}))",
                  "    if mk is None:",
                  f"        return ({''.join(term + ', ' for term in plain)})",
                  f"    return ({''.join(term + ', ' for term in kept)})"]
    source = "\n".join([head, *lines, ""])
    namespace = {**names, "__builtins__": {"len": len}}
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

    def stats(self) -> MemoStats:
        """Keys, capacity, hits, misses and evictions of all the memos together."""
        total = MemoStats(0, 0, 0, 0, 0)
        for memo in self._memos.values():
            total = total + memo.stats()
        return total
