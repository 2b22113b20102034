"""Facts -> Decision. `Policies` is the public entry point: load once, then `decide` from any
thread. A decision is a pure function of (facts, ruleset version); nothing in a `Policies`
changes after it is built, so a reload builds a new one and swaps it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import AturanError
from ..language.model import RulesetVersion
from ..language.repository import RulesetCollection, load_rulesets
from ..resources import bundled_dir
from ._engine import EngineRuleset
from .compiler import FACT_MARKER, CompiledRuleset, compile_ruleset
from .decision import Decision
from .explain import satisfied
from .facts import FlatFacts, add_ages, flatten_facts, flatten_without_ages
from .memo import memo_for
from .plan import Plan, plan, render
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


def _plan_for(compiled: CompiledRuleset, facts: FlatFacts, fired: Iterable[int]) -> Plan:
    """The memoised plan when `fired` is what the engine answered for these facts' key (the
    usual case), else a fresh one."""
    memo = memo_for(compiled)
    cached = memo.get(memo.key(facts))
    order = tuple(dict.fromkeys(fired))
    if cached is not None and cached.fired == frozenset(order):
        return cached
    return plan(compiled, facts, order)


def combine(compiled: CompiledRuleset, facts: FlatFacts, fired: Iterable[int],
            lang: str | None = None) -> Decision:
    """The decision when the rules `fired` match `facts`: `plan` (the combination rules) then
    `render` (values, ages and messages of these facts)."""
    return render(_plan_for(compiled, facts, fired), facts, lang)


@dataclass(frozen=True)
class _Span:
    """When a version is in force, with the UTC day numbers of its bounds: comparing aware
    datetimes costs two utcoffset() calls, but a local date two days or more away from a
    bound's UTC date (offsets are under 24 hours) is on a known side of it."""

    start: datetime
    until: datetime | None
    start_day: int
    until_day: int
    compiled: CompiledRuleset | None  # None for an overlay: `select` handles those

    @classmethod
    def of(cls, rs: RulesetVersion, compiled: CompiledRuleset | None) -> _Span:
        def day(moment: datetime | None) -> int:
            return moment.astimezone(timezone.utc).toordinal() if moment else 0
        return cls(rs.effective_from, rs.effective_until, day(rs.effective_from),
                   day(rs.effective_until), compiled)

    def contains(self, at: datetime, day: int) -> bool:
        """`RulesetVersion.in_force(at)`; `day` is `at.toordinal()`."""
        if day <= self.start_day - 2 or (day < self.start_day + 2 and at < self.start):
            return False
        if self.until is None or day <= self.until_day - 2:
            return True
        return day < self.until_day + 2 and at < self.until


class Policies:
    """Loaded, validated and compiled rulesets, ready to decide. Immutable once built."""

    def __init__(self, collection: RulesetCollection):
        self.collection = collection
        self._compiled: dict[tuple[str, str | None], CompiledRuleset] = {}
        self._by_identity: dict[tuple[int, int], CompiledRuleset] = {}  # no f-string per call
        for rs in collection.versions:
            bases: Iterable[RulesetVersion | None] = (
                collection.bases_for(rs) if rs.is_overlay else (None,))
            for base in bases:
                compiled = compile_ruleset(rs, base)
                self._compiled[(rs.key, base.key if base else None)] = compiled
                self._by_identity[(id(rs), id(base))] = compiled
        self._engines = {c.engine_name: EngineRuleset(c.engine_name, c.definition)
                         for c in self._compiled.values()}
        self._spans = {name: tuple(_Span.of(rs, None if rs.is_overlay else
                                            self._by_identity[(id(rs), id(None))])
                                   for rs in group)
                       for name, group in collection.by_name.items()}

    def compiled_for(self, facts: FlatFacts, ruleset: str | None = None) -> CompiledRuleset:
        """The compiled ruleset `select` picks. The common case (no pin, no seller overlay, a
        platform version in force) is looked up here; everything else goes through `select`,
        which also raises its errors."""
        if ruleset is None and facts.seller_policy is None:
            at = facts.request_at
            day = at.toordinal()
            for span in self._spans.get(facts.platform, ()):
                # `span.contains(at, day)`, inlined: this runs for every decision
                if day <= span.start_day - 2 or (day < span.start_day + 2 and at < span.start):
                    continue
                if span.until is None or day <= span.until_day - 2 or (
                        day < span.until_day + 2 and at < span.until):
                    if span.compiled is not None:
                        return span.compiled
                    break
        chosen, base = select(self.collection, facts, ruleset)
        return self._by_identity[(id(chosen), id(base))]

    def engine_rules(self, compiled: CompiledRuleset, facts: FlatFacts, *,
                     cached: bool = True) -> list[int]:
        """Which rules match, as decided by durable_rules. The engine is asked once per memo
        key (`aturan.runtime.memo`); `cached=False` asks it every time."""
        if not cached:
            names = self._engines[compiled.engine_name].fire(engine_fact(compiled, facts))
            return [int(name[1:]) for name in names]
        return list(self._plan(compiled, facts).engine_order)

    def _plan(self, compiled: CompiledRuleset, facts: FlatFacts) -> Plan:
        memo = memo_for(compiled)
        key = memo.key_of(facts.values, facts.ages)
        found = memo.entries.get(key)  # `memo.get`, minus a call: this runs per decision
        if found is None:
            fired = self.engine_rules(compiled, facts, cached=False)
            found = memo.put(key, plan(compiled, facts, fired))
        return found

    def decide(self, facts: dict[str, Any], ruleset: str | None = None,
               lang: str | None = None, fired_rules: FiredRules | None = None) -> Decision:
        """Validate `facts`, pick the ruleset version, evaluate, explain.

        Raises `FactsError` (bad facts, naming JSON pointers) or `SelectionError` (no ruleset
        applies); never returns a decision for facts it could not validate."""
        if fired_rules is not None:
            flat = flatten_facts(facts)
            compiled = self.compiled_for(flat, ruleset)
            return combine(compiled, flat, fired_rules(compiled, flat), lang)
        # only the ages the chosen ruleset reads: nothing else looks at this FlatFacts
        flat, texts = flatten_without_ages(facts)
        compiled = self.compiled_for(flat, ruleset)
        add_ages(flat, texts, compiled.age_paths)
        return render(self._plan(compiled, flat), flat, lang)

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
