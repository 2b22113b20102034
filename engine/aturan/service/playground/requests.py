"""What a playground request may hold, its size limits, and its errors as located JSON.

The playground's endpoints take texts an author is editing (a ruleset, facts, cases), so every
error says which text it is in (`source`: ruleset, facts, cases or request) and where: the line
and column for YAML and JSON, the JSON pointer for facts. This module is pure and cheap: the
server process checks a request's shape and sizes here before any ruleset text is parsed, which
happens only in a sandbox process (`sandbox.py`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ...errors import AturanError, Diagnostic, Location
from ...runtime.jsonio import line_col
from ...suggest import did_you_mean

KIB = 1024
RULESET_FILE = "playground.yaml"  # the virtual file names locations carry
CASES_FILE = "playground-cases.yaml"
FACTS_FILE = "<facts>"
LANGS = ("en", "id")
# the body of a 500: what went wrong is in the server log, never in the answer
INTERNAL = {"errors": [{"source": "request", "pointer": "/", "code": "internal",
                        "message": "internal error; the server log has the details"}],
            "kind": "internal"}


@dataclass(frozen=True)
class Limits:
    """Sizes one request may reach. Time limits are the sandbox's (`sandbox.TimeLimits`)."""

    body_bytes: int = 1024 * KIB
    ruleset_bytes: int = 256 * KIB
    cases_bytes: int = 256 * KIB
    facts_bytes: int = 64 * KIB
    rules: int = 300
    cases: int = 300
    diff_orders: int = 2000
    lint_gaps: int = 10


@dataclass(frozen=True)
class PlaygroundRequest:
    """One job's input: `ruleset` is always a ruleset's YAML text; the rest depends on the job."""

    job: str
    ruleset: str
    facts: str | None = None  # JSON text (a syntax error is placed on its line), or an object
    cases: str | None = None  # a case file's YAML text
    rule: str | None = None  # why-not: the rule to trace
    against: str | None = None  # diff: NAME@VERSION of a served version
    orders: int = 300  # diff: corpus size
    seed: int = 0  # diff and sample
    index: int = 0  # sample: which order of the seed's corpus


# per job: the fields it needs, and those it may take
FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "validate": (("ruleset",), ()),
    "decide": (("ruleset", "facts"), ()),
    "why-not": (("ruleset", "facts", "rule"), ()),
    "test": (("ruleset", "cases"), ()),
    "lint": (("ruleset",), ()),
    "diff": (("ruleset", "against"), ("orders", "seed")),
    "sample": (("ruleset",), ("seed", "index")),
}
TEXT_FIELDS = ("ruleset", "facts", "cases", "rule", "against")
INT_FIELDS = ("orders", "seed", "index")


class PlaygroundError(Exception):
    """A request the playground refuses: its HTTP status, kind, and located error entries."""

    def __init__(self, status: int, entries: list[dict[str, Any]],
                 kind: str = "invalid_request"):
        super().__init__("; ".join(f"{e['code']}: {e['message']}" for e in entries))
        self.status = status
        self.entries = entries
        self.kind = kind

    @classmethod
    def of(cls, exc: AturanError, source: str | None = None, status: int = 422
           ) -> PlaygroundError:
        """An aturan error; each diagnostic placed by its file unless `source` says where."""
        return cls(status, [entry(d, source) for d in exc.diagnostics], exc.kind)

    def body(self) -> dict[str, Any]:
        return {"errors": self.entries, "kind": self.kind}


def source_of(diagnostic: Diagnostic, default: str = "request") -> str:
    """Which text a diagnostic is about, from its (virtual) file name."""
    return {RULESET_FILE: "ruleset", CASES_FILE: "cases", FACTS_FILE: "facts"}.get(
        diagnostic.location.file, default)


def entry(diagnostic: Diagnostic, source: str | None = None) -> dict[str, Any]:
    """One located error as JSON: the `{pointer, code, message}` every aturan error body has
    (the message with its hint), plus the text it is in, its line and column, severity and the
    hint on its own ("Did you mean …?") for an editor to show beside the message."""
    loc = diagnostic.location
    return {"source": source or source_of(diagnostic), "pointer": loc.pointer or "/",
            "code": diagnostic.code, "message": diagnostic.full_message,
            "hint": diagnostic.hint or None, "severity": diagnostic.severity,
            "line": loc.line or None, "col": loc.col or None}


