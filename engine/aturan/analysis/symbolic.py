"""Every possible order, finitely: each fact axis cut into cells by the values and thresholds the
rules use, conditions as unions of boxes of cells, and the few constraints between fields that
the facts schema states in words, so that analysis never reports an order that cannot exist.

Why it is exact. A rule only asks of an enum "is it one of these values", of an integer "which
side of these thresholds", of a timestamp "is its age (seconds before `now`) on which side of
these durations", and of anything "is it present". Cut every axis at every value the rules
mention and all orders in one cell answer every atom alike, so a condition is a union of boxes
(one set of cells per axis). Timestamps share one set of cuts, so "shipped before delivered" is
an ordering of cells, and bounds propagation decides it exactly (constraints `x <= y` over a
total order with unary domains are max-closed). Nothing ever enumerates cells one by one.

A box is a tuple of bitmasks, one per axis (bit i = cell i). Regions are lists of boxes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import and_
from typing import Any

from ..language.catalogue import Catalogue, bundled_catalogue
from ..language.consistency import RELATIONS, Relation
from ..language.model import AllOf, AnyOf, Atom, Condition, Rule, atoms_of
from ..language.operators import BY_NAME, ORDERED_OPS, cut_points, gap_pair, subject
from ..runtime.compiler import negation_normal_form
from ..runtime.facts import FlatFacts, gap_between
from .cells import ABSENT, OTHER, Interval
from .constraints import (  # noqa: F401 - Before, Forbid: re-exported for the analyses
    CONSTRAINTS,
    Before,
    Constraint,
    Forbid,
    platform_constraint,
    request_constraints,
)
from .coupled import Coupled, TimeCoupling

Box = tuple[int, ...]


# ---------------------------------------------------------------------------------------------
# Axes

# derived.item_count: at most 500 items of at most 100000 units (the items schema)
_ITEM_COUNT = (1, 500 * 100000 + 1)


def integer_domain(path: str, catalogue: Catalogue | None = None
                   ) -> tuple[int | None, int | None]:
    """[lo, hi) of an integer fact, from the (effective) facts schema's minimum/maximum."""
    if path == "derived.item_count":
        return _ITEM_COUNT
    field = (catalogue or bundled_catalogue()).fields.get(path)
    if field is None:
        return None, None
    hi = field.maximum
    return field.minimum, (hi + 1 if hi is not None else None)


@dataclass(frozen=True)
class Axis:
    """One fact path and its cells: values (enum, string, boolean) or intervals (integer,
    timestamp ages), plus ABSENT last when the fact may be missing."""

    path: str
    kind: str
    cells: tuple[Any, ...]

    @property
    def full(self) -> int:
        return (1 << len(self.cells)) - 1

    @property
    def absent_bit(self) -> int:
        return 1 << (len(self.cells) - 1) if self.cells[-1] is ABSENT else 0

    def mask(self, atom: Atom) -> int:
        """The cells where `atom` holds."""
        bits = 0
        for i, cell in enumerate(self.cells):
            if cell_holds(atom, cell):
                bits |= 1 << i
        return bits

    def cell_of(self, value: Any) -> int:
        """The cell of a concrete value (None: absent; ages for timestamps)."""
        for i, cell in enumerate(self.cells):
            if value is None:
                if cell is ABSENT:
                    return i
            elif isinstance(cell, Interval):
                if not isinstance(value, bool) and cell.contains(value):
                    return i
            elif cell is not ABSENT and cell is not OTHER and cell == value \
                    and type(cell) is type(value):
                return i
        if value is not None and OTHER in self.cells:
            return self.cells.index(OTHER)
        raise ValueError(f"{self.path}: {value!r} is in no cell")


