"""Finds ruleset files, runs load -> schema -> build -> semantic checks on each, and gathers the
valid versions of every ruleset into a `RulesetCollection`. All diagnostics of all files are
collected, so `aturan validate` can show every problem in one run."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Diagnostic, Location, RulesetError, display_path
from .catalogue import Catalogue, bundled_catalogue
from .loader import SourceDocument, load_yaml_file, parse_yaml
from .model import RulesetVersion, build_ruleset, parse_effective, platform_of_tree
from .project import catalogue_for, rulesets_of
from .schema import schema_diagnostics
from .semantic import check_collection, check_overlay, check_ruleset
from .semver import parse_version, valid_range, version_in_range

CASES_DIR = "cases"
# durable_rules takes 4,096 rules per ruleset, and aturan adds two of its own; a file past it is
# refused before its schema check, which takes seconds on thousands of rules
MAX_RULES = 4094


@dataclass(frozen=True)
class RulesetCollection:
    """Every loaded ruleset version, by name, ordered by `effective_from`, with the effective
    catalogue of the policy folder they came from (the bundled one without a project file)."""

    versions: tuple[RulesetVersion, ...]
    by_name: dict[str, tuple[RulesetVersion, ...]] = field(default_factory=dict)
    catalogue: Catalogue = field(default_factory=bundled_catalogue)

    @classmethod
    def of(cls, versions: Iterable[RulesetVersion], catalogue: Catalogue | None = None
           ) -> RulesetCollection:
        groups: dict[str, list[RulesetVersion]] = defaultdict(list)
        for rs in versions:
            groups[rs.name].append(rs)
        ordered = {name: tuple(sorted(group, key=lambda r: r.effective_from))
                   for name, group in sorted(groups.items())}
        return cls(tuple(rs for group in ordered.values() for rs in group), ordered,
                   catalogue or bundled_catalogue())

    def get(self, name: str, version: str) -> RulesetVersion | None:
        return next((rs for rs in self.by_name.get(name, ()) if rs.version == version), None)

    def bases_for(self, overlay: RulesetVersion) -> tuple[RulesetVersion, ...]:
        """Platform versions an overlay's `extends: platform@range` admits."""
        assert overlay.extends is not None
        platform, spec = overlay.extends.split("@", 1)
        return tuple(rs for rs in self.by_name.get(platform, ())
                     if not rs.is_overlay and version_in_range(rs.version, spec))


def discover(paths: Iterable[str | Path]) -> list[tuple[Path, str]]:
    """(file, display path) for every ruleset YAML under `paths`; `cases/` folders, hidden
    files and folders (editors' temporary files, a deploy's `.name.tmp`, Kubernetes' `..data`)
    and links out of the folder (see `discover_checked`) are skipped.

    The display path is the file as the user named it (`errors.display_path`): relative to the
    current directory for a relative `path`, absolute for an absolute one."""
    return discover_checked(paths)[0]


def discover_checked(paths: Iterable[str | Path]
                     ) -> tuple[list[tuple[Path, str]], list[Diagnostic]]:
    """`discover`, plus an error for each file under a folder that is a symbolic link to a file
    outside that folder: rulesets are the folder's files, not whatever a link points at."""
    found: list[tuple[Path, str]] = []
    problems: list[Diagnostic] = []
    for raw in paths:
        path = rulesets_of(raw)  # a policy folder's root stands for its rulesets/
        relative = not path.is_absolute()
        if path.is_dir():
            root = path.resolve()
            files = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml")
                           and _listed(p.relative_to(path).parts) and p.is_file())
            for file in files:
                display = display_path(file, relative)
                target = file.resolve()
                if not target.is_relative_to(root):
                    problems.append(Diagnostic(
                        "symlink-outside-root", f"is a symbolic link to {target}, outside the "
                        f"rulesets folder {path}", Location(display),
                        hint="Copy the file into the folder (or link the whole folder)."))
                    continue
                found.append((file, display))
        else:
            found.append((path, display_path(path, relative)))
    return found, problems


def _listed(parts: tuple[str, ...]) -> bool:
    return CASES_DIR not in parts and not any(part.startswith(".") for part in parts)


def _check_names(rs: RulesetVersion, file: Path | None) -> list[Diagnostic]:
    """Name and version against the file's path (`file` None: text with no file), and their
    syntax. The path is made absolute first (lexically: `..` and `.` folded, links kept), so
    `aturan validate 2.0.0.yaml` from inside the folder, or `aturan lint ..` from `cases/`,
    sees the real folder name."""
    file = Path(os.path.abspath(file)) if file is not None else None
    found = []
    if file is not None and file.stem != rs.version:
        found.append(Diagnostic("file-name", f'version {rs.version} is in a file named '
                                f'"{file.name}"; name it "{rs.version}.yaml"', rs.location))
    if file is not None and file.parent.name != rs.name:
        found.append(Diagnostic("folder-name", f'ruleset "{rs.name}" is in folder '
                                f'"{file.parent.name}"; put it in "{rs.name}/"', rs.location))
    if parse_version(rs.version) is None:
        found.append(Diagnostic("bad-version", f"{rs.version!r} is not a semantic version",
                                rs.location))
    if rs.extends and not valid_range(rs.extends.split("@", 1)[1]):
        found.append(Diagnostic("bad-extends", f"extends: {rs.extends!r} is not "
                                "platform@version-range (e.g. shop@^1: versions 1.x of shop)",
                                rs.location))
    return found


