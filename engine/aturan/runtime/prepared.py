"""The facts check fused with what follows it on every decision: one generated function per
catalogue that validates, flattens, parses and range-checks every timestamp, adds the derived
facts and checks the sums between facts (`language/consistency.py`), returning what
`facts.FlatFacts` is built from.

`facts.flatten_without_ages` used to run these as separate passes (the compiled check, then
`_parse`'s loop over every timestamp path, `_derived`, `consistent`), each with its own calls
and lookups; here they are one function body. It only ever *accepts*, like the check it extends
(`runtime/fastcheck.py`): anything it does not accept (a value the check refuses, a timestamp
`datetime.fromisoformat` does not read, one outside the years aturan accepts, facts whose sums
disagree) returns None, and the caller goes on to the unfused path, which accepts exactly what
it accepted before or reports the errors with their JSON pointers, unchanged.

The generated source holds generated names only: the catalogue's timestamp paths (validated
names) are passed in as constants, never written into the code, and facts are only data to it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..language.catalogue import Catalogue, bundled_catalogue
from ..language.consistency import consistent
from ..language.model import TIMESTAMP_YEARS
from ..language.schema import validator_of
from .fastcheck import Epilogue, Limits, Parse, Shortcut, compile_checker
from .shared import (
    MAX_FACTS_DEPTH,
    MAX_FACTS_STRING,
    MAX_FACTS_VALUES,
    _derived,
)

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

Prepared = tuple[dict[str, Any], dict[str, str], datetime, str]  # values, texts, now, its text

# The facts schema's timestamp pattern, and the separators (positions 4, 7, ..., 22) of its
# usual 25-character form 2024-03-01T10:00:00+07:00. A string of that length with those
# separators that `datetime.fromisoformat` then parses has ASCII digits everywhere else
# (its parser reads each field with '0'-'9' only), so it matches the pattern; one that does
# not parse is refused by `facts._parse(strict=True)` (or by the fused epilogue here) and goes
# to jsonschema. Both parse every timestamp path (and `now`), which is why the shortcut applies
# to exactly those.
TIMESTAMP_PATTERN = (r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?"
                     r"([Zz]|[+-]\d{2}:\d{2})$")
_TIMESTAMP_SHAPES = frozenset(f"--{t}::{sign}:" for t in "Tt " for sign in "+-")
_LIMITS = Limits(MAX_FACTS_STRING, 2 ** 63, MAX_FACTS_DEPTH, MAX_FACTS_VALUES)


def _arguments(catalogue: Catalogue | None, validator: Draft202012Validator | None
               ) -> tuple[Catalogue, dict[str, Any]]:
    catalogue = catalogue or bundled_catalogue()
    validator = validator or validator_of(catalogue.facts_schema)
    formats = validator.format_checker
    schema = catalogue.facts_schema
    shortcuts = {}
    if schema.get("$defs", {}).get("timestamp", {}).get("pattern") == TIMESTAMP_PATTERN:
        paths = frozenset(catalogue.timestamp_paths)
        shortcuts[TIMESTAMP_PATTERN] = Shortcut(
            "len({v}) == 25 and {v}[4::3] in TIMESTAMP_SHAPES",
            {"TIMESTAMP_SHAPES": _TIMESTAMP_SHAPES}, paths | {"now"})
    return catalogue, {
        "schema": schema, "limits": _LIMITS,
        "format_conforms": formats.conforms if formats is not None else None,
        "checked_formats": frozenset(formats.checkers) if formats is not None else frozenset(),
        "shortcuts": shortcuts}


def fast_check(catalogue: Catalogue | None = None,
               validator: Draft202012Validator | None = None
               ) -> Callable[[Any], dict[str, Any] | None] | None:
    """The compiled accept-only check of the catalogue's facts schema (default: the bundled
    one) and the guards of `runtime/facts.py` (see `aturan.runtime.fastcheck`), or None if the
    schema uses a keyword it does not compile."""
    _, arguments = _arguments(catalogue, validator)
    return compile_checker(**arguments)


def compile_prepare(catalogue: Catalogue | None = None,
                    validator: Draft202012Validator | None = None
                    ) -> Callable[[Any], Prepared | None] | None:
    """facts -> (values, texts, now, now's text) for facts the fused check accepts, else None;
    None when the schema does not compile (`fast_check`)."""
    catalogue, arguments = _arguments(catalogue, validator)
    if "request.at" not in catalogue.timestamp_paths:
        return None  # `FlatFacts.request_at` is read parsed: no fused path for such a catalogue
    prepare: Callable[[Any], Prepared | None] | None = compile_checker(  # type: ignore[assignment]
        **arguments, epilogue=_parsed_epilogue(), parse=_parse_where_found(catalogue))
    if prepare is None:  # a timestamp in an anyOf branch: parsed after the check instead
        lines, names = _epilogue(catalogue)
        prepare = compile_checker(  # type: ignore[assignment]
            **arguments, epilogue=Epilogue(lines, names))  # returns the epilogue's result
    return prepare


def _parse_where_found(catalogue: Catalogue) -> Parse:
    """Each timestamp parsed and range-checked where the check accepts it (as `facts._parse`
    does after it), its text kept in `ztexts` (`now` first, under "", filled at the end):
    one reading of each value instead of a second pass over every timestamp path."""
    low, high = TIMESTAMP_YEARS
    return Parse(frozenset(catalogue.timestamp_paths),
                 ("{m} = ZFROMISO({v})", "if not ZLOW <= {m}.year <= ZHIGH: return None",
                  "ztexts[{k}] = {v}"),
                 ("    ztexts = {'': None}",),
                 {"ZFROMISO": datetime.fromisoformat, "ZLOW": low, "ZHIGH": high})


def _parsed_epilogue() -> Epilogue:
    """What follows a check that parsed the timestamps (`_parse_where_found`): derived
    facts, `now` (request.at, parsed already, when absent), the sums."""
    body = "        "
    return Epilogue((
        f"{body}out.update(ZDERIVED(facts['order']))",
        f"{body}if ZSTARTED not in out: out[ZSTARTED] = False",
        f"{body}znow_text = facts.get('now')",
        f"{body}if znow_text:",
        f"{body}    znow = ZFROMISO(znow_text)",
        f"{body}    if not ZLOW <= znow.year <= ZHIGH: return None",
        f"{body}else:",
        f"{body}    znow_text = facts['request']['at']",
        f"{body}    znow = out[ZAT]",
        f"{body}ztexts[''] = znow_text",
        f"{body}if not ZCONSISTENT(facts): return None",
        f"{body}return out, ztexts, znow, znow_text"),
        {"ZDERIVED": _derived, "ZCONSISTENT": consistent, "ZAT": "request.at",
         "ZSTARTED": "order.fulfillment.production_started"})


def _epilogue(catalogue: Catalogue) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The statements after the check: derived facts, every timestamp parsed and
    range-checked, the sums; from the catalogue's timestamp paths (passed as constants)."""
    low, high = TIMESTAMP_YEARS
    names: dict[str, Any] = {"ZFROMISO": datetime.fromisoformat, "ZDERIVED": _derived,
                             "ZCONSISTENT": consistent, "ZLOW": low, "ZHIGH": high,
                             "ZSTARTED": "order.fulfillment.production_started"}
    body = "        "
    lines = [  # as facts._parse, statement for statement
        f"{body}out.update(ZDERIVED(facts['order']))",
        f"{body}if ZSTARTED not in out: out[ZSTARTED] = False",
        f"{body}znow_text = facts.get('now') or facts['request']['at']",
        f"{body}znow = ZFROMISO(znow_text)",
        f"{body}if not ZLOW <= znow.year <= ZHIGH: return None",
        f"{body}ztexts = {{'': znow_text}}",
    ]
    for number, path in enumerate(catalogue.timestamp_paths):
        name = f"ZT{number}"
        names[name] = path
        lines += [f"{body}zt = out.get({name})",
                  f"{body}if zt is not None:",
                  f"{body}    zm = ZFROMISO(zt)",
                  f"{body}    if not ZLOW <= zm.year <= ZHIGH: return None",
                  f"{body}    out[{name}] = zm",
                  f"{body}    ztexts[{name}] = zt"]
    lines += [f"{body}if not ZCONSISTENT(facts): return None",
              f"{body}return out, ztexts, znow, znow_text"]
    return tuple(lines), names
