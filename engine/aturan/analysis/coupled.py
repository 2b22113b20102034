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
from fractions import Fraction
from itertools import product
from typing import Any, Protocol

from ..language.consistency import RELATIONS, Relation
from ..language.linear import Inequality, at_least, at_most, feasible, solve
from .cells import ABSENT, Interval

Range = tuple[int | None, int | None]  # inclusive bounds; None: unbounded
_REQUEST = "derived.request."
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
        requests = any(path.startswith(_REQUEST) for path in index)

        def binds(r: Relation) -> bool:
            """Can the relation rule out a box here? With two of its facts axes; with one, when
            a constant or a condition makes it restrict that one alone. The relations of a
            request only where the space reads the request."""
            named = list(r.facts) + [flag for flag, _ in r.when]
            if not requests and any(f.startswith(_REQUEST) for f in named):
                return False
            on_axes = sum(f in index for f in r.facts)
            return on_axes >= 2 or (on_axes >= 1 and bool(r.constant or r.when))
        usable = [r for r in relations
                  if not any(f not in index and nullable(f) for f in r.facts)
                  and (requests or not any(f.startswith(_REQUEST) for f in
                                           list(r.facts) + [flag for flag, _ in r.when]))]
        chosen = [r for r in usable if binds(r)]
        # a fact that is no axis but a chosen relation names is solved for: every relation
        # on it binds too (two relations meeting on a free fact restrict the axes together)
        grew = True
        while grew:
            free = {f for r in chosen for f in r.facts if f not in index}
            more = [r for r in usable if r not in chosen and any(f in free for f in r.facts)]
            chosen += more
            grew = bool(more)
        self.relations: tuple[Relation, ...] = tuple(chosen)
        self.axes = axes
        self.involved = tuple(sorted({index[f] for r in chosen for f in r.facts if f in index}))
        self.free = tuple(sorted({f for r in chosen for f in r.facts if f not in index}))
        # the boolean facts conditional relations depend on: axes (their cells in a box), or
        # free (either value)
        conditions = {flag for r in chosen for flag, _ in r.when}
        self.flag_axes = tuple(sorted(index[f] for f in conditions if f in index))
        self.free_flags = tuple(sorted(f for f in conditions if f not in index))
        self.domain = domain
        self._known: dict[tuple[int, ...], bool] = {}

    @property
    def active(self) -> bool:
        return bool(self.relations)

    def _options(self, axis: int, mask: int) -> Iterator[Option]:
        return _runs(self.axes[axis].cells, mask)

    def _system(self, choice: Mapping[str, Any]) -> list[Inequality]:
        system: list[Inequality] = []
        for name in self.free:
            system += _bounds(name, *self.domain(name))
        for name, option in choice.items():
            if option is not None and not isinstance(option, bool):
                system += _bounds(name, *option)
        for relation in self.relations:
            if all(choice.get(f, ()) is not None for f in relation.facts) and all(
                    choice[flag] == value for flag, value in relation.when):
                system += relation.inequalities()
        return system

    def _choices(self, box: Sequence[int]) -> Iterator[dict[str, Any]]:
        paths = [self.axes[i].path for i in self.involved]
        flags = [self.axes[i].path for i in self.flag_axes] + list(self.free_flags)
        flag_options = [[c for k, c in enumerate(self.axes[i].cells)
                         if box[i] >> k & 1 and isinstance(c, bool)] for i in self.flag_axes]
        flag_options += [[False, True] for _ in self.free_flags]
        for k, flag in enumerate(flags):  # a value that only ever switches relations off wins
            enabling = {value for r in self.relations for f, value in r.when if f == flag}
            if len(enabling) == 1 and (not next(iter(enabling))) in flag_options[k]:
                flag_options[k] = [not next(iter(enabling))]
        for combo in product(*(list(self._options(i, box[i])) for i in self.involved)):
            for values in product(*flag_options):
                yield {**dict(zip(paths, combo)), **dict(zip(flags, values))}

    def ok(self, box: Sequence[int]) -> bool:
        """Does the box hold a point satisfying every relation (ignoring all else)?"""
        key = tuple(box[i] for i in self.involved + self.flag_axes)
        known = self._known.get(key)
        if known is None:
            known = any(feasible(self._system(choice)) for choice in self._choices(box))
            self._known[key] = known
        return known

    def solve(self, cells: Sequence[int], prefer: Mapping[str, Any]) -> dict[str, Any]:
        """Values for the involved axes (one cell per axis of the space, `cells`) and the free
        facts that satisfy every relation, as near `prefer` as allowed; None stands for
        absent."""
        box = [1 << c for c in cells]
        for choice in self._choices(box):
            wanted = {k: v for k, v in prefer.items() if isinstance(v, int)}
            point = solve(self._system(choice), wanted)
            if point is not None:
                values: dict[str, Any] = {
                    name: (option if option is None or isinstance(option, bool)
                           else int(point.get(name, wanted.get(name, 0))))
                    for name, option in choice.items() if name not in self.free_flags}
                for name in self.free:
                    values[name] = int(point.get(name, wanted.get(name, 0)))
                return values
        raise ValueError("no point satisfies the relations in these cells")


