"""A policy folder's project file, `aturan.yaml`: what the folder adds to the bundled catalogue
(platforms, fact fields under `order.ext.` / `request.ext.`, enum values, a next-step vocabulary).

A policy folder is laid out as

    aturan.yaml          # this file (optional: without it the bundled catalogue applies)
    rulesets/<name>/<version>.yaml
    schemas/             # `aturan schema export` writes the effective schemas here

The file goes through the same safe loader and located schema errors as a ruleset
(`schemas/project.schema.json`), then the checks below, each a `file:line:col: code: message`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from ..errors import Diagnostic, RulesetError, display_path
from ..resources import bundled_dir
from ..suggest import did_you_mean
from .catalogue import (
    EXTENSION_KEY,
    EXTENSION_ROOTS,
    Catalogue,
    Extension,
    Platform,
    bundled_catalogue,
    default_prefix,
)
from .loader import SourceDocument, load_yaml_file
from .schema import schema_diagnostics

PROJECT_FILE = "aturan.yaml"
RULESETS_DIR = "rulesets"
_NAME = "[a-z][a-z_]{0,63}"  # an extension's name: a fact path segment (no digits)


def project_root(path: str | Path) -> Path | None:
    """The policy folder `path` belongs to: the nearest folder holding `aturan.yaml`, looking
    at `path` and at most three folders up (a ruleset file's project is three up:
    <root>/rulesets/<name>/<version>.yaml), so a file far above is never picked up. An
    `aturan.yaml` that is no readable file (a folder, a dangling or looping link) still makes
    its folder the project, so that loading it says what is wrong with it instead of the
    folder's extra facts being reported unknown at every rule that reads them."""
    p = Path(path).resolve()
    if not p.is_dir():
        p = p.parent
    for candidate in [p, *p.parents][:4]:
        if _project_file_at(candidate):
            return candidate
    return None


def _project_file_at(folder: Path) -> bool:
    return os.path.lexists(folder / PROJECT_FILE)


def default_rulesets() -> Path:
    """What a command reads when given no rulesets folder: `./rulesets` inside a policy
    repository (a `rulesets/` folder here, or an `aturan.yaml` here: then `./rulesets` even when
    it is missing or not a folder, so that the loader says so instead of the bundled rulesets
    being checked, tested or served under that folder's name), else the bundled rulesets."""
    local = Path(RULESETS_DIR)
    if local.is_dir() or os.path.lexists(PROJECT_FILE):
        return local
    return bundled_dir("rulesets")


def rulesets_of(path: str | Path) -> Path:
    """A project root stands for its `rulesets/` folder; any other path for itself."""
    p = Path(path)
    if p.is_dir() and _project_file_at(p):
        return p / RULESETS_DIR
    return p


def find_project(paths: Iterable[str | Path]) -> tuple[Path | None, list[Diagnostic]]:
    """The one project file of `paths` (None: the bundled catalogue), or a diagnostic when the
    paths belong to different policy folders, which have different catalogues."""
    roots = {root for root in (project_root(p) for p in paths)}
    found = sorted((r for r in roots if r is not None), key=str)
    if len(roots) > 1:
        shown = ", ".join(str(r / PROJECT_FILE) if r else "(no project file)"
                          for r in sorted(roots, key=str))
        return None, [Diagnostic("project-mixed", "these paths belong to different policy "
                                 f"folders ({shown}); check one folder at a time")]
    return (found[0] / PROJECT_FILE if found else None), []


def load_project(file: Path, display: str = PROJECT_FILE
                 ) -> tuple[Catalogue | None, list[Diagnostic]]:
    """The catalogue a project file declares, or None and every problem found."""
    try:
        doc = load_yaml_file(file, display)
    except RulesetError as exc:
        return None, exc.diagnostics
    problems = schema_diagnostics(doc.tree, "project", doc.location)
    if problems:
        return None, problems
    tree: dict[str, Any] = doc.tree or {}
    base = bundled_catalogue()
    platforms = list(_platforms(doc, tree.get("platforms", {}), base, problems))
    extensions = list(_extensions(doc, tree.get("facts", {}), base, problems))
    values = dict(_values(doc, tree.get("values", {}), base, problems))
    steps = tree.get("next_steps")
    if any(d.severity == "error" for d in problems):
        return None, problems
    return base.extended(platforms, extensions, values,
                         tuple(steps) if steps is not None else None, display), problems


