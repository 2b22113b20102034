"""Order facts: validation of incoming facts and the flat view (`FlatFacts`) that both the engine
and explanations read. The catalogue of fact paths lives in `language.catalogue`."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..errors import Diagnostic, FactsError, Location, pointer_join
from ..language import consistency
from ..language.catalogue import Catalogue, bundled_catalogue
from ..language.model import TIMESTAMP_YEARS, parse_timestamp
from ..language.schema import pointer_of, schema_diagnostics, validator_of
from ._fastinit import builder
from .requested import (  # noqa: F401 - derived.request.*, long imported from here
    REQUEST_PREFIX,
    add_requested,
    covered,
)
from .shared import (  # noqa: F401 - MAX_FACTS_BYTES: read from here by callers
    MAX_FACTS_BYTES,
    MAX_FACTS_DEPTH,
    MAX_FACTS_STRING,
    MAX_FACTS_VALUES,
    _derived,
)

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator



@dataclass(frozen=True)
class FlatFacts:
    """Validated facts seen as `path -> value` (nulls dropped), with timestamps parsed and the
    age in whole seconds of every timestamp measured to `now`; `gaps` holds durations between
    two timestamps (`gap_between`), computed for the pairs a ruleset reads."""

    values: dict[str, Any]
    ages: dict[str, int]
    now: datetime
    order_id: str
    platform: str
    seller_policy: str | None
    request_at: datetime
    # `now.isoformat()` when flattening could tell it from the text without calling it, else
    # None; a shortcut, so not part of equality
    now_isoformat: str | None = field(default=None, compare=False, repr=False)
    # `gap:<fact>:<of>` -> whole seconds from `of` to `fact` (floored); filled on demand
    gaps: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    # each timestamp's text as sent (`now` under ""), so durations are exact to the nanosecond
    texts: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    # the order's lines and the request's items as sent (None: the whole order), from which
    # `add_requested` derives derived.request.* and the decision lists what it covers
    lines: Any = field(default=None, compare=False, repr=False)
    asked: Any = field(default=None, compare=False, repr=False)
    # `covered(self)`, kept by its first call (`add_requested`, then the decision's covers)
    covering: Any = field(default=None, compare=False, repr=False)

    def get(self, path: str) -> Any:
        return self.values.get(path)


def _reject_non_json_numbers(value: Any, pointer: str, out: list[Diagnostic]) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            out.append(Diagnostic("facts-number", f"{value} is not a number JSON allows",
                                  Location(pointer=pointer or "/")))
        else:
            out.append(Diagnostic("facts-number",
                                  f"{value!r} is a fractional number; amounts and counts are whole "
                                  "numbers (money is integer rupiah)", Location(pointer=pointer)))
    elif isinstance(value, dict):
        for key, child in value.items():
            _reject_non_json_numbers(child, pointer_join(pointer, key), out)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            _reject_non_json_numbers(child, pointer_join(pointer, index), out)


# A lone UTF-16 surrogate (JSON "\ud800", or a Python str holding one) is no character: it can
# be neither compared meaningfully nor written back out as UTF-8 (a decision echoing it failed
# with a UnicodeEncodeError, an HTTP 500).
_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogate(pointer: str) -> Diagnostic:
    return Diagnostic("facts-text", "text holds a lone UTF-16 surrogate (such as \\ud800), "
                      "which is not a character; send valid Unicode", Location(pointer=pointer))


def _check_shape(facts: Any) -> list[Diagnostic]:
    """Depth, size, text length and integer magnitude limits, checked iteratively (no recursion,
    so no RecursionError) and cheaply: a JSON pointer is only built for a problem."""
    out: list[Diagnostic] = []
    stack: list[tuple[Any, tuple[Any, ...]]] = [(facts, ())]
    seen = 0
    while stack:
        value, path = stack.pop()
        seen += 1
        if seen > MAX_FACTS_VALUES:
            return [Diagnostic("facts-too-large", f"facts hold more than {MAX_FACTS_VALUES:,} "
                               "values; an order has at most 500 items", Location(pointer="/"))]
        if isinstance(value, str):
            if len(value) > MAX_FACTS_STRING:
                out.append(Diagnostic("facts-too-large", f"a text of {len(value):,} characters "
                                      f"is too long; facts hold at most {MAX_FACTS_STRING:,} "
                                      "characters per text", Location(pointer=pointer_of(path))))
            elif not value.isascii() and _SURROGATE.search(value):
                out.append(_surrogate(pointer_of(path)))
        elif isinstance(value, int) and not isinstance(value, bool):
            if abs(value) >= 2 ** 63:
                out.append(Diagnostic("facts-number", "this number is far too large for any "
                                      "fact", Location(pointer=pointer_of(path))))
        elif isinstance(value, (dict, list)):
            if len(path) >= MAX_FACTS_DEPTH:
                out.append(Diagnostic("facts-too-deep",
                                      f"facts nest deeper than {MAX_FACTS_DEPTH} levels",
                                      Location(pointer=pointer_of(path))))
                continue
            pairs = value.items() if isinstance(value, dict) else enumerate(value)
            for key, child in pairs:
                if isinstance(key, str) and not key.isascii() and _SURROGATE.search(key):
                    out.append(_surrogate(pointer_of(path) or "/"))
                    break
                if isinstance(key, str) and len(key) > MAX_FACTS_STRING:
                    out.append(Diagnostic("facts-too-large", f"a key of {len(key):,} characters "
                                          f"is too long; facts keys are at most "
                                          f"{MAX_FACTS_STRING:,}",
                                          Location(pointer=pointer_of(path) or "/")))
                    break
                stack.append((child, path + (key,)))
    return out


@dataclass(frozen=True, eq=False)
class FactsReader:
    """How facts are read under one catalogue: its schema's validator, the compiled fast check
    of the same schema (None if it uses a keyword `fastcheck` does not compile), and its
    timestamp paths. One per catalogue (`reader_for`); a `Policies` holds its folder's."""

    catalogue: Catalogue
    validator: Draft202012Validator
    check: Callable[[Any], dict[str, Any] | None] | None
    timestamp_paths: tuple[str, ...]
    # the check fused with flattening, timestamps, derived facts and the consistency check
    # (`runtime/prepared.py`), or None: (values, texts, now, now text) of facts it accepts
    prepare: Callable[[Any], tuple[dict[str, Any], dict[str, str], datetime, str] | None
                      ] | None = None


