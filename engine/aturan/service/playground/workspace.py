"""The edited ruleset loaded on its own: a `RulesetCollection` built from its text (a virtual
file, nothing read from disk) with, for a seller overlay, the served platform versions it
extends; and a `Policies` of its own, closed after the job, so the served set is never touched.

The served collection arrives already loaded (the one the service is deciding with), so the
text is checked against the served policy folder's catalogue (its own facts and platforms) and
an overlay against exactly the bases the service uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ...errors import AturanError, Diagnostic, FactsError
from ...language.model import RulesetVersion
from ...language.repository import RulesetCollection, collection_from_text
from ...runtime.evaluate import Policies
from ...runtime.facts import flatten_facts, reader_for
from ...runtime.jsonio import parse_json
from .requests import FACTS_FILE, RULESET_FILE, Limits, PlaygroundError, entry, refuse


@dataclass(frozen=True)
class Edited:
    """The edited version, the collection it was checked in, and its warnings."""

    ruleset: RulesetVersion
    collection: RulesetCollection
    warnings: tuple[Diagnostic, ...]

    @property
    def pin(self) -> str:
        return self.ruleset.key

    @property
    def platform(self) -> str:
        rs = self.ruleset
        return rs.extends.split("@", 1)[0] if rs.extends else rs.name


def platform_bases(served: RulesetCollection, extends: str | None) -> list[RulesetVersion]:
    """The served platform versions an overlay's `extends: platform@range` may name."""
    if not extends:
        return []
    platform = extends.split("@", 1)[0]
    return [rs for rs in served.by_name.get(platform, ()) if not rs.is_overlay]


def load_edited(text: str, served: RulesetCollection, limits: Limits,
                other_errors: list[dict[str, Any]] | tuple[()] = ()) -> Edited:
    """Load the edited text; raise `PlaygroundError` (422) with every error, and with
    `other_errors` (the facts' or cases') so an author sees all problems at once."""
    catalogue = served.catalogue
    collection, problems = collection_from_text(text, RULESET_FILE, catalogue=catalogue)
    edited = next((rs for rs in collection.versions if rs.path == RULESET_FILE), None)
    if edited is not None and edited.is_overlay:  # again, beside the bases it extends
        bases = platform_bases(served, edited.extends)
        collection, problems = collection_from_text(text, RULESET_FILE, bases, catalogue)
        edited = next((rs for rs in collection.versions if rs.path == RULESET_FILE), None)
    # about the edited text (the served bases gathered beside it were checked when loaded)
    problems = [d for d in problems if d.location.file in (RULESET_FILE, "")]
    errors = [d for d in problems if d.severity == "error"]
    if errors or edited is None or other_errors:
        raise PlaygroundError(422, [entry(d, "ruleset") for d in errors] + list(other_errors),
                              "invalid_ruleset" if errors else "invalid_facts")
    if len(edited.rules) > limits.rules:
        raise refuse(413, "too-many-rules", f"the ruleset has {len(edited.rules):,} rules; "
                     f"the playground takes at most {limits.rules:,}", "/ruleset",
                     kind="too_large")
    return Edited(edited, collection, tuple(d for d in problems if d.severity != "error"))


def compile_policies(collection: RulesetCollection) -> Policies:
    """A `Policies` of its own; an engine refusal (too many alternatives) is the text's fault."""
    try:
        return Policies(collection)
    except AturanError as exc:
        raise PlaygroundError.of(exc, "ruleset") from exc


@contextmanager
def opened(edited: Edited) -> Iterator[Policies]:
    """The edited collection compiled, closed (dropped from the engine) when the block ends."""
    policies = compile_policies(edited.collection)
    try:
        yield policies
    finally:
        policies.close()


def read_facts(text: str, served: RulesetCollection, limits: Limits
               ) -> tuple[Any, list[dict[str, Any]]]:
    """(facts, errors): a JSON syntax error at its line and column, schema errors (the served
    folder's facts schema) at their JSON pointers; facts are checked on their own, so they are
    reported even when the ruleset does not load."""
    try:
        facts = parse_json(text, FACTS_FILE, limit=limits.facts_bytes)
        flatten_facts(facts, reader_for(served.catalogue))
    except FactsError as exc:
        return None, [entry(d, "facts") for d in exc.diagnostics]
    return facts, []


def describe(rs: RulesetVersion) -> dict[str, Any]:
    """What the page shows about the edited version: key, dates and its rules with lines."""
    return {"key": rs.key, "name": rs.name, "version": rs.version, "extends": rs.extends,
            "effective_from": rs.effective_from.isoformat(),
            "effective_until": rs.effective_until.isoformat() if rs.effective_until else None,
            "digest": rs.digest,
            "rules": [{"id": r.id, "priority": r.priority, "line": r.location.line,
                       "col": r.location.col, "outcome": r.then.outcome} for r in rs.rules]}


def warnings_of(edited: Edited) -> list[dict[str, Any]]:
    return [entry(d, "ruleset") for d in edited.warnings]
