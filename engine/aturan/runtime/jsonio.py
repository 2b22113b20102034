"""Strict JSON for order facts: no NaN/Infinity, no duplicate keys, bounded size; JSON Lines
streaming for many orders. Shared by the CLI, the HTTP service, cases and diff."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Iterator
from typing import IO, Any

import orjson

from ..errors import Diagnostic, FactsError, Location
from .facts import MAX_FACTS_BYTES, MAX_FACTS_DEPTH


class _Reject(ValueError):
    def __init__(self, message: str, token: str = "", duplicate: str | None = None):
        super().__init__(message)
        self.token = token  # the offending literal, to find its line and column
        self.duplicate = duplicate  # or the key written twice


def _no_constants(name: str) -> Any:
    raise _Reject(f"{name} is not valid JSON (numbers must be finite)", name)


# JSON's tokens: a string, a structural character, or a run of anything else (numbers, literals)
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')


def line_col(text: str, at: int) -> tuple[int, int]:
    """1-based (line, column) of the character at index `at` of `text`."""
    return text.count("\n", 0, at) + 1, at - (text.rfind("\n", 0, at) + 1) + 1


def _position(text: str | bytes, token: str = "", duplicate: str | None = None
              ) -> tuple[int, int]:
    """1-based line and column of the first `token` written as a JSON value (NaN, Infinity), or
    of the second occurrence of key `duplicate` in one object; (1, 1) if not found. Runs only
    on the error path, over the tokens (a regex scan): strings are never mistaken for values."""
    plain = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    objects: list[set[str | None] | None] = []  # per open container: the keys seen (None: an array)
    expect_key = False
    for match in _TOKEN.finditer(plain):
        tok = match.group()
        first = tok[0]
        if first == "{":
            objects.append(set())
            expect_key = True
        elif first == "[":
            objects.append(None)
            expect_key = False
        elif first in "]}":
            if objects:
                objects.pop()
            expect_key = False
        elif first == ",":
            expect_key = bool(objects) and objects[-1] is not None
        elif first == ":":
            expect_key = False
        elif first == '"':
            keys = objects[-1] if objects and expect_key else None
            if keys is not None and duplicate is not None:
                try:
                    key = json.loads(tok)
                except ValueError:
                    key = None
                if key == duplicate and key in keys:
                    return line_col(plain, match.start())
                keys.add(key)
            expect_key = False
        elif tok == token:
            return line_col(plain, match.start())
    return 1, 1


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Reject(f'duplicate key "{key}" in a JSON object', duplicate=key)
        result[key] = value
    return result


_BOM = b"\xef\xbb\xbf"  # a UTF-8 byte order mark, which a document may start with


def parse_json(text: str | bytes, source: str = "<input>", line: int = 1,
               limit: int = MAX_FACTS_BYTES) -> Any:
    """Parse one JSON document strictly; errors carry source:line:col. `limit` lets the HTTP
    service apply its own (configurable) body limit instead of the default."""
    if len(text) > limit:
        raise FactsError(Diagnostic("json-too-large", f"document is {len(text):,} bytes; the "
                                    f"limit is {limit:,}", Location(source, line, 1, "/")))
    if isinstance(text, bytes):  # JSON is UTF-8 (RFC 8259): json.loads would also take UTF-16
        text = _text(text[3:] if text.startswith(_BOM) else text, source, line)
    try:
        return json.loads(text, parse_constant=_no_constants, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise FactsError(Diagnostic("json-syntax", exc.msg, Location(source, line + exc.lineno - 1,
                                                                     exc.colno, "/"))) from exc
    except _Reject as exc:
        row, col = _position(text, exc.token, exc.duplicate)
        raise FactsError(Diagnostic("json-syntax", str(exc),
                                    Location(source, line + row - 1, col, "/"))) from exc
    except RecursionError as exc:  # Python's reader follows about 1,000 levels
        raise FactsError(Diagnostic("json-too-deep", "the document nests too deep to read "
                                    f"(facts nest at most {MAX_FACTS_DEPTH} levels)",
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
    read = fast_read(text)
    return UNPROVEN if read is None else read[0]


def fast_read(text: str | bytes) -> tuple[Any, bytes] | None:
    """`fast_loads`'s reading of `text` and orjson's writing of what it read (the proof of
    the reading), or None where `fast_loads` gives `UNPROVEN`. For facts that decide (no
    float) that writing is their canonical JSON (`decision.canonical_json_of_facts`), which
    the decision log would otherwise encode again (`Policies.decide_text`)."""
    if isinstance(text, str):  # orjson reads str itself (and refuses lone surrogates)
        if "\\u" in text:
            return None
        commas = text.count(",")
    else:
        if b"\\u" in text:
            return None
        commas = text.count(b",")
    try:
        value = _orjson_loads(text)
        again = _orjson_dumps(value)
    except (_OrjsonError, TypeError):  # the strict reader says why, or reads it after all
        return None
    return (value, again) if commas == again.count(b",") else None


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



def read_stream(stream: IO[bytes], source: str, limit: int = MAX_FACTS_BYTES,
                as_bytes: bool = False) -> Iterator[tuple[int, Any | FactsError]]:
    """`read_documents` over a binary stream, in bounded memory: one JSON document (on one line,
    or pretty-printed over several), or JSON Lines, decided line by line as they are read.

    About `limit` bytes are held at most: a pretty-printed document is read whole only up to
    `limit` (no valid facts are larger), and a JSON Lines line longer than `limit` is an error
    for that line, skipped without being held. A line that is not UTF-8 is an error for that
    line, at its line and column, and the lines after it are still read. `as_bytes`: a JSON Lines
    line is given as its bytes, for `Policies.decide_text` to read (a pretty-printed document is
    still given as its value)."""
    lines = _lines(stream, limit)
    first = next(((n, raw) for n, raw in lines if raw is None or raw.strip()), None)
    if first is None:
        yield 1, FactsError(Diagnostic("json-empty", "no JSON input", Location(source, 1, 1, "/")))
        return
    number, raw = first
    opening = raw is not None and raw.strip() in (b"{", b"[")
    if raw is None or (not opening and _parses(raw)):  # JSON Lines (or one line: the same)
        yield from _each_line(itertools.chain([first], lines), source, limit, as_bytes)
        return
    # The first line is no whole value: a pretty-printed document, or a broken first line of
    # JSON Lines. It is one document if the input ends within `limit` bytes and parses whole
    # (or starts with a lone brace, whose errors are then the document's).
    held = [first]
    size = len(raw)
    ended = True
    for line in lines:
        held.append(line)
        size += len(line[1]) if line[1] is not None else limit + 1
        if size > limit:
            ended = False
            break
    if opening and not ended:
        yield number, FactsError(Diagnostic("json-too-large", f"document is over the limit of "
                                            f"{limit:,} bytes", Location(source, number, 1, "/")))
        return
    whole = b"".join(text for _, text in held if text is not None)
    if ended and (opening or _parses(whole)):
        yield number, _document(whole, source, number)
        return
    yield from _each_line(itertools.chain(held, lines), source, limit, as_bytes)


def _lines(stream: IO[bytes], limit: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, raw line); None for a line over `limit` bytes, which is skipped unread."""
    number = 0
    while True:
        raw = stream.readline(limit + 1)
        if not raw:
            return
        number += 1
        if len(raw) > limit and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = stream.readline(1 << 16)
            yield number, None
            continue
        yield number, raw


