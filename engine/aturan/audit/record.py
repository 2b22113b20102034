"""One decision log record: what was decided, from what, under which policy text and software.

A record is one line of canonical JSON (`runtime.decision.canonical_json`; the schema is
`schemas/decision-log.schema.json`). `RecordBuilder.body` writes everything but the three
chain fields, which the writer thread appends in order (`chain.finish`). It runs in the
thread that decided, because the caller owns the facts and may change them once `decide`
returns; to stay cheap it is spliced from canonical fragments, and what depends only on the
compiled ruleset or on the plan (every order with one memo key shares a plan, and with it
the truth of every condition) is encoded once and cached.

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


def _number(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def _extensions(effective_at: str | None, covers: tuple[dict[str, Any], ...]) -> str:
    """The optional result keys that depend on the order's facts (v2 rulesets): when the
    outcome takes effect, and the lines a partial request covers; "" for v1 decisions."""
    text = ""
    if covers:
        text += ',"covers":' + canonical_json([dict(line) for line in covers])
    if effective_at is not None:
        text += ',"effective_at":' + encode_basestring(effective_at)
    return text


def _refund(refund: RefundDecision | None) -> str:
    """`canonical_json(refund.to_dict())`, formatted directly (it is in every record)."""
    if refund is None:
        return "null"
    eta = "null" if refund.due_by is None else (
        '{"min_business_days":' + _number(refund.min_business_days)
        + ',"max_business_days":' + _number(refund.max_business_days)
        + ',"due_by":' + encode_basestring(refund.due_by) + "}")
    return ('{"amount":' + _number(refund.amount) + ',"destination":'
            + encode_basestring(refund.destination) + ',"eta":' + eta + "}")


class RecordBuilder:
    """Record bodies for one log: masking, the constant fragments and the per-plan cache."""

    def __init__(self, masker: Masker):
        self.masker = masker
        self._software = canonical_json(software_versions())
        self._lock = threading.Lock()
        self._rulesets: dict[int, tuple[CompiledRuleset, str]] = {}
        self._plans: dict[int, tuple[Plan, str, str]] = {}

    def body(self, event: DecisionEvent, decision_id: str, made_at: str) -> str:
        """The record's canonical JSON up to (not including) its chain fields and closing
        brace."""
        facts, decision, compiled = event.facts, event.decision, event.compiled
        ruleset = self._rulesets.get(id(compiled))
        if ruleset is None or ruleset[0] is not compiled:
            catalogue = compiled.catalogue
            ruleset = (compiled, canonical_json(decision.ruleset.to_dict()) + ',"catalogue":'
                       + canonical_json({"digest": catalogue.digest,
                                         "project": not catalogue.bundled}))
            with self._lock:
                self._rulesets[id(compiled)] = ruleset
        ids = REQUEST_IDS.get()
        request = "{}" if ids is None else canonical_json(ids.to_dict())
        masked, which = self.masker.apply(facts)
        return "".join((
            '{"v":1,"decision_id":"', decision_id, '","made_at":"', made_at,
            '","request":', request, ',"ruleset":', ruleset[1], ',"software":', self._software,
            ',"now":', encode_basestring(decision.evaluated_at),
            ',"now_source":', '"now"' if "now" in facts else '"request.at"',
            ',"selection":', self._selection(event),
            ',"input":', canonical_json_of_facts(masked), ',"masked":',
            canonical_json(which) if which else "{}",
            ',"result":', self.result(event)))

    def result(self, event: DecisionEvent) -> str:
        """The record's `result`: what `aturan replay --verify` derives again and compares."""
        cached = self._plans.get(id(event.plan))
        if cached is None or cached[0] is not event.plan:
            cached = self._plan_fragments(event)
        decision = event.decision
        return "".join(('{"outcome":', cached[1], ',"refund":', _refund(decision.refund),
                        cached[2], _extensions(decision.effective_at, decision.covers), "}"))

    def _selection(self, event: DecisionEvent) -> str:
        reason = selection_reason(event.pin, event.flat)
        at = encode_basestring(event.facts["request"]["at"])
        if reason == "in_force":
            return '{"reason":"in_force","at":' + at + "}"
        data: dict[str, Any] = {"reason": reason}
        if event.pin:
            data["pin"] = event.pin
        if event.flat.seller_policy:
            data["policy"] = event.flat.seller_policy
        return canonical_json(data)[:-1] + ',"at":' + at + "}"

    def _plan_fragments(self, event: DecisionEvent) -> tuple[Plan, str, str]:
        """(plan, outcome, `,"penalties":…,"next_steps":…,"rules":…`), cached per plan: a plan
        fixes every atom's truth (`runtime.memo`), so the first order that reaches it speaks
        for all."""
        plan, decision = event.plan, event.decision
        parts: dict[str, Any] = {"penalties": [p.to_dict() for p in decision.penalties],
                                 "next_steps": list(decision.next_steps),
                                 "rules": matched_rules(event.compiled, plan, event.flat)}
        if decision.return_ is not None:  # the deciding rule's: one per plan
            parts["return"] = dict(decision.return_)
        rest = canonical_json(parts)
        cached = (plan, encode_basestring(decision.outcome), "," + rest[1:-1])
        with self._lock:
            if len(self._plans) >= _PLAN_CACHE:
                self._plans.clear()
            self._plans[id(plan)] = cached
        return cached
