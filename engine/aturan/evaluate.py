"""Facts -> Decision. `Policies` is the public entry point: load once, then `decide` from any
thread. A decision is a pure function of (facts, ruleset version); nothing in a `Policies`
changes after it is built, so a reload builds a new one and swaps it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ._engine import EngineRuleset
from .businessdays import add_business_days
from .compiler import FACT_MARKER, CompiledRuleset, compile_ruleset
from .decision import (Decision, ExplanationItem, Overridden, PenaltyDecision, RefundDecision,
                       RulesetRef)
from .errors import AturanError
from .explain import because, messages, satisfied
from .facts import JAKARTA, FlatFacts, flatten_facts
from .model import Rule, RulesetVersion
from .repository import RulesetCollection, load_rulesets
from .resources import bundled_dir
from .selection import select

FiredRules = Callable[[CompiledRuleset, FlatFacts], Iterable[int]]


def engine_fact(compiled: CompiledRuleset, facts: FlatFacts) -> dict[str, Any]:
    """The flat fact the engine sees: only the paths this ruleset reads, ages for timestamps."""
    fact: dict[str, Any] = {FACT_MARKER: 1}
    for path in compiled.fact_paths:
        value = facts.values.get(path)
        if value is not None:
            fact[path] = value
    for path in compiled.age_paths:
        age = facts.ages.get(path)
        if age is not None:
            fact[f"age:{path}"] = age
    return fact


def interpreted_rules(compiled: CompiledRuleset, facts: FlatFacts) -> list[int]:
    """Which rules match, by aturan's Python reading of the conditions (no engine)."""
    return [i for i, rule in enumerate(compiled.rules) if satisfied(rule.when, facts)]


def _ref(rs: RulesetVersion) -> RulesetRef:
    return RulesetRef(rs.name, rs.version, rs.digest)


def _item(rule: Rule, facts: FlatFacts, lang: str | None) -> ExplanationItem:
    return ExplanationItem(rule=rule.id, priority=rule.priority, effect=rule.then.to_dict(),
                           because=because(rule.when, facts),
                           message=messages(rule.messages, facts, lang),
                           file=rule.location.file, line=rule.location.line, ruleset=rule.origin,
                           citation=rule.citation.to_dict() if rule.citation else None)


def combine(compiled: CompiledRuleset, facts: FlatFacts, fired: Iterable[int],
            lang: str | None = None) -> Decision:
    """The combination rules, defined once: among matched rules that set an outcome the highest
    priority decides (ties broken by position; validation forbids disagreeing ties) and brings its
    refund, penalties and next steps; every matched rule without an outcome adds its penalties
    and next steps; with no deciding match, the ruleset's `default` decides."""
    indices = sorted(set(fired), key=lambda i: (-compiled.rules[i].priority, i))
    matched = [compiled.rules[i] for i in indices]
    deciding = [r for r in matched if r.decides]
    additive = [r for r in matched if not r.decides]
    rs = compiled.ruleset
    if deciding:
        winner = deciding[0]
        effect = winner.then
        items = [_item(winner, facts, lang)]
    else:
        winner = None
        effect = compiled.default
        items = [ExplanationItem(rule="default", priority=-1, effect=effect.to_dict(), because=[],
                                 message=messages(compiled.default_messages, facts, lang),
                                 file=rs.location.file, line=rs.location.line, ruleset=rs.key)]
    items += [_item(rule, facts, lang) for rule in additive]
    penalties = [PenaltyDecision(p.party, p.code, p.points, winner.id if winner else "default")
                 for p in effect.penalties]
    steps = list(effect.next_steps)
    for rule in additive:
        penalties += [PenaltyDecision(p.party, p.code, p.points, rule.id) for p in rule.then.penalties]
        steps += rule.then.next_steps
    refund = None
    unpaid = "order.payment.paid_at" not in facts.values
    if effect.refund and not (effect.refund.amount == "paid" and unpaid):
        total = facts.values["order.amounts.total"]
        amount = total if effect.refund.amount in ("full", "paid") else max(
            0, total - facts.values["order.amounts.shipping"])
        due = None
        if effect.refund.max_business_days is not None:
            due = add_business_days(facts.now.astimezone(JAKARTA).date(),
                                    effect.refund.max_business_days).isoformat()
        refund = RefundDecision(amount, effect.refund.destination, effect.refund.min_business_days,
                                effect.refund.max_business_days, due)
    ref = _ref(rs)
    if compiled.base is not None:
        ref = RulesetRef(rs.name, rs.version, rs.digest, _ref(compiled.base))
    assert effect.outcome is not None
    return Decision(
        order_id=facts.order_id, ruleset=ref, outcome=effect.outcome, refund=refund,
        penalties=tuple(penalties), next_steps=tuple(dict.fromkeys(steps)),
        explanation=tuple(items), evaluated_at=facts.now.isoformat(),
        overridden=tuple(Overridden(r.id, r.then.outcome or "", r.priority, winner.id)
                         for r in deciding[1:] if winner is not None))


