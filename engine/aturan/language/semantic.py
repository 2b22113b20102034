"""Checks a ruleset needs beyond its JSON Schema; each yields located Diagnostics.

Per file: fact paths exist, operators suit the fact's type, values have the fact's type and enum,
durations parse, rule ids are unique, refunds are consistent, equal-priority deciding rules cannot
disagree. Across files: file and folder names match, effective ranges of one ruleset do not overlap,
and seller overlays neither replace nor outrank a `final` platform rule.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..errors import Diagnostic, Location
from ..suggest import did_you_mean
from . import amount_check
from .catalogue import Catalogue, FactField, bundled_catalogue
from .model import (
    MAX_DURATION,
    PLACEHOLDER,
    TIME_OPS,
    AllOf,
    AnyOf,
    Atom,
    Condition,
    Effect,
    Not,
    Rule,
    RulesetVersion,
    atoms_of,
    format_duration,
)
from .operators import BY_NAME, OPERATORS_BY_KIND, TABLE, cut_points


def _value_matches(kind: str, value: Any) -> bool:
    if kind in ("enum", "string"):
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return False


Fields = Mapping[str, FactField]


def _fields(fields: Fields | None) -> Fields:
    return bundled_catalogue().fields if fields is None else fields


def check_atom(atom: Atom, fields: Fields | None = None) -> Iterator[Diagnostic]:
    """An atom against the catalogue's `fields` (default: the bundled ones)."""
    fields = _fields(fields)
    field = fields.get(atom.fact)
    if field is None:
        hint = did_you_mean(atom.fact, fields)
        yield Diagnostic("unknown-fact", f'unknown fact path "{atom.fact}"', atom.location,
                         hint=hint or "See docs/reference.md for the fact paths (a policy "
                         "folder's own: its aturan.yaml).")
        return
    if atom.of is not None:
        yield from _check_of(atom, fields)
    allowed = OPERATORS_BY_KIND[field.kind]
    if atom.op not in allowed:
        yield Diagnostic("bad-operator",
                         f'operator "{atom.op}" does not apply to {field.kind} fact "{atom.fact}"; '
                         f"use one of: {', '.join(allowed)}", atom.location)
        return
    if atom.op in TIME_OPS:
        if atom.value is None:
            yield Diagnostic("bad-duration", f'"{atom.fact}" {atom.op}: duration is not '
                             'well-formed; write e.g. 48h, 2d, 1h30m, 0s', atom.location)
        elif atom.value > MAX_DURATION:
            shown = atom.text if len(atom.text) <= 32 else atom.text[:16] + "…"  # not 4,000 digits
            yield _too_long(f'"{atom.fact}" {atom.op}: {shown}', atom.location)
        return
    for value in BY_NAME[atom.op].values(atom.value):  # none for a presence test
        if not _value_matches(field.kind, value):
            yield Diagnostic("bad-value-type",
                             f'"{atom.fact}" is a {field.kind} fact; {value!r} is a '
                             f"{type(value).__name__}", atom.location)
        elif field.enum and value not in field.enum:
            hint = did_you_mean(value, field.enum)
            yield Diagnostic("bad-enum-value",
                             f'"{value}" is not a value of "{atom.fact}" '
                             f"(one of: {', '.join(map(str, field.enum))})", atom.location,
                             hint=hint)


def _too_long(what: str, location: Location) -> Diagnostic:
    return Diagnostic("duration-too-long", f"{what} is longer than any two instants can be apart "
                      f"(timestamps are in the years 1900-2999), so it could never decide "
                      f"anything; write at most {format_duration(MAX_DURATION)}", location)


def _check_of(atom: Atom, fields: Fields) -> Iterator[Diagnostic]:
    """`of` names a second timestamp, for a duration operator on a timestamp fact."""
    assert atom.of is not None
    if not BY_NAME[atom.op].between:
        between = ", ".join(op.name for op in TABLE if op.between)
        yield Diagnostic("bad-of", f'`of` measures a duration between two timestamps; it goes '
                         f'with {between}, not "{atom.op}"', atom.location)
        return
    other = fields.get(atom.of)
    if other is None:
        yield Diagnostic("unknown-fact", f'unknown fact path "{atom.of}" (in `of`)',
                         atom.location, hint=did_you_mean(atom.of, fields)
                         or "See docs/reference.md for the fact paths.")
    elif other.kind != "timestamp":
        yield Diagnostic("bad-of", f'`of: {atom.of}` must name a timestamp; it is a '
                         f"{other.kind} fact", atom.location)
    elif atom.of == atom.fact:
        yield Diagnostic("bad-of", f'"{atom.fact}" {atom.op} ... of itself is always 0s: '
                         "`of` names another timestamp", atom.location)


