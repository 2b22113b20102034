"""`aturan replay`: logged decisions derived again from their records.

`verify_record` re-derives one record from its input, `now` and ruleset digest (the text from
the archive, else from a rulesets folder) and compares the result with the logged one;
`against_record` decides its input under another version instead, for `aturan diff`'s report.
Both are pure functions of (a `Resolver` or `VersionSide`, one record), so a log can be split
into any partitions and their results merged (`DiffSummary.merge`) — on worker processes or a
cluster. Checking the hash chain is a cheap scan in file order (`chain.ChainCheck`)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AturanError
from ..language.project import PROJECT_FILE, RULESETS_DIR
from ..language.repository import load_rulesets
from ..regression.diff import Change, DiffSummary
from ..runtime.evaluate import Policies
from ..runtime.observe import DecisionEvent
from ..runtime.verdict import Verdict, penalty_multiset, returns
from .archive import RulesetArchive, find_project_text, find_text
from .masking import Masker
from .record import RecordBuilder

PARTS = ("outcome", "refund", "penalties", "next_steps", "rules", "effective_at", "covers",
         "return")  # the last three only in decisions by rulesets that use them


@dataclass(frozen=True)
class Mismatch:
    """A record that does not re-derive to what it logged (or cannot be re-derived)."""

    decision_id: str | None
    where: str
    kind: str  # result | ruleset | now | cannot-decide | no-ruleset-text | not-a-record
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"decision_id": self.decision_id, "where": self.where, "kind": self.kind,
                "message": self.message}


class _Capture:
    """A `Policies` hook that keeps the last event (replay is one thread per resolver)."""

    def __init__(self) -> None:
        self.event: DecisionEvent | None = None

    def __call__(self, event: DecisionEvent) -> None:
        self.event = event


class Resolver:
    """The `Policies` for a record's ruleset digest (and base digest) under its catalogue,
    loaded from the texts with exactly those digests (an archive first, else the rulesets
    folders `roots`), copied into a policy folder of their own so nothing else is picked up.
    Cached; `close` drops them and their folders."""

    def __init__(self, archives: Iterable[RulesetArchive], roots: Iterable[str | Path] = ()):
        self.archives = list(archives)
        self.roots = list(roots)
        self._loaded: dict[tuple[str, str | None, str | None],
                           tuple[Policies, _Capture] | str] = {}
        self._folders: list[tempfile.TemporaryDirectory[str]] = []
        self.builder = RecordBuilder(Masker([]))

    def policies(self, digest: str, base: str | None, catalogue: str | None = None
                 ) -> tuple[Policies, _Capture] | str:
        """(policies, capture), or why there are none (a message). `catalogue`: the digest of
        a policy folder's catalogue, None for the bundled one."""
        key = (digest, base, catalogue)
        found = self._loaded.get(key)
        if found is None:
            found = self._load(digest, base, catalogue)
            self._loaded[key] = found
        return found

    def _load(self, digest: str, base: str | None, catalogue: str | None
              ) -> tuple[Policies, _Capture] | str:
        where = ", ".join(str(a.root) for a in self.archives) or "none"
        files = []
        for wanted in (digest, base):
            if wanted is not None:
                file = find_text(wanted, self.archives, self.roots)
                if file is None:
                    return (f"no ruleset text with digest {wanted} in the archive ({where}) or "
                            "the rulesets folder")
                files.append(file)
        project = None
        if catalogue is not None:
            project = find_project_text(catalogue, self.archives, self.roots)
            if project is None:
                return (f"no project file (aturan.yaml) of catalogue {catalogue} in the archive "
                        f"({where}) or the rulesets folder")
        folder = tempfile.TemporaryDirectory(prefix="aturan-replay-")
        self._folders.append(folder)
        root = Path(folder.name)
        if project is not None:
            shutil.copyfile(project, root / PROJECT_FILE)
        for file in files:  # <name>/<version>.yaml, as the loader expects
            target = root / RULESETS_DIR / file.parent.name / file.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(file, target)
        try:
            capture = _Capture()
            return Policies(load_rulesets([root / RULESETS_DIR]), on_decision=capture), capture
        except AturanError as exc:
            return f"the archived text does not load: {exc.first.full_message}"

    def close(self) -> None:
        for found in self._loaded.values():
            if not isinstance(found, str):
                found[0].close()
        self._loaded.clear()
        for folder in self._folders:
            folder.cleanup()
        self._folders.clear()


