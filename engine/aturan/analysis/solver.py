"""The SMT route (z3, the optional extra `pip install aturan[verify]`): facts as integer
variables, conditions and the facts constraints encoded as written (not as cells), decisions as
terms, and "the two versions decide differently" handed to the solver until it answers unsat.

This reads the rules independently of the box analysis: enum values are indices, integers and
timestamp ages (seconds before `now`) are unbounded-precision integers, absence is a boolean.
It shares with the box analysis only the list of constraints and the set of string values the
rules mention (any other string is one value, "other").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import AturanError, Diagnostic
from ..language.consistency import RELATIONS
from ..language.model import DEFAULT_HOLIDAYS, AllOf, Atom, Condition, Effect, Not, Rule
from ..language.operators import gap_pair, subject
from ..runtime.verdict import Verdict
from .comparison import ChangeGroup, Version
from .symbolic import OTHER, Before, Forbid, Space, integer_domain
from .witness import PLAIN, PRESENT_AGE, point_of, verdict_of

INSTALL_HINT = ("exhaustive comparison needs the z3 SMT solver, an optional extra: "
                "pip install 'aturan[verify]'  (or: pip install z3-solver). Without it, "
                "--method box runs the pure-Python analysis.")
AGE_LIMIT = 200 * 366 * 86400  # ages beyond two centuries are not realisable timestamps


class SolverMissing(AturanError):
    """z3 is not installed; the message says how to install it."""

    kind = "solver_missing"


def z3_module() -> Any:
    try:
        import z3
    except ImportError as exc:
        raise SolverMissing(Diagnostic("solver-missing", INSTALL_HINT)) from exc
    return z3


def _presence(wanted: bool) -> Callable[[Encoding, Atom], Any]:
    def encode(enc: Encoding, atom: Atom) -> Any:
        present = enc.present[enc.key(atom)]
        return present if wanted else enc.z3.Not(present)
    return encode


def _membership(positive: bool, listed: bool) -> Callable[[Encoding, Atom], Any]:
    """(in)equality to one value or a list: enum, boolean and string values as their indices."""
    def encode(enc: Encoding, atom: Atom) -> Any:
        z, present, var = enc.z3, enc.present[atom.fact], enc.var[atom.fact]
        options = atom.value if listed else (atom.value,)
        if atom.fact in enc.values:
            hit = z.Or([var == enc._index(atom.fact, v) for v in options])
        elif listed:
            hit = z.Or([var == v for v in options])
        else:
            return z.And(present, var == atom.value if positive else var != atom.value)
        return z.And(present, hit if positive else z.Not(hit))
    return encode


def _ordered(compare: Callable[[Any, Any], Any]) -> Callable[[Encoding, Atom], Any]:
    """An integer comparison; for timestamps `var` is the age in seconds, for a duration
    between two timestamps (`of`) the variable of that gap (`Encoding.gap_definitions`)."""
    def encode(enc: Encoding, atom: Atom) -> Any:
        key = enc.key(atom)
        return enc.z3.And(enc.present[key], compare(enc.var[key], atom.value))
    return encode


# Each operator's z3 term, written out here rather than taken from `language.operators`, so
# this encoding stays a reading of its own (tests/language/test_operators.py checks coverage).
ENCODERS: dict[str, Callable[[Encoding, Atom], Any]] = {
    "eq": _membership(True, False), "ne": _membership(False, False),
    "in": _membership(True, True), "not_in": _membership(False, True),
    "lt": _ordered(lambda x, v: x < v), "le": _ordered(lambda x, v: x <= v),
    "gt": _ordered(lambda x, v: x > v), "ge": _ordered(lambda x, v: x >= v),
    "older_than": _ordered(lambda x, v: x >= v), "within": _ordered(lambda x, v: x < v),
    "exists": _presence(True), "absent": _presence(False),
}


_HEAVY = ("order.status", "order.payment.method")


class Encoding:
    """z3 variables for every axis of a space: `present` (absent is false) and `value`."""

    def __init__(self, space: Space):
        self.z3 = z = z3_module()
        self.space = space
        self.fields = space.catalogue.fields
        self.values: dict[str, list[Any]] = {}
        self.present: dict[str, Any] = {}
        self.var: dict[str, Any] = {}
        self.free: dict[str, Any] = {}  # facts of a relation that are not axes
        self.gaps: dict[str, tuple[str, str]] = {}  # gap axis -> (fact, of)
        for k, axis in enumerate(space.axes):
            path = axis.path
            self.var[path] = z.Int(f"v{k}")
            if axis.kind == "gap":
                self.gaps[path] = gap_pair(path)
                continue
            field = self.fields[path]
            self.present[path] = z.Bool(f"p{k}") if field.nullable else z.BoolVal(True)
            if field.kind == "enum":
                self.values[path] = list(field.enum)
            elif field.kind == "boolean":
                self.values[path] = [False, True]
            elif field.kind == "string":
                self.values[path] = [c for c in axis.cells if isinstance(c, str)] + [OTHER]
        for path, (fact, of) in self.gaps.items():  # a gap exists when both timestamps do
            self.present[path] = z.And(self.present[fact], self.present[of])
        # with gaps, each timestamp's age is its integer var plus a fraction of a second
        self.fraction = {axis.path: z.Real(f"f{k}") for k, axis in enumerate(space.axes)
                         if axis.kind == "timestamp"} if self.gaps else {}

    def key(self, atom: Atom) -> str:
        """The variable an atom reads: its fact's, or its gap's (`gap:<fact>:<of>`)."""
        return atom.fact if atom.of is None else subject(atom.fact, atom.of, "timestamp")

    def exact_age(self, path: str) -> Any:
        """A timestamp's age as a real: whole seconds (what atoms compare) plus the fraction
        of a second that a duration between two timestamps can turn on."""
        z = self.z3
        return z.ToReal(self.var[path]) + self.fraction[path]

    def gap_definitions(self) -> list[Any]:
        """Each gap is the floor of (fact - of) = age(of) - age(fact), in seconds."""
        z = self.z3
        parts = [z.And(f >= 0, f < 1) for f in self.fraction.values()]
        for path, (fact, of) in self.gaps.items():
            span = self.exact_age(of) - self.exact_age(fact)
            gap = z.ToReal(self.var[path])
            parts.append(z.Implies(self.present[path], z.And(gap <= span, span < gap + 1)))
        return parts
    def _index(self, path: str, value: Any) -> int:
        options = self.values[path]
        return next(i for i, v in enumerate(options)
                    if v is not OTHER and type(v) is type(value) and v == value)

    def domain(self) -> Any:
        """Every variable within its type's range."""
        z = self.z3
        parts = []
        for path, var in self.var.items():
            kind = "gap" if path in self.gaps else self.fields[path].kind
            if path in self.gaps:
                parts.append(z.And(var > -2 * AGE_LIMIT, var < 2 * AGE_LIMIT))
            elif path in self.values:
                parts.append(z.And(var >= 0, var < len(self.values[path])))
            elif kind == "integer":
                lo, hi = integer_domain(path, self.space.catalogue)
                parts += ([var >= lo] if lo is not None else []) + (
                    [var < hi] if hi is not None else [])
            else:
                parts.append(z.And(var > -AGE_LIMIT, var < AGE_LIMIT))
        return z.And(parts)

    def atom(self, atom: Atom) -> Any:
        return ENCODERS[atom.op](self, atom)

    def condition(self, node: Condition) -> Any:
        z = self.z3
        if isinstance(node, Atom):
            return self.atom(node)
        if isinstance(node, Not):
            return z.Not(self.condition(node.child))
        parts = [self.condition(c) for c in node.children]
        return z.And(parts) if isinstance(node, AllOf) else z.Or(parts)

    def relations(self) -> list[Any]:
        """The sums between facts (`language/consistency.RELATIONS`) over the variables: a fact
        of a relation that is not an axis is a free variable of its domain, or, when it may be
        absent, taken absent (a relation binds present facts only, so that is the loosest)."""
        z = self.z3
        parts = []
        for relation in RELATIONS:
            facts = relation.facts
            if not any(f in self.var for f in facts) or any(
                    f not in self.var and self.fields[f].nullable for f in facts):
                continue
            terms = {}
            for fact in facts:
                if fact not in self.var:
                    free = self.free.setdefault(fact, z.Int(f"free{len(self.free)}"))
                    lo, hi = integer_domain(fact, self.space.catalogue)
                    parts += ([free >= lo] if lo is not None else []) + (
                        [free < hi] if hi is not None else [])
                    terms[fact] = free
                else:
                    terms[fact] = self.var[fact]
            right = z.Sum([sign * terms[f] for f, sign in relation.right]) + relation.constant
            holds = terms[relation.left] == right if relation.op == "eq" else (
                terms[relation.left] <= right)
            guard = [self.present[f] for f in facts if f in self.var]
            for flag, value in relation.when:  # a relation for some orders only
                if flag in self.var:
                    guard += [self.present[flag], self.var[flag] == self._index(flag, value)]
                else:
                    free = self.free.setdefault(flag, z.Bool(f"free{len(self.free)}"))
                    guard.append(free == z.BoolVal(value))
            parts.append(z.Implies(z.And(guard), holds))
        return parts

    def valid(self) -> Any:
        """The domain and every constraint of the space."""
        z = self.z3
        parts = [self.domain(), *self.relations(), *self.gap_definitions()]
        for c in self.space.constraints:
            if isinstance(c, Forbid):
                parts.append(z.Not(z.And([self.atom(a) for a in c.atoms])))
            elif isinstance(c, Before):
                earlier, later = ((self.exact_age(c.earlier), self.exact_age(c.later))
                                  if self.fraction else (self.var[c.earlier], self.var[c.later]))
                parts.append(z.Implies(z.And(self.present[c.earlier], self.present[c.later]),
                                       earlier >= later))
        return z.And(parts)

    def point(self, model: Any) -> dict[str, Any]:
        """Concrete values from a model (None: absent)."""
        z = self.z3
        point: dict[str, Any] = {}
        for path, var in self.var.items():
            if not z.is_true(model.eval(self.present[path], model_completion=True)):
                point[path] = None
                continue
            raw = model.eval(var, model_completion=True).as_long()
            point[path] = self.values[path][raw] if path in self.values else raw
        return point

    def plain(self) -> list[tuple[Any, int]]:
        """Soft preferences (with weights): the plain order's value of every variable; a
        product type, status or payment method unlike the plain order costs more."""
        z = self.z3
        prefs: list[tuple[Any, int]] = []
        for path, var in self.var.items():
            if path in self.gaps:
                continue
            weight = 3 if path.startswith("derived.") or path in _HEAVY else 1
            preferred = PLAIN.get(path)
            nullable = self.fields[path].nullable
            if preferred is None:
                if nullable:
                    prefs.append((z.Not(self.present[path]), weight))
                preferred = PRESENT_AGE.get(path)
                if preferred is None:
                    continue
            elif nullable:
                prefs.append((self.present[path], weight))
            if path in self.values:
                if any(v is not OTHER and type(v) is type(preferred) and v == preferred
                       for v in self.values[path]):
                    prefs.append((var == self._index(path, preferred), weight))
            else:
                prefs.append((var == preferred, weight))
        return prefs


