"""The decision a caller gets back: typed dataclasses whose `to_dict()` is decision.schema.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson


@dataclass(frozen=True)
class RulesetRef:
    name: str
    version: str
    digest: str
    extends: RulesetRef | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "version": self.version, "digest": self.digest}
        if self.extends:
            data["extends"] = self.extends.to_dict()
        return data


@dataclass(frozen=True)
class RefundDecision:
    amount: int
    destination: str
    min_business_days: int | None
    max_business_days: int | None
    due_by: str | None  # None when the policy publishes no refund time

    def to_dict(self) -> dict[str, Any]:
        eta = None if self.due_by is None else {
            "min_business_days": self.min_business_days,
            "max_business_days": self.max_business_days, "due_by": self.due_by}
        return {"amount": self.amount, "destination": self.destination, "eta": eta}


@dataclass(frozen=True)
class PenaltyDecision:
    party: str
    code: str
    points: int | None
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {"party": self.party, "code": self.code, "points": self.points, "rule": self.rule}


@dataclass(frozen=True)
class ExplanationItem:
    """One rule that shaped the decision, with the atoms that made it match."""

    rule: str
    priority: int
    effect: dict[str, Any]
    because: list[dict[str, Any]]
    message: dict[str, str]
    file: str
    line: int
    ruleset: str
    citation: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"rule": self.rule, "priority": self.priority,
                                "effect": self.effect, "because": self.because,
                                "message": self.message,
                                "source": {"file": self.file, "line": self.line,
                                           "ruleset": self.ruleset}}
        if self.citation:
            data["citation"] = self.citation
        return data


@dataclass(frozen=True)
class Overridden:
    rule: str
    outcome: str
    priority: int
    by: str

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "outcome": self.outcome, "priority": self.priority,
                "by": self.by}


@dataclass(frozen=True)
class Decision:
    order_id: str
    ruleset: RulesetRef
    outcome: str
    refund: RefundDecision | None
    penalties: tuple[PenaltyDecision, ...]
    next_steps: tuple[str, ...]
    explanation: tuple[ExplanationItem, ...]
    evaluated_at: str
    overridden: tuple[Overridden, ...] = field(default=())
    # the decision log's id of this decision (a UUIDv7); None, and absent from the JSON, when
    # no log records decisions, so the canonical bytes are unchanged then
    decision_id: str | None = None
    # when the outcome takes effect, if the deciding rule says (`effective_at`); else None:
    # at `evaluated_at` (the key is left out of the JSON, as before language v2)
    effective_at: str | None = None
    # the lines a request for part of the order covers (request.items), each {sku, quantity,
    # amount}; empty for the whole order (the key is then left out of the JSON)
    covers: tuple[dict[str, Any], ...] = ()
    # how a return is resolved, as the deciding rule says (`return`); None: it says nothing
    return_: dict[str, str] | None = None

    @property
    def fired_rules(self) -> tuple[str, ...]:
        """Ids of the rules that matched (applied or overridden), for coverage and diffs."""
        deferred = self.__dict__.get("_deferred")
        rules = (deferred.rules() if deferred is not None and "explanation" not in self.__dict__
                 else tuple(item.rule for item in self.explanation))
        return tuple(rule for rule in rules if rule != "default") + tuple(
            o.rule for o in self.overridden)

    def __getstate__(self) -> dict[str, Any]:
        """What pickling and `copy` keep: every field, a deferred explanation rendered."""
        state = dict(self.__dict__)
        if state.pop("_deferred", None) is not None:
            state["explanation"] = self.explanation
        return state

    def to_dict(self) -> dict[str, Any]:
        data = {
            "order_id": self.order_id,
            "ruleset": self.ruleset.to_dict(),
            "outcome": self.outcome,
            "refund": self.refund.to_dict() if self.refund else None,
            "penalties": [p.to_dict() for p in self.penalties],
            "next_steps": list(self.next_steps),
            "explanation": [e.to_dict() for e in self.explanation],
            "overridden": [o.to_dict() for o in self.overridden],
            "evaluated_at": self.evaluated_at,
        }
        if self.effective_at is not None:
            data["effective_at"] = self.effective_at
        if self.covers:
            data["covers"] = [dict(line) for line in self.covers]
        if self.return_ is not None:
            data["return"] = dict(self.return_)
        return data if self.decision_id is None else {"decision_id": self.decision_id, **data}

    def to_json(self) -> str:
        """The canonical serialisation: the same bytes from the library, the CLI and HTTP.

        `canonical_json` without its walk over every value: the fields typed `str`, `int` or
        `None` are taken at their word, and only the free-form ones (each explanation item's
        `effect` and `because`) are searched for floats, the one JSON type orjson writes
        differently. A decision aturan makes never holds one (rulesets' operands are
        type-checked against the catalogue, facts refuse fractional numbers); a hand-built
        one that does gets `json.dumps`.

        A decision `Policies.decide` made carries its explanation deferred
        (`runtime/deferred.py`): its JSON is then written from fragments pre-serialised per
        memo plan, the same bytes (tests/runtime/test_json_exact.py), without building the
        explanation's objects."""
        deferred = self.__dict__.get("_deferred")
        if deferred is not None:
            return deferred.json(self)
        data = self.to_dict()
        for item in data["explanation"]:
            if not (_floatless(item["effect"]) and _floatless(item["because"])):
                return _json_dumps(data)
        return _fast_dumps(data)