def refuse(status: int, code: str, message: str, pointer: str = "/", hint: str = "",
           kind: str = "invalid_request") -> PlaygroundError:
    return PlaygroundError(status, [entry(Diagnostic(code, message, Location(pointer=pointer),
                                                     hint=hint), "request")], kind)


# A lone UTF-16 surrogate (JSON "\ud800") is no character: no text that holds one can be a
# YAML or JSON file, be measured in UTF-8 bytes, or be sent back (measuring one failed the
# server's request, an HTTP 500; an error message echoing one crashed the job's process).
_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_surrogate(key: str, text: str) -> None:
    """Refuse a text field holding a lone surrogate, at its line and column in that text."""
    found = _SURROGATE.search(text) if not text.isascii() else None
    if found is None:
        return
    line, col = line_col(text, found.start())
    source = key if key in ("ruleset", "facts", "cases") else "request"
    raise PlaygroundError(422, [{
        "source": source, "pointer": f"/{key}", "code": "request-text",
        "message": f"the {key} text holds a lone UTF-16 surrogate (such as \\ud800) at line "
                   f"{line}, column {col}, which is not a character; send valid Unicode",
        "hint": None, "severity": "error", "line": line, "col": col}])


def parse_request(job: str, document: Any, limits: Limits) -> PlaygroundRequest:
    """Check a request body's shape and sizes (cheap, no ruleset text is parsed here)."""
    if not isinstance(document, dict):
        raise refuse(422, "request-shape", "a playground request is a JSON object "
                     '{"ruleset": "<YAML text>", …}')
    needed, optional = FIELDS[job]
    allowed = needed + optional
    for key in document:
        if key not in allowed:
            raise refuse(422, "request-shape", f'"{key}" is not a field of a {job} request '
                         f"(fields: {', '.join(allowed)})", f"/{key}",
                         did_you_mean(key, allowed))
    for key in needed:
        if document.get(key) is None:
            raise refuse(422, "request-shape", f'a {job} request needs "{key}"', f"/{key}")
    values: dict[str, Any] = {}
    for key, value in document.items():
        if key == "facts" and isinstance(value, dict):  # an object is welcome too (curl -d)
            value = json.dumps(value, indent=2, ensure_ascii=False)
            if _SURROGATE.search(value):  # escaped, the facts check locates it (facts-text)
                value = json.dumps(document[key], indent=2)
        if key in TEXT_FIELDS and not isinstance(value, str):
            raise refuse(422, "request-shape", f'"{key}" must be a string (the text itself)',
                         f"/{key}")
        if key in TEXT_FIELDS:
            _refuse_surrogate(key, value)
        if key in INT_FIELDS and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 0):
            raise refuse(422, "request-shape", f'"{key}" must be a whole number, 0 or more',
                         f"/{key}")
        values[key] = value
    for key, limit in (("ruleset", limits.ruleset_bytes), ("cases", limits.cases_bytes),
                       ("facts", limits.facts_bytes)):
        size = len(values[key].encode("utf-8")) if isinstance(values.get(key), str) else 0
        if size > limit:
            raise refuse(413, f"{key}-too-large", f"the {key} text is {size:,} bytes; the "
                         f"playground takes at most {limit:,}", f"/{key}", kind="too_large")
    if values.get("orders", 0) > limits.diff_orders or values.get("orders", 1) < 1:
        raise refuse(422, "request-shape", f'"orders" must be from 1 to {limits.diff_orders:,}',
                     "/orders")
    if values.get("seed", 0) > 2**31 or values.get("index", 0) > 10**6:
        raise refuse(422, "request-shape", '"seed" and "index" must be under 2^31 and 10^6',
                     "/seed" if values.get("seed", 0) > 2**31 else "/index")
    return PlaygroundRequest(job=job, **values)
