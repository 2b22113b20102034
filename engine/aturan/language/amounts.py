"""Refund amounts as typed integer-rupiah expressions, a small YAML-structured language:

    5000                                   a literal, whole rupiah, never negative
    order.amounts.items                    an amount fact (a fact whose unit is rupiah)
    { add: [a, b, ...] }   { sub: [a, b, ...] }   (a - b - ...)
    { min: [a, b, ...] }   { max: [a, b, ...] }
    { percent: 50, of: a, round: down | up | half_up }   (whole percent 0..100)

Nothing is ever evaluated as code: `parse` turns the validated tree into the dataclasses below
and `evaluate` is a dozen lines of integer arithmetic (no float anywhere: a percentage is
`percent * value` divided by 100 with the declared rounding). The static check that an
expression is well-typed and never exceeds what was paid, and the canonical form the analyses
compare, are in `language/amount_check.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ROUNDINGS = ("down", "up", "half_up")
# the amounts `refund.amount` names instead of an expression (rulesets written before v2)
LEGACY = ("full", "paid", "items_only")


@dataclass(frozen=True)
class Literal:
    value: int


@dataclass(frozen=True)
class Fact:
    path: str


@dataclass(frozen=True)
class Combine:
    """`add`, `sub` (the first less the rest), `min` or `max` of two or more expressions."""

    op: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Percent:
    percent: int
    of: Expr
    round: str


Expr = Literal | Fact | Combine | Percent
OPS = ("add", "sub", "min", "max")


def parse(node: Any) -> Expr:
    """A schema-valid amount tree -> its expression."""
    if isinstance(node, bool):
        raise ValueError("an amount is not a boolean")
    if isinstance(node, int):
        return Literal(node)
    if isinstance(node, str):
        return Fact(node)
    if "percent" in node:
        return Percent(node["percent"], parse(node["of"]), node.get("round", "down"))
    op = next(k for k in node if k in OPS)
    return Combine(op, tuple(parse(child) for child in node[op]))


def to_tree(expr: Expr) -> Any:
    """The expression as written (the inverse of `parse`), for explanations and JSON."""
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Fact):
        return expr.path
    if isinstance(expr, Percent):
        return {"percent": expr.percent, "of": to_tree(expr.of), "round": expr.round}
    return {expr.op: [to_tree(a) for a in expr.args]}


def facts_of(expr: Expr) -> tuple[str, ...]:
    if isinstance(expr, Fact):
        return (expr.path,)
    if isinstance(expr, Percent):
        return facts_of(expr.of)
    if isinstance(expr, Combine):
        return tuple(dict.fromkeys(f for a in expr.args for f in facts_of(a)))
    return ()


def text(expr: Expr) -> str:
    """How an expression reads: `min(derived.request.amount, order.amounts.total)`."""
    if isinstance(expr, Literal):
        return str(expr.value)
    if isinstance(expr, Fact):
        return expr.path
    if isinstance(expr, Percent):
        return f"{expr.percent}% of {text(expr.of)} (rounded {expr.round.replace('_', ' ')})"
    if expr.op == "add":
        return "(" + " + ".join(text(a) for a in expr.args) + ")"
    if expr.op == "sub":
        return "(" + " - ".join(text(a) for a in expr.args) + ")"
    return f"{expr.op}(" + ", ".join(text(a) for a in expr.args) + ")"


def round_percent(percent: int, value: int, rounding: str) -> int:
    """percent% of an integer, rounded as declared, in integers."""
    scaled = percent * value
    if rounding == "down":
        return scaled // 100
    if rounding == "up":
        return -(-scaled // 100)
    return (scaled * 2 + 100) // 200  # half_up: floor(x + 1/2)


def evaluate(expr: Expr, value: Callable[[str], int]) -> int:
    """The amount for one order; `value(path)` is an amount fact's integer."""
    if isinstance(expr, Literal):
        return expr.value
    if isinstance(expr, Fact):
        return value(expr.path)
    if isinstance(expr, Percent):
        return round_percent(expr.percent, evaluate(expr.of, value), expr.round)
    values = [evaluate(a, value) for a in expr.args]
    if expr.op == "add":
        return sum(values)
    if expr.op == "sub":
        return values[0] - sum(values[1:])
    return min(values) if expr.op == "min" else max(values)


