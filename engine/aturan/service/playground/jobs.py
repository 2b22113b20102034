"""The playground's jobs, free of HTTP: each takes a checked `PlaygroundRequest` and the served
versions, works on a `Policies` of its own (`workspace.py`), and returns a JSON-able answer or
raises `PlaygroundError`. `run_job` is what the sandbox process calls.

Nothing here reads a file or evaluates anything as code: ruleset and case texts go through the
same safe YAML loader, schemas and semantic checks as files on disk; facts through the strict
JSON reader; lint is the box analysis only (no solver)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ...analysis.lint import Target, condition_lines, region_lines
from ...analysis.lint.run import lint_target, targets_of
from ...analysis.reference import format_why_not, why_not
from ...analysis.witness import Evaluator
from ...errors import AturanError, RulesetError, SelectionError
from ...language.model import RulesetVersion
from ...language.repository import RulesetCollection
from ...regression.cases import Case, CaseResult, cases_from_text, describe_failure, run_case
from ...regression.coverage import CoverageCounter
from ...regression.diff import Change, DiffSummary
from ...regression.sample import order, plan_for
from ...runtime.evaluate import Policies
from ...runtime.selection import parse_pin
from ...runtime.verdict import Verdict
from ...suggest import did_you_mean
from .requests import CASES_FILE, Limits, PlaygroundError, PlaygroundRequest, refuse
from .workspace import (
    Edited,
    compile_policies,
    describe,
    load_edited,
    opened,
    platform_bases,
    read_facts,
    warnings_of,
)

Served = RulesetCollection  # what the service decides with: versions and catalogue
Answer = dict[str, Any]
EXAMPLES = 3  # orders kept per cell of the diff's transition table


def validate(request: PlaygroundRequest, served: Served, limits: Limits) -> Answer:
    """Load and compile: what the ruleset is, or every error at its line and column."""
    edited = load_edited(request.ruleset, served, limits)
    with opened(edited):
        pass
    return {"ruleset": describe(edited.ruleset), "warnings": warnings_of(edited)}


def _facts_and_ruleset(request: PlaygroundRequest, served: Served, limits: Limits
                       ) -> tuple[Any, Edited]:
    facts, problems = read_facts(request.facts or "", served, limits)
    return facts, load_edited(request.ruleset, served, limits, problems)


def _decide(policies: Policies, facts: Any, pin: str) -> Any:
    try:
        return policies.decide(facts, pin)
    except SelectionError as exc:  # platform or overlay base mismatch: about the facts
        raise PlaygroundError.of(exc, "facts") from exc


def decide(request: PlaygroundRequest, served: Served, limits: Limits) -> Answer:
    """The edited version's decision on the facts, both languages' messages included."""
    facts, edited = _facts_and_ruleset(request, served, limits)
    with opened(edited) as policies:
        decision = _decide(policies, facts, edited.pin)
    return {"decision": decision.to_dict(), "ruleset": describe(edited.ruleset),
            "warnings": warnings_of(edited)}


def why_not_job(request: PlaygroundRequest, served: Served, limits: Limits) -> Answer:
    """One rule's conditions with expected and actual values, beside the decision."""
    facts, edited = _facts_and_ruleset(request, served, limits)
    with opened(edited) as policies:
        decision = _decide(policies, facts, edited.pin)
        try:
            report = why_not(policies, facts, request.rule or "", edited.pin, decision)
        except SelectionError as exc:  # no such rule
            raise PlaygroundError(422, [{**e, "pointer": "/rule"} for e in PlaygroundError.of(
                exc, "request").entries], exc.kind) from exc
    body = report.to_dict()
    body["text"] = format_why_not(report)
    return body


def _repin(case: Case, rs: RulesetVersion) -> Case:
    """A case pinned to another version of the edited ruleset runs on the edited version."""
    if case.ruleset is None:
        return case
    name, version = parse_pin(case.ruleset)
    return replace(case, ruleset=rs.key) if name == rs.name and version else case


