"""Model -> durable_rules definitions, in small named, pure stages.

Stages: `merge` (an overlay's rules over its base version's), `negation_normal_form` (push `not`
down to atoms, so absent facts behave as documented), `translate` (atoms -> the engine's JSON
conditions). Time operators compile to comparisons on derived integer facts: `age:<path>`, the
age in seconds of a timestamp at `now`, and `gap:<fact>:<of>`, the seconds from `of` to `fact`
(`operators.subject`), both computed by the evaluator per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..language import amounts
from ..language.catalogue import Catalogue, FactField, bundled_catalogue
from ..language.model import (
    DEFAULT_HOLIDAYS,
    PLACEHOLDER,
    AllOf,
    AnyOf,
    Atom,
    Condition,
    Effect,
    Not,
    Rule,
    RulesetVersion,
    atoms_of,
)
from ..language.operators import BY_NAME, subject

FACT_MARKER = "aturan:fact"  # only aturan's fact carries it; the engine's session state does not


@dataclass(frozen=True)
class CompiledRuleset:
    """What the evaluator runs: the effective rules and their engine definition.

    `engine_name` is unique per ruleset text (it carries the digests), so two versions, or an old
    and a reloaded copy, never share a name in the process-global engine."""

    ruleset: RulesetVersion
    base: RulesetVersion | None
    rules: tuple[Rule, ...]
    default: Effect
    default_messages: dict[str, str]
    definition: dict[str, Any]
    engine_name: str
    fact_paths: tuple[str, ...]  # plain facts the engine reads
    age_paths: tuple[str, ...]  # timestamps whose age the engine reads
    catalogue: Catalogue = field(default_factory=bundled_catalogue)  # the folder's
    gap_pairs: tuple[tuple[str, str], ...] = ()  # (fact, of): durations between two timestamps
    holidays: str = DEFAULT_HOLIDAYS  # which holidays refund due dates skip
    reads_request: bool = False  # a rule reads derived.request.* (computed only then)

    def rule_for(self, engine_rule: str) -> Rule:
        return self.rules[int(engine_rule[1:])]


def merge(ruleset: RulesetVersion, base: RulesetVersion | None) -> tuple[Rule, ...]:
    """Stage 1: an overlay's rules replace same-id base rules and add the rest."""
    if base is None:
        return ruleset.rules
    replaced = {rule.id for rule in ruleset.rules}
    return tuple(r for r in base.rules if r.id not in replaced) + ruleset.rules


def negation_normal_form(condition: Condition, negate: bool = False) -> Condition:
    """Stage 2: `not` only on atoms, expressed as the opposite operator or an absent fact.

    Every comparison is false on an absent fact, so not(fact eq v) is (fact absent) or
    (fact ne v); presence tests simply swap. The opposite operator is the table's `negation`."""
    if isinstance(condition, Not):
        return negation_normal_form(condition.child, not negate)
    if isinstance(condition, (AllOf, AnyOf)):
        children = tuple(negation_normal_form(c, negate) for c in condition.children)
        flip = isinstance(condition, AllOf) == negate  # De Morgan
        return AnyOf(children, condition.location) if flip else AllOf(children, condition.location)
    if not negate:
        return condition
    spec = BY_NAME[condition.op]
    opposite = Atom(condition.fact, spec.negation, condition.value, condition.location,
                    condition.text, condition.of)
    if spec.tests_presence:
        return opposite
    absent = tuple(Atom(fact, "absent", True, condition.location) for fact in condition.facts)
    return AnyOf(absent + (opposite,), condition.location)


def is_timestamp(fact: str, fields: Mapping[str, FactField] | None = None) -> bool:
    found = (bundled_catalogue().fields if fields is None else fields).get(fact)
    return found is not None and found.kind == "timestamp"


def engine_key(atom: Atom, fields: Mapping[str, FactField] | None = None) -> str:
    """Timestamps reach the engine only as their age in seconds, under `age:<path>`, and two
    timestamps as the seconds between them, under `gap:<fact>:<of>` (`operators.subject`)."""
    if atom.of is None and not is_timestamp(atom.fact, fields):
        return atom.fact
    return subject(atom.fact, atom.of, "timestamp")


