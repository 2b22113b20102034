"""The ruleset model: frozen dataclasses for rulesets, rules, conditions and effects, each located.

Built from a schema-valid YAML tree by `build_ruleset`; everything downstream (semantic checks,
compiler, evaluator, explanations, cases, lint) works on these types, never on raw YAML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from typing import Any

from ..errors import Location, pointer_join
from . import amounts
from .catalogue import Catalogue, bundled_catalogue
from .loader import SourceDocument
from .operators import PRESENCE_OPS, TIME_OPS

# `{path}` in an explanation template: a fact path filled with the order's value
PLACEHOLDER = re.compile(r"\{([a-z_]+(?:\.[a-z_]+)*)\}")

# Refund due dates skip weekends and the public holidays of the platform's calendar unless a
# ruleset declares `holidays: public_and_joint_leave` (also cuti bersama): docs/authoring.md
# gives the source for the default.
HOLIDAY_SETS = ("public", "public_and_joint_leave")
DEFAULT_HOLIDAYS = "public"

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")

# Timestamps in facts are in these years (runtime/shared.py checks them): dates far outside
# overflow business-day and time-zone arithmetic.
TIMESTAMP_YEARS = (1900, 2999)
# The longest duration a ruleset may write (validation refuses a longer one, `duration-too-long`):
# a little more than any two such instants can be apart (1900-01-01 at UTC+14 to the end of 2999
# at UTC-12), so a longer one could never change a decision; it could only overflow the date
# arithmetic (an `effective_at` past the year 9999, a witness's timestamp) at decision time.
MAX_DURATION = ((date(TIMESTAMP_YEARS[1] + 1, 1, 1) - date(TIMESTAMP_YEARS[0], 1, 1)).days
                + 2) * 86400


def parse_duration(text: str) -> int | None:
    """'2d', '48h', '1h30m', '0s' -> seconds; None when ill-formed. A number of more digits
    than any duration up to `MAX_DURATION` needs reads as `MAX_DURATION + 1` (Python would refuse
    to convert one of 4,300 digits), which validation refuses as too long."""
    match = _DURATION.match(text) if isinstance(text, str) and text else None
    if not match or not any(match.groups()):
        return None
    if any(g is not None and len(g.lstrip("0")) > 15 for g in match.groups()):
        return MAX_DURATION + 1
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def format_duration(seconds: int) -> str:
    """Inverse of `parse_duration`, shortest form: 172800 -> '2d', 5400 -> '1h30m'."""
    if seconds == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


@dataclass(frozen=True)
class Atom:
    """One test of one fact. For time operators `value` is the duration in seconds, measured
    from the fact to `now`, or with `of` (a second timestamp) from `of` to the fact, and `text`
    the duration as the author wrote it (`24h`, not the `1d` it equals), which explanations show
    back; `text` takes no part in comparing atoms."""

    fact: str
    op: str
    value: Any
    location: Location = field(default_factory=Location, compare=False)
    text: str = field(default="", compare=False)
    of: str | None = None

    @property
    def facts(self) -> tuple[str, ...]:
        """The facts the atom reads: its fact, and `of` when it measures between two."""
        return (self.fact,) if self.of is None else (self.fact, self.of)

    def expected(self) -> Any:
        """The operand as an author wrote it (durations in their written form)."""
        if self.op in TIME_OPS:
            return self.text or format_duration(self.value)
        if self.op in PRESENCE_OPS:
            return True
        return list(self.value) if isinstance(self.value, tuple) else self.value


@dataclass(frozen=True)
class AllOf:
    children: tuple[Condition, ...]
    location: Location = field(default_factory=Location, compare=False)


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Condition, ...]
    location: Location = field(default_factory=Location, compare=False)


@dataclass(frozen=True)
class Not:
    child: Condition
    location: Location = field(default_factory=Location, compare=False)


Condition = Atom | AllOf | AnyOf | Not


def atoms_of(condition: Condition) -> list[Atom]:
    """Every atom in a condition tree, in document order."""
    if isinstance(condition, Atom):
        return [condition]
    if isinstance(condition, Not):
        return atoms_of(condition.child)
    return [atom for child in condition.children for atom in atoms_of(child)]


@dataclass(frozen=True)
class Refund:
    """`amount` is full | paid | items_only, or "expression" with `expression` set (an
    integer-rupiah expression, `language/amounts.py`)."""

    amount: str
    destination: str
    min_business_days: int | None = None  # None: the source publishes no refund time
    max_business_days: int | None = None
    expression: amounts.Expr | None = None
    paid_only_flag: bool = True  # an expression's `paid_only`
    location: Location = field(default_factory=Location, compare=False)  # of `amount`

    @property
    def paid_only(self) -> bool:
        """No refund when the order was not paid (`order.payment.paid_at` absent)."""
        if self.expression is not None:
            return self.paid_only_flag
        return self.amount == "paid"

    def amount_tree(self) -> Any:
        """The amount as written: a name or the expression's tree."""
        return amounts.to_tree(self.expression) if self.expression is not None else self.amount


