"""The operators of the ruleset language, each declared once: its name, the fact kinds it
applies to, its operand, its negation, its meaning as a Python predicate, the integer points
where its truth changes, and the durable_rules comparison it compiles to.

Before this table one operator's meaning was written in seven places that could drift apart.
Now the semantic checks (`OPERATORS_BY_KIND`), the compiler (negation normal form and the
engine's JSON), the memo keys and the box analysis (`cut_points`) and explanations
(`Operator.holds`) are all driven from it. Three things stay outside on purpose: the schema's
line for the operator (it describes it to authors; `python -m aturan.docgen` then rewrites
docs/reference.md), and the two oracles the table is tested against, the reference interpreter
(`analysis/reference.py`, `ATOM_TESTS`) and the z3 encoding (`analysis/solver.py`, `ENCODERS`).
A new operator is one entry here plus those three; tests/language/test_operators.py fails until
every reading has it.

The duration operators also measure *between two facts*: `{fact: B, within: 2d, of: A}` holds
when B - A < 2 days. That is the same test with the instant B in place of `now` and A in place of
the fact, so `holds` and `cuts` do not change; what changes is the value an atom reads (`measure`:
the fact's value, a timestamp's age at `now`, or the gap between two timestamps) and the key it
reaches the engine under (`subject`). Every reading dispatches on `measure`.
"""

from __future__ import annotations

import operator as _op
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

# The kinds of fact a rule may test (`catalogue.FactField.kind`), in the order docs list them.
KINDS = ("enum", "string", "integer", "boolean", "timestamp")
_EQUATABLE = frozenset({"enum", "string", "integer", "boolean"})


@dataclass(frozen=True)
class Operator:
    """One operator of the ruleset language.

    `holds(actual, operand)` is the meaning: `actual` is the fact's value (for a timestamp, its
    age in whole seconds at `now`; None when the fact is absent) and `operand` the value as the
    model holds it (a tuple for lists, seconds for durations, True for presence tests). Every
    test but `absent` is false on an absent fact.

    `cuts(operand)` are the integers c where the truth on integers (or ages) changes between
    c - 1 and c: between two consecutive cuts every value answers alike. Memo keys and the box
    analysis build their classes and cells from them (`cut_points`).

    `engine` is the durable_rules comparison (`$lt`, `$neq`, `$ex`, ...; "" is equality, which
    the engine writes `{fact: value}`); for a list operand each value is compared and the
    comparisons are joined by `engine_join` (`$or`: any, `$and`: all). A presence test's
    operand reaches the engine as 1. `runtime/compiler.py` builds the JSON from these.
    """

    name: str
    kinds: frozenset[str]
    operand: str  # scalar | list | duration | none
    negation: str
    holds: Callable[[Any, Any], bool]
    cuts: Callable[[Any], tuple[int, ...]]
    engine: str
    engine_join: str = ""
    between: bool = False  # accepts `of`: a duration from a second timestamp to the fact

    @property
    def tests_presence(self) -> bool:
        """`exists`/`absent`: true or false on an absent fact, and negated by swapping alone
        (every other test is false on an absent fact, so its negation also admits absence)."""
        return self.operand == "none"

    def values(self, operand: Any) -> tuple[Any, ...]:
        """The constants an operand names (none for a presence test)."""
        if self.operand == "none":
            return ()
        return tuple(operand) if self.operand == "list" else (operand,)


