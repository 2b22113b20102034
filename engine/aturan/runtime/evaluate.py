"""Facts -> Decision. `Policies` is the public entry point: load once, then `decide` from any
thread. A decision is a pure function of (facts, ruleset version); nothing in a `Policies`
changes after it is built, so a reload builds a new one and swaps it."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import AturanError, RulesetError, SelectionError
from ..language.model import RulesetVersion
from ..language.repository import RulesetCollection, load_rulesets
from ..resources import bundled_dir
from ._engine import EngineRuleset
from .compiler import FACT_MARKER, CompiledRuleset, compile_ruleset
from .decision import Decision
from .deferred import decide_deferred
from .explain import satisfied
from .facts import (
    MAX_FACTS_BYTES,
    FlatFacts,
    add_ages,
    add_gaps,
    add_requested,
    flatten_without_ages,
    gap_between,
    reader_for,
)
from .jsonio import fast_read, parse_json
from .limits import engine_diagnostics
from .memo import RulesetMemo, RuntimeCache
from .observe import DecisionHook, DecisionIds, event, with_decision_id
from .plan import Plan, plan, render
from .selection import parse_pin, select


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
    for pair in compiled.gap_pairs:
        gap = gap_between(facts, *pair)
        if gap is not None:
            fact[f"gap:{pair[0]}:{pair[1]}"] = gap
    return fact


def interpreted_rules(compiled: CompiledRuleset, facts: FlatFacts) -> list[int]:
    """Which rules match, by aturan's Python reading of the conditions (no engine)."""
    return [i for i, rule in enumerate(compiled.rules) if satisfied(rule.when, facts)]


def combine(compiled: CompiledRuleset, facts: FlatFacts, fired: Iterable[int],
            lang: str | None = None) -> Decision:
    """The decision when the rules `fired` match `facts`: `plan` (the combination rules) then
    `render` (values, ages and messages of these facts). Nothing is cached: any set of fired
    rules (the reference interpreter's, a what-if without one rule) gets its own plan."""
    return render(plan(compiled, facts, fired), facts, lang)


@dataclass(frozen=True)
class _Span:
    """When a version is in force, with the UTC day numbers of its bounds: comparing aware
    datetimes costs two utcoffset() calls, but a local date two days or more away from a
    bound's UTC date (offsets are under 24 hours) is on a known side of it."""

    start: datetime
    until: datetime | None
    start_day: int
    until_day: int
    memo: RulesetMemo | None  # None for an overlay: `select` handles those

    @classmethod
    def of(cls, rs: RulesetVersion, memo: RulesetMemo | None) -> _Span:
        def day(moment: datetime | None) -> int:
            return moment.astimezone(timezone.utc).toordinal() if moment else 0
        return cls(rs.effective_from, rs.effective_until, day(rs.effective_from),
                   day(rs.effective_until), memo)


