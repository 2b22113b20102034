"""The lint checks: one small function per stable code, registered in `lint.CHECKS`.

Each check asks the order space an exact question (is this region empty, is this rule's region
covered by those), builds a witness order for a finding and runs it through the real evaluator,
which must show what the finding claims (`confirmed`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ...language.catalogue import sensitive_fields
from ...language.model import AllOf, AnyOf, Atom, Condition, Effect, Rule, atoms_of
from ...runtime.compiler import compile_ruleset, negation_normal_form
from ...runtime.evaluate import combine
from ..equivalence import PAID_AT, plainest
from ..instants import Unrealisable
from ..symbolic import (
    Box,
    Forbid,
    Space,
    build_axes,
    constraint_atoms,
    intersect_regions,
    merge_boxes,
)
from ..witness import mattering, verdict_of, verdict_of_decision
from .regions import condition_lines
from .registry import Finding, Target, check, rule_ref


def _where_differ(t: Target, a: Effect, b: Effect, boxes: Sequence[Box]) -> list[Box]:
    """The part of `boxes` where two effects give different verdicts: everywhere, nowhere, or
    (refund `paid` against another kind) only on paid or only on unpaid orders."""
    states = [paid for paid in (True, False) if verdict_of(a, (), paid) != verdict_of(b, (), paid)]
    if len(states) != 1:
        return list(boxes) if states else []
    axis = t.space.index[PAID_AT]
    absent = t.space.axes[axis].absent_bit
    mask = ~absent if states[0] else absent
    return [box[:axis] + (box[axis] & mask,) + box[axis + 1:] for box in boxes
            if box[axis] & mask]


def _decided(decision: Any) -> str:
    return f"{decision.outcome} by {decision.explanation[0].rule}"


def _attach(t: Target, finding: Finding, boxes: Sequence[Box],
            claim: Callable[[dict[str, Any], Any], bool]) -> Finding:
    """Pick the plainest witness in `boxes`, evaluate it, record whether `claim` holds."""
    best = plainest(t.space, boxes)
    if best is None:
        return finding
    point, box = best
    try:
        facts, fields = t.witness(point, mattering(t.space, box))
    except Unrealisable:  # no valid order there to show: the finding stays unconfirmed
        return finding
    decision = t.decide(facts)
    finding.witness, finding.fields = facts, fields
    finding.decided = _decided(decision)
    finding.confirmed = bool(claim(facts, decision))
    return finding


def _matched(decision: Any) -> set[str]:
    return {item.rule for item in decision.explanation} | {o.rule for o in decision.overridden}


def _without(t: Target, facts: dict[str, Any], index: int) -> Any:
    """The decision with rule `index` removed: the engine's fired rules less that one, combined."""
    flat, fired = t.evaluator.fired(facts, t.ruleset, t.base)
    return combine(compile_ruleset(t.ruleset, t.base, t.space.catalogue), flat,
                   [k for k in fired if k != index])


# ---------------------------------------------------------------------------------------------

@check("dead-rule", "warning", "a rule that no valid order can match")
def dead_rule(t: Target) -> Iterator[Finding]:
    for i, rule in enumerate(t.rules):
        if t.space.first_valid(t.regions[i]) is not None:
            continue
        core, needed = _core(t, rule)
        shown = " and ".join(condition_lines(_atom_node(a))[0] for a in core)
        why = ("contradict each other" if not needed else "cannot all hold: " + "; ".join(
            f"{c.name} ({c.why})" for c in needed))
        yield Finding(
            "dead-rule", "warning", f'rule "{rule.id}" can never match: {shown} {why}',
            rule.location, t.ruleset.key, rules=[rule_ref(rule)],
            core=[_atom_node(a) for a in core], confirmed=True,
            fix="Correct the condition that cannot hold, or remove the rule.")


def _atom_node(atom: Atom) -> dict[str, Any]:
    node = {"fact": atom.fact, atom.op: atom.expected()}
    if atom.of is not None:
        node["of"] = atom.of
    return {**node, "line": atom.location.line}


