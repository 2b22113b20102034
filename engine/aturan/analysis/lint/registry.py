"""The lint registry: what a finding is, the `@check` decorator that registers one check per code,
and the `Target` (one ruleset version as evaluated, with its order space) every check reads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...errors import Diagnostic, Location
from ...language.model import Rule, RulesetVersion
from ...runtime.compiler import merge
from ..instants import anchor_for
from ..symbolic import Box, Space, intersect_regions
from ..witness import Evaluator, describe_rule, fields_of, platform_of, realise
from .regions import describe_box

SEVERITIES = ("error", "warning")


@dataclass
class Finding:
    """One lint finding. `region` holds condition nodes (all hold) per alternative region;
    `witness` is a complete facts document; `confirmed` says the evaluator showed the claim."""

    code: str
    severity: str
    message: str
    location: Location
    ruleset: str
    rules: list[dict[str, Any]] = field(default_factory=list)
    region: list[list[dict[str, Any]]] = field(default_factory=list)
    witness: dict[str, Any] | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    decided: str = ""  # what the evaluator decided for the witness: "outcome by rule"
    confirmed: bool = False
    fix: str = ""
    share: float | None = None
    orders: int | None = None
    orders_total: int | None = None
    silenced: str | None = None  # the reason, when a `lint: silence` annotation covers it
    core: list[dict[str, Any]] = field(default_factory=list)  # dead rules: what cannot hold
    rank: int = 0  # order among findings of one code at one place (gaps: largest first)

    def sort_key(self) -> tuple:
        return (self.location.file, self.location.line, self.code, self.rank, self.message)

    def diagnostic(self) -> Diagnostic:
        return Diagnostic(self.code, self.message, self.location, self.severity, self.fix)

    def to_dict(self) -> dict[str, Any]:
        data = {"code": self.code, "severity": self.severity, "message": self.message,
                "file": self.location.file, "line": self.location.line,
                "col": self.location.col, "ruleset": self.ruleset, "rules": self.rules,
                "region": [{"all": nodes} for nodes in self.region],
                "witness": self.witness, "fields": self.fields, "decided": self.decided,
                "confirmed": self.confirmed, "fix": self.fix, "silenced": self.silenced}
        if self.core:
            data["core"] = self.core
        if self.share is not None:
            data["share"] = self.share
        if self.orders is not None:
            data["orders"] = {"matching": self.orders, "total": self.orders_total}
        return data


@dataclass(frozen=True)
class Check:
    code: str
    severity: str
    summary: str
    run: Callable[[Target], Iterator[Finding]]


CHECKS: dict[str, Check] = {}


CheckFunction = Callable[["Target"], Iterator[Finding]]


def check(code: str, severity: str, summary: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a check function under its stable code."""
    assert severity in SEVERITIES

    def register(func: CheckFunction) -> CheckFunction:
        CHECKS[code] = Check(code, severity, summary, func)
        return func
    return register


class Target:
    """One ruleset version as evaluated (an overlay: merged over one base), its order space,
    each rule's region, and the evaluator that confirms witnesses."""

    def __init__(self, ruleset: RulesetVersion, base: RulesetVersion | None,
                 evaluator: Evaluator, max_gaps: int = 10):
        self.ruleset = ruleset
        self.base = base
        self.rules: tuple[Rule, ...] = merge(ruleset, base)
        catalogue = evaluator.catalogue
        self.platform = platform_of(ruleset, catalogue)
        self.space = Space.for_rules([self.rules], self.platform, catalogue=catalogue)
        self.regions = [self.space.region(r.when) for r in self.rules]
        self.evaluator = evaluator
        # the platform a witness is an order of: the ruleset's, else any one the folder has
        self.witness_platform = self.platform or catalogue.default_platform
        self.anchor = anchor_for([ruleset] + ([base] if base else []),
                                 catalogue.platform(self.witness_platform).zone)
        self.max_gaps = max_gaps
        self.order = sorted((i for i, r in enumerate(self.rules) if r.decides),
                            key=lambda i: (-self.rules[i].priority, i))
        self.orders: Counter[tuple[int, ...]] = Counter()  # cells of real orders -> count
        self.orders_total = 0

    @property
    def key(self) -> str:
        return self.ruleset.key + (f" over {self.base.key}" if self.base else "")

    def own(self, rule: Rule) -> bool:
        """Written in the linted file (not inherited from an overlay's base)."""
        return rule.origin == self.ruleset.key

    def before(self, i: int) -> list[Box]:
        """Regions of the deciding rules the evaluator prefers to rule i."""
        rank = self.order.index(i) if i in self.order else len(self.order)
        return [b for k in self.order[:rank] for b in self.regions[k]]

    def above(self, i: int) -> list[int]:
        """Deciding rules of strictly higher priority than rule i."""
        return [k for k in self.order if self.rules[k].priority > self.rules[i].priority]

    def deciding_boxes(self) -> list[Box]:
        return [b for k in self.order for b in self.regions[k]]

    def meets(self, boxes: Sequence[Box], other: Sequence[Box]) -> bool:
        """Do two regions share a valid order?"""
        return self.space.first_valid(intersect_regions(boxes, other)) is not None

    def witness(self, point: dict[str, Any], matters: Sequence[str]
                ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A complete facts document for a point, and its fields that matter."""
        facts = realise(self.space, point, self.anchor, self.witness_platform)
        return facts, fields_of(point, matters, facts)

    def decide(self, facts: dict[str, Any]) -> Any:
        return self.evaluator.decide(facts, self.ruleset, self.base)

    def describe(self, boxes: Iterable[Box]) -> list[list[dict[str, Any]]]:
        return [describe_box(self.space, b) for b in boxes]

    def weigh(self, box: Box) -> int:
        """How many of the real orders (`--orders`) lie in a box."""
        return sum(n for cells, n in self.orders.items()
                   if all(box[i] >> c & 1 for i, c in enumerate(cells)))


def rule_ref(rule: Rule) -> dict[str, Any]:
    return describe_rule(rule)


