"""What a decision means for the people involved, as compared across rules and versions (the
corpus diff, the exhaustive comparison, lint): one `Verdict`, one equality."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .decision import Decision
from .facts import FlatFacts
from .plan import Plan, effective_instant, plan_refund

PenaltyKey = tuple[str, str, int | None]  # (party, code, points)
# The parts of a verdict as reports name them (a decision's keys): `return` is the field
# `return_` (a Python keyword otherwise)
PARTS = ("outcome", "refund", "penalties", "next_steps", "effective_at", "return")
_FIELDS = {part: "return_" if part == "return" else part for part in PARTS}


def returns(settled: dict[str, str] | None) -> tuple[tuple[str, str], ...] | None:
    """A return's resolution as a verdict compares it (its parts, sorted)."""
    return None if settled is None else tuple(sorted(settled.items()))


def penalty_multiset(penalties: Iterable[PenaltyKey]) -> tuple[PenaltyKey, ...]:
    """Penalties in a canonical order (`repr`, since points may be None), so that equal
    multisets are equal tuples."""
    return tuple(sorted(penalties, key=repr))


@dataclass(frozen=True)
class Verdict:
    """Outcome, refund, penalties and next steps, without wording: two decisions with equal
    verdicts are the same decision, whichever rule made them. `rule` (the deciding rule, or
    "default") is carried for reports and is not part of equality.

    `refund` is a tuple starting with the amount and the destination: `of` gives (amount in
    rupiah, destination, min_business_days, max_business_days, due_by); where no order fixes the
    amount, the analysis gives (the amount's formula as the rule wrote it, `amount_check.label`,
    destination, min, max), and the holidays its due date skips when they are not the default.
    Penalties are a multiset (`penalty_multiset`). Next steps are as the decision lists them
    (`of`: in order), or sorted where only their set is known (the analysis). `effective_at`
    is when the outcome takes effect: the decision's instant (`of`), or the rule's declaration
    (fact, plus seconds) in the analysis; None when it takes effect at `now`."""

    outcome: str
    refund: tuple[Any, ...] | None
    penalties: tuple[PenaltyKey, ...]
    next_steps: tuple[str, ...]
    rule: str = field(default="", compare=False)
    effective_at: Any = None
    return_: tuple[tuple[str, str], ...] | None = None  # how a return is resolved, sorted

    @classmethod
    def of(cls, decision: Decision) -> Verdict:
        r = decision.refund
        refund = None if r is None else (r.amount, r.destination, r.min_business_days,
                                         r.max_business_days, r.due_by)
        return cls(decision.outcome, refund,
                   penalty_multiset((p.party, p.code, p.points) for p in decision.penalties),
                   decision.next_steps, decision.explanation[0].rule, decision.effective_at,
                   returns(decision.return_))

    @classmethod
    def of_plan(cls, plan: Plan, facts: FlatFacts) -> Verdict:
        """`of(render(plan, facts))` without rendering the explanation (messages, atoms,
        ages): outcome, refund, penalties, next steps and deciding rule come from the plan the
        memo caches, the refund amount and due date from `facts`; the effective instant (and
        the refund's due date counted from it) and the return's resolution as `render` gives
        them."""
        effect = plan.effect
        effective = effective_instant(effect, facts) if effect.effective_at else None
        r = plan_refund(plan, facts, effective)
        refund = None if r is None else (r.amount, r.destination, r.min_business_days,
                                         r.max_business_days, r.due_by)
        outcome = effect.outcome
        assert outcome is not None
        return cls(outcome, refund,
                   penalty_multiset((p.party, p.code, p.points) for p in plan.penalties),
                   plan.next_steps, plan.entries[0].id,
                   None if effective is None else effective.isoformat(),
                   returns(None if effect.return_ is None else effect.return_.to_dict()))

    def changed_parts(self, other: Verdict) -> list[str]:
        """Which of `PARTS` differ, in that order, named as decisions name them; empty when
        the verdicts are equal."""
        return [part for part, name in _FIELDS.items()
                if getattr(self, name) != getattr(other, name)]

    def short(self) -> str:
        parts = [self.outcome]
        if self.refund:
            parts.append(f"refund {self.refund[0]}")
        parts += [f"penalty {c}" for _, c, _ in self.penalties]
        return ", ".join(parts)