def _relaxed_region(space: Space, node: Condition, relaxed: set[int], counter: list[int]
                    ) -> list[Box]:
    """The region of an NNF condition with the atoms numbered in `relaxed` read as true."""
    if isinstance(node, Atom):
        k = counter[0]
        counter[0] += 1
        if k in relaxed:
            return [space.universe]
        box = space.atom_box(node)
        return [box] if box is not None else []
    assert isinstance(node, (AllOf, AnyOf)), node  # negation normal form: no Not above an atom
    children = [_relaxed_region(space, c, relaxed, counter) for c in node.children]
    if isinstance(node, AnyOf):
        return [b for child in children for b in child]
    assert isinstance(node, AllOf)
    result = [space.universe]
    for child in children:
        result = intersect_regions(result, child)
    return result


def _core(t: Target, rule: Rule) -> tuple[list[Atom], list[Any]]:
    """A minimal set of the rule's atoms that cannot hold together, and the constraints that
    make it so (none when the atoms contradict each other outright)."""
    nnf = negation_normal_form(rule.when)
    leaves = atoms_of(nnf)

    def empty(space: Space, relaxed: set[int]) -> bool:
        return space.first_valid(_relaxed_region(space, nnf, relaxed, [0])) is None

    relaxed: set[int] = set()
    for k in range(len(leaves)):
        if empty(t.space, relaxed | {k}):
            relaxed.add(k)
    core = [leaves[k] for k in range(len(leaves)) if k not in relaxed]
    constraints = list(t.space.constraints)
    atoms = atoms_of(rule.when)
    relations = [r for r in t.space.coupled.relations]
    for r in list(relations):
        trial_r = [x for x in relations if x is not r]
        space = Space(build_axes(atoms + constraint_atoms(constraints), t.space.catalogue),
                      constraints, t.space.catalogue, trial_r)
        if empty(space, relaxed):
            relations = trial_r
    for c in list(constraints):
        trial = [x for x in constraints if x is not c]
        space = Space(build_axes(atoms + constraint_atoms(trial), t.space.catalogue), trial,
                      t.space.catalogue, relations)
        if empty(space, relaxed):
            constraints = trial
    return core, [c for c in dict.fromkeys(constraints)
                  if not (isinstance(c, Forbid) and c.name == "platform-of-ruleset")] + relations


@check("conflict", "error", "equal-priority deciding rules that decide differently on one order")
def conflict(t: Target) -> Iterator[Finding]:
    for a, i in enumerate(t.order):
        for j in t.order[a + 1:]:
            first, second = t.rules[i], t.rules[j]
            if first.priority != second.priority:
                break
            overlap = _where_differ(t, first.then, second.then,
                                    intersect_regions(t.regions[i], t.regions[j]))
            higher = [b for k in t.above(i) for b in t.regions[k]]
            pieces = list(t.space.valid_boxes(overlap, higher))
            if not pieces:
                continue
            finding = Finding(
                "conflict", "error",
                f'rules "{first.id}" ({verdict_of(first.then, (), True).short()}) and '
                f'"{second.id}" ({verdict_of(second.then, (), True).short()}) have the same '
                f"priority {first.priority} and both decide the orders below; only their order "
                f'(in the file, or base before overlay) picks "{first.id}" ({first.location}), '
                "which no reader can tell",
                second.location, t.ruleset.key, rules=[rule_ref(first), rule_ref(second)],
                region=t.describe(merge_boxes(pieces)),
                fix=f'Give "{first.id}" or "{second.id}" a different priority, or make their '
                    "conditions exclusive.")
            def claim(facts: dict[str, Any], d: Any, a: str = first.id, b: str = second.id
                      ) -> bool:
                return bool(d.explanation[0].rule == a and b in _matched(d))
            yield _attach(t, finding, pieces, claim)


