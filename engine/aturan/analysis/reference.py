"""A second, deliberately plain reading of a ruleset: which rules match the raw order facts.

It is the oracle of the differential tests and the source of why-not explanations, so it shares
nothing with the engine path except the ruleset model: it reads fact values straight from the facts
dict (its own path lookup and its own derived facts), does its own RFC 3339 arithmetic in whole
nanoseconds, and evaluates `all`/`any`/`not` exactly as written (no negation normal form, no
flattening, no engine). It is meant to be read and believed, not to be fast. The decision itself
is still assembled by `evaluate.combine`, the one place the combination rules live.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostic, Location, SelectionError
from ..language.catalogue import Catalogue, bundled_catalogue
from ..language.display import atom_text, between_text, code_and_label, text
from ..language.model import (
    AllOf,
    AnyOf,
    Atom,
    Condition,
    Not,
    Rule,
    atoms_of,
    format_duration,
)
from ..language.repository import RulesetCollection
from ..runtime.decision import Decision
from ..runtime.evaluate import Policies, combine
from ..runtime.facts import FlatFacts, flatten_facts
from ..runtime.selection import parse_pin
from ..suggest import did_you_mean
from .raw import (  # noqa: F401 - re-exported: the reference's reading of raw facts
    _DEFAULTS,
    _HAS_PRODUCT_TYPE,
    ABSENT,
    NS,
    _fields,
    _moment,
    instant_ns,
    lookup,
    now_ns,
    requested_units,
)
from .reference_effects import with_own_effects


def _same(actual: Any, expected: Any) -> bool:
    return type(actual) is type(expected) and actual == expected


def _older_than(actual: Any, expected: int, now: int) -> bool:
    return now - instant_ns(actual) >= expected * NS  # now - t >= d


def _within(actual: Any, expected: int, now: int) -> bool:
    return now - instant_ns(actual) < expected * NS  # now - t < d


# Each operator as docs/reference.md defines it, on a present fact (`actual` as sent, `now` in
# nanoseconds). Written out here, not taken from `language.operators`: this module is the
# oracle the operator table is tested against.
ATOM_TESTS: dict[str, Callable[[Any, Any, int], bool]] = {
    "eq": lambda actual, expected, now: _same(actual, expected),
    "ne": lambda actual, expected, now: not _same(actual, expected),
    "in": lambda actual, expected, now: any(_same(actual, v) for v in expected),
    "not_in": lambda actual, expected, now: not any(_same(actual, v) for v in expected),
    "lt": lambda actual, expected, now: actual < expected,
    "le": lambda actual, expected, now: actual <= expected,
    "gt": lambda actual, expected, now: actual > expected,
    "ge": lambda actual, expected, now: actual >= expected,
    "older_than": _older_than,
    "within": _within,
    "exists": lambda actual, expected, now: True,
    "absent": lambda actual, expected, now: False,
}


def atom_holds(atom: Atom, actual: Any, now: int) -> bool:
    """One test of one fact, as docs/reference.md defines it: on an absent fact only `absent`
    holds, otherwise the operator's entry of `ATOM_TESTS`."""
    test = ATOM_TESTS.get(atom.op)
    if test is None:
        raise ValueError(f"unknown operator {atom.op}")
    if actual is ABSENT:
        return atom.op == "absent"
    return test(actual, atom.value, now)


def between_holds(atom: Atom, facts: dict[str, Any]) -> bool:
    """A duration between two timestamps, `{fact: B, op: D, of: A}`, as docs/reference.md
    defines it: the operator's test of A with the instant B in place of `now` (B - A against
    D); false when either is absent."""
    later, earlier = lookup(facts, atom.fact), lookup(facts, atom.of or "")
    if later is ABSENT or earlier is ABSENT:
        return False
    return atom_holds(atom, earlier, instant_ns(later))


