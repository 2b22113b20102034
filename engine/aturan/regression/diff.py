"""Impact of a policy change: evaluate each order under two pinned ruleset versions and summarise
the decisions that change, grouped by (old outcome -> new outcome) and by deciding rule
(old -> new), with a few example orders per group, plus the orders either version cannot decide.

`diff_items` is a pure function from an iterable of (position, facts) to a `DiffSummary`, and
`DiffSummary.merge` is commutative and associative (counts add; examples keep the lowest
positions), so any partitioning of a corpus (chunks in worker processes here, partitions on a
cluster later) gives the same summary. Running it in parallel is `diffrun`'s job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import AturanError, Diagnostic, FactsError, Location, SelectionError
from ..language.repository import RulesetCollection
from ..runtime.evaluate import Policies
from ..runtime.selection import parse_pin
from ..runtime.verdict import PARTS, Verdict
from ..suggest import did_you_mean

EXAMPLES = 3
# A position is unique over every input and sorts in input order: the line number in the one
# input, or `file index * FILE_STRIDE + line` over several (`inputs`, `partitioned`).
FILE_STRIDE = 1 << 40


def locate(position: int, sources: Sequence[str] = ()) -> dict[str, Any]:
    """`{"line": n}`, with `"file"` first when there are several inputs."""
    if len(sources) > 1:
        return {"file": sources[position // FILE_STRIDE], "line": position % FILE_STRIDE}
    return {"line": position}


def _verdict_dict(verdict: Verdict) -> dict[str, Any]:
    refund = None if verdict.refund is None else dict(zip(
        ("amount", "destination", "min_business_days", "max_business_days", "due_by"),
        verdict.refund))
    data = {"outcome": verdict.outcome, "rule": verdict.rule, "refund": refund,
            "penalties": [{"party": p, "code": c, "points": n} for p, c, n in verdict.penalties],
            "next_steps": list(verdict.next_steps)}
    if verdict.effective_at is not None:
        data["effective_at"] = verdict.effective_at
    if verdict.return_ is not None:
        data["return"] = dict(verdict.return_)
    return data


@dataclass(frozen=True)
class Change:
    """One order whose decision changed."""

    position: int
    order_id: str
    old: Verdict
    new: Verdict

    def to_dict(self, sources: Sequence[str] = ()) -> dict[str, Any]:
        return {**locate(self.position, sources), "order_id": self.order_id,
                "changed": self.old.changed_parts(self.new),
                "old": _verdict_dict(self.old), "new": _verdict_dict(self.new)}


@dataclass
class Group:
    """How many orders fell in a group, and the lowest-positioned few as examples."""

    count: int = 0
    examples: list[tuple[int, str]] = field(default_factory=list)

    def add(self, position: int, order_id: str, limit: int) -> None:
        self.count += 1
        if len(self.examples) < limit or position < self.examples[-1][0]:
            self.examples = sorted(self.examples + [(position, order_id)])[:limit]

    def merged(self, other: Group, limit: int) -> Group:
        return Group(self.count + other.count, sorted(self.examples + other.examples)[:limit])


def _merge_groups(a: dict[Any, Group], b: dict[Any, Group], limit: int) -> dict[Any, Group]:
    out = {key: Group(g.count, list(g.examples)) for key, g in a.items()}
    for key, group in b.items():
        out[key] = out[key].merged(group, limit) if key in out else Group(
            group.count, list(group.examples))
    return out


@dataclass
class DiffSummary:
    """Counts and examples of what changes between two versions over some orders."""

    old: str
    new: str
    orders: int = 0
    changed: int = 0
    invalid: int = 0
    parts: Counter[str] = field(default_factory=Counter)
    by_outcome: dict[tuple[str, str], Group] = field(default_factory=dict)
    by_rule: dict[tuple[str, str], Group] = field(default_factory=dict)
    by_error: dict[tuple[str, str], Group] = field(default_factory=dict)  # (side, code)
    limit: int = EXAMPLES

    @property
    def unchanged(self) -> int:
        return self.orders - self.changed - self.invalid

    def record_change(self, change: Change) -> None:
        self.orders += 1
        self.changed += 1
        self.parts.update(change.old.changed_parts(change.new))
        for groups, key in ((self.by_outcome, (change.old.outcome, change.new.outcome)),
                            (self.by_rule, (change.old.rule, change.new.rule))):
            groups.setdefault(key, Group()).add(change.position, change.order_id, self.limit)

    def record_pair(self, position: int, order_id: str, old: Verdict, new: Verdict,
                    changes: list[Change] | None = None) -> None:
        """One order's two verdicts: counted, and recorded (and kept in `changes`, when
        given) as a change if they differ; the corpus diff and replay --against both count so."""
        if old.changed_parts(new):
            change = Change(position, order_id, old, new)
            self.record_change(change)
            if changes is not None:
                changes.append(change)
        else:
            self.orders += 1

    def record_invalid(self, position: int, order_id: str, side: str, code: str) -> None:
        self.orders += 1
        self.invalid += 1
        self.by_error.setdefault((side, code), Group()).add(position, order_id, self.limit)

    def merge(self, other: DiffSummary) -> DiffSummary:
        """A new summary of both; order-independent, so partitions can finish in any order."""
        if (self.old, self.new) != (other.old, other.new):
            raise ValueError(f"cannot merge a diff of {other.old} -> {other.new} into "
                             f"{self.old} -> {self.new}")
        limit = min(self.limit, other.limit)
        return DiffSummary(self.old, self.new, self.orders + other.orders,
                           self.changed + other.changed, self.invalid + other.invalid,
                           self.parts + other.parts,
                           _merge_groups(self.by_outcome, other.by_outcome, limit),
                           _merge_groups(self.by_rule, other.by_rule, limit),
                           _merge_groups(self.by_error, other.by_error, limit), limit)

    def to_dict(self, sources: Sequence[str] = ()) -> dict[str, Any]:
        """The summary as JSON; `sources`: the inputs, when examples must name their file."""
        def rows(groups: dict[tuple[str, str], Group], names: tuple[str, str]) -> list[dict]:
            ordered = sorted(groups.items(), key=lambda kv: (-kv[1].count, kv[0]))
            return [{names[0]: key[0], names[1]: key[1], "count": g.count,
                     "examples": [{**locate(p, sources), "order_id": o}
                                  for p, o in g.examples]}
                    for key, g in ordered]

        return {"old": self.old, "new": self.new, "orders": self.orders,
                "changed": self.changed, "unchanged": self.unchanged, "invalid": self.invalid,
                "changed_parts": {p: self.parts[p] for p in PARTS if self.parts[p]},
                "by_outcome": rows(self.by_outcome, ("old", "new")),
                "by_rule": rows(self.by_rule, ("old", "new")),
                "invalid_orders": rows(self.by_error, ("side", "code"))}


def check_pins(collection: RulesetCollection, *pins: str) -> None:
    """Each pin must be `name@version` of a loaded version, and all of one platform (no order
    can be decided by a TikTok Shop and a Shopee version); raise `SelectionError` if not."""
    platforms: dict[str, str] = {}
    for pin in pins:
        name, version = parse_pin(pin)
        rs = collection.get(name, version) if version is not None else None
        if rs is None:
            known = [rs.key for rs in collection.versions]
            what = "needs a version (NAME@VERSION)" if version is None else "is not loaded"
            raise SelectionError(Diagnostic("unknown-ruleset", f"{pin} {what} (loaded: "
                                            f"{', '.join(known)})", Location(),
                                            hint=did_you_mean(pin, known)))
        platforms[pin] = rs.platform
    if len(set(platforms.values())) > 1:
        shown = " and ".join(f"{pin} ({platform})" for pin, platform in platforms.items())
        raise SelectionError(Diagnostic(
            "platform-mismatch", f"{shown} decide orders of different platforms; compare two "
            "versions of one ruleset (or an overlay and its platform)", Location()))


class VersionPair:
    """Decides one order under both pinned versions, validating its facts once."""

    def __init__(self, policies: Policies, old: str, new: str):
        check_pins(policies.collection, old, new)
        self.policies, self.old, self.new = policies, old, new

    def compare(self, facts: Any) -> tuple[Verdict, Verdict] | tuple[str, str]:
        """(old verdict, new verdict), or (side, error code) when an order cannot be decided:
        side is `input` for bad facts, else `old`, `new` or `both`. The facts are validated
        once and each verdict comes from the memo's plan (`Policies.plans_for`), without
        rendering explanations; the verdicts are those of `Policies.decide` for each pin, as
        `aturan decide --ruleset` gives them (tests/regression/test_diff.py compares)."""
        try:
            flat, plans = self.policies.plans_for(facts, (self.old, self.new))
        except FactsError as exc:  # facts are checked before a version is chosen
            return "input", exc.first.code
        old, new = (p.first.code if isinstance(p, SelectionError) else Verdict.of_plan(p, flat)
                    for p in plans)
        if isinstance(old, Verdict) and isinstance(new, Verdict):
            return old, new
        if isinstance(old, str) and isinstance(new, str):
            return ("both", old) if old == new else ("both", f"{old} / {new}")
        return ("old", str(old)) if isinstance(old, str) else ("new", str(new))


def _order_id(facts: Any) -> str:
    try:
        value = facts["order"]["id"]
    except (TypeError, KeyError):
        return ""
    return value if isinstance(value, str) else ""


def diff_items(pair: VersionPair, items: Iterable[tuple[int, Any]],
               changes: list[Change] | None = None) -> DiffSummary:
    """Summarise `items` — (position, facts or the AturanError that reading them raised) — with
    positions unique across everything that will be merged (line numbers). Changed orders are
    also appended to `changes` when a list is given."""
    summary = DiffSummary(pair.old, pair.new)
    for position, facts in items:
        if isinstance(facts, AturanError):
            summary.record_invalid(position, "", "input", facts.first.code)
            continue
        result = pair.compare(facts)
        order_id = _order_id(facts)
        if isinstance(result[0], str):
            summary.record_invalid(position, order_id, result[0], str(result[1]))
            continue
        old, new = result
        assert isinstance(old, Verdict) and isinstance(new, Verdict)
        summary.record_pair(position, order_id, old, new, changes)
    return summary


def merge_all(summaries: Iterable[DiffSummary], old: str, new: str) -> DiffSummary:
    total = DiffSummary(old, new)
    for summary in summaries:
        total = total.merge(summary)
    return total
