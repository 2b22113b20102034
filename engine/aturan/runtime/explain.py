"""aturan's Python reading of conditions: whether an atom holds (`holds`) and whether a
condition is satisfied (`satisfied`) for flat facts.

`holds` reads one atom through the predicate of its operator in `language.operators`. The
engine decides which rules fire; this reading explains them (`plan` picks the atoms that made a
fired rule match) and checks the engine in tests. It runs for fired rules alone, so it costs
nothing for rules that did not match.
"""

from __future__ import annotations

from typing import Any

from ..language.model import AllOf, Atom, Condition, Not
from ..language.operators import BY_NAME
from .facts import FlatFacts, gap_between


def actual_value(atom: Atom, facts: FlatFacts) -> Any:
    """What the atom's operator is given (`operators.measure`): the gap in seconds from `of`
    to the fact, a timestamp's age at `now`, or the fact's value; None when absent."""
    if atom.of is not None:
        return gap_between(facts, atom.fact, atom.of)
    if atom.fact in facts.ages:
        return facts.ages[atom.fact]
    return facts.values.get(atom.fact)


def holds(atom: Atom, facts: FlatFacts) -> bool:
    """True when the atom is satisfied (its operator's `holds` in `language.operators`); every
    comparison is false on an absent fact."""
    return BY_NAME[atom.op].holds(actual_value(atom, facts), atom.value)


def satisfied(condition: Condition, facts: FlatFacts) -> bool:
    if isinstance(condition, Atom):
        return holds(condition, facts)
    if isinstance(condition, Not):
        return not satisfied(condition.child, facts)
    if isinstance(condition, AllOf):
        return all(satisfied(c, facts) for c in condition.children)
    return any(satisfied(c, facts) for c in condition.children)
