"""Regression cases: load `rulesets/<name>/cases/*.yaml`, run each through `Policies.decide`,
compare only the parts of the decision a case expects, and describe a failure as a readable
expected-vs-actual diff plus the explanation, the same text for `aturan test` and pytest."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AturanError, Diagnostic, Location, RulesetError
from ..language.display import rupiah, show
from ..language.loader import SourceDocument, load_yaml_file, parse_yaml
from ..language.model import parse_timestamp
from ..language.repository import CASES_DIR
from ..language.schema import schema_diagnostics
from ..runtime.decision import Decision
from ..runtime.evaluate import Policies
from ..runtime.jsonio import parse_json
from .coverage import CoverageCounter, CoverageReport

CASE_SUFFIXES = (".yaml", ".yml")
BASE_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(frozen=True)
class Case:
    name: str
    ruleset: str | None
    facts: dict[str, Any]
    expect: dict[str, Any]
    location: Location
    lang: str | None = None


@dataclass(frozen=True)
class Mismatch:
    """One expected part of a decision that differs: `field` is a dotted path like refund.amount."""

    field: str
    expected: Any
    actual: Any
    note: str = ""

    def __str__(self) -> str:
        text = f"{self.field}: expected {show(self.expected)}, got {show(self.actual)}"
        return f"{text} ({self.note})" if self.note else text


@dataclass
class CaseResult:
    case: Case
    decision: Decision | None
    error: AturanError | None
    differences: list[Mismatch] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.differences

    @property
    def mismatches(self) -> list[str]:
        return [str(m) for m in self.differences]


def deep_merge(base: Any, patch: Any) -> Any:
    """Mappings merge key by key; anything else in `patch` replaces (null sets null)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            merged[key] = deep_merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return merged
    return copy.deepcopy(patch)


def is_case_file(path: Path) -> bool:
    """A YAML file inside a `cases/` folder; names starting with `_` are base-facts files."""
    return (path.suffix in CASE_SUFFIXES and not path.name.startswith("_")
            and CASES_DIR in path.parent.parts)


def rulesets_root(case_file: Path) -> Path:
    """The rulesets folder a case file belongs to: `<root>/<name>/cases/…/file.yaml` -> root."""
    folder = case_file.resolve().parent
    while folder.name != CASES_DIR and folder.parent != folder:
        folder = folder.parent
    return folder.parent.parent


def case_files(paths: Iterable[str | Path]) -> list[Path]:
    """Case files named in `paths` or found in `cases/` folders under them, sorted."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(p for p in path.rglob("*") if p.is_file() and is_case_file(p)
                         and (CASES_DIR in p.relative_to(path).parts or path.name == CASES_DIR))
    return sorted(set(found))


def display_path(file: Path, root: Path) -> str:
    """`rulesets/<name>/cases/x.yaml` whatever the working directory, like ruleset paths."""
    try:
        return file.resolve().relative_to(root.resolve().parent).as_posix()
    except ValueError:
        return file.as_posix()


class _Bases:
    """Base-facts files of one case file, each read once. A base file must sit in the case
    file's folder (or below it), so it is never mistaken for a ruleset, and is JSON or YAML."""

    def __init__(self, file: Path, display: str):
        self.folder = file.resolve().parent
        self.display_folder = display.rsplit("/", 1)[0] if "/" in display else ""
        self.loaded: dict[str, dict[str, Any]] = {}

    def get(self, ref: str, where: Location) -> dict[str, Any]:
        if ref not in self.loaded:
            self.loaded[ref] = self._read(ref, where)
        return copy.deepcopy(self.loaded[ref])

    def _read(self, ref: str, where: Location) -> dict[str, Any]:
        def fail(message: str) -> RulesetError:
            return RulesetError(Diagnostic("case-base-file", message, where))

        target = (self.folder / ref).resolve()
        if Path(ref).is_absolute() or not target.is_relative_to(self.folder):
            raise fail(f'base_file "{ref}" must be a relative path inside the case file\'s folder')
        if target.suffix not in BASE_SUFFIXES:
            raise fail(f'base_file "{ref}" must be .json, .yaml or .yml')
        if not target.is_file():
            raise fail(f'base_file "{ref}" does not exist (looked for {target})')
        shown = f"{self.display_folder}/{ref}" if self.display_folder else ref
        if target.suffix == ".json":
            try:
                tree = parse_json(target.read_bytes(), shown)
            except AturanError as exc:
                raise RulesetError(exc.diagnostics) from exc
            except OSError as exc:
                raise fail(f'cannot read base_file "{ref}": {exc.strerror}') from exc
        else:
            tree = load_yaml_file(target, shown).tree
        if not isinstance(tree, dict):
            raise fail(f'base_file "{ref}" must hold a mapping of facts, not {type(tree).__name__}')
        return tree


