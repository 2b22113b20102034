"""Rule coverage: which rules of each ruleset version some decision fired (matched, whether it
applied or was overridden), and which no decision fired, each with its file:line.

Coverage is a listener on decisions, not on cases: `aturan test` feeds it the decisions of its
cases, and any other tool that makes decisions (a diff, a replay) could feed it the same way.
A rule that fires under a seller overlay counts for the version that defines it: the overlay's
own rules for the overlay, inherited rules for the platform version beneath it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..language.model import RulesetVersion
from ..language.repository import RulesetCollection
from ..runtime.decision import Decision


@dataclass(frozen=True)
class RuleSite:
    """A rule and where it is written, for a report an editor can jump from."""

    rule: str
    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.rule}"


@dataclass(frozen=True)
class VersionCoverage:
    """Coverage of one ruleset version by the decisions recorded against it."""

    ruleset: str  # name@version
    rules: tuple[RuleSite, ...]
    fired: frozenset[str]
    decisions: int  # decisions this version made (or lay under, for an overlay)

    @property
    def uncovered(self) -> tuple[RuleSite, ...]:
        return tuple(r for r in self.rules if r.rule not in self.fired)

    @property
    def percent(self) -> float:
        """Share of rules fired; a version without rules is fully covered."""
        if not self.rules:
            return 100.0
        return 100.0 * (len(self.rules) - len(self.uncovered)) / len(self.rules)

    def summary(self) -> str:
        covered = len(self.rules) - len(self.uncovered)
        return (f"{self.ruleset}: {covered}/{len(self.rules)} rules fired "
                f"({format_percent(self.percent)}) by {self.decisions} decision(s)")


def format_percent(value: float) -> str:
    """100% only when complete: 99.96% never shows as 100%."""
    text = f"{value:.1f}".rstrip("0").rstrip(".")
    if text == "100" and value < 100.0:
        text = "99.9"
    return f"{text}%"


class CoverageCounter:
    """Accumulates fired rules per ruleset version; `report()` gives every loaded version (or
    those of `names`), including versions no decision touched (0% unless they have no rules)."""

    def __init__(self, collection: RulesetCollection, names: set[str] | None = None):
        self.collection = collection
        self.names = names  # report only these rulesets (None: all)
        self._fired: dict[str, set[str]] = {rs.key: set() for rs in collection.versions}
        self._decisions: Counter[str] = Counter()

    def _owner(self, decision: Decision, rule: str) -> str:
        ref = decision.ruleset
        key = f"{ref.name}@{ref.version}"
        if ref.extends is None:
            return key
        overlay = self.collection.get(ref.name, ref.version)
        if overlay is not None and overlay.rule(rule) is not None:
            return key
        return f"{ref.extends.name}@{ref.extends.version}"

    def record(self, decision: Decision) -> None:
        ref = decision.ruleset
        self._decisions[f"{ref.name}@{ref.version}"] += 1
        if ref.extends is not None:
            self._decisions[f"{ref.extends.name}@{ref.extends.version}"] += 1
        for rule in decision.fired_rules:
            self._fired.setdefault(self._owner(decision, rule), set()).add(rule)

    def report(self) -> CoverageReport:
        return CoverageReport(tuple(self._version(rs) for rs in self.collection.versions
                                    if self.names is None or rs.name in self.names))

    def _version(self, rs: RulesetVersion) -> VersionCoverage:
        sites = tuple(RuleSite(r.id, r.location.file, r.location.line, r.location.col)
                      for r in rs.rules)
        return VersionCoverage(rs.key, sites, frozenset(self._fired.get(rs.key, ())),
                               self._decisions[rs.key])


@dataclass(frozen=True)
class CoverageReport:
    versions: tuple[VersionCoverage, ...]

    def below(self, minimum: float) -> tuple[VersionCoverage, ...]:
        """Versions whose coverage is under `minimum` percent."""
        return tuple(v for v in self.versions if v.percent < minimum)

    def lines(self) -> list[str]:
        """Per version a summary line, then one `file:line:col: rule` line per uncovered rule."""
        out: list[str] = []
        for version in self.versions:
            out.append(version.summary())
            out += [f"  {site.file}:{site.line}:{site.col}: not fired: {site.rule}"
                    for site in version.uncovered]
        return out
