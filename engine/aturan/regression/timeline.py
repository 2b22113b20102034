"""The timeline of a sampled order (`regression/sample.py`): gaps in seconds between its
events, rescaled so that an event lands exactly on a duration a rule writes (its age at `now`,
or its distance from another event)."""

from __future__ import annotations


def fix_age(gaps: dict[str, int], events: list[str], fact: str, age: int) -> None:
    """Make `fact`'s age exactly `age` by rescaling the gaps after it (order is kept)."""
    later = events[events.index(fact) + 1:]
    total = sum(gaps[e] for e in later)
    if total == 0:
        gaps["now"] = age
        return
    scaled = [gaps[e] * age // total for e in later]
    scaled[-1] += age - sum(scaled)
    for e, gap in zip(later, scaled):
        gaps[e] = gap


def fix_between(gaps: dict[str, int], events: list[str], of: str, fact: str,
                 target: int) -> None:
    """Make `fact` come exactly `target` seconds after `of` (both events of the timeline, `of`
    first) by rescaling the gaps between them."""
    start, end = events.index(of), events.index(fact)
    if end <= start or target < 0:
        return
    between = events[start + 1:end + 1]
    total = sum(gaps[e] for e in between)
    scaled = [gaps[e] * target // total for e in between] if total else [0] * len(between)
    scaled[-1] += target - sum(scaled)
    for e, gap in zip(between, scaled):
        gaps[e] = gap


def push_back(ages: dict[str, int], events: list[str], anchor: str, minimum: int) -> None:
    """Move `anchor` (and everything before it) earlier until its age is at least `minimum`."""
    shift = minimum - ages[anchor]
    if shift > 0:
        for e in events[:events.index(anchor) + 1]:
            ages[e] += shift