@dataclass(frozen=True)
class Penalty:
    party: str
    code: str
    points: int | None


@dataclass(frozen=True)
class EffectiveAt:
    """When an outcome takes effect: a timestamp fact's instant plus `plus` seconds."""

    fact: str
    plus: int = 0
    plus_location: Location = field(default_factory=Location, compare=False)  # where `plus` is

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"fact": self.fact}
        if self.plus:
            data["plus"] = format_duration(self.plus)
        return data

    def text(self) -> str:
        return self.fact + (f" + {format_duration(self.plus)}" if self.plus else "")


@dataclass(frozen=True)
class ReturnEffect:
    """How a return is resolved: `resolution` (return_and_refund | refund_only | replacement)
    and who pays the return postage (buyer | seller | platform); each may be left unsaid."""

    resolution: str | None = None
    shipping_paid_by: str | None = None

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("resolution", self.resolution),
                                  ("shipping_paid_by", self.shipping_paid_by)) if v}


@dataclass(frozen=True)
class Effect:
    """What a rule decides (`outcome` set: a deciding rule) or adds (penalties, next steps).
    `effective_at`: when the outcome takes effect (None: at `now`)."""

    outcome: str | None = None
    refund: Refund | None = None
    penalties: tuple[Penalty, ...] = ()
    next_steps: tuple[str, ...] = ()
    effective_at: EffectiveAt | None = None
    return_: ReturnEffect | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.outcome:
            data["outcome"] = self.outcome
        if self.effective_at:
            data["effective_at"] = self.effective_at.to_dict()
        if self.refund:
            data["refund"] = {"amount": self.refund.amount_tree(),
                              "destination": self.refund.destination}
            if self.refund.expression is not None and not self.refund.paid_only:
                data["refund"]["paid_only"] = False
            if self.refund.max_business_days is not None:
                data["refund"]["eta"] = {"min_business_days": self.refund.min_business_days,
                                         "max_business_days": self.refund.max_business_days}
        if self.return_:
            data["return"] = self.return_.to_dict()
        if self.penalties:
            data["penalties"] = [{"party": p.party, "code": p.code, "points": p.points}
                                 for p in self.penalties]
        if self.next_steps:
            data["next_steps"] = list(self.next_steps)
        return data


@dataclass(frozen=True)
class Citation:
    publisher: str
    title: str
    url: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, str]:
        data = {"publisher": self.publisher, "title": self.title}
        if self.url:
            data["url"] = self.url
        if self.note:
            data["note"] = self.note
        return data


@dataclass(frozen=True)
class Silence:
    """A lint finding silenced on purpose (`lint: { silence: [ { code, reason } ] }`)."""

    code: str
    reason: str
    location: Location = field(default_factory=Location, compare=False)


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    priority: int
    when: Condition
    then: Effect
    messages: dict[str, str]
    citation: Citation | None
    location: Location
    final: bool = False
    origin: str = ""  # "name@version" of the ruleset file the rule was written in
    lint_silence: tuple[Silence, ...] = ()

    @property
    def decides(self) -> bool:
        return self.then.outcome is not None


@dataclass(frozen=True)
class RulesetVersion:
    """One YAML file: a platform ruleset version or a seller overlay version."""

    name: str
    version: str
    effective_from: datetime
    effective_until: datetime | None
    description: str
    sources: tuple[Citation, ...]
    default: Effect
    default_messages: dict[str, str]
    rules: tuple[Rule, ...]
    digest: str
    path: str
    location: Location
    extends: str | None = None  # "platform@range" for overlays
    lint_silence: tuple[Silence, ...] = ()
    default_location: Location = field(default_factory=Location, compare=False)
    holidays: str | None = None  # which holidays refund due dates skip; None: not declared

    @property
    def holiday_set(self) -> str:
        """The holidays this version declares, or the default (`DEFAULT_HOLIDAYS`)."""
        return self.holidays or DEFAULT_HOLIDAYS

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def is_overlay(self) -> bool:
        return self.extends is not None

    @property
    def platform(self) -> str:
        """The platform whose orders this version decides: its own name, or an overlay's base."""
        return self.extends.split("@", 1)[0] if self.extends else self.name

    def in_force(self, at: datetime) -> bool:
        return self.effective_from <= at and (self.effective_until is None
                                              or at < self.effective_until)

    def rule(self, rule_id: str) -> Rule | None:
        return next((r for r in self.rules if r.id == rule_id), None)


def parse_timestamp(text: str) -> datetime:
    """RFC 3339 with offset -> aware datetime (the schema pattern guarantees the offset)."""
    return datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))


def parse_effective(text: str, zone: tzinfo) -> datetime:
    """`effective_from`/`effective_until`: a timestamp with an offset, or a date (`2025-03-26`),
    which means midnight at the start of that day in the platform's time zone `zone`."""
    if len(text) == 10:  # the schema admits exactly YYYY-MM-DD or a full timestamp
        return datetime.combine(date.fromisoformat(text), time(0), zone)
    return parse_timestamp(text)