def _case_json(result: CaseResult) -> Answer:
    decision, error = result.decision, result.error
    return {"name": result.case.name, "line": result.case.location.line,
            "passed": result.passed, "mismatches": result.mismatches,
            "outcome": decision.outcome if decision else None,
            "decided_by": decision.explanation[0].rule if decision else None,
            "error": f"{error.first.code}: {error.first.full_message}" if error else None,
            "text": [] if result.passed else describe_failure(result),
            "facts": result.case.facts}


def test(request: PlaygroundRequest, served: Served, limits: Limits) -> Answer:
    """Run the case text on the edited version; coverage marks the rules no case fired."""
    try:
        cases = cases_from_text(request.cases or "", CASES_FILE)
    except RulesetError as exc:
        raise PlaygroundError.of(exc, "cases") from exc
    if len(cases) > limits.cases:
        raise refuse(413, "too-many-cases", f"the case file has {len(cases):,} cases; the "
                     f"playground runs at most {limits.cases:,}", "/cases", kind="too_large")
    edited = load_edited(request.ruleset, served, limits)
    counter = CoverageCounter(edited.collection, {edited.ruleset.name})
    results: list[CaseResult] = []
    with opened(edited) as policies:
        for case in cases:
            result = run_case(policies, _repin(case, edited.ruleset))
            results.append(result)
            if result.decision is not None:
                counter.record(result.decision)
    version = next(v for v in counter.report().versions if v.ruleset == edited.pin)
    passed = sum(r.passed for r in results)
    return {"summary": {"cases": len(results), "passed": passed,
                        "failed": len(results) - passed},
            "cases": [_case_json(r) for r in results],
            "coverage": {"ruleset": version.ruleset, "percent": round(version.percent, 1),
                         "summary": version.summary(), "fired": sorted(version.fired),
                         "uncovered": [{"rule": s.rule, "line": s.line, "col": s.col}
                                       for s in version.uncovered]},
            "warnings": warnings_of(edited)}


def lint(request: PlaygroundRequest, served: Served, limits: Limits) -> Answer:
    """`aturan lint` on the edited version (an overlay: over each base it admits), each
    finding with its witness order, confirmed by the real evaluator."""
    edited = load_edited(request.ruleset, served, limits)
    with opened(edited) as policies:
        evaluator = Evaluator(policies)
        findings = [finding for rs, base in targets_of(edited.collection)
                    if rs is edited.ruleset
                    for finding in lint_target(Target(rs, base, evaluator, limits.lint_gaps))]
    out = []
    for finding in findings:
        data = finding.to_dict()
        data["region_text"] = region_lines(finding.region) if finding.region else []
        data["core_text"] = [condition_lines({k: v for k, v in node.items() if k != "line"})[0]
                             for node in finding.core]
        out.append(data)
    active = [f for f in findings if f.silenced is None]
    return {"findings": out,
            "summary": {"errors": sum(f.severity == "error" for f in active),
                        "warnings": sum(f.severity == "warning" for f in active),
                        "silenced": len(findings) - len(active)},
            "warnings": warnings_of(edited)}


def _platform(rs: RulesetVersion) -> str:
    return rs.extends.split("@", 1)[0] if rs.extends else rs.name


def _side(policies: Policies, facts: Any, pin: str) -> Verdict | str:
    try:
        return Verdict.of(policies.decide(facts, pin, "en"))
    except AturanError as exc:
        return exc.first.code


def _label(result: Verdict | str) -> str:
    return result.outcome if isinstance(result, Verdict) else f"error: {result}"


