"""`aturan lint`: findings about a ruleset over every possible order, each with a stable code, a
severity, a `file:line`, the rules involved, the region in the ruleset's own condition syntax
and a witness order the real evaluator has confirmed.

The checks live in `lint_checks.py`, one small function per code behind a registry (`CHECKS`);
this module builds what they share (a `Target`: one ruleset version, merged over its base for
an overlay, with its order space), applies `lint: { silence: [...] }` annotations, and weighs
gaps by real orders (`--orders`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

from .compiler import merge
from .errors import AturanError, Diagnostic, Location
from .evaluate import Policies
from .facts import flatten_facts
from .model import Rule, RulesetVersion, Silence, format_duration
from .repository import RulesetCollection
from .selection import select
from .symbolic import OTHER, Axis, Box, Space, intersect_regions
from .witness import Evaluator, anchor_for, describe_rule, fields_of, platform_of, realise

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
    run: Callable[["Target"], Iterator[Finding]]


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
        self.platform = platform_of(ruleset)
        self.space = Space.for_rules([self.rules], self.platform)
        self.regions = [self.space.region(r.when) for r in self.rules]
        self.evaluator = evaluator
        self.anchor = anchor_for([ruleset] + ([base] if base else []))
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
        facts = realise(self.space, point, self.anchor, self.platform or "tiktok_shop")
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


def targets_of(collection: RulesetCollection
               ) -> list[tuple[RulesetVersion, RulesetVersion | None]]:
    """Every version as evaluated: platform versions alone, overlays over each base they admit."""
    found: list[tuple[RulesetVersion, RulesetVersion | None]] = []
    for rs in collection.versions:
        if rs.is_overlay:
            found += [(rs, base) for base in collection.bases_for(rs)]
        else:
            found.append((rs, None))
    return found


def load_orders(targets: Sequence[Target], collection: RulesetCollection,
                documents: Iterable[Any]) -> int:
    """Place each real order in the target the evaluator would select for it; return how many
    could not be used (invalid facts or no ruleset in force)."""
    by_key = {(t.ruleset.key, t.base.key if t.base else None): t for t in targets}
    skipped = 0
    for doc in documents:
        try:
            flat = flatten_facts(doc)
            chosen, base = select(collection, flat)
        except AturanError:  # invalid facts, no version in force: counted, not fatal
            skipped += 1
            continue
        target = by_key.get((chosen.key, base.key if base else None))
        try:
            cells = tuple(axis.cell_of(flat.ages.get(axis.path, flat.values.get(axis.path)))
                          for axis in target.space.axes) if target else None
        except ValueError:  # a value outside the facts schema's ranges
            cells = None
        if target is None or cells is None:
            skipped += 1
            continue
        target.orders_total += 1
        target.orders[cells] += 1
    return skipped


def _silences_for(target: Target, finding: Finding) -> list[Silence]:
    ids = {r["id"] for r in finding.rules}
    found = [s for s in target.ruleset.lint_silence if s.code == finding.code]
    for rule in target.rules:
        if rule.id in ids:
            found += [s for s in rule.lint_silence if s.code == finding.code]
    return found


def _about_overlay(target: Target, finding: Finding) -> bool:
    """Does a finding on an overlay (merged over its base) involve what the overlay wrote?"""
    assert target.base is not None
    ids = {r["id"] for r in finding.rules}
    if "default" in ids:
        return target.ruleset.default != target.base.default
    return any(target.own(r) for r in target.rules if r.id in ids)


def lint_target(target: Target, codes: Iterable[str] | None = None) -> list[Finding]:
    """Run the checks on one target; silenced findings are kept, marked with their reason."""
    wanted = set(codes) if codes is not None else set(CHECKS)
    findings: list[Finding] = []
    for code, chk in CHECKS.items():
        if code not in wanted:
            continue
        for finding in chk.run(target):
            if target.base is not None and not _about_overlay(target, finding):
                continue  # about the base alone: reported when the base is linted
            findings.append(finding)
    used: set[int] = set()
    for finding in findings:
        matches = _silences_for(target, finding)
        if matches:
            finding.silenced = matches[0].reason
            used.update(id(s) for s in matches)
    findings += list(_unused_silences(target, used, wanted))
    return sorted(findings, key=Finding.sort_key)


def _unused_silences(target: Target, used: set[int], wanted: set[str]) -> Iterator[Finding]:
    own = [(s, None) for s in target.ruleset.lint_silence] + [
        (s, r) for r in target.rules if target.own(r) for s in r.lint_silence]
    for silence, rule in own:
        if id(silence) in used or silence.code not in wanted:
            continue
        where = f'rule "{rule.id}"' if rule else target.ruleset.key
        yield Finding(
            "unused-silence", "warning",
            f'{where} silences "{silence.code}", but lint finds no such finding there',
            silence.location, target.ruleset.key,
            rules=[rule_ref(rule)] if rule else [],
            fix="Remove the annotation; a silence that silences nothing hides the next real "
                "finding.")


def lint_collection(policies: Policies, collection: RulesetCollection | None = None,
                    orders: Iterable[Any] | None = None, max_gaps: int = 10,
                    codes: Iterable[str] | None = None) -> tuple[list[Finding], int]:
    """Lint every version in a collection: (findings sorted by location, unusable orders)."""
    collection = collection or policies.collection
    evaluator = Evaluator(policies)
    targets = [Target(rs, base, evaluator, max_gaps) for rs, base in targets_of(collection)]
    skipped = load_orders(targets, collection, orders) if orders is not None else 0
    findings = [f for t in targets for f in lint_target(t, codes)]
    return sorted(findings, key=Finding.sort_key), skipped


# ---------------------------------------------------------------------------------------------
# Regions back in the ruleset's own condition syntax

def describe_box(space: Space, box: Box, skip: Sequence[str] = ("order.platform",)
                 ) -> list[dict[str, Any]]:
    """The conditions (as a ruleset would write them, all of which hold) that say what a box
    says beyond the universe: one node per restricted axis."""
    nodes = []
    for i in space.restricted(box):
        axis = space.axes[i]
        if axis.path not in skip:
            nodes.append(_describe_axis(axis, box[i], space.universe[i]))
    return nodes


def _describe_axis(axis: Axis, mask: int, universe: int) -> dict[str, Any]:
    fact = axis.path
    absent_bit = axis.absent_bit
    allowed = [c for c in range(len(axis.cells)) if universe >> c & 1 and (1 << c) != absent_bit]
    present = [c for c in allowed if mask >> c & 1]
    with_absent = bool(mask & absent_bit)
    if not present:
        return {"fact": fact, "absent": True}
    if len(present) == len(allowed):
        return {"fact": fact, "exists": True}
    if axis.kind in ("integer", "timestamp"):
        core = _describe_runs(axis, present, allowed)
    else:
        values = [axis.cells[c] for c in present]
        others = [axis.cells[c] for c in allowed if c not in present]
        if OTHER not in values and len(values) == 1:
            core = {"fact": fact, "eq": values[0]}
        elif OTHER in values or len(others) < len(values):
            if with_absent:
                return {"not": {"fact": fact, "in": others}}
            core = {"fact": fact, "not_in": others}
        else:
            core = {"fact": fact, "in": values}
    return {"any": [{"fact": fact, "absent": True}, core]} if with_absent else core


def _describe_runs(axis: Axis, present: list[int], allowed: list[int]) -> dict[str, Any]:
    runs: list[list[int]] = []
    for c in present:
        if runs and allowed.index(c) == allowed.index(runs[-1][-1]) + 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    parts = []
    for run in runs:
        lo = axis.cells[run[0]].lo if run[0] != allowed[0] else None
        hi = axis.cells[run[-1]].hi if run[-1] != allowed[-1] else None
        bounds: list[dict[str, Any]] = []
        if axis.kind == "integer":
            if lo is not None and hi is not None and hi == lo + 1:
                bounds = [{"fact": axis.path, "eq": lo}]
            else:
                bounds = ([{"fact": axis.path, "ge": lo}] if lo is not None else []) + (
                    [{"fact": axis.path, "lt": hi}] if hi is not None else [])
        else:
            bounds = ([{"fact": axis.path, "older_than": format_duration(lo)}]
                      if lo is not None else []) + (
                [{"fact": axis.path, "within": format_duration(hi)}] if hi is not None else [])
        parts.append(bounds[0] if len(bounds) == 1 else {"all": bounds})
    return parts[0] if len(parts) == 1 else {"any": parts}


def _flow(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return str(value)


def condition_lines(node: dict[str, Any], indent: int = 0) -> list[str]:
    """One condition node as YAML in the ruleset's own style (atoms in flow style)."""
    pad = " " * indent
    if "fact" in node:
        op = next(k for k in node if k != "fact")
        return [f"{pad}{{ fact: {node['fact']}, {op}: {_flow(node[op])} }}"]
    key = next(iter(node))
    if key == "not":
        inner = condition_lines(node["not"], 0)
        if len(inner) == 1:
            return [f"{pad}not: {inner[0]}"]
        return [f"{pad}not:"] + condition_lines(node["not"], indent + 2)
    lines = [f"{pad}{key}:"]
    for child in node[key]:
        sub = condition_lines(child, indent + 4)
        lines.append(f"{pad}  - {sub[0].lstrip()}")
        lines += sub[1:]
    return lines


def region_lines(region: Sequence[Sequence[dict[str, Any]]]) -> list[str]:
    """A region (alternatives of conditions that all hold) as a `when:` block would read."""
    alternatives = [{"all": list(nodes)} if len(nodes) != 1 else nodes[0]
                    for nodes in region if nodes]
    if not alternatives:
        return ["(every order)"]
    node = alternatives[0] if len(alternatives) == 1 else {"any": alternatives}
    return condition_lines(node)


from . import lint_checks  # noqa: E402,F401 - registers the checks (it imports this module)