class _NoBases(_Bases):
    """Case text with no folder (the playground): a `base_file` cannot be read."""

    def __init__(self) -> None:
        self.loaded = {}

    def _read(self, ref: str, where: Location) -> dict[str, Any]:
        raise RulesetError(Diagnostic("case-base-file", f'base_file "{ref}" cannot be read: '
                                      "these cases have no folder; write the facts into the "
                                      "file (base: or facts:)", where))


def load_cases(file: Path, display: str | None = None) -> list[Case]:
    """Parse one case file; raise `RulesetError` with locations on any problem.

    A case's facts are its `facts` if given; else its own `base_file` with its `patch` merged
    in; else the file's `base_file`, with the file's `base` and then the case's `patch` merged in."""
    shown = display or file.as_posix()
    return _cases_of(load_yaml_file(file, shown), _Bases(file, shown))


def cases_from_text(text: str | bytes, display: str) -> list[Case]:
    """`load_cases` for case text with no file (the playground); `base_file` is refused."""
    return _cases_of(parse_yaml(text, display), _NoBases())


def _cases_of(doc: SourceDocument, bases: _Bases) -> list[Case]:
    problems = schema_diagnostics(doc.tree, "cases", doc.location)
    if problems:
        raise RulesetError(problems)
    tree = doc.tree
    file_base: dict[str, Any] = {}
    if "base_file" in tree:
        file_base = bases.get(tree["base_file"], doc.location("/base_file"))
    cases: list[Case] = []
    names: set[str] = set()
    for index, raw in enumerate(tree["cases"]):
        loc = doc.location(f"/cases/{index}")
        if raw["name"] in names:
            raise RulesetError(Diagnostic("duplicate-case", f'case name "{raw["name"]}" is used '
                                          "twice", loc))
        names.add(raw["name"])
        if "facts" in raw:
            facts = raw["facts"]
        elif "base_file" in raw:
            facts = deep_merge(bases.get(raw["base_file"], doc.location(f"/cases/{index}/base_file")),
                               raw.get("patch", {}))
        else:
            facts = deep_merge(deep_merge(file_base, tree.get("base", {})), raw.get("patch", {}))
        cases.append(Case(name=raw["name"], ruleset=raw.get("ruleset") or _pin(tree["ruleset"]),
                          facts=facts, expect=raw["expect"], location=loc, lang=raw.get("lang")))
    return cases


def _pin(ruleset: str) -> str | None:
    return ruleset if "@" in ruleset else None


def _list_note(expected: list[Any], actual: list[Any]) -> str:
    missing = [show(v) for v in expected if v not in actual]
    extra = [show(v) for v in actual if v not in expected]
    parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
        [f"unexpected {', '.join(extra)}"] if extra else [])
    return "; ".join(parts) or "same items, different order"


def _refund_text(refund: dict[str, Any] | None) -> Any:
    if refund is None:
        return None
    eta = refund.get("eta")
    when = (f"{eta['min_business_days']}-{eta['max_business_days']} business days, due by "
            f"{eta['due_by']}" if eta else "no published refund time")
    return f"{rupiah(refund['amount'])} to {refund['destination']}, {when}"


def _compare_refund(want: dict[str, Any] | None, have: dict[str, Any] | None) -> list[Mismatch]:
    if want is None or have is None:
        if want is None and have is None:
            return []
        return [Mismatch("refund", want and show(want), _refund_text(have))]
    eta = have.get("eta") or {"min_business_days": None, "max_business_days": None,
                              "due_by": None}
    flat = {"amount": have["amount"], "destination": have["destination"], **eta}
    return [Mismatch(f"refund.{key}", value, flat.get(key))
            for key, value in want.items() if flat.get(key) != value]


def _penalty(p: dict[str, Any], with_points: bool = True) -> str:
    text = f"{p['party']}:{p['code']}"
    if with_points and "points" in p:
        text += f" ({'unpublished' if p['points'] is None else p['points']} points)"
    return text