def diff(request: PlaygroundRequest, served: Served, limits: Limits) -> Answer:
    """The edited version against a served one over a sampled corpus (`aturan sample`): the
    usual diff summary plus a transition table, outcome -> outcome, each cell with its count
    and a few of its orders (changed ones first) to load into the facts pane."""
    old = next((rs for rs in served.versions if rs.key == request.against), None)
    if old is None:
        raise refuse(404, "unknown-ruleset", f"{request.against} is not a served version",
                     "/against", did_you_mean(request.against,
                                              [rs.key for rs in served.versions]),
                     kind="no_ruleset")
    edited = load_edited(request.ruleset, served, limits)
    new = edited.ruleset
    if _platform(old) != edited.platform:
        raise refuse(422, "diff-platform", f"{old.key} decides {_platform(old)} orders and the "
                     f"edited ruleset {edited.platform} orders; diff versions of one platform",
                     "/against")
    shape = RulesetCollection.of([old, new] + platform_bases(served, new.extends),
                                 served.catalogue)
    plan = plan_for(shape, edited.platform)
    summary = DiffSummary(f"{old.key} (served)", f"{new.key} (edited)")
    cells: dict[tuple[str, str], Answer] = {}
    old_policies = compile_policies(RulesetCollection.of(
        [old] + platform_bases(served, old.extends), served.catalogue))
    try:
        with opened(edited) as new_policies:
            for index in range(request.orders):
                facts = order(plan, request.seed, index)
                before = _side(old_policies, facts, old.key)
                after = _side(new_policies, facts, new.key)
                _record(summary, cells, index, facts, before, after)
    finally:
        old_policies.close()
    body = summary.to_dict()
    body.update(seed=request.seed, sample=f"aturan sample --platform {edited.platform} "
                f"--n {request.orders} --seed {request.seed}",
                cells=sorted(cells.values(), key=lambda c: (-c["count"], c["old"], c["new"])),
                outcomes=sorted({c["old"] for c in cells.values()}
                                | {c["new"] for c in cells.values()}))
    return body


def _record(summary: DiffSummary, cells: dict[tuple[str, str], Answer], index: int,
            facts: dict[str, Any], before: Verdict | str, after: Verdict | str) -> None:
    order_id = facts["order"]["id"]
    key = (_label(before), _label(after))
    cell = cells.setdefault(key, {"old": key[0], "new": key[1], "count": 0, "changed": 0,
                                  "examples": []})
    cell["count"] += 1
    parts: list[str] = []
    if isinstance(before, Verdict) and isinstance(after, Verdict):
        parts = before.changed_parts(after)
        if parts:
            summary.record_change(Change(index + 1, order_id, before, after))
        else:
            summary.orders += 1
    else:
        side = ("both" if isinstance(before, str) and isinstance(after, str)
                else "old" if isinstance(before, str) else "new")
        code = before if isinstance(before, str) else after
        summary.record_invalid(index + 1, order_id, side, str(code))
        parts = ["error"]
    if parts:
        cell["changed"] += 1
    examples: list[Answer] = cell["examples"]
    example = {"index": index, "order_id": order_id, "changed": parts, "facts": facts}
    if len(examples) < EXAMPLES:
        examples.append(example)
    elif parts:  # a changed order takes the place of an unchanged one
        for i, kept in enumerate(examples):
            if not kept["changed"]:
                examples[i] = example
                break
    examples.sort(key=lambda e: (not e["changed"], e["index"]))


def sample(request: PlaygroundRequest, served: Served, limits: Limits) -> Answer:
    """Order `index` of the corpus `aturan sample` makes for the edited version's platform
    (shaped by its thresholds: durations and amounts straddled)."""
    edited = load_edited(request.ruleset, served, limits)
    try:
        plan = plan_for(edited.collection, edited.platform)
    except SelectionError as exc:
        raise PlaygroundError.of(exc, "ruleset") from exc
    return {"facts": order(plan, request.seed, request.index), "seed": request.seed,
            "index": request.index}


JOBS: dict[str, Callable[[PlaygroundRequest, Served, Limits], Answer]] = {
    "validate": validate, "decide": decide, "why-not": why_not_job, "test": test,
    "lint": lint, "diff": diff, "sample": sample,
}


def run_job(request: PlaygroundRequest, served: Served, limits: Limits) -> tuple[int, Answer]:
    """(HTTP status, body) for one request: 200 and the answer, or the refusal's status and
    located errors. An unexpected `AturanError` is still the input's: 422, never a crash."""
    try:
        return 200, JOBS[request.job](request, served, limits)
    except PlaygroundError as exc:
        return exc.status, exc.body()
    except AturanError as exc:
        return 422, PlaygroundError.of(exc).body()

