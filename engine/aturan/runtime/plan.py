"""How matched rules combine into a decision, in two steps: `plan` (which rule decides, what
is added, which atoms explain each rule) and `render` (the values of one order's facts).

A plan depends only on which rules fired and on the truth value of each atom, so every order
with the same memo key (`aturan.runtime.memo`) shares one; `render` is the part paid per order.
Explanations are data: each matched rule with the atoms that made it match (expected and actual
values, ages) and its messages with the facts filled in. tests/runtime/test_memo_exact.py holds
the step-by-step original as the oracle both are compared with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from ..errors import Diagnostic, EngineError
from ..language import amounts
from ..language.catalogue import BUNDLED_CALENDAR, FactField, bundled_catalogue
from ..language.display import JAKARTA, label, show
from ..language.labels import labels
from ..language.model import (
    DEFAULT_HOLIDAYS,
    PLACEHOLDER,
    AnyOf,
    Atom,
    Citation,
    Condition,
    Effect,
    Not,
    Rule,
    RulesetVersion,
    format_duration,
)
from ._fastinit import builder
from .businessdays import add_business_days
from .compiler import CompiledRuleset
from .decision import (
    Decision,
    ExplanationItem,
    Overridden,
    PenaltyDecision,
    RefundDecision,
    RulesetRef,
)
from .explain import satisfied
from .facts import FlatFacts, covered, gap_between


@dataclass(frozen=True, slots=True)  # slots: `render` reads the fields of every one
class _Report:
    """One atom a matched rule reports, with its operand as written (`Atom.expected`)."""

    fact: str
    op: str
    expected: Any
    copy_expected: bool  # a list, built afresh for every decision
    negated: bool
    timestamp: bool  # only timestamps have an age (and a datetime value)
    between: str | None = None  # `of`: the duration is measured from this timestamp

    @classmethod
    def of(cls, atom: Atom, negated: bool, fields: Mapping[str, FactField] | None = None
           ) -> _Report:
        # durations as written (`24h`), presence tests True; a list stays a tuple here, so
        # each decision gets its own list
        expected = atom.value if isinstance(atom.value, tuple) else atom.expected()
        field = (bundled_catalogue().fields if fields is None else fields).get(atom.fact)
        return cls(atom.fact, atom.op, expected, isinstance(expected, tuple), negated,
                   field is None or field.kind == "timestamp", atom.of)


def _copier(value: Any) -> Callable[[], Any]:
    """A function returning a fresh deep copy of a JSON-like `value` (every call: a decision
    owns its dicts and lists), doing only the copying the shape needs."""
    if type(value) is dict:
        nested = [(key, _copier(child)) for key, child in value.items()
                  if type(child) in (dict, list)]
        if not nested:
            return value.copy

        def copy_dict() -> dict[str, Any]:
            fresh = value.copy()  # keys keep their order when replaced below
            for key, copy in nested:
                fresh[key] = copy()
            return fresh
        return copy_dict
    if type(value) is list:
        if not any(type(child) in (dict, list) for child in value):
            return value.copy
        copies = [_copier(child) for child in value]
        return lambda: [copy() for copy in copies]
    return lambda: value


@dataclass(frozen=True)
class _Template:
    """A message template split once: `text` is a `str.format` string with one {} per
    placeholder (literal braces doubled), `paths` the placeholders' fact paths."""

    text: str
    paths: tuple[str, ...]

    @classmethod
    @lru_cache(maxsize=4096)
    def of(cls, template: str) -> _Template:
        parts = PLACEHOLDER.split(template)  # odd items are the paths
        if len(parts) == 1:
            return cls(template, ())
        text = "{}".join(p.replace("{", "{{").replace("}", "}}") for p in parts[::2])
        return cls(text, tuple(parts[1::2]))


@dataclass(frozen=True, slots=True)  # slots: `render` reads the fields of every one
class Entry:
    """One explanation entry with all that does not depend on fact values; `rule` is None for
    the ruleset's default."""

    rule: Rule | None
    id: str
    priority: int
    effect_dict: Callable[[], dict[str, Any]]  # `Effect.to_dict()`, a fresh copy each call
    reports: tuple[_Report, ...]
    templates: dict[str, _Template]
    languages: tuple[str, ...]  # sorted: the order of `message` when no language is asked
    static_message: dict[str, str] | None  # every language, when no template has a placeholder
    file: str
    line: int
    ruleset: str
    citation: dict[str, str] | None  # copied for each decision

    @classmethod
    def of(cls, rule: Rule | None, id: str, priority: int, effect: Effect,
           atoms: list[tuple[Atom, bool]], messages: dict[str, str], file: str, line: int,
           ruleset: str, citation: Citation | None,
           fields: Mapping[str, FactField] | None = None) -> Entry:
        templates = {code: _Template.of(text) for code, text in messages.items()}
        languages = tuple(sorted(messages))
        static = None
        if not any(templates[code].paths for code in languages):
            static = {code: templates[code].text for code in languages}
        return cls(rule, id, priority, _copier(effect.to_dict()),
                   tuple(_Report.of(a, n, fields) for a, n in atoms),
                   templates, languages, static, file, line, ruleset,
                   citation.to_dict() if citation else None)


