"""The cells an axis of the order space is cut into: a value, an interval of integers (or of
ages in seconds), ABSENT, or OTHER. Shared by the box analysis (`symbolic`) and the relations
between axes it cannot cut (`coupled`)."""

from __future__ import annotations

from dataclasses import dataclass


class _Sentinel:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


ABSENT = _Sentinel("absent")  # the fact is missing or null
OTHER = _Sentinel("other")  # a string value no rule mentions


@dataclass(frozen=True)
class Interval:
    """Integers (or ages in seconds) `lo <= x < hi`; None is unbounded."""

    lo: int | None
    hi: int | None

    def contains(self, value: int) -> bool:
        return (self.lo is None or value >= self.lo) and (self.hi is None or value < self.hi)

    def probe(self) -> int:
        """A member of the interval (every atom answers alike for all members)."""
        if self.lo is not None:
            return self.lo
        assert self.hi is not None
        return self.hi - 1