def platform_of_tree(tree: dict[str, Any]) -> str:
    """The platform a ruleset file is for: its name, or the platform an overlay extends."""
    extends = tree.get("extends")
    return str(extends).split("@", 1)[0] if extends else str(tree.get("ruleset"))


def _condition(doc: SourceDocument, node: dict[str, Any], pointer: str) -> Condition:
    loc = doc.location(pointer)
    if "all" in node:
        return AllOf(tuple(_condition(doc, child, pointer_join(pointer_join(pointer, "all"), i))
                           for i, child in enumerate(node["all"])), loc)
    if "any" in node:
        return AnyOf(tuple(_condition(doc, child, pointer_join(pointer_join(pointer, "any"), i))
                           for i, child in enumerate(node["any"])), loc)
    if "not" in node:
        return Not(_condition(doc, node["not"], pointer_join(pointer, "not")), loc)
    op = next(key for key in node if key not in ("fact", "of"))
    value = node[op]
    written = ""
    if op in TIME_OPS:
        written, value = str(value), parse_duration(value)
    elif isinstance(value, list):
        value = tuple(value)
    return Atom(node["fact"], op, value, loc, written, node.get("of"))


def _effect(node: dict[str, Any], doc: SourceDocument | None = None, pointer: str = ""
            ) -> Effect:
    refund = None
    if "refund" in node:
        r = node["refund"]
        eta = r.get("eta", {})
        amount, expression = r["amount"], None
        if amount not in amounts.LEGACY:
            amount, expression = "expression", amounts.parse(amount)
        refund = Refund(amount, r["destination"], eta.get("min_business_days"),
                        eta.get("max_business_days"), expression, r.get("paid_only", True),
                        doc.location(f"{pointer}/refund/amount") if doc else Location())
    effective = None
    if "effective_at" in node:
        e = node["effective_at"]
        plus = parse_duration(e["plus"]) if "plus" in e else 0
        effective = EffectiveAt(e["fact"], -1 if plus is None else plus,
                                doc.location(f"{pointer}/effective_at/plus")
                                if doc is not None and "plus" in e else Location())
    return Effect(outcome=node.get("outcome"), refund=refund,
                  penalties=tuple(Penalty(p["party"], p["code"], p.get("points"))
                                  for p in node.get("penalties", ())),
                  next_steps=tuple(node.get("next_steps", ())), effective_at=effective,
                  return_=ReturnEffect(node["return"].get("resolution"),
                                       node["return"].get("shipping_paid_by"))
                  if "return" in node else None)


def _citation(node: dict[str, Any] | None) -> Citation | None:
    if not node:
        return None
    return Citation(node["publisher"], node["title"], node.get("url"), node.get("note"))


def _silences(doc: SourceDocument, node: dict[str, Any], pointer: str) -> tuple[Silence, ...]:
    entries = (node.get("lint") or {}).get("silence", ())
    return tuple(Silence(e["code"], e["reason"], doc.location(f"{pointer}/lint/silence/{k}"))
                 for k, e in enumerate(entries))


def build_ruleset(doc: SourceDocument, catalogue: Catalogue | None = None) -> RulesetVersion:
    """Schema-valid tree -> `RulesetVersion`. Durations that do not parse stay None for `semantic`."""
    tree = doc.tree
    key = f"{tree['ruleset']}@{tree['version']}"
    rules = tuple(
        Rule(id=r["id"], description=r["description"], priority=r["priority"],
             when=_condition(doc, r["when"], f"/rules/{i}/when"),
             then=_effect(r["then"], doc, f"/rules/{i}/then"),
             messages=dict(r["explain"]), citation=_citation(r["source"]),
             location=doc.location(f"/rules/{i}"), final=bool(r.get("final", False)), origin=key,
             lint_silence=_silences(doc, r, f"/rules/{i}"))
        for i, r in enumerate(tree["rules"]))
    until = tree.get("effective_until")
    # a date is midnight in the time zone of the platform the file is for (an overlay: its base)
    zone = (catalogue or bundled_catalogue()).platform(platform_of_tree(tree)).zone
    return RulesetVersion(
        name=tree["ruleset"], version=tree["version"],
        effective_from=parse_effective(tree["effective_from"], zone),
        effective_until=parse_effective(until, zone) if until else None,
        description=tree["description"],
        sources=tuple(c for c in (_citation(s) for s in tree["sources"]) if c),
        default=_effect(tree["default"]["then"], doc, "/default/then"),
        default_messages=dict(tree["default"]["explain"]),
        rules=rules, digest=doc.digest, path=doc.path, location=doc.location(""),
        extends=tree.get("extends"), lint_silence=_silences(doc, tree, ""),
        default_location=doc.location("/default"), holidays=tree.get("holidays"))