@lru_cache(maxsize=32)  # a catalogue per policy folder (and per edit of its project file)
def reader_for(catalogue: Catalogue) -> FactsReader:
    from .prepared import compile_prepare
    validator = validator_of(catalogue.facts_schema)
    return FactsReader(catalogue, validator, _fast_check(catalogue, validator),
                       catalogue.timestamp_paths, compile_prepare(catalogue, validator))


def bundled_reader() -> FactsReader:
    return reader_for(bundled_catalogue())


def _check_timestamps(facts: dict[str, Any], reader: FactsReader) -> list[Diagnostic]:
    """The schema checks a timestamp's shape; this checks it is a real instant in range
    (no 30 February, no leap second 60, no year 9999 that overflows a refund due date)."""
    found = []
    paths = [f.path for f in reader.catalogue.fields.values()
             if f.kind == "timestamp" and not f.derived]
    for path in paths + ["now"]:
        node: Any = facts
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, str):
            continue
        pointer = "/" + path.replace(".", "/")
        try:
            moment = parse_timestamp(node)
        except ValueError as exc:
            found.append(Diagnostic("facts-timestamp", f"{node!r} is not a real date and time "
                                    f"({exc})", Location(pointer=pointer)))
            continue
        low, high = TIMESTAMP_YEARS
        if not low <= moment.year <= high:
            found.append(Diagnostic("facts-timestamp", f"{node!r} is outside the years aturan "
                                    f"accepts ({low}-{high})", Location(pointer=pointer)))
    return found


_FRACTION = re.compile(r"\.(\d+)")


def _beyond_microseconds(text: str) -> int:
    """Nanoseconds in fraction digits 7-9, which `datetime` (microseconds) drops."""
    match = _FRACTION.search(text)
    return int(match.group(1)[6:9].ljust(3, "0")) if match else 0


def _age(now: datetime, now_text: str, moment: datetime, text: str) -> int:
    """Whole seconds from `moment` to `now`, floored, exact to the nanosecond (integer arithmetic:
    no float rounding, no truncation of 7-9 digit fractions)."""
    micros = (now - moment) // timedelta(microseconds=1)
    nanos = micros * 1000 + _beyond_microseconds(now_text) - _beyond_microseconds(text)
    return nanos // 1_000_000_000