def holds(condition: Condition, facts: dict[str, Any], now: int) -> bool:
    if isinstance(condition, Atom):
        if condition.of is not None:
            return between_holds(condition, facts)
        return atom_holds(condition, lookup(facts, condition.fact), now)
    if isinstance(condition, Not):
        return not holds(condition.child, facts, now)
    if isinstance(condition, AllOf):
        return all(holds(child, facts, now) for child in condition.children)
    if isinstance(condition, AnyOf):
        return any(holds(child, facts, now) for child in condition.children)
    raise TypeError(f"not a condition: {condition!r}")


def matching_rules(rules: Sequence[Rule], facts: dict[str, Any]) -> set[int]:
    """Indices of the rules whose condition holds for the (already validated) raw facts."""
    now = now_ns(facts)
    return {index for index, rule in enumerate(rules) if holds(rule.when, facts, now)}


def _leaves(node: dict[str, Any], prefix: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            found.update(_leaves(value, path))
        elif value is not None and not isinstance(value, list):
            found[path] = value
    return found


def flat_view(facts: dict[str, Any], catalogue: Catalogue | None = None) -> FlatFacts:
    """The reference's own `FlatFacts` of facts that are already known to be valid: every leaf
    and derived fact by `lookup`, every timestamp parsed and aged by `instant_ns`. It is what
    `combine` reads to explain and to compute refunds, so a difference from
    `facts.flatten_facts` shows up in the decision too."""
    now = now_ns(facts)
    values = {path: value for path, value in _leaves(
        {k: v for k, v in facts.items() if k != "now"}, "").items()}
    values.update({path: lookup(facts, path) for path in
                   list(_HAS_PRODUCT_TYPE) + ["derived.digital_delivered", "derived.item_count"]})
    values.update({path: value for path, value in _DEFAULTS.items() if path not in values})
    fields = (catalogue or bundled_catalogue()).fields
    values.update({path: lookup(facts, path) for path in fields
                   if path.startswith("derived.request.")})
    ages: dict[str, int] = {}
    for path, field_ in fields.items():
        if field_.kind == "timestamp" and isinstance(values.get(path), str):
            text = values[path]
            values[path] = _moment(text)
            ages[path] = (now - instant_ns(text)) // NS  # floor, also for negative ages
    order = facts["order"]
    return FlatFacts(values=values, ages=ages,
                     now=_moment(facts.get("now") or facts["request"]["at"]),
                     order_id=order["id"], platform=order["platform"],
                     seller_policy=order["seller"]["policy"],
                     request_at=_moment(facts["request"]["at"]),
                     lines=order["items"], asked=facts["request"].get("items"))


def gap_seconds(facts: dict[str, Any], fact: str, of: str) -> int | None:
    """Whole seconds from `of` to `fact`, floored (negative when the fact came first)."""
    later, earlier = lookup(facts, fact), lookup(facts, of)
    if later is ABSENT or earlier is ABSENT:
        return None
    return (instant_ns(later) - instant_ns(earlier)) // NS


def decide(policies: Policies, facts: dict[str, Any], ruleset: str | None = None,
           lang: str | None = None) -> Decision:
    """`Policies.decide` with the reference interpreter in place of durable_rules and of
    `flatten_facts`. The facts must already be valid (run `facts.flatten_facts` or
    `Policies.decide` first): this path checks evaluation, not validation."""
    flat = flat_view(facts, policies.catalogue)
    compiled = policies.compiled_for(flat, ruleset)
    for rule in compiled.rules:  # the gaps explanations quote, by this module's arithmetic
        for atom in atoms_of(rule.when):
            if atom.of is not None:
                gap = gap_seconds(facts, atom.fact, atom.of)
                if gap is not None:
                    flat.gaps[f"gap:{atom.fact}:{atom.of}"] = gap
    decision = combine(compiled, flat, matching_rules(compiled.rules, facts), lang)
    return with_own_effects(decision, compiled, facts)


# ---------------------------------------------------------------------------------------------
# why-not: the same evaluation, kept as a tree of every condition with its expected and actual
# values, for a person asking why a rule did (not) fire.


@dataclass(frozen=True)
class Trace:
    """One node of a condition with its result: `kind` is all | any | not | atom."""

    kind: str
    holds: bool
    location: Location
    children: tuple[Trace, ...] = ()
    fact: str = ""
    op: str = ""
    expected: Any = None
    actual: Any = None  # the fact as sent (timestamps as text); None when absent
    age: str | None = None  # time operators: how long before (or "in …" after) now
    of: str | None = None  # a duration between two timestamps: the one it is measured from
    of_actual: Any = None  # ... as sent; None when absent
    gap: str | None = None  # ... and the duration from it to the fact ("-1h": the fact first)

    def to_dict(self) -> dict[str, Any]:
        if self.kind != "atom":
            return {"op": self.kind, "holds": self.holds, "line": self.location.line,
                    "conditions": [child.to_dict() for child in self.children]}
        data = {"fact": self.fact, "op": self.op, "expected": self.expected,
                "actual": self.actual, "holds": self.holds, "line": self.location.line}
        if self.age is not None:
            data["age"] = self.age
        if self.of is not None:
            data["of"], data["of_actual"] = self.of, self.of_actual
            if self.gap is not None:
                data["gap"] = self.gap
        return data


def _age(actual: Any, now: int) -> str:
    elapsed = now - instant_ns(actual)
    text = format_duration(abs(elapsed) // NS)
    return text if elapsed >= 0 else f"in {text}"


def trace(condition: Condition, facts: dict[str, Any], now: int) -> Trace:
    """Evaluate every node (no short cut), so a report shows all conditions, not the first."""
    if isinstance(condition, Atom) and condition.of is not None:
        actual, earlier = lookup(facts, condition.fact), lookup(facts, condition.of)
        gap = gap_seconds(facts, condition.fact, condition.of)
        return Trace("atom", between_holds(condition, facts), condition.location,
                     fact=condition.fact, op=condition.op, expected=condition.expected(),
                     actual=None if actual is ABSENT else actual, of=condition.of,
                     of_actual=None if earlier is ABSENT else earlier,
                     gap=None if gap is None else (format_duration(gap) if gap >= 0
                                                   else "-" + format_duration(-gap)))
    if isinstance(condition, Atom):
        actual = lookup(facts, condition.fact)
        shown = None if actual is ABSENT else actual
        age = (_age(actual, now) if condition.op in ("older_than", "within")
               and actual is not ABSENT else None)
        return Trace("atom", atom_holds(condition, actual, now), condition.location,
                     fact=condition.fact, op=condition.op, expected=condition.expected(),
                     actual=shown, age=age)
    if isinstance(condition, Not):
        child = trace(condition.child, facts, now)
        return Trace("not", not child.holds, condition.location, (child,))
    children = tuple(trace(child, facts, now) for child in condition.children)
    if isinstance(condition, AllOf):
        return Trace("all", all(c.holds for c in children), condition.location, children)
    return Trace("any", any(c.holds for c in children), condition.location, children)


@dataclass(frozen=True)
class WhyNot:
    """Why one rule did or did not fire for one order, next to the decision actually made."""

    rule: Rule
    ruleset: str
    condition: Trace
    decision: Decision
    role: str = field(default="")  # decided | overridden | added | not_matched

    @property
    def fired(self) -> bool:
        return self.condition.holds

    def to_dict(self) -> dict[str, Any]:
        winner = self.decision.explanation[0].rule if self.decision.explanation else "default"
        return {"rule": self.rule.id, "ruleset": self.ruleset, "priority": self.rule.priority,
                "fired": self.fired, "role": self.role,
                "source": {"file": self.rule.location.file, "line": self.rule.location.line},
                "decision": {"order_id": self.decision.order_id,
                             "outcome": self.decision.outcome, "decided_by": winner},
                "condition": self.condition.to_dict()}


def _role(rule: Rule, held: bool, decision: Decision) -> str:
    if not held:
        return "not_matched"
    if decision.explanation and decision.explanation[0].rule == rule.id:
        return "decided"
    if any(o.rule == rule.id for o in decision.overridden):
        return "overridden"
    return "added"


def why_not(policies: Policies, facts: dict[str, Any], rule_id: str, ruleset: str | None = None,
            decision: Decision | None = None) -> WhyNot:
    """Trace `rule_id` of the ruleset version that decides `facts`; raise `SelectionError` when
    that version has no such rule. `decision` (the engine's) is reused when the caller has it."""
    flat = flatten_facts(facts, policies.facts_reader)
    compiled = policies.compiled_for(flat, ruleset)
    decision = decision or policies.decide(facts, ruleset)
    rule = next((r for r in compiled.rules if r.id == rule_id), None)
    key = compiled.ruleset.key + (f" over {compiled.base.key}" if compiled.base else "")
    if rule is None:
        ids = [r.id for r in compiled.rules]
        raise SelectionError(Diagnostic("unknown-rule", f'{key} has no rule "{rule_id}"',
                                        Location(),
                                        hint=did_you_mean(rule_id, ids)))
    tree = trace(rule.when, facts, now_ns(facts))
    return WhyNot(rule, key, tree, decision, _role(rule, tree.holds, decision))


def known_rule(collection: RulesetCollection, rule_id: str, pin: str | None = None) -> None:
    """Raise `SelectionError` (with "Did you mean …?") when no loaded version that `pin` could
    select (any, unpinned) has `rule_id`: a misspelt `--why-not` is the caller's mistake, known
    before any order is read. (A rule of another version than the one deciding an order is
    still reported per order, by `why_not`.)"""
    name, version = parse_pin(pin) if pin else (None, None)
    versions = [rs for rs in collection.versions
                if name is None or (rs.name == name and version in (None, rs.version))]
    for overlay in [rs for rs in versions if rs.is_overlay]:
        versions += collection.bases_for(overlay)
    ids = sorted({rule.id for rs in versions for rule in rs.rules})
    if rule_id not in ids:
        where = f"{pin}" if pin else "any loaded ruleset"
        raise SelectionError(Diagnostic("unknown-rule", f'no rule "{rule_id}" in {where}',
                                        Location(), hint=did_you_mean(rule_id, ids)))


def _lines(node: Trace, depth: int, lang: str | None) -> list[str]:
    mark, pad = ("✔" if node.holds else "✘"), "  " * depth
    if node.kind == "atom" and node.of is not None:
        return [f"{pad}{mark} " + between_text(
            {"fact": node.fact, "op": node.op, "expected": node.expected, "of": node.of,
             "actual": node.actual, "of_actual": node.of_actual, "gap": node.gap}, lang)]
    if node.kind == "atom":
        return [f"{pad}{mark} "
                + atom_text(node.fact, node.op, node.expected, node.actual, node.age, lang=lang)]
    title = text({"all": "all_of", "any": "any_of", "not": "not"}[node.kind], lang)
    return [f"{pad}{mark} {title}:"] + [line for child in node.children
                                         for line in _lines(child, depth + 1, lang)]


def format_why_not(report: WhyNot, lang: str | None = None) -> list[str]:
    """Plain text lines (no colour markup) for a terminal or a log, the frame in `lang`."""
    rule, d = report.rule, report.decision
    decided_by = d.explanation[0].rule if d.explanation else "default"
    title = text("why_fired" if report.fired else "why_not_fired", lang, rule=rule.id)
    outcome = code_and_label("outcome", d.outcome, lang)
    return ([f"{title} ({report.ruleset}, {text('priority', lang, priority=rule.priority)})  "
             f"{rule.location.file}:{rule.location.line}",
             f"  {text('verdict_' + report.role, lang)}"]
            + _lines(report.condition, 2, lang)
            + [f"  {text('decision_by', lang, outcome=outcome, rule=decided_by)}"])