def catalogue_of(record: dict[str, Any]) -> str | None:
    """The digest of a record's policy-folder catalogue; None for the bundled one."""
    catalogue = record.get("catalogue") or {}
    return catalogue.get("digest") if catalogue.get("project") else None


def _ruleset(record: dict[str, Any]) -> tuple[str, str, str, str | None]:
    rs = record["ruleset"]
    base = rs.get("extends")
    return rs["name"], rs["version"], rs["digest"], base["digest"] if base else None


def _diff_parts(logged: dict[str, Any], derived: dict[str, Any]) -> list[str]:
    return [part for part in PARTS if logged.get(part) != derived.get(part)]


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= 120 else text[:117] + "..."


def verify_record(resolver: Resolver, record: Any, where: str) -> Mismatch | None:
    """None when the record re-derives to exactly what it logged."""
    if not isinstance(record, dict):
        return Mismatch(None, where, "not-a-record", "the line is not a decision record")
    decision_id = record.get("decision_id")
    try:
        name, version, digest, base = _ruleset(record)
        facts, logged, now = record["input"], record["result"], record["now"]
    except (KeyError, TypeError):
        return Mismatch(decision_id, where, "not-a-record", "the record lacks its ruleset, "
                        "input, result or now")
    found = resolver.policies(digest, base, catalogue_of(record))
    if isinstance(found, str):
        return Mismatch(decision_id, where, "no-ruleset-text", found)
    policies, capture = found
    masked = record.get("masked") or {}
    hint = (f" (masked in the log: {', '.join(masked)}; a rule that reads a masked field cannot "
            "be re-derived)") if masked else ""
    try:
        decision = policies.decide(facts, f"{name}@{version}")
    except AturanError as exc:
        return Mismatch(decision_id, where, "cannot-decide", f"{exc.first.code}: "
                        f"{exc.first.full_message}{hint}")
    event = capture.event
    assert event is not None and event.decision is decision
    if decision.ruleset.to_dict() != record["ruleset"]:
        return Mismatch(decision_id, where, "ruleset", f"decided by "
                        f"{_show(decision.ruleset.to_dict())}, logged {_show(record['ruleset'])}")
    if decision.evaluated_at != now:
        return Mismatch(decision_id, where, "now", f"now is {decision.evaluated_at}, logged "
                        f"{now}")
    derived = json.loads(resolver.builder.result(event))
    parts = _diff_parts(logged, derived) if isinstance(logged, dict) else list(PARTS)
    if not parts:
        return None
    detail = "; ".join(f"{part}: logged {_show(logged.get(part))}, now "
                       f"{_show(derived.get(part))}" for part in parts)
    return Mismatch(decision_id, where, "result", f"{', '.join(parts)} differ — {detail}{hint}")


def logged_verdict(record: dict[str, Any]) -> Verdict:
    """What a record's result means, as `Verdict.of` reads a decision."""
    result = record["result"]
    refund = result.get("refund")
    eta = (refund or {}).get("eta") or {}
    refund_key = None if refund is None else (
        refund["amount"], refund["destination"], eta.get("min_business_days"),
        eta.get("max_business_days"), eta.get("due_by"))
    rule = next((r["rule"] for r in result.get("rules", ())
                 if r.get("role") in ("decided", "default")), "")
    return Verdict(result["outcome"], refund_key,
                   penalty_multiset((p["party"], p["code"], p["points"])
                                    for p in result.get("penalties", ())),
                   tuple(result.get("next_steps", ())), rule, result.get("effective_at"),
                   returns(result.get("return")))


LOGGED = "logged"  # the old side of `replay --against`: whatever version decided each record


def against_record(policies: Policies, pin: str, position: int, record: Any,
                   summary: DiffSummary, changes: list[Change] | None = None) -> None:
    """Add one record to `summary` (old: the logged result; new: `pin`'s decision of its
    input); examples are named by decision id."""
    if not isinstance(record, dict) or not isinstance(record.get("result"), dict):
        summary.record_invalid(position, "", "input", "not-a-record")
        return
    decision_id = str(record.get("decision_id") or "")
    try:
        old = logged_verdict(record)
    except (KeyError, TypeError):
        summary.record_invalid(position, decision_id, "old", "not-a-record")
        return
    if "input" not in record:
        summary.record_invalid(position, decision_id, "input", "not-a-record")
        return
    try:
        new = Verdict.of(policies.decide(record["input"], pin, "en"))
    except AturanError as exc:
        summary.record_invalid(position, decision_id, "new", exc.first.code)
        return
    summary.record_pair(position, decision_id, old, new, changes)