def cell_holds(atom: Atom, cell: Any) -> bool:
    """An atom on one cell: the same answer for every member of the cell, so the operator's
    predicate (`language.operators`) on one member (an interval's probe, the value, None for
    ABSENT). OTHER equals no constant; neither it nor a boolean is ever ordered."""
    if cell is ABSENT:
        member = None
    elif isinstance(cell, Interval):
        member = cell.probe()
    else:
        member = cell
        if (cell is OTHER or isinstance(cell, bool)) and atom.op in ORDERED_OPS:
            return False
    return BY_NAME[atom.op].holds(member, atom.value)


def _intervals(cuts: Iterable[int], lo: int | None, hi: int | None) -> list[Interval]:
    points = sorted({c for c in cuts if (lo is None or c > lo) and (hi is None or c < hi)})
    bounds = [lo] + points + [hi]
    return [Interval(a, b) for a, b in zip(bounds, bounds[1:])]


def axis_key(atom: Atom) -> str:
    """The axis an atom reads: its fact's, or for a duration between two timestamps the axis
    of that gap, `gap:<fact>:<of>` (`operators.subject`)."""
    return atom.fact if atom.of is None else subject(atom.fact, atom.of, "timestamp")


def build_axes(atoms: Iterable[Atom], catalogue: Catalogue | None = None
               ) -> tuple[Axis, ...]:
    """Axes for every fact the atoms name, plus every fact a constraint names, with cells from
    the policy folder's `catalogue` (default bundled): its enum values, its integer ranges. A
    duration between two timestamps is an axis of its own (kind `gap`, seconds from `of` to
    the fact, cut at its durations; absent when either is), tied to the two by `coupled`."""
    catalogue = catalogue or bundled_catalogue()
    fields = catalogue.fields
    atoms = list(atoms)
    gap_atoms = [a for a in atoms if a.of is not None]
    atoms = [a for a in atoms if a.of is None]
    paths = sorted({a.fact for a in atoms if a.fact in fields}
                   | {f for a in gap_atoms for f in a.facts if f in fields})
    ages = cut_points([a for a in atoms if a.fact in fields
                       and fields[a.fact].kind == "timestamp"])
    if ages is None:
        raise ValueError("a timestamp compared with a non-duration")
    time_cuts = {0, *ages}
    axes = []
    for path in paths:
        field = fields[path]
        mine = [a for a in atoms if a.fact == path]
        if field.kind == "enum":
            cells: list[Any] = list(field.enum)
        elif field.kind == "boolean":
            cells = [False, True]
        elif field.kind == "string":
            mentioned = {v for a in mine for v in BY_NAME[a.op].values(a.value)}
            cells = sorted(mentioned, key=str) + [OTHER]
        elif field.kind == "integer":
            lo, hi = integer_domain(path, catalogue)
            cuts = cut_points(mine)  # the memo's classes are cut at the same points
            if cuts is None:
                raise ValueError(f"{path}: an integer fact compared with a non-integer")
            cells = list(_intervals(cuts, lo, hi))
        else:
            cells = list(_intervals(time_cuts, None, None))
        if field.nullable:
            cells.append(ABSENT)
        axes.append(Axis(path, field.kind, tuple(cells)))
    for key in sorted({axis_key(a) for a in gap_atoms}):
        mine = [a for a in gap_atoms if axis_key(a) == key]
        cuts = cut_points(mine)
        if cuts is None:
            raise ValueError(f"{key}: a duration between timestamps with a non-duration")
        cells = list(_intervals(cuts, None, None))
        if any(fields[f].nullable for f in mine[0].facts if f in fields):
            cells.append(ABSENT)
        axes.append(Axis(key, "gap", tuple(cells)))
    return tuple(axes)


def constraint_atoms(constraints: Iterable[Constraint]) -> list[Atom]:
    found: list[Atom] = []
    for c in constraints:
        if isinstance(c, Forbid):
            found.extend(c.atoms)
        else:
            found += [Atom(c.earlier, "exists", True), Atom(c.later, "exists", True)]
    return found


# ---------------------------------------------------------------------------------------------
# Box algebra