# ---------------------------------------------------------------------------------------------
# Durations between two timestamps. A gap axis (`gap:<fact>:<of>`, kind "gap") holds the whole
# seconds from `of` to the fact; it is not independent of the two timestamps' ages (seconds
# before `now`): fact - of = age(of) - age(fact). Real timestamps carry up to nanoseconds, so
# the question is asked in integer nanoseconds, where it is a system of difference constraints
# (bounds of each cell, the orderings between events, the gaps): feasible exactly when its
# graph has no negative cycle (Floyd-Warshall), and a solution is read off it.

NS = 1_000_000_000
Edge = tuple[int, int, int]  # x[j] - x[i] <= w, as (i, j, w); node 0 is `now`


def _cell_ns(lo: int | None, hi: int | None) -> tuple[int | None, int | None]:
    """Seconds [lo, hi) of a floored value -> inclusive nanoseconds."""
    return (None if lo is None else lo * NS), (None if hi is None else hi * NS - 1)


def _closure(size: int, edges: Sequence[Edge]) -> list[list[int | None]] | None:
    """All shortest paths, or None when a negative cycle makes the system infeasible."""
    d: list[list[int | None]] = [[None] * size for _ in range(size)]
    for i in range(size):
        d[i][i] = 0
    for i, j, w in edges:
        current = d[i][j]
        if current is None or w < current:
            d[i][j] = w
    for k in range(size):
        dk = d[k]
        for i in range(size):
            dik = d[i][k]
            if dik is None:
                continue
            di = d[i]
            for j in range(size):
                dkj = dk[j]
                if dkj is not None:
                    via = dik + dkj
                    dij = di[j]
                    if dij is None or via < dij:
                        di[j] = via
        if any(d[i][i] < 0 for i in range(size)):  # type: ignore[operator]
            return None
    return d


