"""The instants of witness orders: a request instant every compared version is in force at
(`anchor_for`), and timestamps a number of nanoseconds from it, written as the facts schema
reads them (RFC 3339) or refused (`Unrealisable`) when no valid order can hold them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone, tzinfo
from fractions import Fraction
from typing import Any

from ..language.display import JAKARTA
from ..language.model import TIMESTAMP_YEARS, RulesetVersion


def anchor_for(versions: Iterable[RulesetVersion], zone: tzinfo = JAKARTA) -> datetime:
    """A request instant every given version is in force at: a day after the latest start (or
    the middle of the common range when that is shorter), written in the platform's `zone`."""
    versions = list(versions)
    start = max(v.effective_from for v in versions)
    ends = [v.effective_until for v in versions if v.effective_until is not None]
    step = timedelta(days=1)
    if ends and min(ends) - start < 2 * step:
        step = (min(ends) - start) / 2
    moment = (start + step).astimezone(zone)
    return moment.replace(microsecond=0)


def nanos(seconds: Any) -> int:
    """Seconds (an int, or an exact Fraction from the duration solver) as nanoseconds."""
    if isinstance(seconds, int):
        return seconds * 1_000_000_000
    scaled = Fraction(seconds) * 1_000_000_000
    assert scaled.denominator == 1, "ages are solved in whole nanoseconds"
    return int(scaled)


class Unrealisable(ValueError):
    """A point whose timestamps fall outside the years facts may have (`TIMESTAMP_YEARS`): the
    symbolic space does not bound ages, so a region of durations near a century or more, or a
    ruleset in force from 1900, can have points no valid order reaches. Such a point has no
    witness; its finding or change group stays unconfirmed."""


def instant(anchor: datetime, after: int) -> str:
    """RFC 3339 text of `anchor` + `after` nanoseconds (the anchor has whole seconds), with nine
    fraction digits only when the instant has a part of a second; `Unrealisable` when the year
    as written is outside the years facts may have (the facts check reads the written year:
    the first hours of 1900 in Jakarta are 1899 in UTC)."""
    whole, rest = divmod(after, 1_000_000_000)
    low, high = TIMESTAMP_YEARS
    try:
        moment: datetime | None = _writable(anchor + timedelta(seconds=whole))
    except OverflowError:
        moment = None
    if moment is None or not low <= moment.year <= high:
        raise Unrealisable(f"{anchor.isoformat()} + {whole}s is outside the years {low}-{high}")
    text = moment.isoformat()
    return text if not rest else f"{text[:19]}.{rest:09d}{text[19:]}"


def _writable(moment: datetime) -> datetime:
    """`moment`, in UTC when its zone's offset then was not whole minutes (Jakarta before 1924
    was +07:07:12, which RFC 3339 and the facts schema cannot write): the same instant, so the
    witness decides as the region says."""
    offset = moment.utcoffset()
    if offset is not None and (offset.seconds % 60 or offset.microseconds):
        return moment.astimezone(timezone.utc)
    return moment
