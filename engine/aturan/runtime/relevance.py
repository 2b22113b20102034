"""Coarser memo keys: a fact's class is left out of the key where no rule that could still fire
reads it.

A memo key (`runtime/memo.py`) holds one class per value a ruleset reads, so it fixes every
atom's truth; the engine's answer and the plan built from it depend on less: which rules fire,
and the atoms of the fired rules that made them match. A rule whose condition is false
whatever the facts outside a few *context* facts (an `all` with `request.type eq return` met
by a cancellation) cannot fire, so, for that context, the facts read only by such rules change
neither the engine's answer nor the plan. The key function then writes 0 in their place
(`mask`), so orders differing only there share one key and one engine call.

Exactness: a rule is dead in a context only when Kleene's three-valued reading of its
condition is false with the context facts' atoms known (each class fixes the truth of every
atom on its fact: that is how classes are made) and every other atom unknown; a rule that is
not dead keeps all its facts in the key. Dead rules do not fire, live ones see the same atom
truths, so the engine fires the same rules and `plan.plan` (which reads only fired rules'
atoms) builds the same plan. tests/runtime/test_memo_exact.py checks the memoised answer
against the engine's on every order, and a mask broken on purpose against the same.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..language.model import AllOf, Atom, Condition, Not, atoms_of
from ..language.operators import BY_NAME

# Context class combinations analysed per compiled ruleset (on the bundled rulesets 128 leave
# as few keys as 1,024 and load in a tenth of the time), and at most
MAX_CONTEXTS = 128
MAX_WORK = 50_000  # contexts x rules (the analysis runs when a ruleset is loaded)


@dataclass(frozen=True)
class Position:
    """One term of a memo key: the atoms reading its value, and for each class id the truth
    of each of those atoms (None: not known for every value of the class)."""

    atoms: tuple[Atom, ...]
    truths: dict[int, tuple[bool | None, ...]]


def truths_of(atoms: Sequence[Atom], representatives: Iterable[tuple[int, Any]]
              ) -> dict[int, tuple[bool | None, ...]]:
    """Class id -> each atom's truth, from (class id, a value of the class) pairs; a class
    whose representatives disagree on an atom, or one an operator cannot judge, knows None."""
    found: dict[int, list[bool | None]] = {}
    for class_id, value in representatives:
        row: list[bool | None] = []
        for atom in atoms:
            try:
                row.append(bool(BY_NAME[atom.op].holds(value, atom.value)))
            except (TypeError, ValueError, AttributeError):
                row.append(None)
        seen = found.get(class_id)
        found[class_id] = row if seen is None else [a if a == b else None
                                                    for a, b in zip(seen, row)]
    return {class_id: tuple(row) for class_id, row in found.items()}


def _reading(condition: Condition, known: Callable[[Atom], bool | None]) -> bool | None:
    """Kleene's reading: True, False, or None (depends on unknown atoms)."""
    if isinstance(condition, Atom):
        return known(condition)
    if isinstance(condition, Not):
        inner = _reading(condition.child, known)
        return None if inner is None else not inner
    results = [_reading(child, known) for child in condition.children]
    if isinstance(condition, AllOf):
        return False if False in results else (True if all(results) else None)
    return True if True in results else (None if None in results else False)


def masks(positions: Sequence[Position], conditions: Sequence[Condition]
          ) -> tuple[tuple[int, ...], dict[tuple[int, ...], tuple[int, ...]]] | None:
    """(context positions, context class ids -> 0/1 per position of the key: 1 where a rule
    still live in that context reads it), or None when no context leaves anything out."""
    where: dict[int, tuple[int, int]] = {}  # id(atom) -> (position, index among its atoms)
    for number, position in enumerate(positions):
        for index, atom in enumerate(position.atoms):
            where[id(atom)] = (number, index)
    reads: list[set[int]] = []  # the positions each rule reads
    for condition in conditions:
        rule_atoms = atoms_of(condition)
        if any(id(atom) not in where for atom in rule_atoms):
            return None  # an atom no key term reads: nothing is left out
        reads.append({where[id(atom)][0] for atom in rule_atoms})
    context = _context(positions, reads, min(MAX_CONTEXTS, MAX_WORK // max(len(reads), 1)))
    if not context:
        return None
    # each rule's reading depends only on the context positions it reads: judged once per
    # combination of those (a few), then looked up per context
    slot_of = {number: place for place, number in enumerate(context)}
    judged: list[tuple[Callable[[tuple[int, ...]], Any], dict[Any, bool]]] = []
    for condition, read in zip(conditions, reads):
        own = [number for number in context if number in read]
        project: Callable[[tuple[int, ...]], Any] = (
            operator.itemgetter(*[slot_of[n] for n in own]) if own else _nothing)
        dead: dict[Any, bool] = {}
        for classes in itertools.product(*(sorted(positions[n].truths) for n in own)):
            chosen = dict(zip(own, classes))

            def known(atom: Atom, chosen: dict[int, int] = chosen) -> bool | None:
                number, place = where[id(atom)]
                class_id = chosen.get(number)
                return None if class_id is None else positions[number].truths[class_id][place]
            dead[classes[0] if len(classes) == 1 else classes] = (
                _reading(condition, known) is False)
        judged.append((project, dead))
    bits = [sum(1 << number for number in read) for read in reads]
    always = sum(1 << number for number in context)
    table: dict[tuple[int, ...], tuple[int, ...]] = {}
    for classes in itertools.product(*(sorted(positions[n].truths) for n in context)):
        live = always
        for (project, dead), read_bits in zip(judged, bits):
            if not dead[project(classes)]:
                live |= read_bits
        table[classes] = tuple((live >> number) & 1 for number in range(len(positions)))
    if all(all(mask) for mask in table.values()):
        return None
    return context, table


def _nothing(classes: tuple[int, ...]) -> tuple[()]:
    return ()


def _context(positions: Sequence[Position], reads: list[set[int]], most: int
              ) -> tuple[int, ...]:
    """The positions read by the most rules, as many as fit in `most` combinations, among
    those whose every class knows every atom's truth."""
    candidates = [n for n, p in enumerate(positions)
                  if p.truths and all(None not in row for row in p.truths.values())]
    candidates.sort(key=lambda n: -sum(n in read for read in reads))
    chosen: list[int] = []
    for number in candidates:
        size = math.prod(len(positions[p].truths) for p in chosen + [number])
        if size <= most:
            chosen.append(number)
    return tuple(sorted(chosen))
