"""aturan's Python reading of conditions: whether an atom holds (`holds`) and whether a
condition is satisfied (`satisfied`) for flat facts.

The engine decides which rules fire; this reading explains them (`plan` picks the atoms that
made a fired rule match) and checks the engine in tests. It runs for fired rules alone, so it
costs nothing for rules that did not match.
"""

from __future__ import annotations

from typing import Any

from ..language.model import AllOf, Atom, Condition, Not
from .facts import FlatFacts


def actual_value(atom: Atom, facts: FlatFacts) -> Any:
    if atom.fact in facts.ages:
        return facts.ages[atom.fact]
    return facts.values.get(atom.fact)


def holds(atom: Atom, facts: FlatFacts) -> bool:
    """True when the atom is satisfied; every comparison is false on an absent fact."""
    value = actual_value(atom, facts)
    op = atom.op
    if op == "exists":
        return value is not None
    if op == "absent":
        return value is None
    if value is None:
        return False
    if op == "eq":
        return value == atom.value
    if op == "ne":
        return value != atom.value
    if op == "in":
        return value in atom.value
    if op == "not_in":
        return value not in atom.value
    if op in ("lt", "within"):
        return value < atom.value
    if op == "le":
        return value <= atom.value
    if op == "gt":
        return value > atom.value
    if op in ("ge", "older_than"):
        return value >= atom.value
    raise ValueError(f"unknown operator {op}")


def satisfied(condition: Condition, facts: FlatFacts) -> bool:
    if isinstance(condition, Atom):
        return holds(condition, facts)
    if isinstance(condition, Not):
        return not satisfied(condition.child, facts)
    if isinstance(condition, AllOf):
        return all(satisfied(c, facts) for c in condition.children)
    return any(satisfied(c, facts) for c in condition.children)