@dataclass(frozen=True)
class Plan:
    """The combination rules applied to one set of fired rules and one set of atom truths."""

    engine_order: tuple[int, ...]  # the fired rules in the order they were reported
    entries: tuple[Entry, ...]
    effect: Effect
    penalties: tuple[PenaltyDecision, ...]
    next_steps: tuple[str, ...]
    overridden: tuple[Overridden, ...]
    ref: RulesetRef
    # from the folder's catalogue: which facts are money, the time zone and holiday calendar
    # of the ruleset's platform (refund due dates, times in messages)
    money: frozenset[str] = frozenset()
    zone: tzinfo = JAKARTA
    calendar: str = BUNDLED_CALENDAR
    holidays: str = DEFAULT_HOLIDAYS  # the ruleset's: public, or also joint leave
    # the decision's JSON as fragments per language asked (`runtime/deferred.py`), filled on
    # first use; the plan's own cache, so it lives and is dropped with the plan
    json_templates: dict[str | None, Any] = field(default_factory=dict, compare=False,
                                                  repr=False)


def because_atoms(condition: Condition, facts: FlatFacts, negated: bool = False
                  ) -> list[tuple[Atom, bool]]:
    """The atoms that make a satisfied condition true, as (atom, negated): all of an `all`,
    the true branches of an `any`; atoms under `not` are negated (and a negated `all` reports
    its false branches)."""
    if isinstance(condition, Atom):
        return [(condition, negated)]
    if isinstance(condition, Not):
        return because_atoms(condition.child, facts, not negated)
    children = condition.children
    if isinstance(condition, AnyOf) != negated:  # an `any`, or a negated `all`
        wanted = not negated
        children = tuple(c for c in children if satisfied(c, facts) == wanted)
    return [item for child in children for item in because_atoms(child, facts, negated)]


def _rule_entry(rule: Rule, facts: FlatFacts, cache: dict[Any, Entry],
                fields: Mapping[str, FactField]) -> Entry:
    """The entry of a matched rule; the same (rule, reported atoms) gives the same entry, so
    `cache` (a memo's, bounded) keeps plan building cheap when keys are many."""
    atoms = because_atoms(rule.when, facts)
    key = (id(rule), tuple(atoms))
    entry = cache.get(key)
    if entry is None or entry.rule is not rule:
        entry = Entry.of(rule, rule.id, rule.priority, rule.then, atoms, rule.messages,
                          rule.location.file, rule.location.line, rule.origin, rule.citation,
                          fields)
        if len(cache) >= _ENTRY_CACHE:
            cache.clear()
        cache[key] = entry
    return entry


_ENTRY_CACHE = 8192  # entries per compiled ruleset; a rule rarely has more than a few shapes


def _ref(rs: RulesetVersion) -> RulesetRef:
    return RulesetRef(rs.name, rs.version, rs.digest)


def plan(compiled: CompiledRuleset, facts: FlatFacts, fired: Iterable[int],
         entries: dict[Any, Entry] | None = None) -> Plan:
    """The combination rules, defined once: among matched rules that set an outcome the highest
    priority decides (ties broken by position; validation forbids disagreeing ties) and brings its
    refund, penalties and next steps; every matched rule without an outcome adds its penalties
    and next steps; with no deciding match, the ruleset's `default` decides. `entries`: a
    cache of explanation entries to reuse (a memo's), else they are built afresh."""
    order = tuple(dict.fromkeys(fired))
    cache = {} if entries is None else entries
    indices = sorted(order, key=lambda i: (-compiled.rules[i].priority, i))
    matched = [compiled.rules[i] for i in indices]
    deciding = [r for r in matched if r.decides]
    additive = [r for r in matched if not r.decides]
    rs = compiled.ruleset
    fields = compiled.catalogue.fields
    winner = deciding[0] if deciding else None
    if winner is not None:
        effect = winner.then
        explained = [_rule_entry(winner, facts, cache, fields)]
    else:
        effect = compiled.default
        explained = [Entry.of(None, "default", -1, effect, [], compiled.default_messages,
                              rs.default_location.file, rs.default_location.line, rs.key, None,
                              fields)]
    explained += [_rule_entry(rule, facts, cache, fields) for rule in additive]
    penalties = [PenaltyDecision(p.party, p.code, p.points, winner.id if winner else "default")
                 for p in effect.penalties]
    steps = list(effect.next_steps)
    for rule in additive:
        penalties += [PenaltyDecision(p.party, p.code, p.points, rule.id)
                      for p in rule.then.penalties]
        steps += rule.then.next_steps
    ref = _ref(rs)
    if compiled.base is not None:
        ref = RulesetRef(rs.name, rs.version, rs.digest, _ref(compiled.base))
    assert effect.outcome is not None
    overridden = tuple(Overridden(r.id, r.then.outcome or "", r.priority, winner.id)
                       for r in deciding[1:] if winner is not None)
    platform = compiled.catalogue.platform(
        compiled.base.name if compiled.base is not None else rs.name)
    return Plan(order, tuple(explained), effect, tuple(penalties), tuple(dict.fromkeys(steps)),
                overridden, ref, compiled.catalogue.money_paths, platform.zone,
                platform.calendar, compiled.holidays)