def _check_dates(doc: SourceDocument, catalogue: Catalogue) -> list[Diagnostic]:
    """The schema checks a date's shape; this checks it is a real instant (no 30 February)."""
    found = []
    zone = catalogue.platform(platform_of_tree(doc.tree)).zone
    for key in ("effective_from", "effective_until"):
        text = doc.tree.get(key)
        try:
            if isinstance(text, str):
                parse_effective(text, zone)
        except ValueError as exc:
            what = "date" if isinstance(text, str) and len(text) == 10 else "date and time"
            found.append(Diagnostic("bad-date", f"{key}: {text!r} is not a real {what} "
                                    f"({exc})", doc.location(f"/{key}")))
    return found


def load_file(file: Path, display: str, catalogue: Catalogue | None = None
              ) -> tuple[RulesetVersion | None, list[Diagnostic]]:
    """One file through load -> schema -> build -> per-file semantic checks (against the
    folder's effective `catalogue`, default the bundled one)."""
    try:
        doc = load_yaml_file(file, display)
    except RulesetError as exc:
        return None, exc.diagnostics
    return _load_document(doc, file, catalogue)


def _load_document(doc: SourceDocument, file: Path | None, catalogue: Catalogue | None
                   ) -> tuple[RulesetVersion | None, list[Diagnostic]]:
    rules = doc.tree.get("rules") if isinstance(doc.tree, dict) else None
    if isinstance(rules, list) and len(rules) > MAX_RULES:  # before the schema's long walk
        return None, [Diagnostic("too-many-rules", f"{len(rules):,} rules; a ruleset version "
                                 f"holds at most {MAX_RULES:,} (the engine's limit)",
                                 doc.location(f"/rules/{MAX_RULES}"),
                                 hint="Split it into several rulesets.")]
    catalogue = catalogue or bundled_catalogue()
    problems = (schema_diagnostics(doc.tree, "ruleset", doc.location)
                or _check_dates(doc, catalogue))
    if problems:
        return None, problems
    rs = build_ruleset(doc, catalogue)
    problems = check_ruleset(rs, catalogue) + _check_names(rs, file)
    return (None if any(d.severity == "error" for d in problems) else rs), problems


def _check_platforms(versions: list[RulesetVersion], catalogue: Catalogue
                     ) -> list[Diagnostic]:
    """A platform ruleset (not an overlay) is named after a platform of the catalogue, or no
    order can ever select it: warn where a newcomer's new marketplace would go unnoticed."""
    found = []
    for rs in versions:
        if not rs.is_overlay and rs.name not in catalogue.platforms:
            found.append(Diagnostic(
                "unknown-platform", f'ruleset "{rs.name}" is named after no platform, so no '
                "order can select it (orders pick the ruleset named by order.platform)",
                rs.location, severity="warning",
                hint="A new marketplace is declared under `platforms:` in the policy folder's "
                     "aturan.yaml (docs/authoring.md, \"Your own marketplace\")."))
    return found


def load_collection(paths: Iterable[str | Path]) -> tuple[RulesetCollection, list[Diagnostic]]:
    """Every valid version under `paths`, plus every diagnostic found on the way. The policy
    folder's project file (`language.project`) is read first: with a bad one, its problems
    are all there is to report, since no ruleset can be checked without its catalogue."""
    paths = list(paths)
    catalogue, problems = catalogue_for(paths)
    if catalogue is None:
        return RulesetCollection.of(()), problems
    versions: list[RulesetVersion] = []
    files, outside = discover_checked(paths)
    problems.extend(outside)
    if not files:
        shown = ", ".join(str(p) for p in paths)
        problems.append(Diagnostic("no-rulesets", f"no ruleset files (*.yaml) found in {shown}",
                                   Location(shown)))
    for file, display in files:
        rs, found = load_file(file, display, catalogue)
        problems.extend(found)
        if rs is not None:
            versions.append(rs)
    return _gather(versions, problems, catalogue)


def _gather(versions: list[RulesetVersion], problems: list[Diagnostic], catalogue: Catalogue
            ) -> tuple[RulesetCollection, list[Diagnostic]]:
    """The collection of `versions` and `problems` plus the checks across versions."""
    problems.extend(check_collection(versions))
    problems.extend(_check_platforms(versions, catalogue))
    collection = RulesetCollection.of(versions, catalogue)
    for overlay in (rs for rs in versions if rs.is_overlay):
        bases = collection.bases_for(overlay)
        if not bases:
            problems.append(Diagnostic("overlay-no-base", f"{overlay.key} extends "
                                       f"{overlay.extends}, but no loaded version matches",
                                       overlay.location))
        for base in bases:
            problems.extend(check_overlay(overlay, base, catalogue))
    return collection, problems


def collection_from_text(text: str | bytes, display: str,
                         alongside: Iterable[RulesetVersion] = (),
                         catalogue: Catalogue | None = None
                         ) -> tuple[RulesetCollection, list[Diagnostic]]:
    """One ruleset's text through the same stages as a file, under the virtual file name
    `display`, nothing read from disk (the playground), checked against `catalogue` (a loaded
    folder's; default the bundled one) and gathered with `alongside` (already loaded versions:
    an overlay's bases). The name and version are not checked against a path."""
    catalogue = catalogue or bundled_catalogue()
    try:
        rs, problems = _load_document(parse_yaml(text, display), None, catalogue)
    except RulesetError as exc:
        rs, problems = None, exc.diagnostics
    return _gather(([rs] if rs is not None else []) + list(alongside), problems, catalogue)


def load_rulesets(paths: Iterable[str | Path]) -> RulesetCollection:
    """Load or raise: a `RulesetError` carrying every error-severity diagnostic."""
    collection, problems = load_collection(list(paths))
    errors = [d for d in problems if d.severity == "error"]
    if errors:
        raise RulesetError(errors)
    return collection
