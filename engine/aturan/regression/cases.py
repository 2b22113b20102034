"""Regression cases: load `rulesets/<name>/cases/*.yaml`, run each through `Policies.decide`,
compare only the parts of the decision a case expects, and describe a failure as a readable
expected-vs-actual diff plus the explanation, the same text for `aturan test` and pytest."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import (
    AturanError,
    Diagnostic,
    FactsError,
    Location,
    RulesetError,
    display_path,
)
from ..language.display import atom_text, between_text, text
from ..language.loader import SourceDocument, load_yaml_file, parse_yaml
from ..language.repository import CASES_DIR
from ..language.schema import schema_diagnostics
from ..language.semver import parse_version
from ..runtime.decision import Decision
from ..runtime.evaluate import Policies
from ..runtime.jsonio import parse_json
from .coverage import CoverageCounter, CoverageReport
from .expect import Mismatch, compare, rule_ids

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
        return [m.render(self.case.lang) for m in self.differences]


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
    """The rulesets folder a case file belongs to: `<root>/<name>/cases/…/file.yaml` -> root,
    absolute (lexically, like `errors.display_path`: a linked folder keeps its name)."""
    folder = Path(os.path.abspath(case_file)).parent
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
    shown = display or display_path(file, not file.is_absolute())
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


def run_case(policies: Policies, case: Case) -> CaseResult:
    lang = case.lang
    try:
        decision = policies.decide(case.facts, case.ruleset, case.lang)
    except AturanError as exc:
        code = exc.first.code
        if case.expect.get("error") == code:
            return CaseResult(case, None, exc)
        if "error" in case.expect:
            return CaseResult(case, None, exc, [Mismatch("error", case.expect["error"],
                                                         f"{code}: {exc.first.message}")])
        if isinstance(exc, FactsError):  # the case is broken, not the ruleset: each pointer
            return CaseResult(case, None, exc, [Mismatch(  # is listed below the FAIL line
                "facts", None, None, message=text("invalid_facts", lang,
                                                  count=len(exc.diagnostics)))])
        return CaseResult(case, None, exc, [Mismatch("error", None, code, message=text(
            "no_decision", lang, code=code))])
    if "error" in case.expect:
        return CaseResult(case, decision, None, [Mismatch(
            "error", case.expect["error"], decision.outcome, message=text(
                "decided_instead", lang, code=case.expect["error"], outcome=decision.outcome))])
    return CaseResult(case, decision, None,
                      compare(case.expect, decision, lang, rule_ids(policies, decision)))


def describe_failure(result: CaseResult) -> list[str]:
    """A failed case as text: one header line with every difference, then why it was decided
    (the explanation), so an author sees which rule to look at without re-running anything.
    The frame is in the case's `lang` (English by default), like its messages."""
    case, decision = result.case, result.decision
    lang = case.lang
    version = (f"{decision.ruleset.name}@{decision.ruleset.version}" if decision
               else case.ruleset or text("by_date", lang))
    lines = [f"{case.location}: FAIL {case.name} [{version}]: "
             + "; ".join(m.render(lang) for m in result.differences)]
    if decision is None:
        if result.error is not None:
            lines += [f"    {d}" for d in result.error.diagnostics]
        return lines
    for item in decision.explanation:
        message = item.message.get(lang or "en") or next(iter(item.message.values()), "")
        role = text("decided_by" if item is decision.explanation[0] else "also_matched", lang)
        lines.append(f"    {role} {item.rule} ({item.file}:{item.line}, "
                     f"{text('priority', lang, priority=item.priority)}): {message}")
        for atom in item.because:
            if "of" in atom:
                lines.append("        " + between_text(atom, lang))
                continue
            lines.append("        " + atom_text(atom["fact"], atom["op"], atom["expected"],
                                                atom["actual"], atom.get("age"),
                                                bool(atom.get("negated")), lang))
    for o in decision.overridden:
        lines.append("    " + text("overridden_by", lang, rule=o.rule, priority=text(
            "priority", lang, priority=o.priority), outcome=o.outcome, by=o.by))
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