class _Other:
    """A string no rule names: equal to none of the constants."""

    def __repr__(self) -> str:
        return "other"


_OTHER = _Other()


def _top_atoms(condition: Condition) -> list[tuple[Atom, bool]]:
    """(atom, negated) for atoms that must hold at the top level of a condition (its `all`)."""
    parts = condition.children if isinstance(condition, AllOf) else (condition,)
    found: list[tuple[Atom, bool]] = []
    for part in parts:
        if isinstance(part, Atom):
            found.append((part, False))
        elif isinstance(part, Not) and isinstance(part.child, Atom):
            found.append((part.child, True))
    return found


def _probes(kind: str, atoms: tuple[Atom, ...], enum: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """One present value of every class the atoms tell apart (a class: values every atom
    answers alike), from the operator table: below and at each cut for integers and ages, the
    enum's values, or the constants named plus one other string. None: no such list (an
    operand of the wrong type, which `check_atom` reports)."""
    if kind in ("integer", "timestamp"):
        cuts = cut_points(atoms)
        if cuts is None:
            return None
        return (cuts[0] - 1,) + cuts if cuts else (0,)
    if kind == "enum":
        return enum
    if kind == "boolean":
        return (False, True)
    named = [v for a in atoms for v in BY_NAME[a.op].values(a.value)]
    return tuple(dict.fromkeys(named)) + (_OTHER,)


def _atoms_exclude(a: Atom, a_negated: bool, b: Atom, b_negated: bool,
                   fields: Fields | None = None) -> bool:
    """No order satisfies both atoms (on one fact): exact, by trying one value of every class
    the two atoms tell apart, and absence. False when an atom does not fit its fact."""
    field = _fields(fields).get(a.fact)
    if field is None or any(x.op not in OPERATORS_BY_KIND[field.kind] for x in (a, b)):
        return False
    first, second = BY_NAME[a.op].holds, BY_NAME[b.op].holds
    if first(None, a.value) != a_negated and second(None, b.value) != b_negated:
        return False  # both admit an absent fact
    probes = _probes(field.kind, (a, b), field.enum)
    if probes is None:
        return False
    return not any(first(v, a.value) != a_negated and second(v, b.value) != b_negated
                   for v in probes)


def obviously_disjoint(a: Condition, b: Condition, fields: Fields | None = None) -> bool:
    """True when no order can satisfy both: two top-level atoms on one fact exclude each other.

    A cheap, sound test (it never claims disjointness wrongly): exact for each pair of atoms,
    blind to everything else (several atoms together, `any`); `aturan lint` does the exact one."""
    right = _top_atoms(b)
    return any(x.fact == y.fact and x.of == y.of and _atoms_exclude(x, xn, y, yn, fields)
               for x, xn in _top_atoms(a) for y, yn in right)


def check_conflicts(rules: Iterable[Rule], fields: Fields | None = None
                    ) -> Iterator[Diagnostic]:
    """Equal-priority deciding rules with different effects that may match the same order: which
    one decides would depend on their order in the file."""
    by_priority: dict[int, list[Rule]] = {}  # only equal priorities can conflict: no n² scan
    for rule in rules:
        if rule.decides:
            by_priority.setdefault(rule.priority, []).append(rule)
    pairs = ((first, second) for group in by_priority.values()
             for i, first in enumerate(group) for second in group[i + 1:])
    for first, second in pairs:
        if first.then != second.then and not obviously_disjoint(first.when, second.when,
                                                                   fields):
            if first.then.outcome != second.then.outcome:
                pair = (f'"{first.id}" ({first.then.outcome}) and "{second.id}" '
                        f"({second.then.outcome})")
            else:
                pair = (f'"{first.id}" and "{second.id}" (both {first.then.outcome}, with '
                        "different refunds, penalties or next steps)")
            yield Diagnostic(
                "priority-conflict",
                f"rules {pair} have the same priority {first.priority}; when both match, "
                "neither can win", second.location,
                hint=f"Give one of them a different priority (line {first.location.line}).")


def check_ruleset(rs: RulesetVersion, catalogue: Catalogue | None = None) -> list[Diagnostic]:
    """The per-file checks, against a policy folder's effective catalogue (default bundled)."""
    catalogue = catalogue or bundled_catalogue()
    fields = catalogue.fields
    found: list[Diagnostic] = []
    seen: dict[str, Rule] = {}
    for rule in rs.rules:
        if rule.id in seen:
            found.append(Diagnostic("duplicate-rule-id",
                                    f'rule id "{rule.id}" is already used at line '
                                    f"{seen[rule.id].location.line}", rule.location))
        seen.setdefault(rule.id, rule)
        for atom in atoms_of(rule.when):
            found.extend(check_atom(atom, fields))
        found.extend(_check_effect(rule.then, rule.location, rule.decides))
        found.extend(_check_effective_at(rule.then, rule.location, rule.when, fields))
        found.extend(_check_amount(rule.then, rule.location, rule.when, fields))
        found.extend(_check_next_steps(rule.then, rule.location, catalogue.next_steps))
        found.extend(check_placeholders(rule.messages, rule.location, fields))
        if rule.final and rs.is_overlay:
            found.append(Diagnostic("final-in-overlay", "`final` marks platform rules; an "
                                    "overlay rule cannot be final", rule.location))
    found.extend(_check_effect(rs.default, rs.location, True, default=True))
    found.extend(_check_effective_at(rs.default, rs.default_location, None, fields))
    found.extend(_check_amount(rs.default, rs.default_location, None, fields))
    found.extend(_check_next_steps(rs.default, rs.location, catalogue.next_steps))
    found.extend(check_placeholders(rs.default_messages, rs.location, fields))
    found.extend(check_conflicts(rs.rules, fields))
    if rs.effective_until is not None and rs.effective_until <= rs.effective_from:
        found.append(Diagnostic("bad-effective-range", "effective_until must be after "
                                "effective_from", rs.location))
    return found


def _check_next_steps(effect: Effect, location: Location, vocabulary: tuple[str, ...] | None
                      ) -> Iterator[Diagnostic]:
    """With a project's closed `next_steps` list, every next step must be on it."""
    if vocabulary is None:
        return
    for step in effect.next_steps:
        if step not in vocabulary:
            yield Diagnostic("unknown-next-step", f'next step "{step}" is not in the '
                             "next_steps of this folder's aturan.yaml", location,
                             hint=did_you_mean(step, vocabulary) or "Add it there.")


def check_placeholders(templates: dict[str, str], location: Location,
                       fields: Fields | None = None) -> Iterator[Diagnostic]:
    """`{fact.path}` in explain messages must name a fact (or `{now}`)."""
    fields = _fields(fields)
    for lang, template in sorted(templates.items()):
        for path in PLACEHOLDER.findall(template):
            if path != "now" and path not in fields:
                yield Diagnostic("unknown-placeholder",
                                 f'explain.{lang} quotes {{{path}}}, which is not a fact path',
                                 location, hint=did_you_mean(path, fields))


def _check_effect(effect: Effect, location: Location, decides: bool, default: bool = False
                  ) -> Iterator[Diagnostic]:
    if default and effect.outcome is None:
        yield Diagnostic("default-without-outcome", "`default.then` must set an outcome", location)
    if effect.refund and not decides:
        yield Diagnostic("refund-without-outcome", "only a rule that sets `outcome` may set a "
                         "refund; additive rules add penalties and next steps", location)
    if effect.return_ and not decides:
        yield Diagnostic("return-without-outcome", "only a rule that sets `outcome` may say how "
                         "a return is resolved (`return`)", location)
    eta = effect.refund
    if (eta is not None and eta.min_business_days is not None
            and eta.max_business_days is not None
            and eta.min_business_days > eta.max_business_days):
        yield Diagnostic("bad-refund-eta", "refund eta: min_business_days is greater than "
                         "max_business_days", location)


def requires_present(condition: Condition, fact: str, negated: bool = False) -> bool:
    """Does every order the condition matches have `fact` present? Sound, not complete: true
    when an atom that is false on an absent fact must hold (any comparison, `exists`, a
    duration between two facts), read through `all`/`any`/`not` as negation normal form
    would (a negated comparison admits absence, a negated `absent` does not)."""
    if isinstance(condition, Not):
        return requires_present(condition.child, fact, not negated)
    if isinstance(condition, (AllOf, AnyOf)):
        parts = [requires_present(c, fact, negated) for c in condition.children]
        return any(parts) if isinstance(condition, AllOf) != negated else all(parts)
    assert isinstance(condition, Atom)
    if negated:
        return condition.op == "absent" and condition.fact == fact
    return fact in condition.facts and not BY_NAME[condition.op].holds(None, condition.value)


def _check_effective_at(effect: Effect, location: Location, when: Condition | None,
                        fields: Mapping[str, FactField]) -> Iterator[Diagnostic]:
    """`effective_at` names a timestamp the deciding rule is sure to have."""
    at = effect.effective_at
    if at is None:
        return
    if effect.outcome is None:
        yield Diagnostic("effective-at-without-outcome", "only a rule that sets `outcome` may "
                         "say when it takes effect (`effective_at`)", location)
        return
    field = fields.get(at.fact)
    if field is None:
        yield Diagnostic("unknown-fact", f'unknown fact path "{at.fact}" (in `effective_at`)',
                         location, hint=did_you_mean(at.fact, fields))
        return
    if field.kind != "timestamp":
        yield Diagnostic("bad-effective-at", f'`effective_at` must name a timestamp; '
                         f'"{at.fact}" is a {field.kind} fact', location)
        return
    if at.plus < 0:
        yield Diagnostic("bad-duration", "`effective_at.plus` is not a well-formed duration; "
                         "write e.g. 48h, 2d, 1h30m, 0s", location)
    elif at.plus > MAX_DURATION:
        yield _too_long("`effective_at.plus`",
                        at.plus_location if at.plus_location.line else location)
    if field.nullable and (when is None or not requires_present(when, at.fact)):
        where = "the default" if when is None else "the rule's condition"
        yield Diagnostic(
            "effective-at-may-be-absent",
            f'`effective_at` reads "{at.fact}", which may be absent, and {where} does not make '
            "sure it is present: the decision would have no instant", location,
            hint=(f"Add {{ fact: {at.fact}, exists: true }} to the condition."
                  if when is not None else "The default can only use a fact every order has, "
                  "such as request.at."))


def _check_amount(effect: Effect, location: Location, when: Condition | None,
                  fields: Mapping[str, FactField]) -> Iterator[Diagnostic]:
    """A refund amount expression is typed, present and within what was paid
    (`language/amount_check.py`)."""
    refund = effect.refund
    if refund is None or refund.expression is None:
        return
    for problem in amount_check.check(
            refund.expression, fields,
            lambda path: when is not None and requires_present(when, path)):
        yield Diagnostic(problem.code, problem.message,
                         refund.location if refund.location.line else location,
                         hint=problem.hint)


def check_collection(versions: list[RulesetVersion]) -> list[Diagnostic]:
    """Checks across files: names, overlapping effective ranges, overlays against `final`."""
    found: list[Diagnostic] = []
    by_name: dict[str, list[RulesetVersion]] = defaultdict(list)
    for rs in versions:
        by_name[rs.name].append(rs)
    for group in by_name.values():
        group.sort(key=lambda r: r.effective_from)
        seen_versions: dict[str, RulesetVersion] = {}
        for rs in group:
            if rs.version in seen_versions:
                found.append(Diagnostic("duplicate-version", f"{rs.key} is also defined in "
                                        f"{seen_versions[rs.version].path}", rs.location))
            seen_versions[rs.version] = rs
        for earlier, later in zip(group, group[1:]):
            if earlier.effective_until is None or earlier.effective_until > later.effective_from:
                until = earlier.effective_until.isoformat() if earlier.effective_until else "open-ended"
                found.append(Diagnostic(
                    "overlapping-versions",
                    f"{later.key} takes effect {later.effective_from.isoformat()} while "
                    f"{earlier.key} ({earlier.path}) is still in force (until {until})",
                    later.location,
                    hint=f"Set effective_until: {later.effective_from.isoformat()} in "
                         f"{earlier.key}."))
    return found


def check_overlay(overlay: RulesetVersion, base: RulesetVersion,
                  catalogue: Catalogue | None = None) -> list[Diagnostic]:
    """An overlay may add and replace rules, but not replace or outrank a `final` base rule."""
    found: list[Diagnostic] = []
    finals = [r for r in base.rules if r.final]
    for rule in overlay.rules:
        for final in finals:
            if rule.id == final.id:
                found.append(Diagnostic(
                    "overlay-replaces-final",
                    f'rule "{rule.id}" replaces final rule "{final.id}" of {base.key}',
                    rule.location))
            elif (rule.decides and rule.priority >= final.priority
                  and rule.then.outcome != final.then.outcome
                  and not obviously_disjoint(rule.when, final.when,
                                             catalogue.fields if catalogue else None)):
                found.append(Diagnostic(
                    "overlay-loosens-final",
                    f'rule "{rule.id}" (priority {rule.priority}, {rule.then.outcome}) could '
                    f'outrank final rule "{final.id}" of {base.key} (priority {final.priority}, '
                    f"{final.then.outcome})", rule.location,
                    hint=f"Use a priority below {final.priority}."))
    return found


