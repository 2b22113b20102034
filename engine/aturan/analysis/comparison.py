"""What an exhaustive comparison compares and finds: a `Version` (a ruleset, with its base for an
overlay) and a `ChangeGroup` (orders the two versions decide differently, all in the same way).
Shared by the box analysis (`equivalence`) and the solver (`solver`), which both produce them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..language.model import DEFAULT_HOLIDAYS, Effect, Rule, RulesetVersion, format_duration
from ..runtime.compiler import merge
from ..runtime.verdict import Verdict


def verdict_dict(verdict: Verdict) -> dict[str, Any]:
    """A verdict of the analysis as JSON: the refund by kind (`total`, `items_only`)."""
    refund = None
    if verdict.refund:
        kind, destination, low, high = verdict.refund[:4]
        refund = {"amount": kind, "destination": destination,
                  "eta": None if high is None else {"min_business_days": low,
                                                    "max_business_days": high}}
        if len(verdict.refund) > 4:
            refund["holidays"] = verdict.refund[4]
    data = {"outcome": verdict.outcome, "refund": refund,
            "penalties": [{"party": p, "code": c, "points": n} for p, c, n in verdict.penalties],
            "next_steps": list(verdict.next_steps)}
    if verdict.effective_at is not None:
        fact, plus = verdict.effective_at
        data["effective_at"] = {"fact": fact, **({"plus": format_duration(plus)} if plus else {})}
    if verdict.return_ is not None:
        data["return"] = dict(verdict.return_)
    return data


@dataclass(frozen=True)
class Version:
    """What is compared: a ruleset version (an overlay with the base it extends)."""

    ruleset: RulesetVersion
    base: RulesetVersion | None = None

    @property
    def rules(self) -> tuple[Rule, ...]:
        return merge(self.ruleset, self.base)

    @property
    def default(self) -> Effect:
        return self.ruleset.default

    @property
    def holidays(self) -> str:
        """Which holidays its refund due dates skip (an overlay inherits its base's)."""
        return self.ruleset.holidays or (self.base.holiday_set if self.base else DEFAULT_HOLIDAYS)

    @property
    def key(self) -> str:
        return self.ruleset.key + (f" over {self.base.key}" if self.base else "")


@dataclass
class ChangeGroup:
    """Orders the two versions decide differently, all in the same way."""

    old: Verdict
    new: Verdict
    witness: dict[str, Any] = field(default_factory=dict)  # complete facts document
    fields: dict[str, Any] = field(default_factory=dict)  # the witness fields that matter
    old_rule: str = ""  # which rule decided the witness in the old version
    new_rule: str = ""
    share: float | None = None  # share of the discretised space (box analysis only)
    confirmed: bool = False  # both versions, run on the witness, gave old and new

    def key(self) -> tuple[Verdict, Verdict]:
        return self.old, self.new

    def changes(self) -> dict[str, Any]:
        """What changes, in words a reviewer reads: outcome, refund, penalties, next steps."""
        old_p, new_p = list(self.old.penalties), list(self.new.penalties)
        added = [p for p in new_p if p not in old_p or new_p.count(p) > old_p.count(p)]
        removed = [p for p in old_p if p not in new_p or old_p.count(p) > new_p.count(p)]
        return {"outcome": [self.old.outcome, self.new.outcome],
                "refund": None if self.old.refund == self.new.refund else
                [verdict_dict(self.old)["refund"], verdict_dict(self.new)["refund"]],
                "penalties_added": [{"party": p, "code": c, "points": n}
                                    for p, c, n in dict.fromkeys(added)],
                "penalties_removed": [{"party": p, "code": c, "points": n}
                                      for p, c, n in dict.fromkeys(removed)],
                "next_steps_added": sorted(set(self.new.next_steps) - set(self.old.next_steps)),
                "next_steps_removed": sorted(set(self.old.next_steps) - set(self.new.next_steps)),
                **({"effective_at": [verdict_dict(v).get("effective_at")
                                     for v in (self.old, self.new)]}
                   if self.old.effective_at != self.new.effective_at else {}),
                **({"return": [verdict_dict(v).get("return") for v in (self.old, self.new)]}
                   if self.old.return_ != self.new.return_ else {})}

    def to_dict(self) -> dict[str, Any]:
        return {"old": verdict_dict(self.old), "new": verdict_dict(self.new),
                "changes": self.changes(),
                "old_rule": self.old_rule, "new_rule": self.new_rule, "share": self.share,
                "confirmed": self.confirmed, "fields": self.fields, "witness": self.witness}
