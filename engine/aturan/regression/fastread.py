"""Corpus lines read by orjson where that is provably the strict reading, for the corpus diff
(`diffrun`, `partitioned`); batch decide uses `Policies.decide_text`, the same reading. The same
summaries and decisions, sooner (docs/scale.md measures it).

`jsonio.fast_loads` vouches for orjson's reading of a line, or says it cannot (a `\\u` escape, a
duplicate key, bad JSON: that line is read strictly). It proves the reading the strict one
(`jsonio.parse_json`) but for an integer beyond 64 bits, which orjson reads as a float. The diff
keeps only an invalid order's error code, and validation refuses both readings of such a line
with the same code, `facts-number` (every number is checked before anything else: "far too
large" for the integer, "fractional" for the float), so its summary is the strict reader's;
tests/regression/test_fast_read.py holds the two readings to that, big integers included."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import FactsError
from ..runtime.jsonio import UNPROVEN, fast_loads, parse_json


def line_text(item: str | bytes) -> str | bytes:
    """A line without its line break, so an error at its end is located on it (as
    `jsonio.read_lines` reads it)."""
    return item.rstrip(b"\r\n") if isinstance(item, bytes) else item.rstrip("\r\n")


def fast_items(lines: Iterable[tuple[int, Any]], source: str, base: int = 0
               ) -> Iterator[tuple[int, Any]]:
    """(base + line, facts or the `FactsError` reading them) for `lines` as `read_lines(...,
    raw=True)` gives them: (line, its text), or already facts or an error (a Parquet row)."""
    for line, item in lines:
        if isinstance(item, (bytes, str)):
            text = line_text(item)
            item = fast_loads(text)
            if item is UNPROVEN:
                try:
                    item = parse_json(text, source, line)
                except FactsError as exc:
                    item = exc
        yield base + line, item