@check("shadowed-rule", "warning", "a deciding rule that a higher-priority rule always beats")
def shadowed_rule(t: Target) -> Iterator[Finding]:
    for i in t.order:
        rule = t.rules[i]
        if t.space.first_valid(t.regions[i]) is None:
            continue  # dead: reported as such
        higher = [b for k in t.above(i) for b in t.regions[k]]
        if t.space.first_valid(t.regions[i], higher) is not None:
            continue
        winners = [t.rules[k] for k in t.above(i) if t.meets(t.regions[i], t.regions[k])]
        names = ", ".join(f'"{w.id}" ({w.priority})' for w in winners)
        top = max(w.priority for w in winners)
        finding = Finding(
            "shadowed-rule", "warning",
            f'rule "{rule.id}" (priority {rule.priority}) never decides: every order it matches '
            f"is decided by a higher-priority rule: {names}", rule.location, t.ruleset.key,
            rules=[rule_ref(rule)] + [rule_ref(w) for w in winners],
            region=t.describe(t.space.valid_boxes(t.regions[i])),
            fix=f"Raise its priority above {top} if it should decide these orders; otherwise "
                "remove it.")
        def claim(facts: dict[str, Any], d: Any, by: frozenset[str] = frozenset(w.id for w in winners),
                  own: str = rule.id) -> bool:
            return bool(d.explanation[0].rule in by and own in _matched(d))
        yield _attach(t, finding, t.regions[i], claim)


@check("redundant-rule", "warning", "a rule whose region and effect other rules already give")
def redundant_rule(t: Target) -> Iterator[Finding]:
    for i, rule in enumerate(t.rules):
        if t.space.first_valid(t.regions[i]) is None:
            continue
        found = _redundant_decider(t, i) if rule.decides else _redundant_adder(t, i)
        if found is not None:
            yield found


def _redundant_decider(t: Target, i: int) -> Finding | None:
    """Rule i changes no decision when, wherever it wins, the rule that would win without it
    (the next matching deciding rule, else the default) has the same effect. Additive rules
    add the same with or without it, so only the winners are compared."""
    rule = t.rules[i]
    before = t.before(i)
    if t.space.first_valid(t.regions[i], before) is None:
        return _beaten_by_position(t, i)
    rank = t.order.index(i)
    passed: list[Box] = list(before)
    for k in t.order[rank + 1:]:
        differ = _where_differ(t, t.rules[k].then, rule.then,
                               intersect_regions(t.regions[i], t.regions[k]))
        if t.space.first_valid(differ, passed) is not None:
            return None
        passed += t.regions[k]
    differ = _where_differ(t, t.ruleset.default, rule.then, t.regions[i])
    if t.space.first_valid(differ, passed) is not None:
        return None
    wins = merge_boxes(t.space.valid_boxes(t.regions[i], before))
    takers = [t.rules[k] for k in t.order[rank + 1:]
              if t.meets(wins, t.regions[k]) and not t.meets(
                  _where_differ(t, t.rules[k].then, rule.then, wins), t.regions[k])]
    names = ", ".join(f'"{r.id}"' for r in takers) or "the default"
    finding = Finding(
        "redundant-rule", "warning",
        f'rule "{rule.id}" changes no decision: wherever it decides, {names} would decide the '
        "same without it", rule.location, t.ruleset.key,
        rules=[rule_ref(rule)] + [rule_ref(r) for r in takers], region=t.describe(wins),
        fix="Remove the rule (or, if it should differ, change its effect).")

    def claim(facts: dict[str, Any], d: Any) -> bool:
        without = verdict_of_decision(_without(t, facts, i), facts)
        return d.explanation[0].rule == rule.id and without == verdict_of_decision(d, facts)
    return _attach(t, finding, wins, claim)


