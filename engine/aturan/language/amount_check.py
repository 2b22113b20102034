"""Refund amount expressions (`language/amounts.py`) checked before any order is decided, and
compared by the analyses.

`check` proves that an expression only names amount facts the rule is sure to have and that it
is never negative and never more than what was paid (`order.amounts.total`) for any order whose
facts satisfy the relations of `language/consistency`: rational linear feasibility of "it is
more", case by case over the arguments `min`/`max` choose, by `language/linear`. It is sound,
not complete: an expression it cannot prove is refused, with an example and a fix. `canonical`
is the form two versions' refunds are compared by (`aturan diff --exhaustive`, lint).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import product
from typing import Any

from .amounts import Combine, Expr, Fact, Literal, Percent, facts_of, parse, text
from .catalogue import FactField
from .consistency import RELATIONS, TOTAL
from .display import rupiah
from .linear import Inequality, at_least, at_most, feasible, solve

LIMIT = 10 ** 12  # the facts schema's money maximum
MAX_CASES = 4096  # min/max alternatives the bound check will try


# ---- a canonical form, so the analyses compare formulas, not their spelling ---------------

def canonical(expr: Expr) -> Any:
    """A hashable form equal for expressions that are equal for every consistent order as far
    as sums go: sums and differences are flattened into one linear combination with the total
    written out as items + shipping - discount; min/max compare their arguments as sets."""
    if isinstance(expr, (Literal, Fact)) or (isinstance(expr, Combine)
                                             and expr.op in ("add", "sub")):
        terms = _linear(expr)
        if terms is not None:
            return ("linear", tuple(sorted((k, v) for k, v in terms.items() if v)))
    if isinstance(expr, Percent):
        return ("percent", expr.percent, expr.round, canonical(expr.of))
    assert isinstance(expr, Combine)
    if expr.op in ("min", "max"):
        return (expr.op, frozenset(canonical(a) for a in expr.args))
    return (expr.op, tuple(canonical(a) for a in expr.args))


def _linear(expr: Expr) -> dict[str, int] | None:
    if isinstance(expr, Literal):
        return {"": expr.value}
    if isinstance(expr, Fact):
        if expr.path == TOTAL:  # total = items + shipping - discount (validated)
            return {r: s for r, s in _TOTAL_TERMS}
        return {expr.path: 1}
    if isinstance(expr, Combine) and expr.op in ("add", "sub"):
        out: dict[str, int] = {}
        for k, arg in enumerate(expr.args):
            part = _linear(arg)
            if part is None:
                return None
            sign = -1 if expr.op == "sub" and k else 1
            for name, coef in part.items():
                out[name] = out.get(name, 0) + sign * coef
        return out
    return None


_TOTAL_TERMS = next(r.right for r in RELATIONS if r.left == TOTAL and r.op == "eq")


# ---- the static check ------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    hint: str = ""


Form = tuple[dict[str, Fraction], Fraction]  # linear form: coefficients, constant


def _add(a: Form, b: Form, sign: int = 1) -> Form:
    coefficients = dict(a[0])
    for name, c in b[0].items():
        coefficients[name] = coefficients.get(name, Fraction(0)) + sign * c
    return coefficients, a[1] + sign * b[1]


def _le(a: Form, b: Form) -> Inequality:
    """a <= b."""
    diff = _add(b, a, -1)
    return Inequality.of(diff[0], diff[1])


class _Cases:
    """The expression as linear forms, one per choice of argument at each min/max, with the
    side conditions that make that choice the min/max; a percentage is a fresh variable
    bounded by its rounding."""

    def __init__(self) -> None:
        self.fresh = 0

    def of(self, expr: Expr) -> Iterator[tuple[Form, list[Inequality]]]:
        if isinstance(expr, Literal):
            yield ({}, Fraction(expr.value)), []
        elif isinstance(expr, Fact):
            yield ({expr.path: Fraction(1)}, Fraction(0)), []
        elif isinstance(expr, Percent):
            for (coefficients, constant), side in self.of(expr.of):
                self.fresh += 1
                y = f"%{self.fresh}"
                exact: Form = ({k: v * expr.percent / 100 for k, v in coefficients.items()},
                               constant * expr.percent / 100)
                # how far the rounded value lies from the exact one, at most
                slack: dict[str, tuple[Fraction, Fraction]] = {
                    "down": (Fraction(-99, 100), Fraction(0)),
                    "up": (Fraction(0), Fraction(99, 100)),
                    "half_up": (Fraction(-1, 2), Fraction(1, 2))}
                below, above = slack[expr.round]
                value: Form = ({y: Fraction(1)}, Fraction(0))
                yield value, side + [_le(_add(exact, ({}, below)), value),
                                     _le(value, _add(exact, ({}, above)))]
        else:
            assert isinstance(expr, Combine)
            for combo in product(*(list(self.of(a)) for a in expr.args)):
                forms = [form for form, _ in combo]
                side = [ineq for _, sides in combo for ineq in sides]
                if expr.op in ("add", "sub"):
                    total = forms[0]
                    for form in forms[1:]:
                        total = _add(total, form, -1 if expr.op == "sub" else 1)
                    yield total, side
                    continue
                for i, chosen in enumerate(forms):  # the i-th argument is the min (max)
                    extra = [(_le(chosen, other) if expr.op == "min" else _le(other, chosen))
                             for j, other in enumerate(forms) if j != i]
                    yield chosen, side + extra


def _world(names: Sequence[str], fields: Mapping[str, FactField]) -> list[Inequality]:
    """Every amount fact in its domain and every relation between present amount facts:
    the orders facts validation accepts, as far as amounts go."""
    present = set(names) | {f for r in RELATIONS for f in r.facts
                            if f in fields and not fields[f].nullable}
    system: list[Inequality] = []
    for name in present:
        system += [at_least({name: 1}, 0), at_most({name: 1}, LIMIT)]
    for relation in RELATIONS:  # a conditional one binds only some orders: left out (sound)
        if not relation.when and all(f in present for f in relation.facts):
            system += relation.inequalities()
    return system


def _example(system: list[Inequality], form: Form) -> str:
    point = solve(system)
    if point is None:
        return ""
    shown = [f"{name.rsplit('.', 1)[-1]} {rupiah(int(v))}" for name, v in sorted(point.items())
             if not name.startswith("%") and v == int(v)]
    amount = form[1] + sum(c * point.get(k, Fraction(0)) for k, c in form[0].items())
    return f" (e.g. {', '.join(shown)}: {amount if amount.denominator > 1 else int(amount)})"


def check(expr: Expr, fields: Mapping[str, FactField],
          present: Callable[[str], bool]) -> list[Problem]:
    """Every problem with an amount expression: an unknown or non-amount fact, an amount fact
    the rule may lack (`present(path)`: its condition makes sure the fact is there), a
    percentage outside 0..100, and amounts that could be negative or above what was paid."""
    problems: list[Problem] = []
    for path in facts_of(expr):
        field = fields.get(path)
        if field is None:
            problems.append(Problem("unknown-fact", f'unknown fact path "{path}" in the refund '
                                    "amount"))
        elif field.unit != "rupiah":
            problems.append(Problem("bad-amount", f'"{path}" is a {field.kind} fact, not an '
                                    "amount in rupiah; a refund adds and compares amounts only"))
        elif field.nullable and not present(path):
            problems.append(Problem(
                "amount-may-be-absent", f'the refund amount reads "{path}", which may be '
                "absent, and the rule's condition does not make sure it is present",
                f"Add {{ fact: {path}, exists: true }} to the condition."))
    if problems:
        return problems
    world = _world(facts_of(expr), fields)
    paid: Form = ({TOTAL: Fraction(1)}, Fraction(0))
    cases = _Cases()
    for count, (form, side) in enumerate(cases.of(expr)):
        if count >= MAX_CASES:
            return [Problem("amount-too-complex", "the refund amount has too many min/max "
                            f"alternatives to check (more than {MAX_CASES})")]
        negative = world + side + [_le(form, ({}, Fraction(-1)))]
        if feasible(negative):
            return [Problem("amount-may-be-negative", f"the refund amount {text(expr)} can be "
                            "negative" + _example(negative, form),
                            "Write { max: [0, ...] } around it.")]
        above = world + side + [_le(_add(paid, ({}, Fraction(1))), form)]
        if feasible(above):
            return [Problem("amount-above-paid", f"the refund amount {text(expr)} can be more "
                            "than what was paid (order.amounts.total)" + _example(above, form),
                            "Write { min: [..., order.amounts.total] } around it, or refund "
                            "less.")]
    return []


def _linear_text(terms: tuple[tuple[str, int], ...]) -> str:
    """A linear form as it reads: items + shipping - discount folded back into the total,
    positive terms first, the constant last."""
    coefficients = dict(terms)
    k = coefficients.get(_TOTAL_TERMS[0][0], 0)
    if k and all(coefficients.get(name, 0) == k * sign for name, sign in _TOTAL_TERMS):
        for name, _ in _TOTAL_TERMS:
            del coefficients[name]
        coefficients[TOTAL] = k
    constant = coefficients.pop("", 0)
    ordered = sorted(coefficients.items(), key=lambda t: (t[1] < 0, t[0]))
    if constant:
        ordered.append(("", constant))
    parts = []
    for n, (name, coef) in enumerate(ordered):
        term = str(abs(coef)) if name == "" else (name if abs(coef) == 1
                                                    else f"{abs(coef)} x {name}")
        parts.append(("-" if coef < 0 else "") + term if n == 0 else
                     (" - " if coef < 0 else " + ") + term)
    return "".join(parts) or "0"


def canonical_text(key: Any) -> str:
    """A canonical form as text (its parts in a fixed order): the label the analyses show."""
    kind = key[0]
    if kind == "linear":
        return _linear_text(key[1])
    if kind == "percent":
        return f"{key[1]}% of ({canonical_text(key[3])}) rounded {key[2].replace('_', ' ')}"
    if kind in ("min", "max"):
        return f"{kind}(" + ", ".join(sorted(canonical_text(k) for k in key[1])) + ")"
    joiner = " - " if kind == "sub" else " + "
    return "(" + joiner.join(canonical_text(k) for k in key[1]) + ")"


def label(tree: Any) -> str:
    """What a refund amount (a name or an expression's tree) is compared as: `total` and
    `items_only` for those (whichever way they are written), else the canonical text."""
    if tree in ("full", "paid"):
        return "total"
    if tree == "items_only":
        return "items_only"
    key = canonical(parse(tree))
    if key == _TOTAL_KEY:
        return "total"
    if key == _ITEMS_ONLY_KEY:
        return "items_only"
    return canonical_text(key)


_TOTAL_KEY = canonical(Fact(TOTAL))
_ITEMS_ONLY_KEY = canonical(Combine("max", (Literal(0), Combine("sub", (
    Fact(TOTAL), Fact("order.amounts.shipping"))))))