def _compare_penalties(want: list[dict[str, Any]], have: list[dict[str, Any]]) -> list[Mismatch]:
    remaining = list(have)
    unmatched: list[dict[str, Any]] = []
    for w in want:
        hit = next((h for h in remaining if h["party"] == w["party"] and h["code"] == w["code"]
                    and ("points" not in w or h["points"] == w["points"])), None)
        if hit is None:
            unmatched.append(w)
        else:
            remaining.remove(hit)
    if not unmatched and not remaining:
        return []
    want_text = sorted(_penalty(p) for p in want)
    have_text = sorted(_penalty(p) for p in have)
    parts = ([f"missing {', '.join(_penalty(p) for p in unmatched)}"] if unmatched else []) + (
        [f"unexpected {', '.join(_penalty(p) for p in remaining)}"] if remaining else [])
    return [Mismatch("penalties", want_text, have_text, "; ".join(parts))]


def _same_instant(want: str | None, have: str | None) -> bool:
    if want is None or have is None:
        return want is have
    try:
        return parse_timestamp(want) == parse_timestamp(have)
    except ValueError:
        return False


def compare(expect: dict[str, Any], decision: Decision) -> list[Mismatch]:
    """The expected parts of `decision` that differ; parts a case does not name are ignored."""
    got = decision.to_dict()
    out: list[Mismatch] = []
    if "outcome" in expect and expect["outcome"] != decision.outcome:
        out.append(Mismatch("outcome", expect["outcome"], decision.outcome))
    if "ruleset_version" in expect and expect["ruleset_version"] != decision.ruleset.version:
        out.append(Mismatch("ruleset_version", expect["ruleset_version"],
                            decision.ruleset.version))
    if "effective_at" in expect and not _same_instant(expect["effective_at"],
                                                      decision.effective_at):
        out.append(Mismatch("effective_at", expect["effective_at"], decision.effective_at))
    if "covers" in expect:
        keys = [("sku", "quantity") + (("amount",) if "amount" in want else ())
                for want in expect["covers"]]
        have = [{k: line.get(k) for k in keys[n]} if n < len(keys) else line
                for n, line in enumerate(decision.covers)]
        if have != list(expect["covers"]):
            out.append(Mismatch("covers", list(expect["covers"]), list(decision.covers)))
    if "decided_by" in expect and expect["decided_by"] != decision.explanation[0].rule:
        out.append(Mismatch("decided_by", expect["decided_by"], decision.explanation[0].rule))
    if "refund" in expect:
        out += _compare_refund(expect["refund"], got["refund"])
    if "penalties" in expect:
        out += _compare_penalties(expect["penalties"], got["penalties"])
    if "next_steps" in expect and list(expect["next_steps"]) != got["next_steps"]:
        out.append(Mismatch("next_steps", list(expect["next_steps"]), got["next_steps"],
                            _list_note(list(expect["next_steps"]), got["next_steps"])))
    fired = list(decision.fired_rules)
    if "rules" in expect:
        missing = [r for r in expect["rules"] if r not in fired]
        if missing:
            out.append(Mismatch("rules", list(expect["rules"]), fired,
                                f"did not fire: {', '.join(missing)}"))
    if "not_rules" in expect:
        unwanted = [r for r in expect["not_rules"] if r in fired]
        if unwanted:
            out.append(Mismatch("not_rules", list(expect["not_rules"]), fired,
                                f"fired: {', '.join(unwanted)}"))
    return out


def run_case(policies: Policies, case: Case) -> CaseResult:
    try:
        decision = policies.decide(case.facts, case.ruleset, case.lang)
    except AturanError as exc:
        code = exc.first.code
        if case.expect.get("error") == code:
            return CaseResult(case, None, exc)
        return CaseResult(case, None, exc, [Mismatch("error", case.expect.get("error"),
                                                     f"{code}: {exc.first.message}")])
    if "error" in case.expect:
        return CaseResult(case, decision, None, [Mismatch("error", case.expect["error"],
                                                          f"outcome {decision.outcome}")])
    return CaseResult(case, decision, None, compare(case.expect, decision))


