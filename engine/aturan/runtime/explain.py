"""Explanations as data: which atoms of a rule held for these facts, with expected and actual
values, and the rule's message rendered in English and Indonesian.

`holds` is aturan's Python reading of one atom: the predicate of its operator in
`language.operators`. The engine decides which rules fire; this module only explains them, and
`because` is computed for fired rules alone, so it costs nothing for rules that did not match.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..language.model import PLACEHOLDER, AllOf, AnyOf, Atom, Condition, Not, format_duration
from ..language.operators import BY_NAME
from .facts import JAKARTA, FlatFacts


def actual_value(atom: Atom, facts: FlatFacts) -> Any:
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


def _shown(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def atom_report(atom: Atom, facts: FlatFacts, negated: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {"fact": atom.fact, "op": atom.op, "expected": atom.expected(),
                            "actual": _shown(facts.values.get(atom.fact))}
    if atom.fact in facts.ages:
        item["age"] = format_duration(abs(facts.ages[atom.fact]))
        if facts.ages[atom.fact] < 0:
            item["age"] = "in " + item["age"]
    if negated:
        item["negated"] = True
    return item


def because(condition: Condition, facts: FlatFacts, negated: bool = False
            ) -> list[dict[str, Any]]:
    """The atoms that make a satisfied condition true (all of an `all`, the true branches of an
    `any`); atoms under `not` are reported with `negated: true`."""
    if isinstance(condition, Atom):
        return [atom_report(condition, facts, negated)]
    if isinstance(condition, Not):
        return because(condition.child, facts, not negated)
    children = condition.children
    if isinstance(condition, AnyOf) != negated:  # an `any`, or a negated `all`
        wanted = not negated
        children = tuple(c for c in children if satisfied(c, facts) == wanted)
    return [item for child in children for item in because(child, facts, negated)]


def placeholder_text(path: str, facts: FlatFacts) -> str:
    """How `{path}` reads in a message: timestamps in WIB, money as Rp, absent as a dash."""
    if path == "now":
        return facts.now.astimezone(JAKARTA).isoformat()
    raw = facts.values.get(path)
    if raw is None:
        return "—"
    if isinstance(raw, datetime):
        return raw.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M WIB")
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, int) and path.startswith("order.amounts"):
        return f"Rp{raw:,}".replace(",", ".")
    return str(raw)


def render(template: str, facts: FlatFacts) -> str:
    """Substitute {fact.path} with the fact's value; no expression is ever evaluated."""
    return PLACEHOLDER.sub(lambda match: placeholder_text(match.group(1), facts), template)


def messages(templates: dict[str, str], facts: FlatFacts, lang: str | None) -> dict[str, str]:
    langs = [lang] if lang else sorted(templates)
    return {code: render(templates[code], facts) for code in langs if code in templates}
