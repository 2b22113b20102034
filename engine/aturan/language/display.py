"""How values read in text a person sees: rupiah amounts, fact values, enum labels and one
condition with its actual value (the same line in decide, why-not and test output)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from .catalogue import BUNDLED_TIMEZONE
from .labels import label, text
from .model import format_duration, parse_timestamp
from .operators import PRESENCE_OPS

__all__ = ["JAKARTA", "atom_text", "between_text", "code_and_label", "label", "rupiah", "show",
           "text"]

JAKARTA = ZoneInfo(BUNDLED_TIMEZONE)  # WIB: the bundled platforms' zone, people read times in


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
            moved = value.astimezone(JAKARTA)
            if moved.year >= 1000:  # strftime's text, several times faster (%Y pads no
                # year below 1000 on every platform; isoformat pads to four digits)
                return moved.isoformat(" ", "minutes")[:16] + " WIB"
            return moved.strftime("%Y-%m-%d %H:%M WIB")
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


def condition_text(fact: str, op: str, expected: Any, negated: bool = False) -> str:
    """One condition as the author wrote it: `order.status in [paid, to_ship]`,
    `request.at within 24h`; a presence test has no operand (`… absent`, never `absent true`)."""
    neg = "not " if negated else ""
    if op in PRESENCE_OPS:
        return f"{neg}{fact} {op}"
    return f"{neg}{fact} {op} {show(expected)}"


def atom_text(fact: str, op: str, expected: Any, actual: Any, age: str | None = None,
              negated: bool = False, lang: str | None = None) -> str:
    """A condition and the order's value: `request.at within 2d — actual 2025-07-01T10:00:00+07:00
    (0s ago)`; an absent value reads `absent` (`tidak ada`). `age` is how long before now the
    timestamp was (`2d`), or `in 1h` for one after now."""
    shown = show(actual, text("absent", lang))
    if age is not None:
        when = (text("from_now", lang, age=age[3:]) if age.startswith("in ")
                else text("ago", lang, age=age))
        shown += f" ({when})"
    return f"{condition_text(fact, op, expected, negated)} — {text('actual', lang)} {shown}"


def between_text(item: dict[str, Any], lang: str | None = None) -> str:
    """A duration between two timestamps with both values and the gap between them:
    `request.seller_response.at within 2d of request.at — actual 2025-07-03T12:00:00+07:00,
    request.at 2025-07-01T10:00:00+07:00 (2d2h after request.at)`. `item` has fact, op,
    expected, of, actual, of_actual, and gap when both are present."""
    neg = "not " if item.get("negated") else ""
    absent = text("absent", lang)
    gap, of = item.get("gap"), item["of"]
    after = "" if gap is None else " (" + (
        text("gap_before", lang, gap=gap[1:], of=of) if str(gap).startswith("-")
        else text("gap_after", lang, gap=gap, of=of)) + ")"
    return (f"{neg}{item['fact']} {item['op']} {show(item['expected'])} {text('of', lang)} {of}"
            f" — {text('actual', lang)} {show(item['actual'], absent)}, {of} "
            f"{show(item['of_actual'], absent)}{after}")


def code_and_label(field: str, code: str, lang: str | None = None, upper: bool = False) -> str:
    """An enum code where scripts and JSON know it, with its label when that says more:
    `pending_seller (waiting for the seller)`, `approved (disetujui)`, but plain `approved`
    in English."""
    shown = code.upper() if upper else code
    name = label(field, code, lang)
    return shown if name.lower() == code.replace("_", " ") else f"{shown} ({name})"