def _platforms(doc: SourceDocument, declared: dict[str, Any], base: Catalogue,
               problems: list[Diagnostic]) -> Iterable[Platform]:
    for name, spec in declared.items():
        where = doc.location(f"/platforms/{name}")
        if name in base.platforms:
            problems.append(Diagnostic(
                "project-platform-clash", f'"{name}" is a bundled platform; a project file '
                "declares only platforms aturan does not bundle", where,
                hint=f"Bundled: {', '.join(base.platforms)}."))
            continue
        zone = spec["time_zone"]
        if not _zone_exists(zone):
            problems.append(Diagnostic(
                "project-time-zone", f'"{zone}" is not an IANA time zone', doc.location(
                    f"/platforms/{name}/time_zone"),
                hint=did_you_mean(zone, _zones()) or "Write e.g. Asia/Jakarta."))
            continue
        calendar = spec["holidays"]
        if calendar != "none" and calendar not in _countries():
            problems.append(Diagnostic(
                "project-holidays", f'"{calendar}" is not a holiday calendar the holidays '
                "package knows", doc.location(f"/platforms/{name}/holidays"),
                hint=did_you_mean(calendar, _countries()) or "Write a country code such as "
                "ID, or none for weekends only."))
            continue
        display = spec["display_name"]
        prefix = spec.get("order_id_prefix") or default_prefix(display)
        yield Platform(name, display, zone, "" if calendar == "none" else calendar, prefix)


def _extensions(doc: SourceDocument, declared: dict[str, Any], base: Catalogue,
                problems: list[Diagnostic]) -> Iterable[Extension]:
    shape = re.compile(rf"^({'|'.join(EXTENSION_ROOTS)})\.{EXTENSION_KEY}\.{_NAME}$")
    for path, spec in declared.items():
        where = doc.location(f"/facts/{path}")
        if path in base.fields or any(p.startswith(path + ".") for p in base.fields):
            name = path.rsplit(".", 1)[-1]
            root = path.split(".", 1)[0]
            root = root if root in EXTENSION_ROOTS else "order"
            problems.append(Diagnostic(
                "project-redefines-fact", f'"{path}" is a bundled fact; a project file cannot '
                "redefine it", where,
                hint=f"Declare your own under {root}.{EXTENSION_KEY}.{name}."))
            continue
        if not shape.match(path):
            problems.append(Diagnostic(
                "project-fact-path", f'"{path}" is not where extra facts go: name them '
                f"order.{EXTENSION_KEY}.<name> or request.{EXTENSION_KEY}.<name> (a name of "
                "lower-case letters and underscores)", where))
            continue
        kind = spec["type"]
        values = tuple(spec.get("values") or ())
        if kind == "enum" and not values:
            problems.append(Diagnostic(
                "project-empty-enum", f'enum fact "{path}" needs its values: add '
                "`values: [a, b]` with at least one", where))
            continue
        if kind != "enum" and "values" in spec:
            problems.append(Diagnostic(
                "project-values-not-enum", f'"{path}" is a {kind} fact; only an enum fact has '
                "values", doc.location(f"/facts/{path}/values")))
            continue
        yield Extension(path, kind, spec["description"], values, bool(spec.get("required")))


def _values(doc: SourceDocument, declared: dict[str, Any], base: Catalogue,
            problems: list[Diagnostic]) -> Iterable[tuple[str, tuple[str, ...]]]:
    enums = [p for p, f in base.fields.items() if f.kind == "enum" and not f.derived]
    for path, extra in declared.items():
        where = doc.location(f"/values/{path}")
        field = base.fields.get(path)
        if path == "order.platform":
            problems.append(Diagnostic(
                "project-values-platform", "platforms are declared under `platforms:` (with "
                "a display name, time zone and holidays), not as values", where))
            continue
        if field is None or field.kind != "enum" or field.derived:
            problems.append(Diagnostic(
                "project-values-fact", f'"{path}" is not a bundled enum fact; values extend '
                "one of: " + ", ".join(p for p in enums if p != "order.platform"), where,
                hint=did_you_mean(path, enums)))
            continue
        for i, value in enumerate(extra):
            if value in field.enum:
                problems.append(Diagnostic(
                    "project-value-exists", f'"{value}" is already a value of "{path}"',
                    doc.location(f"/values/{path}/{i}"), severity="warning"))
        yield path, tuple(v for v in extra if v not in field.enum)


def _zone_exists(name: str) -> bool:
    if name in _zones():
        return True
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return "/" in name or name == "UTC"


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


@cache
def _countries() -> frozenset[str]:
    import holidays

    return frozenset(holidays.list_supported_countries())


def catalogue_for(paths: Iterable[str | Path]) -> tuple[Catalogue | None, list[Diagnostic]]:
    """The effective catalogue of the policy folder `paths` belong to: the bundled one when
    there is no project file; None (with the problems) when the project file is bad."""
    paths = list(paths)
    file, problems = find_project(paths)
    if problems:
        return None, problems
    if file is None:
        return bundled_catalogue(), []
    # named like the rulesets beside it: relative to here unless the paths were absolute
    relative = all(not Path(p).is_absolute() for p in paths)
    return load_project(file, display_path(file, relative))
