"""How values read in text a person sees: rupiah amounts and fact values."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from .model import format_duration, parse_timestamp

JAKARTA = ZoneInfo("Asia/Jakarta")  # WIB: the time zone people read times in


def rupiah(amount: int) -> str:
    """Integer rupiah with Indonesian thousands separators: `Rp162.000`."""
    return f"Rp{amount:,}".replace(",", ".")


def show(value: Any, absent: str = "null", money: bool = False, now: str | None = None,
         zone: tzinfo = JAKARTA) -> str:
    """A value as it reads in text: `absent` for None, true/false, lists as [a, b] and mappings
    as {k: v} (their items shown alike), a datetime in `zone` (default WIB; a platform's own for
    its messages) to the minute with the zone's abbreviation, an integer as rupiah
    when `money`, anything else as `str`. With `now` (RFC 3339 text), a timestamp text also
    says how far it is from now: `2024-03-01T10:00:00+07:00 (2d before now)`."""
    if type(value) is str and now is None:  # the usual case, first
        return value
    if value is None:
        return absent
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and money:
        return rupiah(value)
    if isinstance(value, datetime):
        if zone is JAKARTA:
            return value.astimezone(JAKARTA).strftime("%Y-%m-%d %H:%M WIB")
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v, absent) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v, absent)}" for k, v in value.items()) + "}"
    if isinstance(value, str) and now and len(value) >= 20 and value[10:11] == "T":
        try:
            age = int((parse_timestamp(now) - parse_timestamp(value)).total_seconds())
        except ValueError:
            return value
        when = ("= now" if age == 0 else f"{format_duration(age)} before now" if age > 0
                else f"{format_duration(-age)} after now")
        return f"{value} ({when})"
    return str(value)