class Deferred(Protocol):
    """An explanation not rendered yet (`runtime/deferred.py`), kept by the decision it
    explains under `_deferred`: its items, the ids of its rules, and the decision's JSON."""

    def items(self) -> tuple[ExplanationItem, ...]: ...

    def rules(self) -> tuple[str, ...]: ...

    def json(self, decision: Decision) -> str: ...


def _explanation(self: Decision) -> tuple[ExplanationItem, ...]:
    """`Decision.explanation`: the field as given, or the deferred one, rendered on first
    reading (two threads racing render equal items; either is kept)."""
    state = self.__dict__
    found = state.get("explanation")
    if found is None:
        deferred = state.get("_deferred")
        if deferred is not None:
            found = state["explanation"] = deferred.items()
    return found  # type: ignore[return-value]  # None only in a decision built with None


def _set_explanation(self: Decision, value: tuple[ExplanationItem, ...]) -> None:
    self.__dict__["explanation"] = value  # only the dataclass's __init__ sets it


# The field stays a dataclass field (constructor, `fields`, `replace`, equality, repr), read
# through a property so that a decision can carry it deferred: a caller reading `outcome`
# never pays for the text.
Decision.explanation = property(  # type: ignore[assignment]
    _explanation, _set_explanation, doc="The rules that shaped the decision, with their atoms "
    "and messages (rendered on first reading when the decision came from `Policies.decide`).")


def canonical_json(data: Any) -> str:
    """The one writer of canonical JSON: compact, UTF-8 text unescaped, keys in insertion order;
    byte for byte `json.dumps(data, ensure_ascii=False, separators=(",", ":"))`.

    orjson writes it several times faster and identically except for floats (exponents as
    `1e-05` vs `1e-5`, NaN and infinities as `null`), subclasses and other types (enums it
    writes, `json.dumps` refuses), integers beyond 64 bits, non-string keys and lone
    surrogates: the first two are looked for first, the others make orjson raise, and all of
    them are written (or refused) by `json.dumps`."""
    if _floatless(data):
        return _fast_dumps(data)
    return _json_dumps(data)


def canonical_json_of_facts(data: Any) -> str:
    """`canonical_json` of validated facts (or a masked copy of them), which hold no float:
    facts refuse fractional numbers and NaN (`runtime.facts`), so the walk looking for one is
    skipped. The decision log encodes every order's facts with it."""
    return _fast_dumps(data)


def _json_dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _fast_dumps(data: Any) -> str:
    """orjson for data holding no float; whatever else it refuses, `json.dumps` writes."""
    try:
        return _orjson_dumps(data).decode()
    except TypeError:
        return _json_dumps(data)


_orjson_dumps = orjson.dumps
_SCALARS = frozenset((str, int, bool, type(None)))


def _floatless(value: Any) -> bool:
    """`value` is made of exactly dict, list, tuple, str, int, bool and None, with no float and
    no subclass (an enum, a float subclass, a dict with its own `items`): those go to
    `json.dumps`, which then writes them, or refuses them, as it always did."""
    kind = type(value)
    if kind is dict:
        value = value.values()
    elif kind is not list and kind is not tuple:
        return kind in _SCALARS
    for child in value:  # a loop, not all(...): this runs for every decision written
        if type(child) not in _SCALARS and not _floatless(child):
            return False
    return True
