"""`aturan lint`: findings about a ruleset over every possible order, each with a stable code, a
severity, a `file:line`, the rules involved, the region in the ruleset's own condition syntax
and a witness order the real evaluator has confirmed.

The checks live in `checks.py`, one small function per code behind a registry (`CHECKS`, in
`registry.py`); this module builds what they share (a `Target`: one ruleset version, merged over its base for
an overlay, with its order space), applies `lint: { silence: [...] }` annotations, and weighs
gaps by real orders (`--orders`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from ...errors import AturanError
from ...language.model import RulesetVersion, Silence
from ...language.repository import RulesetCollection
from ...runtime.evaluate import Policies
from ...runtime.facts import FactsReader, flatten_facts
from ...runtime.selection import select
from ..witness import Evaluator
from . import checks  # noqa: F401 - importing it registers the checks
from .registry import CHECKS, Finding, Target, rule_ref


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
                documents: Iterable[Any], reader: FactsReader | None = None) -> int:
    """Place each real order in the target the evaluator would select for it; return how many
    could not be used (invalid facts or no ruleset in force)."""
    by_key = {(t.ruleset.key, t.base.key if t.base else None): t for t in targets}
    skipped = 0
    for doc in documents:
        try:
            flat = flatten_facts(doc, reader)
            chosen, base = select(collection, flat)
        except AturanError:  # invalid facts, no version in force: counted, not fatal
            skipped += 1
            continue
        target = by_key.get((chosen.key, base.key if base else None))
        try:
            cells = tuple(axis.cell_of(target.space.value_of(flat, axis))
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
    skipped = (load_orders(targets, collection, orders, policies.facts_reader)
               if orders is not None else 0)
    findings = [f for t in targets for f in lint_target(t, codes)]
    return sorted(findings, key=Finding.sort_key), skipped
