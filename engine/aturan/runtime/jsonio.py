"""Strict JSON for order facts: no NaN/Infinity, no duplicate keys, bounded size; JSON Lines
streaming for many orders. Shared by the CLI, the HTTP service, cases and diff."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import Diagnostic, FactsError, Location
from .facts import MAX_FACTS_BYTES


class _Reject(ValueError):
    def __init__(self, message: str, token: str = ""):
        super().__init__(message)
        self.token = token  # the offending literal, to find its line and column


def _no_constants(name: str) -> Any:
    raise _Reject(f"{name} is not valid JSON (numbers must be finite)", name)


def _position(text: str | bytes, token: str) -> tuple[int, int]:
    """1-based line and column of the first `token` written as a JSON value (NaN, Infinity)."""
    plain = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    match = re.search(r"[:\[,]\s*(" + re.escape(token) + ")", plain) if token else None
    if match is None:
        return 1, 1
    at = match.start(1)
    return plain.count("\n", 0, at) + 1, at - (plain.rfind("\n", 0, at) + 1) + 1


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Reject(f'duplicate key "{key}" in a JSON object')
        result[key] = value
    return result


def parse_json(text: str | bytes, source: str = "<input>", line: int = 1,
               limit: int = MAX_FACTS_BYTES) -> Any:
    """Parse one JSON document strictly; errors carry source:line:col. `limit` lets the HTTP
    service apply its own (configurable) body limit instead of the default."""
    if len(text) > limit:
        raise FactsError(Diagnostic("json-too-large", f"document is {len(text):,} bytes; the "
                                    f"limit is {limit:,}", Location(source, line, 1, "/")))
    try:
        return json.loads(text, parse_constant=_no_constants, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise FactsError(Diagnostic("json-syntax", exc.msg, Location(source, line + exc.lineno - 1,
                                                                     exc.colno, "/"))) from exc
    except _Reject as exc:
        row, col = _position(text, exc.token)
        raise FactsError(Diagnostic("json-syntax", str(exc),
                                    Location(source, line + row - 1, col, "/"))) from exc
    except (UnicodeDecodeError, RecursionError) as exc:
        raise FactsError(Diagnostic("json-syntax", f"unreadable JSON: {exc}",
                                    Location(source, line, 1, "/"))) from exc
    except ValueError as exc:  # Python refuses integers of more than 4,300 digits
        raise FactsError(Diagnostic("json-syntax", "a number has far more digits than any fact "
                                    "allows", Location(source, line, 1, "/"))) from exc


def read_documents(text: str, source: str) -> Iterator[tuple[int, Any | FactsError]]:
    """One JSON document, or JSON Lines: yields (line number, value or the error for that line)."""
    stripped = text.strip()
    if not stripped:
        yield 1, FactsError(Diagnostic("json-empty", "no JSON input", Location(source, 1, 1, "/")))
        return
    if "\n" not in stripped or _single_document(stripped):
        try:
            yield 1, parse_json(stripped, source)
        except FactsError as exc:
            yield 1, exc
        return
    yield from read_lines(enumerate(text.splitlines(), start=1), source)


def _single_document(text: str) -> bool:
    if text.split("\n", 1)[0].strip() in ("{", "["):
        return True  # pretty-printed: a JSON Lines entry never spans lines, so one (bad) document
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def read_lines(lines: Iterable[tuple[int, str | bytes]], source: str
               ) -> Iterator[tuple[int, Any | FactsError]]:
    """JSON Lines, streamed: (line number, text or raw bytes) -> (line number, value or the
    error for that line); blank lines are skipped."""
    for number, line in lines:
        if not line.strip():
            continue
        # without its line break, so an error at the end of a line is located on that line
        text = line.rstrip(b"\r\n") if isinstance(line, bytes) else line.rstrip("\r\n")
        try:
            yield number, parse_json(text, source, number)
        except FactsError as exc:
            yield number, exc
