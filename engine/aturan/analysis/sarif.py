"""Lint findings (and validation diagnostics) as a SARIF 2.1.0 log, so code-scanning tools
(GitHub code scanning, IDE viewers) show them inline at `file:line`. Silenced findings are
kept as results with an in-source suppression carrying the reason."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from ..errors import Diagnostic
from .lint import CHECKS, Finding, region_lines

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
HELP = "https://github.com/aturan/aturan/blob/main/docs/analysis.md"
_LEVEL = {"error": "error", "warning": "warning"}


def _uri(file: str) -> str:
    """A file as SARIF wants it, a URI: `file:///…` for an absolute name, else a relative
    reference (percent-encoded), resolved by viewers against the folder the tool ran in."""
    path = PurePosixPath(file)
    return path.as_uri() if path.is_absolute() else quote(file)


def _physical(file: str, line: int, col: int = 0) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": max(1, line or 1)}
    if col:
        region["startColumn"] = col
    return {"physicalLocation": {"artifactLocation": {"uri": _uri(file)}, "region": region}}


def _text(finding: Finding) -> str:
    lines = [finding.message]
    if finding.region:
        lines += ["", "Region:"] + ["    " + line for line in region_lines(finding.region)]
    if finding.fields:
        lines += ["", "Witness order (fields that matter): " + ", ".join(
            f"{k}={v}" for k, v in finding.fields.items())]
        lines.append(f"Evaluated: {finding.decided}")
    if finding.fix:
        lines += ["", "Fix: " + finding.fix]
    return "\n".join(lines)


def _fingerprint(finding: Finding) -> str:
    ids = ",".join(sorted(r["id"] for r in finding.rules))
    raw = f"{finding.ruleset}|{finding.code}|{ids}|{finding.region}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def to_sarif(findings: Sequence[Finding], diagnostics: Iterable[Diagnostic] = (),
             version: str = "0") -> dict[str, Any]:
    """One SARIF log with one run of the `aturan` tool."""
    rules = [{"id": c.code, "name": "".join(p.title() for p in c.code.split("-")),
              "shortDescription": {"text": c.summary},
              "defaultConfiguration": {"level": _LEVEL[c.severity]},
              "helpUri": f"{HELP}#{c.code}"} for c in CHECKS.values()]
    rules.append({"id": "unused-silence", "name": "UnusedSilence",
                  "shortDescription": {"text": "a lint: silence annotation that silences nothing"},
                  "defaultConfiguration": {"level": "warning"}, "helpUri": f"{HELP}#silencing"})
    index = {r["id"]: k for k, r in enumerate(rules)}
    results = []
    for d in diagnostics:
        if d.code not in index:
            index[d.code] = len(rules)
            rules.append({"id": d.code, "name": "".join(p.title() for p in d.code.split("-")),
                          "shortDescription": {"text": f"ruleset validation: {d.code}"},
                          "defaultConfiguration": {"level": "error"}})
        results.append({"ruleId": d.code, "ruleIndex": index[d.code],
                        "level": _LEVEL.get(d.severity, "error"),
                        "message": {"text": d.full_message},
                        "locations": [_physical(d.location.file, d.location.line,
                                                d.location.col)]})
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.code, "ruleIndex": index[f.code], "level": _LEVEL[f.severity],
            "message": {"text": _text(f)},
            "locations": [_physical(f.location.file, f.location.line, f.location.col)],
            "partialFingerprints": {"aturanFinding/v1": _fingerprint(f)},
            "properties": {"ruleset": f.ruleset, "rules": [r["id"] for r in f.rules],
                           "region": [{"all": nodes} for nodes in f.region],
                           "fields": f.fields, "witness": f.witness,
                           "confirmed": f.confirmed},
        }
        related = [r for r in f.rules if r.get("file") and r.get("line")
                   and (r["file"], r["line"]) != (f.location.file, f.location.line)]
        if related:
            result["relatedLocations"] = [
                {"id": k, **_physical(r["file"], r["line"]),
                 "message": {"text": f'rule "{r["id"]}"'}} for k, r in enumerate(related, 1)]
        if f.silenced is not None:
            result["suppressions"] = [{"kind": "inSource", "justification": f.silenced}]
        results.append(result)
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0",
            "runs": [{"tool": {"driver": {"name": "aturan", "semanticVersion": version,
                                          "informationUri": HELP, "rules": rules}},
                      "columnKind": "unicodeCodePoints", "results": results}]}