def describe_failure(result: CaseResult) -> list[str]:
    """A failed case as text: one header line with every difference, then why it was decided
    (the explanation), so an author sees which rule to look at without re-running anything."""
    case, decision = result.case, result.decision
    version = (f"{decision.ruleset.name}@{decision.ruleset.version}" if decision
               else case.ruleset or "by date")
    lines = [f"{case.location}: FAIL {case.name} [{version}]: "
             + "; ".join(str(m) for m in result.differences)]
    if decision is None:
        if result.error is not None:
            lines += [f"    {d}" for d in result.error.diagnostics]
        return lines
    lang = case.lang or "en"
    for item in decision.explanation:
        message = item.message.get(lang) or next(iter(item.message.values()), "")
        role = "decided by" if item is decision.explanation[0] else "also matched"
        lines.append(f"    {role} {item.rule} ({item.file}:{item.line}, priority "
                     f"{item.priority}): {message}")
        for atom in item.because:
            neg = "not " if atom.get("negated") else ""
            if "of" in atom:
                gap = f" (gap {atom['gap']})" if "gap" in atom else ""
                lines.append(f"        {neg}{atom['fact']} {atom['op']} {atom['expected']} of "
                             f"{atom['of']}: actual {show(atom['actual'])}, {atom['of']} "
                             f"{show(atom['of_actual'])}{gap}")
                continue
            age = f" (age {atom['age']})" if "age" in atom else ""
            lines.append(f"        {neg}{atom['fact']} {atom['op']} {show(atom['expected'])}: "
                         f"actual {show(atom['actual'])}{age}")
    for o in decision.overridden:
        lines.append(f"    overridden {o.rule} (priority {o.priority}, {o.outcome}) by {o.by}")
    return lines


@dataclass
class SuiteRun:
    """Everything `aturan test` found: each case's result, the case files or rulesets that
    could not be loaded, and rule coverage over the decisions the cases made."""

    results: list[CaseResult]
    problems: list[Diagnostic]
    coverage: list[CoverageReport]
    files: int

    @property
    def failed(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]


def _targets(paths: Iterable[str | Path]) -> dict[Path, tuple[set[Path], set[str] | None]]:
    """Rulesets root -> (case files, the ruleset names to report coverage for, None for all).

    A rulesets folder brings all its cases; one ruleset's folder (`rulesets/tiktok_shop`) or a
    `cases/` folder or case file brings its own cases, run against the whole rulesets folder
    above it (overlays need their platform) but reported for that ruleset only."""
    groups: dict[Path, tuple[set[Path], set[str] | None]] = {}

    def add(root: Path, files: Iterable[Path], name: str | None) -> None:
        found, names = groups.setdefault(root.resolve(), (set(), set()))
        found.update(files)
        if names is not None:
            if name is None:
                groups[root.resolve()] = (found, None)
            else:
                names.add(name)

    for raw in paths:
        path = Path(raw)
        if path.is_file() or CASES_DIR in path.resolve().parts:
            root = rulesets_root(path if path.is_file() else path / "_")
            add(root, case_files([path]), _ruleset_name(path, root))
        elif any(p.suffix in CASE_SUFFIXES for p in path.iterdir() if p.is_file()):
            add(path.parent, case_files([path]), path.resolve().name)
        else:
            add(path, case_files([path]), None)
    return groups


def _ruleset_name(path: Path, root: Path) -> str:
    return path.resolve().relative_to(root.resolve()).parts[0]


def run_suite(paths: Iterable[str | Path], load: Callable[[Path], Policies]) -> SuiteRun:
    """Run every case under `paths` against the rulesets it belongs to (`load(root)` builds
    them, so a caller can cache or reuse a `Policies`), recording coverage per root."""
    results: list[CaseResult] = []
    problems: list[Diagnostic] = []
    reports: list[CoverageReport] = []
    count = 0
    for root, (files, names) in _targets(paths).items():
        count += len(files)
        try:
            policies = load(root)
        except RulesetError as exc:
            problems += exc.diagnostics
            continue
        counter = CoverageCounter(policies.collection, names)
        for file in sorted(files):
            try:
                cases = load_cases(file, display_path(file, root))
            except RulesetError as exc:
                problems += exc.diagnostics
                continue
            for case in cases:
                result = run_case(policies, case)
                results.append(result)
                if result.decision is not None:
                    counter.record(result.decision)
        reports.append(counter.report())
    return SuiteRun(results, problems, reports, count)