def gap_between(flat: FlatFacts, fact: str, of: str) -> int | None:
    """Whole seconds from timestamp `of` to timestamp `fact` (fact - of, floored; negative
    when the fact came first), exact to the nanosecond like `_age`; None when either is
    absent. Cached in `flat.gaps` under the pair's subject key."""
    key = f"gap:{fact}:{of}"
    found = flat.gaps.get(key)
    if found is not None:
        return found
    later, earlier = flat.values.get(fact), flat.values.get(of)
    if later is None or earlier is None:
        return None
    micros = (later - earlier) // _MICROSECOND
    nanos = (micros * 1000 + _nanos_beyond(flat.texts.get(fact, ""))
             - _nanos_beyond(flat.texts.get(of, "")))
    gap = nanos // 1_000_000_000
    flat.gaps[key] = gap
    return gap


def add_gaps(flat: FlatFacts, pairs: Iterable[tuple[str, str]]) -> None:
    """Fill `flat.gaps` for these (fact, of) pairs (absent pairs stay out)."""
    for fact, of in pairs:
        gap_between(flat, fact, of)


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    for key, child in value.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(child, dict):
            _flatten(child, path, out)
        elif child is not None and not isinstance(child, list):
            out[path] = child


def validate_facts(facts: Any, reader: FactsReader | None = None) -> list[Diagnostic]:
    """Every problem with `facts`, each naming its JSON pointer; empty when the facts are valid
    (under the reader's catalogue: default the bundled one)."""
    reader = reader or bundled_reader()
    if not isinstance(facts, dict):
        return [Diagnostic("facts-type", "facts must be a JSON object with `order` and `request`",
                           Location(pointer="/"))]
    problems = _check_shape(facts)
    if problems:
        return problems
    _reject_non_json_numbers(facts, "", problems)
    if problems:
        return problems
    if "derived" in facts:
        problems.append(Diagnostic("facts-derived",
                                   "`derived` is computed by aturan from the order; do not send it",
                                   Location(pointer="/derived")))
        facts = {k: v for k, v in facts.items() if k != "derived"}
    problems += [Diagnostic("facts-schema", d.message, Location(pointer=d.location.pointer or "/"))
                 for d in schema_diagnostics(facts, "facts", lambda p: Location(pointer=p),
                                             reader.validator)]
    if not problems:
        problems += _check_timestamps(facts, reader)
    if not problems:  # the sums between facts (language/consistency.py) need their shapes
        problems += consistency.problems(facts)
    return problems


def _fast_check(catalogue: Catalogue | None = None,
                validator: Draft202012Validator | None = None
                ) -> Callable[[Any], dict[str, Any] | None] | None:
    """The compiled accept-only check of the catalogue's facts schema (`runtime/prepared.py`)."""
    from .prepared import fast_check
    return fast_check(catalogue, validator)


def _nanos_beyond(text: str) -> int:
    return _beyond_microseconds(text) if "." in text else 0


def _moment(text: str) -> datetime:
    """`parse_timestamp`, without its two replacements for the usual text: Python 3.11's
    `fromisoformat` reads a Z offset itself, but not z."""
    try:
        return _fromisoformat(text)
    except ValueError:
        return parse_timestamp(text)


_fromisoformat = datetime.fromisoformat
_consistent = consistency.consistent


def flatten_facts(facts: dict[str, Any], reader: FactsReader | None = None) -> FlatFacts:
    """Validate and flatten; raise `FactsError` naming every bad pointer.

    Facts the compiled check accepts skip the jsonschema interpreter; anything else (and any
    timestamp that is not a real instant in range) goes through `validate_facts`, which names
    every problem, so errors and their pointers do not depend on which path ran."""
    reader = reader or bundled_reader()
    flat, texts = flatten_without_ages(facts, reader)
    add_ages(flat, texts, reader.timestamp_paths)
    add_requested(flat, reader.catalogue.product_types)
    return flat


def flatten_without_ages(facts: dict[str, Any], reader: FactsReader | None = None
                         ) -> tuple[FlatFacts, dict[str, str]]:
    """`flatten_facts` with `ages` still empty, and the timestamps' texts (`now` under "")
    for `add_ages`: `Policies.decide` computes only the ages its ruleset reads. `reader`: the
    catalogue's (`reader_for`), default the bundled one."""
    if reader is None:
        reader = bundled_reader()
    prepare = reader.prepare
    if prepare is not None:
        prepared = prepare(facts)
        if prepared is not None:
            return _flat_of(facts, *prepared), prepared[1]
    check = reader.check
    values = check(facts) if check is not None else None
    if values is not None:
        parsed = _parse(facts, values, True, reader.timestamp_paths)
        if parsed is not None and _consistent(facts):
            return parsed
    problems = validate_facts(facts, reader)
    if problems:
        raise FactsError(problems)
    values = {}
    _flatten({k: v for k, v in facts.items() if k != "now"}, "", values)
    parsed = _parse(facts, values, False, reader.timestamp_paths)
    assert parsed is not None
    return parsed