# ---- rendering: what one order's facts add to a plan ------------------------------------------

def _placeholder(path: str, facts: FlatFacts, plan: Plan, lang: str) -> str:
    """How `{path}` reads in a message in `lang`: `now` as the evaluation time in the platform's
    time zone (WIB for the bundled ones), an enum code as its label in that language
    (`out_of_stock` -> "out of stock" / "stok habis"), any other fact as `display.show` reads it
    (timestamps in that zone, amounts as rupiah, absent as a dash)."""
    if path == "now":
        return facts.now.astimezone(plan.zone).isoformat()
    value = facts.values.get(path)
    if isinstance(value, str) and path in _labelled():
        return label(path, value, lang)
    return show(value, "—", path in plan.money, zone=plan.zone)


@lru_cache(maxsize=1)
def _labelled() -> frozenset[str]:
    """The fact paths whose codes have labels (every bundled enum; a project's own enum facts
    read as their codes)."""
    return frozenset(labels())


def _fill(template: _Template, facts: FlatFacts, plan: Plan, lang: str) -> str:
    """The template with its placeholders' texts; no expression is ever evaluated."""
    paths = template.paths
    if not paths:
        return template.text
    if len(paths) == 1:
        return template.text.format(_placeholder(paths[0], facts, plan, lang))
    return template.text.format(*[_placeholder(path, facts, plan, lang) for path in paths])


def _text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _between(report: _Report, facts: FlatFacts) -> dict[str, Any]:
    """A duration between two timestamps as explained: both as text and the gap from `of` to
    the fact (`50h` reads `2d2h`; negative when the fact came first)."""
    assert report.between is not None
    item = {"fact": report.fact, "op": report.op, "expected": report.expected,
            "of": report.between, "actual": _text(facts.values.get(report.fact)),
            "of_actual": _text(facts.values.get(report.between))}
    gap = gap_between(facts, report.fact, report.between)
    if gap is not None:
        item["gap"] = format_duration(gap) if gap >= 0 else "-" + format_duration(-gap)
    if report.negated:
        item["negated"] = True
    return item


def _because(reports: tuple[_Report, ...], facts: FlatFacts) -> list[dict[str, Any]]:
    """Each reported atom with its expected and actual value (timestamps as text, with their
    age: `2d`, or `in 1h` for one after now; between two timestamps, both and the gap),
    marked when negated."""
    values = facts.values
    out = []
    for report in reports:
        if report.between is not None:
            out.append(_between(report, facts))
            continue
        fact, expected, timestamp = report.fact, report.expected, report.timestamp
        actual = values.get(fact)
        if timestamp and isinstance(actual, datetime):
            actual = actual.isoformat()
        item = {"fact": fact, "op": report.op,
                "expected": list(expected) if report.copy_expected else expected,
                "actual": actual}
        if timestamp:
            age = facts.ages.get(fact)
            if age is not None:
                item["age"] = format_duration(age) if age >= 0 else "in " + format_duration(-age)
        if report.negated:
            item["negated"] = True
        out.append(item)
    return out


@lru_cache(maxsize=4096)
def _due_by(start: date, days: int, calendar: str, holidays: str = DEFAULT_HOLIDAYS) -> str:
    return add_business_days(start, days, calendar, holidays).isoformat()


def effective_instant(effect: Effect, facts: FlatFacts) -> datetime | None:
    """When the outcome takes effect, as the effect declares it (`effective_at`: a timestamp
    fact plus a duration); None when it declares none (it takes effect at `now`). Validation
    makes sure the deciding rule's condition has the fact present."""
    at = effect.effective_at
    if at is None:
        return None
    moment = facts.values.get(at.fact)
    if not isinstance(moment, datetime):
        raise ValueError(f"effective_at reads {at.fact}, which this order lacks")
    return moment + timedelta(seconds=at.plus) if at.plus else moment