@dataclass
class _Target:
    """One rulesets folder `aturan test` runs cases against: `root` as the user named it (the
    form `load` is given, so its files are named alike), its case files, and the ruleset names
    to report coverage for (None: all)."""

    root: Path
    files: set[Path] = field(default_factory=set)
    names: set[str] | None = field(default_factory=set)


def _targets(paths: Iterable[str | Path], problems: list[Diagnostic]
             ) -> dict[Path, _Target]:
    """Rulesets root (resolved: one entry per real folder) -> what to run against it; a file
    outside any `cases/` folder is a problem (its rulesets folder would be searched for up to
    `/`, and every YAML file below it loaded).

    A rulesets folder brings all its cases; one ruleset's folder (`rulesets/tiktok_shop`) or a
    `cases/` folder or case file brings its own cases, run against the whole rulesets folder
    above it (overlays need their platform) but reported for that ruleset only."""
    groups: dict[Path, _Target] = {}

    def add(root: Path, relative: bool, files: Iterable[Path], name: str | None) -> None:
        target = groups.setdefault(root.resolve(),
                                   _Target(Path(display_path(root, relative))))
        target.files.update(files)
        if target.names is not None:
            if name is None:
                target.names = None
            else:
                target.names.add(name)

    for raw in paths:
        path = Path(raw)
        relative = not path.is_absolute()
        full = Path(os.path.abspath(path))
        if path.is_file() and CASES_DIR not in full.parent.parts:
            problems.append(Diagnostic(
                "not-a-case-file", "is not in a cases/ folder, so it is no case file: cases live "
                f"in <rulesets>/<name>/{CASES_DIR}/", Location(display_path(path, relative)),
                hint="Give a rulesets folder, one ruleset's folder, a cases/ folder or a file "
                "in one."))
            continue
        if path.is_file() or CASES_DIR in full.parts:
            root = rulesets_root(full if path.is_file() else full / "_")
            name = full.relative_to(root).parts[0]
            if not _holds_a_version(root / name):
                problems.append(Diagnostic(
                    "cases-outside-rulesets", f"is in a {CASES_DIR}/ folder that no ruleset's "
                    f"folder holds ({display_path(root / name, relative)} has no <version>.yaml)"
                    ", so there is no rulesets folder to run it against",
                    Location(display_path(path, relative)),
                    hint=f"Cases live in <rulesets>/<name>/{CASES_DIR}/, beside <name>'s "
                    "<version>.yaml files."))
                continue
            add(root, relative, case_files([path]), name)
        elif path.is_dir() and any(p.suffix in CASE_SUFFIXES for p in path.iterdir()
                                   if p.is_file()):
            add(full.parent, relative, case_files([path]), full.name)
        else:
            add(full, relative, case_files([path]), None)
    return groups


def _holds_a_version(folder: Path) -> bool:
    """Whether `folder` is one ruleset's folder: a `<version>.yaml` in it. Without this check a
    stray `cases/` folder made the folder two above it the rulesets root, and every YAML file
    below that was loaded."""
    return folder.is_dir() and any(
        p.suffix in CASE_SUFFIXES and parse_version(p.stem) is not None and p.is_file()
        for p in folder.iterdir())


def run_suite(paths: Iterable[str | Path], load: Callable[[Path], Policies]) -> SuiteRun:
    """Run every case under `paths` against the rulesets it belongs to (`load(root)` builds
    them, so a caller can cache or reuse a `Policies`), recording coverage per root."""
    results: list[CaseResult] = []
    problems: list[Diagnostic] = []
    reports: list[CoverageReport] = []
    count = 0
    for target in _targets(paths, problems).values():
        count += len(target.files)
        try:
            policies = load(target.root)
        except RulesetError as exc:
            problems += exc.diagnostics
            continue
        counter = CoverageCounter(policies.collection, target.names)
        for file in sorted(target.files):
            try:
                cases = load_cases(file, display_path(file, not file.is_absolute()))
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
