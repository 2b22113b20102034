"""Exact linear arithmetic over a handful of variables: is a system of linear inequalities
feasible, and a solution near preferred values. Fourier-Motzkin elimination over `Fraction`s:
no floats, no solver dependency, small enough to read.

Three readings use it: the static check that a refund amount never exceeds what was paid
(`language/amounts.py`, rational feasibility of "it does"), and the box analysis' exactness for
facts tied by relations (`analysis/symbolic.py`: sums of amounts, durations between two
timestamps) with the witness orders it builds (`solve`).

For the relations the analysis meets (coefficients 0 and +-1, each variable in at most two
relations with compatible signs: a totally unimodular system) a rational solution exists exactly
when an integer one does, and `solve(integer=True)` finds one: each back-substituted range then
has integer ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import ceil, floor

Coefficients = Mapping[str, int | Fraction]


@dataclass(frozen=True)
class Inequality:
    """sum(coefficient * variable) + constant >= 0."""

    coefficients: tuple[tuple[str, Fraction], ...]
    constant: Fraction

    @classmethod
    def of(cls, coefficients: Coefficients, constant: int | Fraction = 0) -> Inequality:
        terms = tuple(sorted((v, Fraction(c)) for v, c in coefficients.items() if c))
        return cls(terms, Fraction(constant))

    def coefficient(self, variable: str) -> Fraction:
        for name, value in self.coefficients:
            if name == variable:
                return value
        return Fraction(0)

    def normalised(self) -> Inequality:
        """Scaled so the largest absolute coefficient is 1 (equal constraints compare equal)."""
        if not self.coefficients:
            return self
        scale = max(abs(c) for _, c in self.coefficients)
        return Inequality(tuple((v, c / scale) for v, c in self.coefficients),
                          self.constant / scale)


def at_least(coefficients: Coefficients, bound: int | Fraction) -> Inequality:
    """sum(c * x) >= bound."""
    return Inequality.of(coefficients, -Fraction(bound))


def at_most(coefficients: Coefficients, bound: int | Fraction) -> Inequality:
    """sum(c * x) <= bound."""
    return Inequality.of({v: -Fraction(c) for v, c in coefficients.items()}, Fraction(bound))


def equal(coefficients: Coefficients, value: int | Fraction) -> list[Inequality]:
    return [at_least(coefficients, value), at_most(coefficients, value)]


def _combine(lower: Inequality, upper: Inequality, variable: str) -> Inequality:
    """Eliminate `variable` between a constraint bounding it below (coefficient > 0) and one
    bounding it above (coefficient < 0)."""
    a, b = lower.coefficient(variable), -upper.coefficient(variable)
    terms: dict[str, Fraction] = {}
    for name, c in lower.coefficients:
        terms[name] = terms.get(name, Fraction(0)) + c * b
    for name, c in upper.coefficients:
        terms[name] = terms.get(name, Fraction(0)) + c * a
    terms.pop(variable, None)
    return Inequality.of(terms, lower.constant * b + upper.constant * a).normalised()


def _eliminate(system: list[Inequality], variable: str) -> list[Inequality]:
    keep: list[Inequality] = []
    lower: list[Inequality] = []
    upper: list[Inequality] = []
    for ineq in system:
        c = ineq.coefficient(variable)
        (lower if c > 0 else upper if c < 0 else keep).append(ineq)
    out = dict.fromkeys(keep)
    for lo in lower:
        for hi in upper:
            out.setdefault(_combine(lo, hi, variable))
    return list(out)


def _variables(system: Iterable[Inequality]) -> list[str]:
    return sorted({v for ineq in system for v, _ in ineq.coefficients})


def _contradiction(system: Iterable[Inequality]) -> bool:
    return any(not ineq.coefficients and ineq.constant < 0 for ineq in system)


def _stages(system: Sequence[Inequality], order: Sequence[str]
            ) -> list[list[Inequality]] | None:
    """The systems after eliminating each variable of `order` in turn (stage k still holds
    order[k]); None as soon as one holds a contradiction."""
    current = [ineq.normalised() for ineq in system]
    current = list(dict.fromkeys(current))
    stages = []
    for variable in order:
        if _contradiction(current):
            return None
        stages.append(current)
        current = _eliminate(current, variable)
    if _contradiction(current):
        return None
    return stages


def _elimination_order(system: Sequence[Inequality]) -> list[str]:
    """Variables with the fewest lower x upper pairs first: keeps the systems small."""
    names = _variables(system)

    def cost(name: str) -> int:
        lows = sum(1 for i in system if i.coefficient(name) > 0)
        highs = sum(1 for i in system if i.coefficient(name) < 0)
        return lows * highs - lows - highs
    return sorted(names, key=lambda n: (cost(n), n))


def feasible(system: Sequence[Inequality]) -> bool:
    """Does some rational point satisfy every inequality?"""
    return _stages(system, _elimination_order(system)) is not None


def solve(system: Sequence[Inequality], prefer: Mapping[str, int | Fraction] | None = None,
          integer: bool = True) -> dict[str, Fraction] | None:
    """A point satisfying the system, each variable as close to `prefer` (default 0) as the
    ones chosen before it allow; None when infeasible. With `integer`, values are whole when
    each range allows one (always so for totally unimodular systems); otherwise None."""
    order = _elimination_order(system)
    stages = _stages(system, order)
    if stages is None:
        return None
    prefer = prefer or {}
    point: dict[str, Fraction] = {}
    for variable, stage in reversed(list(zip(order, stages))):
        low: Fraction | None = None
        high: Fraction | None = None
        for ineq in stage:
            c = ineq.coefficient(variable)
            if not c:
                continue
            rest = ineq.constant + sum(k * point[v] for v, k in ineq.coefficients
                                       if v != variable)
            bound = -rest / c
            if c > 0:
                low = bound if low is None else max(low, bound)
            else:
                high = bound if high is None else min(high, bound)
        if integer:
            low = None if low is None else Fraction(ceil(low))
            high = None if high is None else Fraction(floor(high))
        if low is not None and high is not None and low > high:
            return None
        want = Fraction(prefer.get(variable, 0))
        if low is not None and want < low:
            want = low
        if high is not None and want > high:
            want = high
        point[variable] = want
    return point