def refund_amount(expression: amounts.Expr, values: dict[str, Any], total: int) -> int:
    """An amount expression for one order (`language/amounts.evaluate`). Validation proves it
    is never negative nor above what was paid; a value outside means a bug, never a refund."""
    amount = amounts.evaluate(expression, values.__getitem__)
    if not 0 <= amount <= total:
        raise EngineError(Diagnostic(
            "refund-out-of-range", f"the refund amount {amounts.text(expression)} came to "
            f"{amount} on an order of {total}; validation should have refused it"))
    return amount


def _refund(effect: Effect, facts: FlatFacts, plan: Plan,
            effective: datetime | None = None) -> RefundDecision | None:
    refund = effect.refund
    if refund is None:
        return None
    values = facts.values
    if refund.paid_only and "order.payment.paid_at" not in values:
        return None  # nothing was paid (unpaid, or cash on delivery)
    total = values["order.amounts.total"]
    if refund.expression is not None:
        amount = refund_amount(refund.expression, values, total)
    else:
        amount = total if refund.amount in ("full", "paid") else max(
            0, total - values["order.amounts.shipping"])
    due = None
    if refund.max_business_days is not None:  # counted from the effective instant, else now
        start = effective if effective is not None else facts.now
        due = _due_by(start.astimezone(plan.zone).date(), refund.max_business_days,
                      plan.calendar, plan.holidays)
    return _refund_decision({"amount": amount, "destination": refund.destination,
                             "min_business_days": refund.min_business_days,
                             "max_business_days": refund.max_business_days, "due_by": due})


def plan_refund(plan: Plan, facts: FlatFacts,
                effective: datetime | None = None) -> RefundDecision | None:
    """The refund `render` puts in the decision, alone (its due date counted from `effective`,
    the plan's effective instant, when the rule declares one): the corpus diff compares verdicts
    without rendering explanations (`Verdict.of_plan`)."""
    return _refund(plan.effect, facts, plan, effective) if plan.effect.refund else None


def render(plan: Plan, facts: FlatFacts, lang: str | None = None) -> Decision:
    """The decision for `facts` under `plan`: fact values, ages and messages filled in."""
    fields = decision_fields(plan, facts)
    fields["explanation"] = explanation_items(plan, facts, lang)
    return _decision(fields)


def explanation_items(plan: Plan, facts: FlatFacts, lang: str | None = None
                      ) -> tuple[ExplanationItem, ...]:
    """The explanation: each entry with its atoms' values and its messages in `lang` (every
    language when None)."""
    items = []
    for entry in plan.entries:
        if lang:
            template = entry.templates.get(lang)
            message = {lang: _fill(template, facts, plan, lang)} if template is not None else {}
        elif entry.static_message is not None:
            message = entry.static_message.copy()
        else:
            templates = entry.templates
            message = {code: _fill(templates[code], facts, plan, code)
                       for code in entry.languages}
        reports, citation = entry.reports, entry.citation
        items.append(_explanation_item({
            "rule": entry.id, "priority": entry.priority, "effect": entry.effect_dict(),
            "because": _because(reports, facts) if reports else [], "message": message,
            "file": entry.file, "line": entry.line, "ruleset": entry.ruleset,
            "citation": citation.copy() if citation is not None else None}))
    return tuple(items)


def decision_fields(plan: Plan, facts: FlatFacts) -> dict[str, Any]:
    """Every field of the decision but its explanation (None in its place), in field order."""
    effect = plan.effect
    outcome = effect.outcome
    assert outcome is not None
    effective = effective_instant(effect, facts) if effect.effective_at else None
    return {
        "order_id": facts.order_id, "ruleset": plan.ref, "outcome": outcome,
        "refund": _refund(effect, facts, plan, effective) if effect.refund else None,
        "penalties": plan.penalties, "next_steps": plan.next_steps, "explanation": None,
        "evaluated_at": facts.now_isoformat or facts.now.isoformat(),
        "overridden": plan.overridden, "decision_id": None,
        "effective_at": None if effective is None else effective.isoformat(),
        "covers": () if facts.asked is None else tuple(
            {"sku": sku, "quantity": units, "amount": amount}
            for sku, units, amount, _ in covered(facts)),
        "return_": None if effect.return_ is None else effect.return_.to_dict()}


_decision = builder(Decision, ("order_id", "ruleset", "outcome", "refund", "penalties",
                               "next_steps", "explanation", "evaluated_at", "overridden",
                               "decision_id", "effective_at", "covers", "return_"))
_refund_decision = builder(RefundDecision, ("amount", "destination", "min_business_days",
                                           "max_business_days", "due_by"))
_explanation_item = builder(ExplanationItem, ("rule", "priority", "effect", "because", "message",
                                              "file", "line", "ruleset", "citation"))
