"""The engine's limits as ruleset errors: every compiled ruleset version (an overlay over each
base it admits) is checked by `engine_network` and each limit it breaks becomes a diagnostic at
the rule that broke it, `file:line:col: engine-…: message`.

`aturan.load` runs this before any engine call and raises `RulesetError`; `aturan validate`
runs it too (the language layer cannot: the limits are the compiled network's), so a ruleset
that would hang or crash the engine is refused by both, at the same place, with the same text.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import Diagnostic, Location
from ..language.model import RulesetVersion
from ..language.repository import RulesetCollection
from ._engine import full_definition
from .compiler import CompiledRuleset, compile_ruleset
from .engine_network import Violation, violations

SHOWN_RULES = 3  # rule ids named in a message besides the one it points at


def _location(compiled: CompiledRuleset, engine_rule: str) -> tuple[str, Location]:
    """The rule id and location behind an engine rule name (`r12`); a sentinel or no rule at all
    points at the ruleset itself."""
    if engine_rule[:1] == "r" and engine_rule[1:].isdigit():
        index = int(engine_rule[1:])
        if index < len(compiled.rules):
            rule = compiled.rules[index]
            return rule.id, rule.location
    return "", compiled.ruleset.location


def _diagnostic(compiled: CompiledRuleset, violation: Violation) -> Diagnostic:
    """At the first rule the violation names (the one that broke the limit), naming a few of
    the others: `rule r-511 (with r-0, r-1, r-2 and 509 more) of demo@1.0.0: …`."""
    located = [_location(compiled, name) for name in violation.rules]
    rules = [(rule_id, where) for rule_id, where in located if rule_id]
    subject = compiled.ruleset.key + (f" over {compiled.base.key}" if compiled.base else "")
    if not rules:
        return Diagnostic(violation.code, f"{subject}: {violation.message}",
                          compiled.ruleset.location, hint=violation.hint)
    rule_id, location = rules[0]
    others = [i for i in dict.fromkeys(i for i, _ in rules) if i != rule_id]
    also = ""
    if others:
        more = len(others) - SHOWN_RULES
        also = (f" (with {', '.join(others[:SHOWN_RULES])}"
                f"{f' and {more:,} more' if more > 0 else ''})")
    return Diagnostic(violation.code, f"rule {rule_id}{also} of {subject}: {violation.message}",
                      location, hint=violation.hint)


def engine_diagnostics(compiled: CompiledRuleset) -> list[Diagnostic]:
    """Every engine limit this compiled ruleset breaks, located; empty when the engine can take
    it. Pure and quick (no engine call): a 5,800-rule ruleset is checked in well under a second."""
    return [_diagnostic(compiled, v) for v in violations(full_definition(compiled.definition))]


def compiled_versions(collection: RulesetCollection) -> Iterable[CompiledRuleset]:
    """Each version as the engine would get it: a platform version alone, an overlay merged
    over each base version it admits."""
    for rs in collection.versions:
        bases: Iterable[RulesetVersion | None] = (
            collection.bases_for(rs) if rs.is_overlay else (None,))
        for base in bases:
            yield compile_ruleset(rs, base, collection.catalogue)


def check_collection(collection: RulesetCollection) -> list[Diagnostic]:
    """`engine_diagnostics` of every compiled version, each problem once."""
    found: dict[Diagnostic, None] = {}
    for compiled in compiled_versions(collection):
        found.update(dict.fromkeys(engine_diagnostics(compiled)))
    return list(found)
