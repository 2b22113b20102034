"""Exactness where boxes alone are not: axes whose values are tied to each other.

A box gives each axis a set of cells independently. That is exact while axes are independent
(timestamp orderings are handled by `Space.propagate`), but some facts are tied by sums stated
once in `language/consistency.RELATIONS` (total = items + shipping - discount, the discount split,
...). When a ruleset's atoms make two or more facts of a relation axes, a box can combine cells
no valid order has. `Coupled.ok` decides exactly whether a box holds a point that satisfies the
relations: one contiguous run of cells per axis at a time, rational feasibility by
`language/linear` (exact for integers here: the relations have coefficients +-1 and form a
totally unimodular system). `Coupled.solve` gives such a point, nearest a preferred order, for
witnesses.

Facts of a relation that are not axes are free: chosen absent when they may be (a relation only
binds present facts, so absence is always the most permissive choice), else any value of their
domain.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import product
from typing import Any, Protocol

from ..language.consistency import RELATIONS, Relation
from ..language.linear import Inequality, at_least, at_most, feasible, solve
from .cells import ABSENT, Interval

Range = tuple[int | None, int | None]  # inclusive bounds; None: unbounded
Option = Range | None  # None: the fact is absent


class AxisLike(Protocol):
    @property
    def path(self) -> str: ...

    @property
    def cells(self) -> tuple[Any, ...]: ...


def _bounds(name: str, low: int | None, high: int | None) -> list[Inequality]:
    found = []
    if low is not None:
        found.append(at_least({name: 1}, low))
    if high is not None:
        found.append(at_most({name: 1}, high))
    return found


class Coupled:
    """The relations that tie axes of one space, and exact questions about them."""

    def __init__(self, axes: Sequence[AxisLike], domain: Callable[[str], Range],
                 nullable: Callable[[str], bool], relations: Sequence[Relation] = RELATIONS):
        index = {axis.path: i for i, axis in enumerate(axes)}
        chosen = [r for r in relations
                  if sum(f in index for f in r.facts) >= 2
                  and not any(f not in index and nullable(f) for f in r.facts)]
        self.relations: tuple[Relation, ...] = tuple(chosen)
        self.axes = axes
        self.involved = tuple(sorted({index[f] for r in chosen for f in r.facts if f in index}))
        self.free = tuple(sorted({f for r in chosen for f in r.facts if f not in index}))
        self.domain = domain
        self._known: dict[tuple[int, ...], bool] = {}

    @property
    def active(self) -> bool:
        return bool(self.relations)

    def _options(self, axis: int, mask: int) -> Iterator[Option]:
        """Each contiguous run of the mask's present cells as an inclusive range, then None
        when the mask admits absence."""
        cells = self.axes[axis].cells
        run: list[Interval] = []
        absent = False
        for c, cell in enumerate(cells):
            if cell is ABSENT:
                absent = bool(mask >> c & 1)
                continue
            if mask >> c & 1:
                run.append(cell)
                continue
            if run:
                yield (run[0].lo, None if run[-1].hi is None else run[-1].hi - 1)
                run = []
        if run:
            yield (run[0].lo, None if run[-1].hi is None else run[-1].hi - 1)
        if absent:
            yield None

    def _system(self, choice: Mapping[str, Option]) -> list[Inequality]:
        system: list[Inequality] = []
        for name in self.free:
            system += _bounds(name, *self.domain(name))
        for name, option in choice.items():
            if option is not None:
                system += _bounds(name, *option)
        for relation in self.relations:
            if all(choice.get(f, ()) is not None for f in relation.facts):
                system += relation.inequalities()
        return system

    def _choices(self, box: Sequence[int]) -> Iterator[dict[str, Option]]:
        paths = [self.axes[i].path for i in self.involved]
        for combo in product(*(list(self._options(i, box[i])) for i in self.involved)):
            yield dict(zip(paths, combo))

    def ok(self, box: Sequence[int]) -> bool:
        """Does the box hold a point satisfying every relation (ignoring all else)?"""
        key = tuple(box[i] for i in self.involved)
        known = self._known.get(key)
        if known is None:
            known = any(feasible(self._system(choice)) for choice in self._choices(box))
            self._known[key] = known
        return known

    def solve(self, cells: Sequence[int], prefer: Mapping[str, Any]) -> dict[str, int | None]:
        """Values for the involved axes (one cell per axis of the space, `cells`) and the free
        facts that satisfy every relation, as near `prefer` as allowed; None stands for
        absent."""
        box = [1 << c for c in cells]
        for choice in self._choices(box):
            wanted = {k: v for k, v in prefer.items() if isinstance(v, int)}
            point = solve(self._system(choice), wanted)
            if point is not None:
                values: dict[str, int | None] = {
                    name: (None if option is None else int(point.get(name, wanted.get(name, 0))))
                    for name, option in choice.items()}
                for name in self.free:
                    values[name] = int(point.get(name, wanted.get(name, 0)))
                return values
        raise ValueError("no point satisfies the relations in these cells")