class DecisionTerms:
    """A version's verdict as terms: outcome, refund, penalty counts, next-step presence."""

    def __init__(self, enc: Encoding, rules: Sequence[Rule], default: Effect,
                 codes: dict[Any, int], penalties: Sequence[tuple], steps: Sequence[str],
                 holidays: str = DEFAULT_HOLIDAYS):
        z = self.z3 = enc.z3
        self.codes = codes
        match = [enc.condition(r.when) for r in rules]
        order = sorted((i for i, r in enumerate(rules) if r.decides),
                       key=lambda i: (-rules[i].priority, i))
        paid = enc.present["order.payment.paid_at"]
        winners: list[tuple[Any, Effect]] = []
        taken: Any = z.BoolVal(False)
        for i in order:
            winners.append((z.And(match[i], z.Not(taken)), rules[i].then))
            taken = z.Or(taken, match[i])
        winners.append((z.Not(taken), default))
        additive = [(match[i], r.then) for i, r in enumerate(rules) if not r.decides]

        def pick(value_of: Any) -> Any:
            """The winner's value: the default's unless a deciding rule wins."""
            term = value_of(winners[-1][1])
            for cond, effect in reversed(winners[:-1]):
                term = z.If(cond, value_of(effect), term)
            return term

        self.outcome = pick(lambda e: z.IntVal(self._code(("outcome", e.outcome))))

        def refund(effect: Effect) -> Any:
            with_paid = verdict_of(effect, (), True, holidays).refund
            without = verdict_of(effect, (), False, holidays).refund
            return z.If(paid, z.IntVal(self._code(("refund", with_paid))),
                        z.IntVal(self._code(("refund", without))))
        self.refund = pick(refund)
        self.effective = pick(lambda e: z.IntVal(self._code(
            ("effective", verdict_of(e, (), True).effective_at))))
        self.returns = pick(lambda e: z.IntVal(self._code(
            ("return", verdict_of(e, (), True).return_))))
        self.penalties = {}
        for key in penalties:
            count = pick(lambda e, key=key: z.IntVal(_count(e, key)))
            for cond, effect in additive:
                if _count(effect, key):
                    count = count + z.If(cond, z.IntVal(_count(effect, key)), z.IntVal(0))
            self.penalties[key] = count
        self.steps = {}
        for step in steps:
            has = pick(lambda e, step=step: z.BoolVal(step in e.next_steps))
            self.steps[step] = z.Or([has] + [cond for cond, e in additive if step in e.next_steps])

    def _code(self, key: Any) -> int:
        return self.codes.setdefault(key, len(self.codes) + 1)

    def terms(self) -> list[Any]:
        return [self.outcome, self.refund, self.effective, self.returns,
                *self.penalties.values(), *self.steps.values()]

    def verdict(self, model: Any) -> Verdict:
        z3 = self.z3
        names = {code: key for key, code in self.codes.items()}
        outcome = names[model.eval(self.outcome, model_completion=True).as_long()][1]
        refund = names[model.eval(self.refund, model_completion=True).as_long()][1]
        penalties = []
        for key, term in self.penalties.items():
            penalties += [key] * model.eval(term, model_completion=True).as_long()
        steps = [s for s, term in self.steps.items()
                 if z3.is_true(model.eval(term, model_completion=True))]
        effective = names[model.eval(self.effective, model_completion=True).as_long()][1]
        settled = names[model.eval(self.returns, model_completion=True).as_long()][1]
        return Verdict(outcome, refund, tuple(sorted(penalties, key=repr)), tuple(sorted(steps)),
                       effective_at=effective, return_=settled)