def _parse(facts: dict[str, Any], values: dict[str, Any], strict: bool,
           timestamp_paths: tuple[str, ...]) -> tuple[FlatFacts, dict[str, str]] | None:
    """Derived facts and parsed timestamps. With `strict`, None for a timestamp
    `_check_timestamps` would refuse (the caller then reports it)."""
    order = facts["order"]
    values.update(_derived(order))
    values.setdefault("order.fulfillment.production_started", False)
    now_text = facts.get("now") or facts["request"]["at"]
    low, high = TIMESTAMP_YEARS
    texts = {"": now_text}
    try:
        now = _moment(now_text)
        if strict and not low <= now.year <= high:
            return None
        for path in timestamp_paths:
            text = values.get(path)
            if text is None:
                continue
            moment = _moment(text)
            if strict and not low <= moment.year <= high:
                return None
            values[path] = moment
            texts[path] = text
    except ValueError:
        if strict:
            return None
        raise
    return _flat_of(facts, values, texts, now, now_text), texts


def _flat_of(facts: dict[str, Any], values: dict[str, Any], texts: dict[str, str],
             now: datetime, now_text: str) -> FlatFacts:
    """The FlatFacts of valid facts, their flat values (timestamps parsed, derived facts in)
    and timestamp texts."""
    order = facts["order"]
    return _flat_facts({"values": values, "ages": {}, "gaps": {}, "texts": texts,
                        "lines": order["items"], "asked": facts["request"].get("items"),
                        "covering": None,
                        "now": now, "order_id": order["id"],
                        "platform": order["platform"],
                        "seller_policy": order["seller"]["policy"],
                        "request_at": values["request.at"],
                        # now.isoformat() is the text itself when it has whole seconds, a
                        # T, an offset that is not -00:00 (printed +00:00) and ASCII digits
                        # (the pattern's \d admits others)
                        "now_isoformat": now_text if (
                            len(now_text) == 25 and now_text[10] == "T"
                            and now_text[19] in "+-" and now_text.isascii()
                            and now_text[19:] != "-00:00") else None})


def add_ages(flat: FlatFacts, texts: dict[str, str], paths: Iterable[str] | None = None
             ) -> None:
    """Fill `flat.ages` for `paths` (default: every timestamp the texts hold), exactly as `_age`
    computes them; only for a FlatFacts from `flatten_without_ages` that nobody else holds."""
    now, now_text, values, ages = flat.now, texts[""], flat.values, flat.ages
    now_nanos = _nanos_beyond(now_text)
    # Whole seconds and the same written offset as `now`: the age is the difference of the
    # wall-clock times, without datetime subtraction (which calls utcoffset() twice).
    offset = now_text[-6:] if "." not in now_text and now_text[-6] in "+-" else None
    if offset is not None:
        now_day = now.toordinal()
        now_second = now.hour * 3600 + now.minute * 60 + now.second
    for path in [p for p in texts if p] if paths is None else paths:
        text = texts.get(path)
        if text is None:
            continue
        moment = values[path]
        if offset is not None and len(text) == 25 and text.endswith(offset):  # no fraction
            ages[path] = ((now_day - moment.toordinal()) * 86400 + now_second
                          - moment.hour * 3600 - moment.minute * 60 - moment.second)
        else:
            ages[path] = _exact_age(now, now_nanos, moment, text)


def exact_age(now: datetime, now_text: str, moment: datetime, text: str) -> int:
    """The age `add_ages` computes when its wall-clock shortcut does not apply."""
    return _exact_age(now, _nanos_beyond(now_text), moment, text)


def _exact_age(now: datetime, now_nanos: int, moment: datetime, text: str) -> int:
    if now_nanos or "." in text:  # as `_age`: exact to the nanosecond
        micros = (now - moment) // _MICROSECOND
        return (micros * 1000 + now_nanos - _nanos_beyond(text)) // 1_000_000_000
    span = now - moment  # whole seconds, floored: `microseconds` (in [0, 1e6)) do not count
    return span.days * 86400 + span.seconds


_MICROSECOND = timedelta(microseconds=1)
_flat_facts = builder(FlatFacts, ("values", "ages", "now", "order_id", "platform",
                                  "seller_policy", "request_at", "now_isoformat", "gaps",
                                  "texts", "lines", "asked", "covering"))
