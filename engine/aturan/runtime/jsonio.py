"""Strict JSON for order facts: no NaN/Infinity, no duplicate keys, bounded size; JSON Lines
streaming for many orders. Shared by the CLI, the HTTP service, cases and diff."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

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


UNPROVEN: Any = object()  # `fast_loads` could not show its reading is the strict one
_orjson_loads, _orjson_dumps, _OrjsonError = orjson.loads, orjson.dumps, orjson.JSONDecodeError


def fast_loads(text: str | bytes) -> Any:
    """orjson's reading of `text`, for a caller that refuses floats and, on any error, reads
    the text again with `parse_json` (`Policies.decide_text`); `UNPROVEN` when it may differ
    from the strict reading in another way.

    orjson refuses by itself what the strict reader refuses as syntax: NaN and Infinity, lone
    surrogates, a BOM, anything but UTF-8, trailing commas. It differs in three ways:
    - a duplicate key: orjson keeps the last, the strict reader refuses. Each dropped member
      takes at least its separating comma with it, and a comma in a string is written as
      itself by both (a `\\u` escape, which could spell one, makes the text unproven), so the
      text then holds more commas than orjson's own writing of what it read;
    - an integer beyond 64 bits, which orjson reads as a float: facts hold no float (every
      float is refused with its pointer), so a caller that refuses floats meets it as an
      error and reads the text again strictly, which names the integer as the strict reader
      sees it;
    - nesting the strict reader refuses (Python's recursion limit): orjson writes at most 254
      levels and raises beyond, and facts nest at most 16 deep.
    Floats orjson reads are the floats `float()` reads (tests/runtime/test_json_exact.py)."""
    if isinstance(text, str):  # orjson reads str itself (and refuses lone surrogates)
        if "\\u" in text:
            return UNPROVEN
        commas = text.count(",")
    else:
        if b"\\u" in text:
            return UNPROVEN
        commas = text.count(b",")
    try:
        value = _orjson_loads(text)
        again = _orjson_dumps(value)
    except (_OrjsonError, TypeError):  # the strict reader says why, or reads it after all
        return UNPROVEN
    return value if commas == again.count(b",") else UNPROVEN


def read_documents(text: str, source: str, raw: bool = False
                   ) -> Iterator[tuple[int, Any | FactsError]]:
    """One JSON document, or JSON Lines: yields (line number, value or the error for that line).
    `raw`: each document's text instead of its value, for `Policies.decide_text` to read."""
    stripped = text.strip()
    if not stripped:
        yield 1, FactsError(Diagnostic("json-empty", "no JSON input", Location(source, 1, 1, "/")))
        return
    if "\n" not in stripped or _single_document(stripped):
        if raw:
            yield 1, stripped
            return
        try:
            yield 1, parse_json(stripped, source)
        except FactsError as exc:
            yield 1, exc
        return
    yield from read_lines(enumerate(text.splitlines(), start=1), source, raw)


def _single_document(text: str) -> bool:
    if text.split("\n", 1)[0].strip() in ("{", "["):
        return True  # pretty-printed: a JSON Lines entry never spans lines, so one (bad) document
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def read_lines(lines: Iterable[tuple[int, str | bytes]], source: str, raw: bool = False
               ) -> Iterator[tuple[int, Any | FactsError]]:
    """JSON Lines, streamed: (line number, text or raw bytes) -> (line number, value or the
    error for that line); blank lines are skipped. `raw`: the line itself, not its value."""
    for number, line in lines:
        if not line or line.isspace():  # `not line.strip()` without copying the line
            continue
        if raw:
            yield number, line
            continue
        # without its line break, so an error at the end of a line is located on that line
        text = line.rstrip(b"\r\n") if isinstance(line, bytes) else line.rstrip("\r\n")
        try:
            yield number, parse_json(text, source, number)
        except FactsError as exc:
            yield number, exc
