"""One decision log record: what was decided, from what, under which policy text and software.

A record is one line of canonical JSON (`runtime.decision.canonical_json`; the schema is
`schemas/decision-log.schema.json`). `RecordBuilder.body` writes everything but the three
chain fields, which the writer thread appends in order (`chain.finish`). It
runs in the thread that decided, because the caller owns the facts and may change them once
`decide` returns; to stay cheap it is spliced from canonical fragments, and what depends only
on the compiled ruleset or on the plan (every order with one memo key shares a plan, and with
it the truth of every condition) is encoded once and cached.

The result keeps no text: the outcome, refund, penalties and next steps, and each matched
rule with the truth of each of its conditions. With the archived ruleset (by digest) and the
logged input that is enough to render the explanation again, in either language
(`aturan replay --show`), and to re-derive the decision (`aturan replay --verify`)."""

from __future__ import annotations

import platform
import threading
from importlib import metadata
from json.encoder import encode_basestring
from typing import Any

from ..language.model import Rule, atoms_of
from ..runtime.compiler import CompiledRuleset
from ..runtime.decision import RefundDecision, canonical_json, canonical_json_of_facts
from ..runtime.explain import holds
from ..runtime.facts import FlatFacts
from ..runtime.observe import DecisionEvent
from ..runtime.plan import Plan
from ..runtime.selection import selection_reason
from .context import REQUEST_IDS
from .masking import Masker

FORMAT = 1  # the record format's version: "v"
_PLAN_CACHE = 8192


def software_versions() -> dict[str, str]:
    """aturan, durable_rules and holidays (its calendar moves refund due dates), and Python."""
    from .. import __version__

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "unknown"
    return {"aturan": __version__, "durable_rules": version("durable_rules"),
            "holidays": version("holidays"), "python": platform.python_version()}


def matched_rules(compiled: CompiledRuleset, plan: Plan, flat: FlatFacts) -> list[dict[str, Any]]:
    """Each rule the plan applies or overrides, with its role (`decided` or `default`, then
    `added`, then `overridden`) and the truth of every atom of its condition, in document
    order."""
    def conditions(rule: Rule) -> list[dict[str, Any]]:
        return [{"fact": atom.fact, "op": atom.op, "holds": holds(atom, flat)}
                for atom in atoms_of(rule.when)]

    out: list[dict[str, Any]] = []
    for position, entry in enumerate(plan.entries):
        if entry.rule is None:
            out.append({"rule": "default", "role": "default", "ruleset": entry.ruleset,
                        "conditions": []})
        else:
            out.append({"rule": entry.id, "role": "decided" if position == 0 else "added",
                        "ruleset": entry.ruleset, "conditions": conditions(entry.rule)})
    by_id = {rule.id: rule for rule in compiled.rules}
    for item in plan.overridden:
        rule = by_id[item.rule]
        out.append({"rule": rule.id, "role": "overridden", "ruleset": rule.origin,
                    "conditions": conditions(rule)})
    return out


def _string(value: str) -> str:
    return encode_basestring(value)