def _beaten_by_position(t: Target, i: int) -> Finding | None:
    """Rule i never wins, yet higher-priority rules do not cover it: equal-priority rules earlier
    in the file take every order it matches. Where they decide differently that is a conflict
    (reported as such); where they decide the same, the rule is redundant."""
    rule = t.rules[i]
    higher = [b for k in t.above(i) for b in t.regions[k]]
    if t.space.first_valid(t.regions[i], higher) is None:
        return None  # shadowed: reported as such
    peers = [k for k in t.order[:t.order.index(i)] if t.rules[k].priority == rule.priority]
    if any(t.space.first_valid(_where_differ(t, t.rules[k].then, rule.then, intersect_regions(
            t.regions[i], t.regions[k])), higher) is not None for k in peers):
        return None
    takers = [t.rules[k] for k in peers if t.meets(t.regions[i], t.regions[k])]
    region = merge_boxes(t.space.valid_boxes(t.regions[i], higher))
    finding = Finding(
        "redundant-rule", "warning",
        f'rule "{rule.id}" never decides: where no higher-priority rule does, '
        + ", ".join(f'"{r.id}"' for r in takers) + f" (same priority {rule.priority}, earlier in "
        "the file) decide the same", rule.location, t.ruleset.key,
        rules=[rule_ref(rule)] + [rule_ref(r) for r in takers], region=t.describe(region),
        fix="Remove the rule, or merge its conditions into the rule that decides the same.")
    return _attach(t, finding, region, lambda facts, d: (
        d.explanation[0].rule in {r.id for r in takers} and rule.id in _matched(d)))


def _redundant_adder(t: Target, i: int) -> Finding | None:
    """An additive rule adds nothing when, wherever it matches, each of its penalties and next
    steps is already given: by a matching additive rule, or by the winner (or the default)."""
    rule = t.rules[i]
    items: list[tuple[str, Any]] = [("penalty", (p.party, p.code, p.points))
                                    for p in rule.then.penalties]
    items += [("step", s) for s in rule.then.next_steps]
    involved: dict[str, Rule] = {}
    for kind, item in items:
        adders = [k for k, r in enumerate(t.rules)
                  if k != i and not r.decides and _gives(r.then, kind, item)]
        cover = [b for k in adders for b in t.regions[k]]
        passed: list[Box] = []
        for k in t.order:  # orders that rule k wins and that no adder covers must not exist
            if not _gives(t.rules[k].then, kind, item) and t.space.first_valid(
                    intersect_regions(t.regions[i], t.regions[k]), passed + cover) is not None:
                return None
            passed += t.regions[k]
        if not _gives(t.ruleset.default, kind, item) and t.space.first_valid(
                t.regions[i], passed + cover) is not None:
            return None
        for k in adders + [k for k in t.order if _gives(t.rules[k].then, kind, item)]:
            if t.meets(t.regions[i], t.regions[k]):
                involved.setdefault(t.rules[k].id, t.rules[k])
    names = ", ".join(f'"{r}"' for r in involved) or "the default"
    twice = " Its penalties would count twice." if rule.then.penalties else ""
    finding = Finding(
        "redundant-rule", "warning",
        f'rule "{rule.id}" adds nothing: wherever it matches, {names} already '
        f"{'gives' if len(involved) == 1 else 'give'} its penalties and next steps.{twice}",
        rule.location, t.ruleset.key,
        rules=[rule_ref(rule)] + [rule_ref(r) for r in involved.values()],
        region=t.describe(merge_boxes(t.space.valid_boxes(t.regions[i]))),
        fix="Remove the rule, or remove the duplicated penalty from the other rule.")

    def claim(facts: dict[str, Any], d: Any) -> bool:
        with_it = verdict_of_decision(d, facts)
        without = verdict_of_decision(_without(t, facts, i), facts)
        extra = Counter(with_it.penalties) - Counter(without.penalties)
        mine = Counter((p.party, p.code, p.points) for p in rule.then.penalties)
        return (rule.id in _matched(d) and with_it.next_steps == without.next_steps
                and extra == mine and all(p in without.penalties for p in mine))
    return _attach(t, finding, t.regions[i], claim)


def _gives(effect: Any, kind: str, item: Any) -> bool:
    if kind == "step":
        return item in effect.next_steps
    return any((p.party, p.code, p.points) == item for p in effect.penalties)