def intersect(a: Box, b: Box) -> Box | None:
    out = tuple(map(and_, a, b))
    return None if 0 in out else out


def subtract(a: Box, b: Box) -> list[Box]:
    """a minus b as disjoint boxes (at most one per axis where b cuts a)."""
    both = tuple(map(and_, a, b))
    if 0 in both:
        return [a]
    pieces: list[Box] = []
    current = list(a)
    for i in [i for i, (x, y) in enumerate(zip(a, both)) if x != y]:
        piece = current.copy()
        piece[i] = a[i] & ~b[i]
        pieces.append(tuple(piece))
        current[i] = both[i]
    return pieces


Sparse = tuple[tuple[int, int], ...]  # a box as (axis, mask) for the axes it restricts


def outside(box: Box, cut: Sequence[Sparse], start: int = 0,
            keep: Callable[[Box], bool] | None = None) -> Iterator[Box]:
    """box minus every sparse box of `cut`, as disjoint boxes, depth-first (lazily); a piece
    for which `keep` is false is dropped with everything below it."""
    for k in range(start, len(cut)):
        pairs = cut[k]
        if all(box[a] & m for a, m in pairs):
            current = list(box)
            for a, m in pairs:
                rest = current[a] & ~m
                if rest:
                    piece = current.copy()
                    piece[a] = rest
                    piece_t = tuple(piece)
                    if keep is None or keep(piece_t):
                        yield from outside(piece_t, cut, k + 1, keep)
                current[a] &= m
            return
    yield box


def subtract_all(boxes: Iterable[Box], cut: Sequence[Box]) -> list[Box]:
    result = list(boxes)
    for b in cut:
        result = [piece for box in result for piece in subtract(box, b)]
        if not result:
            break
    return result


def intersect_regions(left: Sequence[Box], right: Sequence[Box]) -> list[Box]:
    return [box for a in left for b in right if (box := intersect(a, b)) is not None]


def merge_boxes(boxes: Iterable[Box]) -> list[Box]:
    """Join boxes that differ on one axis only, until none do (disjoint stays disjoint)."""
    current = list(dict.fromkeys(boxes))
    changed = True
    while changed and len(current) > 1:
        changed = False
        for axis in range(len(current[0])):
            groups: dict[Box, int] = {}
            for box in current:
                key = box[:axis] + (0,) + box[axis + 1:]
                groups[key] = groups.get(key, 0) | box[axis]
            if len(groups) < len(current):
                current = [k[:axis] + (mask,) + k[axis + 1:] for k, mask in groups.items()]
                changed = True
    return current


def popcount(mask: int) -> int:
    return bin(mask).count("1")


# ---------------------------------------------------------------------------------------------
# The space of valid orders

