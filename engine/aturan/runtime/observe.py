"""What a `Policies` tells an observer about each decision it makes (the decision log's hook).

The runtime does no I/O and reads no clock: an observer (`aturan.audit.DecisionLog`) gets one
`DecisionEvent` per decision, after the decision is made, and may answer an id for it (the
log's `decision_id`), which the decision then carries. Everything a log record needs is here,
so the observer never decides again."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from ._fastinit import builder
from .compiler import CompiledRuleset
from .decision import Decision
from .facts import FlatFacts
from .plan import Plan


@dataclass(frozen=True)
class DecisionEvent:
    """One decision and what it was made from.

    `facts` is the caller's document as given (an observer that keeps it must copy or encode
    it now: the caller may reuse it); `flat` its validated view (`now`, `request_at`);
    `pin` the `ruleset=` argument (`selection.selection_reason` says why the version was
    chosen); `compiled` the version that decided (with its base, for an overlay); `plan` the
    combination the decision rendered, shared by every order with the same memo key, so an
    observer may cache what it derives from it. `made_at` is the observer's own clock reading
    taken with the decision's id, when the observer gave the id before the decision was built
    (`DecisionIds`: see `Policies.observed`), else None. `encoded` is the facts' canonical
    JSON when the caller read them from text (`Policies.decide_text`), else None."""

    facts: Any
    flat: FlatFacts
    pin: str | None
    compiled: CompiledRuleset
    plan: Plan
    decision: Decision
    made_at: str | None = None
    encoded: bytes | None = None


# Called once per decision; returns the decision's id, or None to leave it without one (a log
# that dropped the record).
DecisionHook = Callable[[DecisionEvent], "str | None"]
# An observer's source of (decision id, when it was taken), asked before the decision is built
# so that the decision is made carrying its id rather than copied to carry it.
DecisionIds = Callable[[], "tuple[str, str]"]

_event = builder(DecisionEvent, ("facts", "flat", "pin", "compiled", "plan", "decision",
                                 "made_at", "encoded"))


def event(facts: Any, flat: FlatFacts, pin: str | None, compiled: CompiledRuleset, plan: Plan,
          decision: Decision, made_at: str | None = None, encoded: bytes | None = None
          ) -> DecisionEvent:
    """A `DecisionEvent` without the frozen dataclass's per-field setters (it is built for
    every decision a log observes)."""
    return _event({"facts": facts, "flat": flat, "pin": pin, "compiled": compiled,
                   "plan": plan, "decision": decision, "made_at": made_at,
                   "encoded": encoded})


_with_id = builder(Decision, tuple(f.name for f in fields(Decision)))  # every field, copied


def with_decision_id(decision: Decision, decision_id: str | None) -> Decision:
    """The same decision carrying `decision_id` (None: carrying none)."""
    return _with_id({**decision.__dict__, "decision_id": decision_id})
