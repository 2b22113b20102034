"""Exhaustive comparison of two ruleset versions: either a proof that they decide every
schema-valid order alike, or every change group (old verdict -> new verdict) with a minimal
witness order that both versions, run through the real evaluator, confirm.

Two independent routes: the SMT solver z3 (`solver.py`, the optional extra `aturan[verify]`),
which reads the conditions as written, and the pure-Python box analysis (`symbolic.py`), which
reads them as cells. `compare(..., method="both")` runs both and reports a disagreement. A solver
time-out gives status "unknown", never "equal".
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import Diagnostic, SelectionError
from ..language.catalogue import Catalogue
from ..language.display import show
from ..language.model import DEFAULT_HOLIDAYS, Effect, Rule, RulesetVersion
from ..runtime.evaluate import Policies
from ..runtime.selection import parse_pin
from ..runtime.verdict import Verdict
from .comparison import ChangeGroup, Version
from .instants import Unrealisable, anchor_for
from .symbolic import Box, Space, intersect_regions, subtract_all
from .witness import (
    PLAIN,
    Evaluator,
    fields_of,
    platform_of,
    realise,
    verdict_of,
    verdict_of_decision,
    witness_point,
)

PAID_AT = "order.payment.paid_at"


def decision_regions(space: Space, rules: Sequence[Rule], default: Effect,
                     within: Sequence[Box] | None = None,
                     holidays: str = DEFAULT_HOLIDAYS) -> dict[Verdict, list[Box]]:
    """Split the space (or `within`) by the verdict the rules give: the deciding rules in the
    evaluator's order (priority, then position), each additive rule in or out, and refunds of
    kind `paid` by whether the order was paid. Boxes are disjoint; some may hold no valid order."""
    order = sorted((i for i, r in enumerate(rules) if r.decides),
                   key=lambda i: (-rules[i].priority, i))
    remaining = list(within) if within is not None else [space.universe]
    pieces: list[tuple[list[Box], Effect]] = []
    for i in order:
        region = space.region(rules[i].when)
        taken = intersect_regions(remaining, region)
        if taken:
            pieces.append((taken, rules[i].then))
            remaining = _prune(space, subtract_all(remaining, region))
    pieces.append((remaining, default))
    additive = [(r.then, space.region(r.when)) for r in rules if not r.decides]
    paid_axis = space.index[PAID_AT]
    absent = space.axes[paid_axis].absent_bit
    result: dict[Verdict, list[Box]] = {}
    for boxes, effect in pieces:
        items: list[tuple[Box, tuple[Effect, ...]]] = [(b, ()) for b in boxes]
        for add, region in additive:
            split: list[tuple[Box, tuple[Effect, ...]]] = []
            for box, adds in items:
                split += [(b, adds + (add,)) for b in intersect_regions([box], region)]
                split += [(b, adds) for b in subtract_all([box], region)]
            items = split
        for box, adds in items:
            if effect.refund is not None and effect.refund.paid_only:
                for paid, mask in ((True, box[paid_axis] & ~absent),
                                   (False, box[paid_axis] & absent)):
                    if mask:
                        cut = box[:paid_axis] + (mask,) + box[paid_axis + 1:]
                        result.setdefault(verdict_of(effect, adds, paid, holidays),
                                          []).append(cut)
            else:
                result.setdefault(verdict_of(effect, adds, True, holidays), []).append(box)
    return result


def _prune(space: Space, boxes: list[Box]) -> list[Box]:
    """Drop boxes that hold no valid order once a list grows (keeps subtraction small)."""
    if len(boxes) <= 32:
        return boxes
    return [b for b in boxes if space.feasible(b) is not None]


@dataclass
class Comparison:
    old: str
    new: str
    method: str
    status: str  # equal | different | unknown
    groups: list[ChangeGroup]
    seconds: float
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"old": self.old, "new": self.new, "method": self.method, "status": self.status,
                "note": self.note, "seconds": round(self.seconds, 3),
                "groups": [g.to_dict() for g in self.groups]}


def box_groups(space: Space, old: Version, new: Version) -> list[ChangeGroup]:
    """Every change group by box analysis, with its share; witnesses not yet attached."""
    left = decision_regions(space, old.rules, old.default, holidays=old.holidays)
    right = decision_regions(space, new.rules, new.default, holidays=new.holidays)
    groups = []
    for va, boxes_a in left.items():
        for vb, boxes_b in right.items():
            if va == vb:
                continue
            valid = [b for b in intersect_regions(boxes_a, boxes_b) if space.feasible(b)]
            if valid:
                share = sum(space.share(p) for b in valid for p in space.valid_pieces(b))
                group = ChangeGroup(va, vb, share=share)
                group.witness = {"_boxes": valid}
                groups.append(group)
    groups.sort(key=lambda g: (-(g.share or 0), repr(g.key())))
    return groups


def plainest(space: Space, boxes: Iterable[Box], tries: int = 24
             ) -> tuple[dict[str, Any], Box] | None:
    """The witness point with the fewest fields unlike the plain order, over the first boxes."""
    best: tuple[int, dict[str, Any], Box] | None = None
    for k, box in enumerate(boxes):
        if k >= tries:
            break
        point = witness_point(space, box)
        if point is None:
            continue
        score = sum(1 for path, value in point.items() if PLAIN.get(path, value) != value)
        if best is None or score < best[0]:
            best = (score, point, box)
    return None if best is None else (best[1], best[2])


def confirm(evaluator: Evaluator, space: Space, group: ChangeGroup, old: Version, new: Version,
            point: dict[str, Any]) -> None:
    """Attach a witness built from `point` and check it through the real evaluator. The fields
    shown are those the deciding rules of either version read, and those unlike a plain order."""
    catalogue = space.catalogue
    platform = (platform_of(new.ruleset, catalogue) or platform_of(old.ruleset, catalogue)
                or catalogue.default_platform)
    try:
        facts = realise(space, point, anchor_for(_versions(old, new),
                                                 catalogue.platform(platform).zone), platform)
    except Unrealisable:  # no valid order there to show: the group stays unconfirmed
        return
    d_old = evaluator.decide(facts, old.ruleset, old.base)
    d_new = evaluator.decide(facts, new.ruleset, new.base)
    read = [f for d in (d_old, d_new) for item in d.explanation for c in item.because
            for f in (c["fact"], c.get("of")) if f]
    deviations = [p for p, v in point.items() if p != "order.platform" and PLAIN.get(p, v) != v]
    group.witness = facts
    group.fields = fields_of(point, list(dict.fromkeys(read + deviations)), facts)
    group.old_rule = d_old.explanation[0].rule
    group.new_rule = d_new.explanation[0].rule
    group.confirmed = (verdict_of_decision(d_old, facts, old.holidays) == group.old
                       and verdict_of_decision(d_new, facts, new.holidays) == group.new)


def _versions(*pair: Version) -> list[RulesetVersion]:
    found = []
    for v in pair:
        found.append(v.ruleset)
        if v.base is not None:
            found.append(v.base)
    return found


def space_for(old: Version, new: Version, catalogue: Catalogue | None = None) -> Space:
    platform = platform_of(new.ruleset, catalogue) or platform_of(old.ruleset, catalogue)
    return Space.for_rules([old.rules, new.rules], platform, catalogue=catalogue)


def compare(evaluator: Evaluator, old: Version, new: Version, method: str = "z3",
            timeout: float = 60.0) -> Comparison:
    """Compare two versions over every valid order. `method`: z3 | box | both (both runs the
    two routes and reports status "unknown" with a note if their change groups differ)."""
    started = time.perf_counter()
    # the folder's catalogue; a stand-in evaluator (a test's interpreter) may carry none
    space = space_for(old, new, getattr(evaluator, "catalogue", None))
    note = ""
    if method in ("z3", "both"):
        from .solver import solver_groups  # needs the optional z3-solver
        status, groups = solver_groups(space, old, new, timeout)
        for group, point in groups:
            confirm(evaluator, space, group, old, new, point)
        found = sorted((g for g, _ in groups),
                       key=lambda g: (g.old.outcome, g.new.outcome, repr(g.key())))
        if method == "both":
            boxed = box_groups(space, old, new)
            if status != "unknown" and {g.key() for g in boxed} != {g.key() for g in found}:
                status, note = "unknown", (
                    f"the solver found {len(found)} change group(s) and the box analysis "
                    f"{len(boxed)}; they disagree, so neither is trusted (please report this)")
            shares = {g.key(): g.share for g in boxed}
            for g in found:
                g.share = shares.get(g.key())
            found.sort(key=lambda g: (-(g.share or 0), repr(g.key())))
    else:
        found = box_groups(space, old, new)
        for g in found:
            boxes = g.witness.pop("_boxes")
            best = plainest(space, boxes)
            assert best is not None
            confirm(evaluator, space, g, old, new, best[0])
        status = "different" if found else "equal"
    if any(not g.confirmed for g in found):
        note = (note + " " if note else "") + (
            "some witnesses were not confirmed by the evaluator: the analysis and the evaluator "
            "disagree (please report this)")
    return Comparison(old.key, new.key, method, status, found, time.perf_counter() - started,
                      note)


def resolve(policies: Policies, pin: str) -> Version:
    """`name@version` -> the loaded version (an overlay over the base it extends, newest)."""
    name, version = parse_pin(pin)
    found = policies.collection.get(name, version) if version else None
    if found is None:
        known = ", ".join(rs.key for rs in policies.collection.versions)
        raise SelectionError(Diagnostic("unknown-ruleset", f"ruleset {pin} is not loaded "
                                        f"(loaded: {known})"))
    base = None
    if found.is_overlay:
        bases = policies.collection.bases_for(found)
        base = bases[-1] if bases else None
    return Version(found, base)


def exhaustive_diff(policies: Policies, old_pin: str, new_pin: str, method: str = "z3",
                    timeout: float = 60.0) -> Comparison:
    """What `aturan diff OLD NEW --exhaustive` runs. Raises `SolverMissing` (with the install
    hint) when z3 is needed and not installed, `SelectionError` for an unknown version or two
    versions no one order can be decided by (different platforms)."""
    old, new = resolve(policies, old_pin), resolve(policies, new_pin)
    catalogue = policies.catalogue
    if platform_of(old.ruleset, catalogue) != platform_of(new.ruleset, catalogue):
        raise SelectionError(Diagnostic(
            "platform-mismatch", f"{old_pin} and {new_pin} decide orders of different "
            "platforms; compare two versions of one ruleset"))
    return compare(Evaluator(policies), old, new, method, timeout)


def render_text(result: Comparison) -> list[str]:
    """Text for people: the verdict first, then each change group with its witness."""
    if result.status == "equal":
        lines = [f"EQUAL  {result.old} and {result.new} decide every schema-valid order alike "
                 f"(proved by {result.method}, {result.seconds:.2f}s)"]
    elif result.status == "unknown":
        lines = [f"UNKNOWN  {result.old} vs {result.new}: not proved equal ({result.method}, "
                 f"{result.seconds:.2f}s); {len(result.groups)} change group(s) found so far"]
    else:
        lines = [f"DIFFERENT  {result.old} -> {result.new}: {len(result.groups)} change "
                 f"group(s) over all schema-valid orders ({result.method}, "
                 f"{result.seconds:.2f}s)"]
    if result.note:
        lines.append(f"  note: {result.note}")
    for n, g in enumerate(result.groups, 1):
        c = g.changes()
        share = f"  [{g.share:.2%} of the order space]" if g.share is not None else ""
        lines.append(f"  {n}. {g.old.outcome} -> {g.new.outcome}  "
                     f"({g.old_rule or '?'} -> {g.new_rule or '?'}){share}")
        if c["refund"]:
            lines.append(f"     refund: {_refund(g.old)} -> {_refund(g.new)}")
        for key in ("effective_at", "return"):
            if key in c:
                old, new = (show(v, "none") for v in c[key])
                lines.append(f"     {key.replace('_', ' ')}: {old} -> {new}")
        for label, key in (("penalties added", "penalties_added"),
                           ("penalties removed", "penalties_removed")):
            if c[key]:
                lines.append(f"     {label}: " + ", ".join(p["code"] for p in c[key]))
        for label, key in (("next steps added", "next_steps_added"),
                           ("next steps removed", "next_steps_removed")):
            if c[key]:
                lines.append(f"     {label}: " + ", ".join(c[key]))
        now = g.witness.get("now")
        lines.append("     witness: " + ", ".join(f"{p}={show(v, now=now)}"
                                                for p, v in g.fields.items())
                     + ("" if g.confirmed else "   (NOT confirmed by the evaluator)"))
    return lines


def _refund(v: Verdict) -> str:
    return "none" if v.refund is None else f"{v.refund[0]} to {v.refund[1]}"