class Space:
    """The axes of one analysis, the universe box and the constraints as boxes and orderings."""

    def __init__(self, axes: tuple[Axis, ...], constraints: Sequence[Constraint],
                 catalogue: Catalogue | None = None, relations: Sequence[Relation] = RELATIONS):
        self.catalogue = catalogue or bundled_catalogue()  # the one the axes were built from
        self.axes = axes
        self.index = {axis.path: i for i, axis in enumerate(axes)}
        self.constraints = tuple(constraints)
        universe = [axis.full for axis in axes]
        forbidden: list[tuple[Box, Forbid]] = []
        for c in self.constraints:
            if isinstance(c, Forbid):
                box = self._conjunction(c.atoms, tuple(universe))
                if box is None:
                    continue
                restricted = [i for i, (m, f) in enumerate(zip(box, universe)) if m != f]
                if len(restricted) == 1:  # a unary constraint narrows the universe itself
                    universe[restricted[0]] &= ~box[restricted[0]]
                else:
                    forbidden.append((box, c))
        self.universe: Box = tuple(universe)
        self.forbidden = tuple(forbidden)
        self._forbidden_sparse = tuple(self.sparse(b) for b, _ in forbidden)
        self.orders = tuple((self.index[c.earlier], self.index[c.later], c)
                            for c in self.constraints if isinstance(c, Before))
        self._orders = tuple((e, l, axes[e].absent_bit, axes[l].absent_bit)
                             for e, l, _ in self.orders)
        # sums between facts (language/consistency.py) that tie two or more axes
        fields = self.catalogue.fields

        def domain(path: str) -> tuple[int | None, int | None]:  # inclusive bounds
            lo, hi = integer_domain(path, self.catalogue)
            return lo, (None if hi is None else hi - 1)
        self.coupled = Coupled(axes, domain,
                               lambda path: fields[path].nullable if path in fields else True,
                               relations)
        # durations between two timestamps, with the ages and orderings they depend on
        self.timed = TimeCoupling(axes, [axis.kind for axis in axes],
                                  [(e, l) for e, l, _ in self.orders], gap_pair)
        self._feasible: dict[Box, Box | None] = {}

    @classmethod
    def for_rules(cls, rule_lists: Iterable[Sequence[Rule]], platform: str | None = None,
                  constraints: Sequence[Constraint] = CONSTRAINTS,
                  catalogue: Catalogue | None = None) -> Space:
        """The space for analysing (and comparing) these rule lists under a policy folder's
        `catalogue`; `platform` pins order.platform to the ruleset's own platform, as ruleset
        selection does."""
        chosen = list(constraints) + ([platform_constraint(platform)] if platform else [])
        atoms = [a for rules in rule_lists for r in rules for a in atoms_of(r.when)]
        if any(f.startswith("derived.request.") for a in atoms for f in a.facts):
            chosen += request_constraints((catalogue or bundled_catalogue()).product_types)
        return cls(build_axes(atoms + constraint_atoms(chosen), catalogue), chosen, catalogue)

    def value_of(self, flat: FlatFacts, axis: Axis) -> Any:
        """What an order's flat facts put on an axis: a timestamp's age, a gap between two
        timestamps (`gap_between`), or the fact's value; None when absent."""
        if axis.kind == "gap":
            return gap_between(flat, *gap_pair(axis.path))
        return flat.ages.get(axis.path, flat.values.get(axis.path))

    def sparse(self, box: Box) -> Sparse:
        """The axes where a box is narrower than the universe, with its masks there."""
        return tuple((i, m) for i, (m, u) in enumerate(zip(box, self.universe)) if m != u)

    def atom_box(self, atom: Atom) -> Box | None:
        i = self.index[axis_key(atom)]
        mask = self.universe[i] & self.axes[i].mask(atom)
        return None if not mask else self.universe[:i] + (mask,) + self.universe[i + 1:]

    def _conjunction(self, atoms: Iterable[Atom], start: Box) -> Box | None:
        box = start
        for atom in atoms:
            i = self.index[axis_key(atom)]
            mask = box[i] & self.axes[i].mask(atom)
            if not mask:
                return None
            box = box[:i] + (mask,) + box[i + 1:]
        return box

    def region(self, condition: Condition) -> list[Box]:
        """The boxes where a condition holds (before the constraints)."""
        return self._dnf(negation_normal_form(condition))

    def _dnf(self, node: Condition) -> list[Box]:
        if isinstance(node, Atom):
            box = self.atom_box(node)
            return [box] if box is not None else []
        if isinstance(node, AnyOf):
            return [b for child in node.children for b in self._dnf(child)]
        assert isinstance(node, AllOf)
        result = [self.universe]
        for child in node.children:
            result = intersect_regions(result, self._dnf(child))
            if not result:
                break
        return result

    # -- validity -------------------------------------------------------------------------------

    def propagate(self, box: Box) -> Box | None:
        """Narrow a box by the timestamp orderings (bounds propagation); None when empty."""
        masks = list(box)
        changed = True
        while changed:
            changed = False
            for e, later, ae, al in self._orders:
                me, ml = masks[e], masks[later]
                pe, pl = me & ~ae, ml & ~al
                if not ml & al and pe:  # later is present: earlier's age >= some later age
                    narrowed = (pe & ~((pl & -pl) - 1)) | (me & ae)
                    if narrowed != me:
                        if not narrowed:
                            return None
                        masks[e], changed = narrowed, True
                        me, pe = narrowed, narrowed & ~ae
                if not me & ae and pl:  # earlier is present: later's age <= its largest
                    narrowed = (pl & ((1 << pe.bit_length()) - 1)) | (ml & al)
                    if narrowed != ml:
                        if not narrowed:
                            return None
                        masks[later], changed = narrowed, True
        return tuple(masks)

    def valid_pieces(self, box: Box) -> Iterator[Box]:
        """Disjoint sub-boxes covering the valid orders in `box` (constraints applied), lazily."""
        narrowed = self.propagate(box)
        if narrowed is None:
            return
        coupled = self.coupled if self.coupled.active else None
        timed = self.timed if self.timed.active else None
        for piece in outside(narrowed, self._forbidden_sparse):
            piece_n = self.propagate(piece)
            if piece_n is not None and (coupled is None or coupled.ok(piece_n)) and (
                    timed is None or timed.ok(piece_n)):
                yield piece_n

    def feasible(self, box: Box) -> Box | None:
        """A non-empty valid sub-box of `box`, or None when no valid order lies in it."""
        if box not in self._feasible:
            self._feasible[box] = next(self.valid_pieces(box), None)
        return self._feasible[box]

    def first_valid(self, boxes: Iterable[Box], minus: Sequence[Box] = ()) -> Box | None:
        """A sub-box of (boxes minus `minus`) that holds a valid order, searched depth-first;
        None when (boxes minus `minus`) holds none. The box is cut by `minus` only, not by the
        constraints, so it says only what the region says."""
        for box in boxes:
            if self.feasible(box) is None:
                continue
            cut = self._cut(box, minus)
            found = next(outside(box, cut, 0, self._holds_valid), None)
            if found is not None:
                return found
        return None

    def _cut(self, box: Box, minus: Sequence[Box]) -> list[Sparse]:
        """The boxes of `minus` that meet `box`, sparse, broadest first (they remove the most,
        so the depth-first search splits least)."""
        cut = [self.sparse(m) for m in minus if intersect(box, m) is not None]
        cut.sort(key=lambda pairs: (len(pairs), -sum(popcount(m) for _, m in pairs)))
        return cut

    def _holds_valid(self, box: Box) -> bool:
        return self.feasible(box) is not None

    def valid_boxes(self, boxes: Iterable[Box], minus: Sequence[Box] = ()) -> Iterator[Box]:
        """Every sub-box of (boxes minus `minus`) that holds a valid order (disjoint pieces)."""
        for box in boxes:
            if self.feasible(box) is None:
                continue
            yield from outside(box, self._cut(box, minus), 0, self._holds_valid)

    def any_valid(self, boxes: Iterable[Box]) -> bool:
        """Does any of the boxes hold a valid order?"""
        return any(self.feasible(b) is not None for b in boxes)

    def meets(self, box: Box, region: Iterable[Box]) -> bool:
        """Does a box share a valid order with a region?"""
        for other in region:
            both = intersect(box, other)
            if both is not None and self.feasible(both) is not None:
                return True
        return False

    def share(self, box: Box) -> float:
        """The box's share of the universe, counting every cell alike."""
        share = 1.0
        for mask, full in zip(box, self.universe):
            share *= popcount(mask) / popcount(full)
        return share

    def restricted(self, box: Box) -> list[int]:
        """Axes where a box says something (narrower than the universe)."""
        return [i for i, (m, u) in enumerate(zip(box, self.universe)) if m != u]