class TimeCoupling:
    """The timestamp axes of a space, the orderings between them and its gap axes, decided
    together in nanoseconds."""

    def __init__(self, axes: Sequence[AxisLike], kinds: Sequence[str],
                 orders: Sequence[tuple[int, int]], gap_pair: Callable[[str], tuple[str, str]]):
        index = {axis.path: i for i, axis in enumerate(axes)}
        self.axes = axes
        self.gaps = tuple((g, index[gap_pair(axes[g].path)[0]], index[gap_pair(axes[g].path)[1]])
                          for g, kind in enumerate(kinds) if kind == "gap")
        self.times = tuple(i for i, kind in enumerate(kinds) if kind == "timestamp")
        self.orders = tuple(orders)
        ends = {i for _, fact, of in self.gaps for i in (fact, of)}
        self.ends = frozenset(ends)
        self._known: dict[tuple[int, ...], bool] = {}

    @property
    def active(self) -> bool:
        return bool(self.gaps)

    def _options(self, axis: int, mask: int) -> list[Option]:
        options = list(_runs(self.axes[axis].cells, mask))
        if None in options and axis not in self.ends and axis in self.times:
            return [None]  # absent binds nothing: the loosest choice for a non-gap timestamp
        return options

    def _edges(self, choice: dict[int, Option]) -> tuple[list[Edge], dict[int, int]] | None:
        """The difference constraints of one choice (a run or absent per axis), with each
        present timestamp's node; None when the choice is inconsistent (a gap present while
        one of its timestamps is absent, or the other way round)."""
        nodes = {axis: k + 1 for k, axis in enumerate(a for a in self.times
                                                      if choice[a] is not None)}
        edges: list[Edge] = []
        for axis, node in nodes.items():
            option = choice[axis]
            assert option is not None
            low, high = _cell_ns(option[0], None if option[1] is None else option[1] + 1)
            if high is not None:
                edges.append((0, node, high))  # age <= high
            if low is not None:
                edges.append((node, 0, -low))  # age >= low
        for earlier, later in self.orders:
            if earlier in nodes and later in nodes:  # age(earlier) >= age(later)
                edges.append((nodes[earlier], nodes[later], 0))
        for gap, fact, of in self.gaps:
            option = choice[gap]
            present = fact in nodes and of in nodes
            if (option is not None) != present:
                return None
            if option is None:
                continue
            # gap = fact - of = age(of) - age(fact), in [low, high] nanoseconds
            low, high = _cell_ns(option[0], None if option[1] is None else option[1] + 1)
            if high is not None:
                edges.append((nodes[fact], nodes[of], high))
            if low is not None:
                edges.append((nodes[of], nodes[fact], -low))
        return edges, nodes

    def _choices(self, box: Sequence[int]) -> Iterator[dict[int, Option]]:
        involved = list(self.times) + [g for g, _, _ in self.gaps]
        for combo in product(*(self._options(i, box[i]) for i in involved)):
            yield dict(zip(involved, combo))

    def ok(self, box: Sequence[int]) -> bool:
        key = tuple(box[i] for i in self.times) + tuple(box[g] for g, _, _ in self.gaps)
        known = self._known.get(key)
        if known is None:
            known = False
            for choice in self._choices(box):
                built = self._edges(choice)
                if built is not None and _closure(len(built[1]) + 1, built[0]) is not None:
                    known = True
                    break
            self._known[key] = known
        return known

    def solve(self, cells: Sequence[int], prefer: Mapping[str, Any]) -> dict[str, Any]:
        """Ages (seconds: int, or Fraction for a part of a second) of every timestamp axis and
        the gap of every gap axis, one cell each, as near `prefer` (ages in seconds) as the
        constraints allow; None for absent."""
        box = [1 << c for c in cells]
        for choice in self._choices(box):
            built = self._edges(choice)
            if built is None:
                continue
            edges, nodes = built
            size = len(nodes) + 1
            d = _closure(size, edges)
            if d is None:
                continue
            ages: dict[int, int] = {}
            for axis, node in nodes.items():
                low, high = d[node][0], d[0][node]
                want = prefer.get(self.axes[axis].path)
                value = (want if isinstance(want, int) else 0) * NS
                if low is not None and value < -low:
                    value = -low
                if high is not None and value > high:
                    value = high
                ages[axis] = value
                edges = edges + [(0, node, value), (node, 0, -value)]
                d = _closure(size, edges)
                assert d is not None, "a value inside its closed range is always consistent"
            values: dict[str, Any] = {}
            for axis in self.times:
                values[self.axes[axis].path] = (None if axis not in ages
                                                else _seconds(ages[axis]))
            for gap, fact, of in self.gaps:
                values[self.axes[gap].path] = (None if choice[gap] is None
                                               else (ages[of] - ages[fact]) // NS)
            return values
        raise ValueError("no point satisfies the durations in these cells")


def _seconds(nanos: int) -> Any:
    """Nanoseconds as whole seconds when they are, else an exact Fraction of seconds."""
    return nanos // NS if nanos % NS == 0 else Fraction(nanos, NS)


def _runs(cells: Sequence[Any], mask: int) -> Iterator[Option]:
    """Each contiguous run of the mask's present cells as an inclusive range, then None when
    the mask admits absence."""
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