class Policies:
    """Loaded, validated and compiled rulesets, ready to decide. Immutable once built."""

    def __init__(self, collection: RulesetCollection):
        self.collection = collection
        self._compiled: dict[tuple[str, str | None], CompiledRuleset] = {}
        for rs in collection.versions:
            bases: Iterable[RulesetVersion | None] = (
                collection.bases_for(rs) if rs.is_overlay else (None,))
            for base in bases:
                self._compiled[(rs.key, base.key if base else None)] = compile_ruleset(rs, base)
        self._engines = {c.engine_name: EngineRuleset(c.engine_name, c.definition)
                         for c in self._compiled.values()}

    def compiled_for(self, facts: FlatFacts, ruleset: str | None = None) -> CompiledRuleset:
        chosen, base = select(self.collection, facts, ruleset)
        return self._compiled[(chosen.key, base.key if base else None)]

    def engine_rules(self, compiled: CompiledRuleset, facts: FlatFacts) -> list[int]:
        """Which rules match, as decided by durable_rules."""
        names = self._engines[compiled.engine_name].fire(engine_fact(compiled, facts))
        return [int(name[1:]) for name in names]

    def decide(self, facts: dict[str, Any], ruleset: str | None = None,
               lang: str | None = None, fired_rules: FiredRules | None = None) -> Decision:
        """Validate `facts`, pick the ruleset version, evaluate, explain.

        Raises `FactsError` (bad facts, naming JSON pointers) or `SelectionError` (no ruleset
        applies); never returns a decision for facts it could not validate."""
        flat = flatten_facts(facts)
        compiled = self.compiled_for(flat, ruleset)
        fired = (fired_rules or self.engine_rules)(compiled, flat)
        return combine(compiled, flat, fired, lang)

    def decide_many(self, items: Iterable[dict[str, Any]], ruleset: str | None = None,
                    lang: str | None = None) -> Iterator[Decision | AturanError]:
        """One result per item, in order; a bad item yields its error and the rest go on."""
        for facts in items:
            try:
                yield self.decide(facts, ruleset, lang)
            except AturanError as exc:
                yield exc

    def describe(self) -> list[dict[str, Any]]:
        """Names, versions, effective dates and digests of every loaded version."""
        return [{"name": rs.name, "version": rs.version,
                 "effective_from": rs.effective_from.isoformat(),
                 "effective_until": rs.effective_until.isoformat() if rs.effective_until else None,
                 "digest": rs.digest, "extends": rs.extends, "rules": len(rs.rules),
                 "file": rs.path}
                for rs in self.collection.versions]

    def close(self) -> None:
        """Drop this set's rulesets from the engine; call only once no request uses it."""
        for engine in self._engines.values():
            engine.close()


def load(paths: str | Path | Iterable[str | Path] | None = None) -> Policies:
    """Load, validate and compile rulesets (default: the bundled ones). Raises `RulesetError`."""
    if paths is None:
        paths = [bundled_dir("rulesets")]
    elif isinstance(paths, (str, Path)):
        paths = [paths]
    return Policies(load_rulesets(paths))
