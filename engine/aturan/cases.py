"""Regression cases: load `rulesets/<name>/cases/*.yaml`, run each through `Policies.decide`,
and compare only the parts of the decision a case expects."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .decision import Decision
from .errors import AturanError, Diagnostic, Location, RulesetError
from .evaluate import Policies
from .loader import load_yaml_file
from .repository import CASES_DIR
from .schema import schema_diagnostics


@dataclass(frozen=True)
class Case:
    name: str
    ruleset: str | None
    facts: dict[str, Any]
    expect: dict[str, Any]
    location: Location
    lang: str | None = None


@dataclass
class CaseResult:
    case: Case
    decision: Decision | None
    error: AturanError | None
    mismatches: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.mismatches


def deep_merge(base: Any, patch: Any) -> Any:
    """Mappings merge key by key; anything else in `patch` replaces (null sets null)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = deep_merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(patch)


def case_files(paths: Iterable[str | Path]) -> list[Path]:
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(sorted(p for p in path.rglob("*.y*ml")
                                if CASES_DIR in p.relative_to(path).parts
                                or path.name == CASES_DIR))
    return sorted(set(found))


def load_cases(file: Path, display: str | None = None) -> list[Case]:
    """Parse one case file; raise `RulesetError` with locations on any problem."""
    doc = load_yaml_file(file, display or file.as_posix())
    problems = schema_diagnostics(doc.tree, "cases", doc.location)
    if problems:
        raise RulesetError(problems)
    tree = doc.tree
    base = tree.get("base", {})
    cases: list[Case] = []
    names: set[str] = set()
    for index, raw in enumerate(tree["cases"]):
        loc = doc.location(f"/cases/{index}")
        if raw["name"] in names:
            raise RulesetError(Diagnostic("duplicate-case", f'case name "{raw["name"]}" is used '
                                          "twice", loc))
        names.add(raw["name"])
        facts = raw["facts"] if "facts" in raw else deep_merge(base, raw.get("patch", {}))
        cases.append(Case(name=raw["name"], ruleset=raw.get("ruleset") or _pin(tree["ruleset"]),
                          facts=facts, expect=raw["expect"], location=loc, lang=raw.get("lang")))
    return cases


def _pin(ruleset: str) -> str | None:
    return ruleset if "@" in ruleset else None


def _compare(expect: dict[str, Any], decision: Decision) -> list[str]:
    got = decision.to_dict()
    out: list[str] = []
    if "outcome" in expect and expect["outcome"] != decision.outcome:
        out.append(f"outcome: expected {expect['outcome']}, got {decision.outcome}")
    if "ruleset_version" in expect and expect["ruleset_version"] != decision.ruleset.version:
        out.append(f"ruleset version: expected {expect['ruleset_version']}, got "
                   f"{decision.ruleset.version}")
    if "refund" in expect:
        want, have = expect["refund"], got["refund"]
        if want is None or have is None:
            if want != have:
                out.append(f"refund: expected {want}, got {have}")
        else:
            flat = {"amount": have["amount"], "destination": have["destination"], **have["eta"]}
            for key, value in want.items():
                if flat.get(key) != value:
                    out.append(f"refund.{key}: expected {value}, got {flat.get(key)}")
    if "penalties" in expect:
        have_p = sorted((p["party"], p["code"], p["points"]) for p in got["penalties"])
        want_p = sorted((p["party"], p["code"], p.get("points", "*")) for p in expect["penalties"])
        matched = len(have_p) == len(want_p) and all(
            h[:2] == w[:2] and (w[2] == "*" or h[2] == w[2]) for h, w in zip(have_p, want_p))
        if not matched:
            out.append(f"penalties: expected {want_p}, got {have_p}")
    if "next_steps" in expect and list(expect["next_steps"]) != got["next_steps"]:
        out.append(f"next_steps: expected {expect['next_steps']}, got {got['next_steps']}")
    if "rules" in expect:
        missing = [r for r in expect["rules"] if r not in decision.fired_rules]
        if missing:
            out.append(f"rules: expected {missing} to fire; fired {list(decision.fired_rules)}")
    if "decided_by" in expect and expect["decided_by"] != decision.explanation[0].rule:
        out.append(f"decided_by: expected {expect['decided_by']}, got "
                   f"{decision.explanation[0].rule}")
    return out


def run_case(policies: Policies, case: Case) -> CaseResult:
    try:
        decision = policies.decide(case.facts, case.ruleset, case.lang)
    except AturanError as exc:
        code = exc.first.code
        if case.expect.get("error") == code:
            return CaseResult(case, None, exc)
        return CaseResult(case, None, exc, [f"error {code}: {exc.first.message}"])
    if "error" in case.expect:
        return CaseResult(case, decision, None, [f"expected error {case.expect['error']}, got "
                                                 f"outcome {decision.outcome}"])
    return CaseResult(case, decision, None, _compare(case.expect, decision))