class Policies:
    """Loaded, validated and compiled rulesets, ready to decide. Its rulesets never change once
    it is built; `cache` (a `RuntimeCache`) holds what deciding has learnt about them.
    `on_decision` (the decision log's hook, `aturan.runtime.observe`) hears of every decision."""

    def __init__(self, collection: RulesetCollection, memo_capacity: int | None = None, *,
                 on_decision: DecisionHook | None = None):
        """`memo_capacity`: keys each compiled ruleset's memo holds (default `memo.CAPACITY`);
        `on_decision`: told of every decision (`aturan.runtime.observe`)."""
        self.collection = collection
        self.on_decision = on_decision
        self.decision_ids: DecisionIds | None = None  # see `observed`
        self.catalogue = collection.catalogue  # the policy folder's effective catalogue
        self.facts_reader = reader_for(self.catalogue)
        self._compiled: dict[tuple[str, str | None], CompiledRuleset] = {}
        by_identity: dict[tuple[int, int], CompiledRuleset] = {}  # no f-string per call
        for rs in collection.versions:
            bases: Iterable[RulesetVersion | None] = (
                collection.bases_for(rs) if rs.is_overlay else (None,))
            for base in bases:
                compiled = compile_ruleset(rs, base, self.catalogue)
                self._compiled[(rs.key, base.key if base else None)] = compiled
                by_identity[(id(rs), id(base))] = compiled
        # the engine hangs (holding the GIL) or crashes past its limits: refuse first, located
        refused = [d for c in self._compiled.values() for d in engine_diagnostics(c)]
        if refused:
            raise RulesetError(dict.fromkeys(refused))
        self._engines = {c.engine_name: EngineRuleset(c.engine_name, c.definition)
                         for c in self._compiled.values()}
        self._memos = {pair: RulesetMemo(compiled, memo_capacity)
                       for pair, compiled in by_identity.items()}
        self.cache = RuntimeCache(self._memos.values())
        self._spans = {name: tuple(_Span.of(rs, None if rs.is_overlay else
                                            self._memos[(id(rs), id(None))])
                                   for rs in group)
                       for name, group in collection.by_name.items()}
        # pin -> (platform, memo) for pins naming one platform version: `select` would pick
        # it whatever the order, so only the platform is checked per call (a bad pin is never
        # stored, so this holds at most one entry per loaded version)
        self._pins: dict[str, tuple[str, RulesetMemo]] = {}

    def compiled_for(self, facts: FlatFacts, ruleset: str | None = None) -> CompiledRuleset:
        """The compiled ruleset `select` picks."""
        return self._select(facts, ruleset).compiled

    def _select(self, facts: FlatFacts, ruleset: str | None) -> RulesetMemo:
        """The memo of the compiled ruleset `select` picks. The common case (no pin, no seller
        overlay, a platform version in force) is looked up here; everything else goes through
        `select`, which also raises its errors."""
        if ruleset is None and facts.seller_policy is None:
            at = facts.request_at
            day = at.toordinal()
            for span in self._spans.get(facts.platform, ()):
                # `RulesetVersion.in_force(at)`, on day numbers first: this runs per decision
                if day <= span.start_day - 2 or (day < span.start_day + 2 and at < span.start):
                    continue
                if span.until is None or day <= span.until_day - 2 or (
                        day < span.until_day + 2 and at < span.until):
                    if span.memo is not None:
                        return span.memo
                    break
        elif ruleset is not None:
            pinned = self._pins.get(ruleset)
            if pinned is not None and pinned[0] == facts.platform:
                return pinned[1]
        chosen, base = select(self.collection, facts, ruleset)
        memo = self._memos[(id(chosen), id(base))]
        if ruleset is not None and base is None and parse_pin(ruleset)[1] is not None:
            self._pins[ruleset] = (facts.platform, memo)  # `select` checked the platform
        return memo

    def engine_rules(self, compiled: CompiledRuleset, facts: FlatFacts, *,
                     cached: bool = True) -> list[int]:
        """Which rules match, as decided by durable_rules. The engine is asked once per memo
        key (`aturan.runtime.memo`) of a compiled ruleset this set holds; `cached=False`, or a
        ruleset compiled elsewhere, asks it every time."""
        memo = self.cache.memo(compiled) if cached else None
        if memo is not None:
            return list(self._plan(memo, facts).engine_order)
        names = self._engines[compiled.engine_name].fire(engine_fact(compiled, facts))
        return [int(name[1:]) for name in names]

    def _plan(self, memo: RulesetMemo, facts: FlatFacts) -> Plan:
        pairs = memo.compiled.gap_pairs
        if pairs:
            add_gaps(facts, pairs)
        return self._plan_of(memo, facts, memo.key_of(facts.values, facts.ages, facts.gaps))

    def _plan_of(self, memo: RulesetMemo, facts: FlatFacts, key: tuple[int, ...]) -> Plan:
        found = memo.get(key)
        if found is None:
            fired = self.engine_rules(memo.compiled, facts, cached=False)
            found = memo.put(key, plan(memo.compiled, facts, fired, memo.entries))
        return found

    def decide(self, facts: dict[str, Any], ruleset: str | None = None,
               lang: str | None = None, *, encoded: bytes | None = None) -> Decision:
        """Validate `facts`, pick the ruleset version, evaluate, explain.

        Raises `FactsError` (bad facts, naming JSON pointers) or `SelectionError` (no ruleset
        applies); never returns a decision for facts it could not validate. `encoded`: the
        facts' canonical JSON (`orjson.dumps(facts)`) when the caller has it already
        (`decide_text`), handed to the observer so that a log need not encode them again."""
        # only the ages the chosen ruleset reads: nothing else looks at this FlatFacts
        flat, texts = flatten_without_ages(facts, self.facts_reader)
        memo = self._select(flat, ruleset)
        compiled = memo.compiled
        if compiled.reads_request:
            add_requested(flat, compiled.catalogue.product_types)
        pairs = compiled.gap_pairs
        if pairs:
            add_gaps(flat, pairs)
        # the ages `add_ages` would fill, and the memo key, in one generated function
        found = self._plan_of(memo, flat, memo.ages_and_key(
            flat.values, flat.ages, flat.gaps, texts, flat.now, texts[""]))
        hook = self.on_decision
        if hook is None:
            return decide_deferred(found, flat, lang)  # the explanation rendered when read
        ids = self.decision_ids
        if ids is None:
            decision = decide_deferred(found, flat, lang)
            decision_id = hook(event(facts, flat, ruleset, compiled, found, decision, None,
                                     encoded))
            return decision if decision_id is None else with_decision_id(decision, decision_id)
        decision_id, made_at = ids()  # the decision made carrying its id: no copy per call
        decision = decide_deferred(found, flat, lang, decision_id)
        if hook(event(facts, flat, ruleset, compiled, found, decision, made_at,
                      encoded)) is None:
            return with_decision_id(decision, None)  # the observer dropped its record
        return decision

    def observed(self, on_decision: DecisionHook | None,
                 decision_ids: DecisionIds | None = None) -> Policies:
        """These rulesets, reporting each decision to `on_decision`: a second view sharing the
        compiled rulesets, engines and cache (no recompiling), so close only one of the two.
        With `decision_ids`, each decision is made carrying the id it gives (the hook then
        answers that id to keep it, None to take it back); without, the hook's answer is the
        id."""
        twin = copy.copy(self)
        twin.on_decision = on_decision
        twin.decision_ids = decision_ids if on_decision is not None else None
        return twin

    def decide_text(self, text: str | bytes, ruleset: str | None = None,
                    lang: str | None = None, *, source: str = "<input>", line: int = 1,
                    limit: int = MAX_FACTS_BYTES,
                    seen: Callable[[Any], None] | None = None) -> Decision:
        """`decide(parse_json(text, source, line, limit), ruleset, lang)`, the same decision or
        the same error, with the text read by orjson when that is provably the same reading:
        `jsonio.fast_loads` rules out duplicate keys, and facts that decide hold no float, so
        orjson read every number as the strict reader does. Any error (bad JSON, bad facts,
        no ruleset) reads the text again strictly and decides that. `seen` gets the facts
        read (for a log line) before they are decided."""
        read = fast_read(text) if len(text) <= limit else None
        if read is not None:
            facts, encoded = read
            try:
                decision = self.decide(facts, ruleset, lang, encoded=encoded)
            except AturanError:
                pass
            else:
                if seen is not None:
                    seen(facts)
                return decision
        facts = parse_json(text, source, line, limit)
        if seen is not None:
            seen(facts)
        return self.decide(facts, ruleset, lang)

    def plans_for(self, facts: dict[str, Any], pins: Sequence[str]
                  ) -> tuple[FlatFacts, list[Plan | SelectionError]]:
        """Validate `facts` once and find each pinned version's plan (the memo's, cached),
        without rendering an explanation: what the corpus diff compares (`Verdict.of_plan`),
        so a diff of two versions pays for one validation instead of two.

        Raises `FactsError` for bad facts, as `decide` does; a pin that cannot decide this
        order gives the `SelectionError` `decide` would raise in its place."""
        flat, texts = flatten_without_ages(facts, self.facts_reader)
        memos: list[RulesetMemo | SelectionError] = []
        for pin in pins:
            try:
                memos.append(self._select(flat, pin))
            except SelectionError as exc:
                memos.append(exc)
        add_ages(flat, texts, {path for memo in memos if isinstance(memo, RulesetMemo)
                               for path in memo.compiled.age_paths})
        reading = [memo for memo in memos if isinstance(memo, RulesetMemo)
                   and memo.compiled.reads_request]
        if reading:  # derived.request.*, as `decide` fills them
            add_requested(flat, reading[0].compiled.catalogue.product_types)
        return flat, [memo if isinstance(memo, SelectionError) else self._plan(memo, flat)
                      for memo in memos]

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

    def engine_rulesets(self) -> list[EngineRuleset]:
        """The engine rulesets this set registered (for `probe`, which exercises each once)."""
        return list(self._engines.values())

    def close(self) -> None:
        """Drop this set's rulesets from the engine; call only once no request uses it."""
        for engine in self._engines.values():
            engine.close()


def load(paths: str | Path | Iterable[str | Path] | None = None, *,
         memo_capacity: int | None = None, on_decision: DecisionHook | None = None
         ) -> Policies:
    """Load, validate and compile rulesets (default: the bundled ones) under their policy
    folder's catalogue (its `aturan.yaml`, if any). Raises `RulesetError`. `memo_capacity`:
    keys each compiled ruleset's memo holds (default `memo.CAPACITY`); `on_decision`: see
    `Policies`."""
    if paths is None:
        paths = [bundled_dir("rulesets")]
    elif isinstance(paths, (str, Path)):
        paths = [paths]
    return Policies(load_rulesets(paths), memo_capacity, on_decision=on_decision)