def _count(effect: Effect, key: tuple) -> int:
    return sum(1 for p in effect.penalties if (p.party, p.code, p.points) == key)


def _keys(effects: Iterable[Effect]) -> tuple[list[tuple], list[str]]:
    effects = list(effects)
    penalties = list(dict.fromkeys((p.party, p.code, p.points)
                                   for e in effects for p in e.penalties))
    steps = list(dict.fromkeys(s for e in effects for s in e.next_steps))
    return penalties, steps


def solver_groups(space: Space, old: Version, new: Version, timeout: float
                  ) -> tuple[str, list[tuple[ChangeGroup, dict[str, Any]]]]:
    """(status, [(group, witness point)]): every change group, one solver call each, with the
    plainest witness z3's optimiser finds. Status is "unknown" when a call times out."""
    enc = Encoding(space)
    z = enc.z3
    effects = [r.then for r in old.rules + new.rules] + [old.default, new.default]
    penalties, steps = _keys(effects)
    codes: dict[Any, int] = {}
    a = DecisionTerms(enc, old.rules, old.default, codes, penalties, steps, old.holidays)
    b = DecisionTerms(enc, new.rules, new.default, codes, penalties, steps, new.holidays)
    opt = z.Optimize()
    opt.set("timeout", max(1, int(timeout * 1000)))
    opt.add(enc.valid())
    opt.add(z.Or([x != y for x, y in zip(a.terms(), b.terms())]))
    for pref, weight in enc.plain():
        opt.add_soft(pref, weight)
    found: list[tuple[ChangeGroup, dict[str, Any]]] = []
    while True:
        answer = opt.check()
        if answer == z.unsat:
            return ("different" if found else "equal"), found
        if answer != z.sat:
            return "unknown", found
        model = opt.model()
        va, vb = a.verdict(model), b.verdict(model)
        point = enc.point(model)
        if space.timed.active:  # ages in whole seconds: solved again to the nanosecond
            point = point_of(space, [axis.cell_of(point[axis.path]) for axis in space.axes])
        found.append((ChangeGroup(va, vb), point))
        opt.add(z.Not(z.And([t == model.eval(t, model_completion=True)
                             for t in a.terms() + b.terms()])))


def satisfiable(enc: Encoding, condition: Any, timeout: float = 30.0) -> bool | None:
    """Is there a valid order (domain and constraints) where the z3 term `condition` holds?
    None when the solver times out."""
    z = enc.z3
    solver = z.Solver()
    solver.set("timeout", max(1, int(timeout * 1000)))
    solver.add(enc.valid(), condition)
    answer = solver.check()
    return None if answer == z.unknown else answer == z.sat