def translate(condition: Condition, fields: Mapping[str, FactField] | None = None
              ) -> dict[str, Any]:
    """Stage 3: one NNF condition -> durable_rules JSON, each atom as its operator's engine
    comparison (`language.operators`); `fields`: the catalogue's (default bundled)."""
    if isinstance(condition, AllOf):
        return {"$and": [translate(c, fields) for c in condition.children]}
    if isinstance(condition, AnyOf):
        return {"$or": [translate(c, fields) for c in condition.children]}
    assert isinstance(condition, Atom), "translate expects negation normal form"
    spec = BY_NAME.get(condition.op)
    if spec is None:
        raise ValueError(f"unknown operator {condition.op}")
    key = engine_key(condition, fields)
    if spec.operand == "list":
        return {spec.engine_join: [_compare(spec.engine, key, v) for v in condition.value]}
    return _compare(spec.engine, key, 1 if spec.tests_presence else condition.value)


def _compare(engine: str, key: str, value: Any) -> dict[str, Any]:
    """One durable_rules comparison; equality ("") is written `{key: value}`."""
    return {engine: {key: value}} if engine else {key: value}


def _reads_request(ruleset: RulesetVersion, rules: tuple[Rule, ...]) -> bool:
    """Does any condition, refund amount or message read a derived.request.* fact?"""
    paths: set[str] = set()
    for rule in rules:
        paths.update(f for atom in atoms_of(rule.when) for f in atom.facts)
        paths.update(p for text in rule.messages.values() for p in PLACEHOLDER.findall(text))
    paths.update(p for text in ruleset.default_messages.values()
                 for p in PLACEHOLDER.findall(text))
    for effect in [rule.then for rule in rules] + [ruleset.default]:
        if effect.refund is not None and effect.refund.expression is not None:
            paths.update(amounts.facts_of(effect.refund.expression))
    return any(path.startswith("derived.request.") for path in paths)


def compile_ruleset(ruleset: RulesetVersion, base: RulesetVersion | None = None,
                    catalogue: Catalogue | None = None) -> CompiledRuleset:
    """Compile under a policy folder's `catalogue` (default bundled). A project catalogue's
    digest is part of the engine name: one ruleset text under two catalogues (an edit of
    aturan.yaml under `--watch`) may compile differently, and the engine is process-global."""
    catalogue = catalogue or bundled_catalogue()
    fields = catalogue.fields
    rules = merge(ruleset, base)
    definition = {
        f"r{index}": {"all": [{"m": {"$and": [{FACT_MARKER: 1},
                                              translate(negation_normal_form(rule.when),
                                                        fields)]}}]}
        for index, rule in enumerate(rules)}
    atoms = [atom for rule in rules for atom in atoms_of(negation_normal_form(rule.when))]
    facts = {atom.fact for atom in atoms if atom.of is None}
    gaps = sorted({(atom.fact, atom.of) for atom in atoms if atom.of is not None})
    ages = sorted(f for f in facts if is_timestamp(f, fields))
    plain = sorted(f for f in facts if not is_timestamp(f, fields))
    name = f"{ruleset.key}#{ruleset.digest[7:19]}"
    if base is not None:
        name += f"+{base.key}#{base.digest[7:19]}"
    if not catalogue.bundled:
        name += f"@{catalogue.digest[7:19]}"
    return CompiledRuleset(ruleset=ruleset, base=base, rules=rules, default=ruleset.default,
                           default_messages=ruleset.default_messages, definition=definition,
                           engine_name=name, fact_paths=tuple(plain), age_paths=tuple(ages),
                           catalogue=catalogue, gap_pairs=tuple(gaps),
                           reads_request=_reads_request(ruleset, rules),
                           holidays=ruleset.holidays or (base.holiday_set if base else
                                                         DEFAULT_HOLIDAYS))