def _present(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    """A comparison: false when the fact is absent, else `test(actual, operand)`."""
    return lambda actual, operand: actual is not None and test(actual, operand)


def _at(operand: int) -> tuple[int, ...]:  # x < c, x >= c change at c
    return (operand,)


def _after(operand: int) -> tuple[int, ...]:  # x <= c, x > c change at c + 1
    return (operand + 1,)


def _around(operand: int) -> tuple[int, ...]:  # x == c changes at c and at c + 1
    return (operand, operand + 1)


def _around_each(operand: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(point for value in operand for point in (value, value + 1))


def _none(operand: Any) -> tuple[int, ...]:
    return ()


_ORDERED = frozenset({"integer"})
_TIME = frozenset({"timestamp"})
_ALL = frozenset(KINDS)

TABLE: tuple[Operator, ...] = (
    Operator("eq", _EQUATABLE, "scalar", "ne", _present(_op.eq), _around, ""),
    Operator("ne", _EQUATABLE, "scalar", "eq", _present(_op.ne), _around, "$neq"),
    Operator("in", _EQUATABLE - {"boolean"}, "list", "not_in",
             _present(lambda actual, operand: actual in operand), _around_each, "", "$or"),
    Operator("not_in", _EQUATABLE - {"boolean"}, "list", "in",
             _present(lambda actual, operand: actual not in operand), _around_each, "$neq",
             "$and"),
    Operator("lt", _ORDERED, "scalar", "ge", _present(_op.lt), _at, "$lt"),
    Operator("le", _ORDERED, "scalar", "gt", _present(_op.le), _after, "$lte"),
    Operator("gt", _ORDERED, "scalar", "le", _present(_op.gt), _after, "$gt"),
    Operator("ge", _ORDERED, "scalar", "lt", _present(_op.ge), _at, "$gte"),
    # ages: now - t >= d, and now - t < d (also true for a timestamp after `now`)
    Operator("older_than", _TIME, "duration", "within", _present(_op.ge), _at, "$gte",
             between=True),
    Operator("within", _TIME, "duration", "older_than", _present(_op.lt), _at, "$lt",
             between=True),
    Operator("exists", _ALL, "none", "absent", lambda actual, operand: actual is not None,
             _none, "$ex"),
    Operator("absent", _ALL, "none", "exists", lambda actual, operand: actual is None,
             _none, "$nex"),
)

BY_NAME: Mapping[str, Operator] = MappingProxyType({op.name: op for op in TABLE})

# Keys of a condition that are neither `fact` nor an operator: `of`, the second timestamp of a
# duration between two facts (operators with `between`).
MODIFIERS = ("of",)

# What an atom measures, the value `holds` is given: the fact's value, a timestamp's age at
# `now` (whole seconds, floored), or the gap from `of` to the fact (whole seconds, floored).
MEASURES = ("value", "age", "gap")


def measure(atom: AtomLike, kind: str | None) -> str:
    """`gap` for a duration between two facts, `age` for a timestamp (`kind` is the fact's kind
    in the catalogue), else `value`."""
    if getattr(atom, "of", None) is not None:
        return "gap"
    return "age" if kind == "timestamp" else "value"


def subject(fact: str, of: str | None, kind: str | None) -> str:
    """The one key a measured value goes by: in the engine's fact, in memo keys, as an axis of
    the box analysis. `age:<fact>`, `gap:<fact>:<of>` or the fact path itself."""
    if of is not None:
        return f"gap:{fact}:{of}"
    return f"age:{fact}" if kind == "timestamp" else fact


def gap_pair(key: str) -> tuple[str, str]:
    """(fact, of) of a `gap:` subject key."""
    _, fact, of = key.split(":")
    return fact, of


# Derived views, for the readers that only need names.
OPERATORS = tuple(BY_NAME)
PRESENCE_OPS = tuple(op.name for op in TABLE if op.operand == "none")
TIME_OPS = tuple(op.name for op in TABLE if op.operand == "duration")
COMPARISON_OPS = tuple(op.name for op in TABLE if op.operand in ("scalar", "list"))
# operators that compare by order (no kind without an order accepts them)
ORDERED_OPS = tuple(op.name for op in TABLE
                    if op.kinds and op.kinds <= {"integer", "timestamp"})
# kind -> the operators a fact of that kind accepts, in table order (the kind's own tests
# first, presence last): what `semantic` checks and docs/reference.md lists
OPERATORS_BY_KIND: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {kind: tuple(op.name for op in TABLE if kind in op.kinds) for kind in KINDS})


class AtomLike(Protocol):
    """Anything with an operator and an operand, such as `model.Atom`."""

    @property
    def op(self) -> str: ...

    @property
    def value(self) -> Any: ...


def cut_points(tests: Iterable[AtomLike]) -> tuple[int, ...] | None:
    """The sorted points where the truth of some test changes, on integers or ages; None when
    an operand is not an integer (then the values are classified by equality instead).

    One function for the memo's key classes (`runtime/memo.py`) and the box analysis' cells
    (`analysis/symbolic.py`): between two consecutive points every test keeps its truth value,
    so the intervals are the coarsest exact partition. Presence tests cut nothing."""
    points: set[int] = set()
    for test in tests:
        spec = BY_NAME[test.op]
        values = spec.values(test.value)
        if any(type(value) is not int for value in values):
            return None
        if values:
            points.update(spec.cuts(test.value))
    return tuple(sorted(points))