@check("gap", "warning", "valid orders that only the ruleset's default decides")
def gap(t: Target) -> Iterator[Finding]:
    """Gap regions are found one at a time (a valid order no deciding rule matches, grown into
    the widest box that holds no decided valid order), seeded first by real orders when
    `--orders` is given, so the regions shown are the largest, never enumerating cells."""
    space, deciding = t.space, t.deciding_boxes()
    limit = 3 * t.max_gaps

    def only_gaps(box: Box) -> bool:
        return not space.meets(box, deciding)

    found: list[Box] = []
    for cells, _ in t.orders.most_common(limit * 20):
        if len(found) >= limit:
            break
        point = tuple(1 << c for c in cells)
        if space.feasible(point) is not None and only_gaps(point) and not any(
                _within(point, f) for f in found):
            found.append(_grow(space, point, only_gaps))
    complete = False
    while len(found) < limit:
        piece = space.first_valid([space.universe], deciding + found)
        if piece is None:
            complete = True
            break
        found.append(_grow(space, piece, only_gaps))
    if not found:
        return
    weights = {b: (t.weigh(b) if t.orders_total else 0, space.share(b)) for b in found}
    found.sort(key=lambda b: (-weights[b][0], -weights[b][1]))
    shown = found[:t.max_gaps]
    total = f"{len(found)}" if complete else f"at least {len(found)}"
    default = t.ruleset.default
    for n, box in enumerate(shown, 1):
        count, share = weights[box]
        more = (f"; {total} gap regions in all, the smaller ones not shown (--max-gaps)"
                if n == len(shown) and (len(found) > len(shown) or not complete) else "")
        weight = (f"{count} of {t.orders_total} real orders" if t.orders_total
                  else f"{share:.2%} of the order space")
        finding = Finding(
            "gap", "warning",
            f"gap {n}: no deciding rule covers these orders, so the default "
            f"({default.outcome}) decides them [{weight}]{more}",
            t.ruleset.default_location, t.ruleset.key,
            rules=[{"id": "default", "file": t.ruleset.default_location.file,
                    "line": t.ruleset.default_location.line, "priority": None,
                    "outcome": default.outcome}],
            region=t.describe([box]), share=share,
            orders=count if t.orders_total else None,
            orders_total=t.orders_total if t.orders_total else None,
            fix="Add a rule that decides these orders; if the default is right for them, say so: "
                'lint: { silence: [ { code: gap, reason: "..." } ] }.', rank=n)
        yield _attach(t, finding, [box], lambda facts, d: d.explanation[0].rule == "default")


def _within(a: Box, b: Box) -> bool:
    return all(x & ~y == 0 for x, y in zip(a, b))


def _grow(space: Space, box: Box, ok: Callable[[Box], bool]) -> Box:
    """Widen a box axis by axis (whole axis first, then cell by cell) while `ok` holds, so a
    region is described by the fewest conditions."""
    current = box
    for i in space.restricted(box):
        full = current[:i] + (space.universe[i],) + current[i + 1:]
        if ok(full):
            current = full
            continue
        for cell in range(len(space.axes[i].cells)):
            bit = 1 << cell
            if space.universe[i] & bit and not current[i] & bit:
                trial = current[:i] + (current[i] | bit,) + current[i + 1:]
                if ok(trial):
                    current = trial
    return current


@check("reads-masked-fact", "warning",
       "a rule reads a fact the decision log masks, so logged decisions cannot be re-derived")
def reads_masked_fact(t: Target) -> Iterator[Finding]:
    masked = _masked_paths(t.space.catalogue.facts_schema)
    for rule in t.rules:
        if not t.own(rule):
            continue
        for fact in dict.fromkeys(a.fact for a in atoms_of(rule.when)):
            how = masked.get(fact)
            if how is None:
                continue
            yield Finding(
                "reads-masked-fact", "warning",
                f'rule "{rule.id}" reads {fact}, which the decision log '
                f'{"replaces by an HMAC" if how == "hmac" else "erases"} (x-sensitive in the '
                "facts schema): `aturan replay --verify` cannot re-derive its decisions",
                rule.location, t.ruleset.key, rules=[rule_ref(rule)], confirmed=True,
                fix="Decide on a fact that is not personal data, or accept that these records "
                    "are kept but not re-derivable.")


def _masked_paths(schema: dict[str, Any]) -> dict[str, str]:
    """Dotted fact path -> masking method, for the facts schema's sensitive fields (array
    elements are not fact paths, so pointers through `*` name none)."""
    return {pointer[1:].replace("/", "."): how
            for pointer, how in sensitive_fields(schema).items() if "*" not in pointer}