def _parses(raw: bytes) -> bool:
    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return True


def _text(raw: bytes, source: str, line: int) -> str:
    """`raw` as UTF-8 text, or a `FactsError` at the first byte that is not (line, column)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = raw.rfind(b"\n", 0, exc.start) + 1
        row = line + raw.count(b"\n", 0, exc.start)
        col = len(raw[start:exc.start].decode("utf-8", "replace")) + 1
        raise FactsError(Diagnostic("json-encoding", f"not UTF-8 text ({exc.reason}: byte "
                                    f"0x{raw[exc.start]:02X})", Location(source, row, col, "/"))
                         ) from exc


def _document(raw: bytes, source: str, line: int) -> Any:
    try:
        return parse_json(_text(raw, source, line), source, line)
    except FactsError as exc:
        return exc


def _each_line(lines: Iterable[tuple[int, bytes | None]], source: str, limit: int,
               as_bytes: bool = False) -> Iterator[tuple[int, Any | FactsError]]:
    for number, raw in lines:
        if raw is None:
            yield number, FactsError(Diagnostic(
                "json-too-large", f"line is over the limit of {limit:,} bytes",
                Location(source, number, 1, "/")))
        elif raw.strip():
            yield number, raw if as_bytes and _utf8(raw) else _document(raw, source, number)


def _utf8(raw: bytes) -> bool:
    """Whether a line is UTF-8; one that is not gets its located encoding error from
    `_document`, the same whoever reads it."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