def _number(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def _extensions(effective_at: str | None, covers: tuple[dict[str, Any], ...]) -> str:
    """The optional result keys that depend on the order's facts (v2 rulesets): when the
    outcome takes effect, and the lines a partial request covers; "" for v1 decisions."""
    text = ""
    if covers:  # {sku, quantity, amount} dicts of validated facts: no float
        text += ',"covers":' + canonical_json_of_facts(covers)
    if effective_at is not None:
        text += ',"effective_at":' + _string(effective_at)
    return text


class RecordBuilder:
    """Record bodies for one log: masking, the constant fragments and the per-plan cache.

    A body is spliced from fragments each encoded once where it can be: per compiled
    ruleset (ruleset, catalogue, software), per plan (outcome, penalties, next steps, rules
    and the truth of their conditions), per kind of refund and of selection; per record only
    the id, the times, the refund amount, the input and the extensions are encoded."""

    def __init__(self, masker: Masker):
        self.masker = masker
        self._software = canonical_json(software_versions())
        self._lock = threading.Lock()
        self._rulesets: dict[int, tuple[CompiledRuleset, str]] = {}
        self._plans: dict[int, tuple[Plan, str, str]] = {}
        self._refunds: dict[tuple[str, int | None, int | None, bool], tuple[str, str]] = {}
        self._selections: dict[tuple[bool, str | None, str | None], str] = {}

    def body(self, event: DecisionEvent, decision_id: str, made_at: str) -> str:
        """The record's canonical JSON up to (not including) its chain fields and closing
        brace."""
        facts, decision, compiled = event.facts, event.decision, event.compiled
        ruleset = self._rulesets.get(id(compiled))
        if ruleset is None or ruleset[0] is not compiled:
            ruleset = self._ruleset_fragment(event)
        ids = REQUEST_IDS.get()
        masked, which = self.masker.apply(facts)
        encoded = event.encoded  # read from text: its canonical JSON is at hand
        given = (canonical_json_of_facts(masked) if encoded is None or masked is not facts
                 else encoded.decode())
        return "".join((
            '{"v":1,"decision_id":"', decision_id, '","made_at":"',
            made_at, '","request":',
            "{}" if ids is None else canonical_json(ids.to_dict()), ruleset[1],
            _string(decision.evaluated_at), self._selection(event),
            _string(facts["request"]["at"]), '},"input":', given,
            ',"masked":', canonical_json(which) if which else "{}",
            ',"result":', self.result(event)))

    def result(self, event: DecisionEvent) -> str:
        """The record's `result`: what `aturan replay --verify` derives again and compares."""
        cached = self._plans.get(id(event.plan))
        if cached is None or cached[0] is not event.plan:
            cached = self._plan_fragments(event)
        decision = event.decision
        return "".join((cached[1], self._refund(decision.refund), cached[2],
                         _extensions(decision.effective_at, decision.covers), "}"))

    def _ruleset_fragment(self, event: DecisionEvent) -> tuple[CompiledRuleset, str]:
        """`,"ruleset":…,"catalogue":…,"software":…,"now":`: fixed by the compiled version."""
        compiled = event.compiled
        catalogue = compiled.catalogue
        ruleset = (compiled, ',"ruleset":' + (
            canonical_json(event.decision.ruleset.to_dict()) + ',"catalogue":'
            + canonical_json({"digest": catalogue.digest, "project": not catalogue.bundled}))
            + ',"software":' + self._software + ',"now":')
        with self._lock:
            self._rulesets[id(compiled)] = ruleset
        return ruleset

    def _refund(self, refund: RefundDecision | None) -> str:
        """`canonical_json(refund.to_dict())`, from fragments cached per kind of refund (it is
        in every record)."""
        if refund is None:
            return "null"
        kind = (refund.destination, refund.min_business_days, refund.max_business_days,
                refund.due_by is None)
        parts = self._refunds.get(kind)
        if parts is None:
            eta = "null}" if refund.due_by is None else (
                '{"min_business_days":' + _number(refund.min_business_days)
                + ',"max_business_days":' + _number(refund.max_business_days) + ',"due_by":')
            parts = (',"destination":' + _string(refund.destination) + ',"eta":' + eta,
                     "" if refund.due_by is None else "}}")
            with self._lock:
                if len(self._refunds) >= _PLAN_CACHE:
                    self._refunds.clear()
                self._refunds[kind] = parts
        if refund.due_by is None:
            return '{"amount":' + _number(refund.amount) + parts[0]
        return "".join(('{"amount":', _number(refund.amount), parts[0],
                         _string(refund.due_by), parts[1]))

    def _selection(self, event: DecisionEvent) -> str:
        """`,"now_source":…,"selection":{…,"at":`, cached per (now source, pin, policy)."""
        pin, policy = event.pin, event.flat.seller_policy
        kind = ("now" in event.facts, pin, policy)
        found = self._selections.get(kind)
        if found is None:
            data: dict[str, Any] = {"reason": selection_reason(pin, event.flat)}
            if pin:
                data["pin"] = pin
            if policy:
                data["policy"] = policy
            found = (',"now_source":' + ('"now"' if kind[0] else '"request.at"')
                     + ',"selection":' + (canonical_json(data))[:-1] + ',"at":')
            with self._lock:
                if len(self._selections) >= _PLAN_CACHE:
                    self._selections.clear()
                self._selections[kind] = found
        return found

    def _plan_fragments(self, event: DecisionEvent) -> tuple[Plan, str, str]:
        """(plan, `{"outcome":…,"refund":`, `,"penalties":…,"next_steps":…,"rules":…`), cached
        per plan: a plan fixes every atom's truth (`runtime.memo`), so the first order that
        reaches it speaks for all."""
        plan, decision = event.plan, event.decision
        parts: dict[str, Any] = {"penalties": [p.to_dict() for p in decision.penalties],
                                 "next_steps": list(decision.next_steps),
                                 "rules": matched_rules(event.compiled, plan, event.flat)}
        if decision.return_ is not None:  # the deciding rule's: one per plan
            parts["return"] = dict(decision.return_)
        rest = (canonical_json(parts))
        cached = (plan, '{"outcome":' + _string(decision.outcome) + ',"refund":',
                  "," + rest[1:-1])
        with self._lock:
            if len(self._plans) >= _PLAN_CACHE:
                self._plans.clear()
            self._plans[id(plan)] = cached
        return cached
