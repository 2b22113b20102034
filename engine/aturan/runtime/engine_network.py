"""A pure-Python model of how durable_rules 2.0.28 lays out a ruleset's alpha network, to refuse a
definition the C engine cannot take *before* `create_ruleset` is called.

Why: past some of its fixed table sizes the engine does not fail cleanly. 513 distinct tests under
one node make `create_ruleset` loop for ever, 512 make every later assert that matches none of
them loop for ever; 128 `$nex`/`$or` links or 256 identical conditions on one node read past the
end of a table (a segmentation fault); and the engine never releases the GIL, so a hang freezes
the whole process, with no thread or signal handler able to interrupt it. The only safe place to
stop such a ruleset is before the engine sees it. The model and its limits were measured on the
engine (src/rules/rete.c `createAlpha`/`findAlpha`/`linkAlpha`, events.c `handleAlpha`) and
checked against it at every threshold; `docs/reliability.md` lists them with their commands.

The model covers the JSON aturan's compiler emits: rules of one `all` list of alias ->
condition, conditions of `$and`, `$or`, equality `{property: value}` and the comparisons `$neq`,
`$lt`, `$lte`, `$gt`, `$gte`, `$ex`, `$nex`. Anything else is reported as `engine-shape` (a
compiler bug, never the author's), not guessed at.

Layout, per alpha node (rules.h):

* a hashset of at most `CHILDREN_MAX` distinct child tests `(property hash, operator, value)`:
  equality and every comparison but `$nex`; identical tests under one parent are shared;
* a list of at most `LINKS_MAX` links: `$nex` children, and one link to the "forward" node of
  every `$or` in which this node ends an alternative (forward nodes are never shared);
* at most `BETAS_MAX` conditions (betas) ending at the node.

`violations(definition)` returns every limit the definition breaks, each naming the engine rules
involved (the first one is where an author should look), empty when the engine can take it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

CHILDREN_MAX = 511  # NEXT_BUCKET_LENGTH 512: 512 hangs asserts, 513 hangs create_ruleset
LINKS_MAX = 127  # NEXT_LIST_LENGTH 128: 128 segfaults on assert, 129+ error 107 or a bad write
BETAS_MAX = 255  # BETA_LIST_LENGTH 256: 256 segfaults on assert, 257+ error 108 or a bad write
RULES_MAX = 4096  # MAX_ACTIONS: one more is error 106
CONNECTIVES_MAX = 15  # MAX_SEQUENCE_EXPRESSIONS 32, two entries per $and/$or: 16 is error 113
STACK_MAX = 64  # MAX_STACK_SIZE: a fact that leaves more nodes pending fails with error 303
FACT_KEYS_MAX = 253  # MAX_OBJECT_PROPERTIES 255, less the `id` the engine adds: 254 is error 302
INT64_MAX = 2 ** 63 - 1  # integers are read with atoll: beyond, they saturate (silently wrong)
RESERVED_PROPERTIES = ("id", "sid")  # the engine's own keys in every fact

_COMPARISONS = {"$neq": "≠", "$lt": "<", "$lte": "≤", "$gt": ">", "$gte": "≥", "$ex": "exists",
                "$nex": "absent"}


@dataclass(frozen=True)
class Violation:
    """One engine limit a definition breaks. `rules` are engine rule names (`r12`, sentinels),
    the most telling first: the rule that pushed a node past its limit."""

    code: str
    message: str
    rules: tuple[str, ...] = ()
    hint: str = ""


def fnv1a32(name: str) -> int:
    """The engine's property identity (state.c `fnv1Hash32`): FNV-1a over the UTF-8 bytes, each
    byte sign-extended as a C `char` on x86. `findAlpha` compares these hashes, never names."""
    h = 0x811C9DC5
    for byte in name.encode("utf-8"):
        h ^= (byte - 256) & 0xFFFFFFFF if byte >= 128 else byte
        h = (h * 16777619) & 0xFFFFFFFF
    return h


@dataclass(eq=False)
class Node:
    """An alpha node: the test it makes and the tables the engine gives it."""

    op: str  # "$root", "$eq", a comparison of _COMPARISONS, or "$forward" (an $or's join)
    prop: str = ""
    value: Any = None
    parent: Node | None = None
    created_by: str = ""  # the engine rule whose condition first needed this node
    children: dict[tuple[int, str, str], Node] = field(default_factory=dict)
    links: list[Node] = field(default_factory=list)
    betas: list[str] = field(default_factory=list)  # rules whose condition ends here

    def describe(self) -> str:
        """Where this node stands, as an author can recognise it: the chain of tests leading
        here (aturan's fact marker, which starts every condition, is left out)."""
        steps: list[str] = []
        node: Node | None = self
        while node is not None and node.op != "$root":
            if node.op != "$forward" and node.prop not in _EXCLUSIVE:
                steps.append(_test_text(node))
            node = node.parent
        if not steps:
            return "the start of the conditions"
        shown = list(reversed(steps))
        if len(shown) > 3:
            shown = ["…"] + shown[-3:]
        return "the test " + " → ".join(f"`{step}`" for step in shown)


def _test_text(node: Node) -> str:
    prop = node.prop
    name = f"age of {prop[4:]}" if prop.startswith("age:") else prop
    if node.op in ("$ex", "$nex"):
        return f"{name} {_COMPARISONS[node.op]}"
    symbol = "=" if node.op == "$eq" else _COMPARISONS.get(node.op, node.op)
    unit = " s" if prop.startswith("age:") else ""
    return f"{name} {symbol} {json.dumps(node.value, ensure_ascii=False)}{unit}"


class Network:
    """The alpha network of one definition, built as `createTree` builds it."""

    def __init__(self) -> None:
        self.root = Node("$root")
        self.problems: list[Violation] = []
        self.rules = 0
        self.properties: dict[int, str] = {}  # hash -> first property name seen with it

    def _prop(self, prop: str, rule: str) -> int:
        h = fnv1a32(prop)
        other = self.properties.setdefault(h, prop)
        if other != prop:
            self.problems.append(Violation(
                "engine-hash-collision", f"facts {other!r} and {prop!r} have the same engine "
                f"hash ({h}): the engine cannot tell them apart", (rule,),
                "rename one of the facts (the catalogue's names are checked collision-free)"))
        return h

    def _child(self, parent: Node, op: str, prop: str, value: Any, rule: str) -> Node:
        _check_value(value, prop, rule, self.problems)
        key = (self._prop(prop, rule), op, json.dumps(value, sort_keys=True))
        if op == "$nex":  # absence tests live in the link list, shared like hashset children
            for node in parent.links:
                if node.op == "$nex" and node.prop == prop and node.value == value:
                    return node
            node = Node(op, prop, value, parent, rule)
            parent.links.append(node)
            return node
        found = parent.children.get(key)
        if found is None:
            found = parent.children[key] = Node(op, prop, value, parent, rule)
        return found

    def _alpha(self, condition: Any, parent: Node, rule: str, count: list[int]) -> Node:
        """`createAlpha`: the node `condition`'s chain ends in. The engine reads only the first
        key of an object; aturan never writes more, so more is reported, not modelled."""
        if not isinstance(condition, dict) or not condition:
            raise _Unmodelled(f"a condition must be a non-empty object, not {condition!r}")
        if len(condition) > 1:
            raise _Unmodelled(f"a condition object has {len(condition)} keys; the engine reads "
                              "only the first")
        ((key, operand),) = condition.items()
        if key == "$and":
            count[0] += 1
            if not isinstance(operand, list) or not operand:
                raise _Unmodelled("an empty $and restarts the chain at the root, dropping every "
                                  "condition before it")
            node = parent
            for child in operand:
                node = self._alpha(child, node, rule, count)
            return node
        if key == "$or":
            count[0] += 1
            if not isinstance(operand, list) or not operand:
                raise _Unmodelled("an empty $or never matches")
            forward = Node("$forward", parent=parent, created_by=rule)
            for child in operand:
                self._alpha(child, parent, rule, count).links.append(forward)
            return forward
        if key in _COMPARISONS:
            if not isinstance(operand, dict) or len(operand) != 1:
                raise _Unmodelled(f"{key} takes one property, not {operand!r}")
            ((prop, value),) = operand.items()
            return self._child(parent, key, prop, value, rule)
        if key.startswith("$"):
            raise _Unmodelled(f"operator {key} is not modelled")
        return self._child(parent, "$eq", key, operand, rule)

    def add_rule(self, name: str, body: Any) -> None:
        """One rule: each alias of its `all` (or `any`) list is a condition ending in a beta."""
        self.rules += 1
        try:
            if not isinstance(body, dict) or set(body) - {"all", "any"}:
                raise _Unmodelled("a rule is {all: [...]} or {any: [...]}")
            for gate in ("all", "any"):
                for item in body.get(gate, ()):
                    if not isinstance(item, dict) or len(item) != 1:
                        raise _Unmodelled("each condition is one {alias: condition}")
                    ((alias, condition),) = item.items()
                    if alias.endswith(("$all", "$any", "$not")):
                        raise _Unmodelled(f"nested {alias} aliases are not modelled")
                    count = [0]
                    self._alpha(condition, self.root, name, count).betas.append(name)
                    if count[0] > CONNECTIVES_MAX:
                        self.problems.append(Violation(
                            "engine-connectives", f"the condition has {count[0]} all/any groups "
                            f"once compiled (each `in`, `not_in` and negated comparison is one); "
                            f"the engine takes at most {CONNECTIVES_MAX} (error 113)", (name,),
                            "flatten nested all/any groups, or split the rule in two"))
        except _Unmodelled as exc:
            self.problems.append(Violation("engine-shape", f"the compiled condition cannot be "
                                           f"checked against the engine's limits: {exc}", (name,),
                                           "this is a bug in aturan's compiler; please report"))

    def nodes(self) -> Iterable[Node]:
        """Every node once (forward nodes are reached from several alternatives)."""
        seen: set[int] = set()
        todo = [self.root]
        while todo:
            node = todo.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            yield node
            todo.extend(node.children.values())
            todo.extend(node.links)


class _Unmodelled(Exception):
    """A definition outside the JSON subset the model (and aturan's compiler) covers."""


def _check_value(value: Any, prop: str, rule: str, out: list[Violation]) -> None:
    """Numbers the engine reads differently from JSON: integers beyond int64 saturate
    (`v eq 2**64` fires for 2**63-1), and a float written with an exponent but no `.`
    (`1e-05`, `1e+16`) is a parse error (204)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if isinstance(value, int) and abs(value) > INT64_MAX:
        out.append(Violation("engine-number", f"{prop}: {value} is beyond the engine's 64-bit "
                             "integers, which would silently compare it as "
                             f"{INT64_MAX if value > 0 else -INT64_MAX - 1}", (rule,),
                             "use a smaller value"))
    elif isinstance(value, float):
        text = json.dumps(value)
        if ("e" in text and "." not in text) or text in ("NaN", "Infinity", "-Infinity"):
            out.append(Violation("engine-number", f"{prop}: {text} cannot be read by the engine",
                                 (rule,), "write the number without an exponent"))


def _owners(nodes: Iterable[Node]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(node.created_by for node in nodes if node.created_by))


def _table_violations(net: Network) -> list[Violation]:
    out: list[Violation] = []
    for node in net.nodes():
        where = node.describe()
        if len(node.children) > CHILDREN_MAX:
            children = list(node.children.values())
            rules = _owners([children[CHILDREN_MAX]] + children)
            out.append(Violation(
                "engine-children", f"{len(node.children)} distinct tests branch off {where}; "
                f"the engine holds at most {CHILDREN_MAX} under one node: one more makes every "
                "decision hang, two more make loading hang", rules,
                "give these rules different first conditions so that no more than "
                f"{CHILDREN_MAX} distinct tests follow a common start, or replace one rule per "
                "value by ranges (lt/ge) or fewer rules"))
        if len(node.links) > LINKS_MAX:
            rules = _owners([node.links[LINKS_MAX]] + node.links)
            out.append(Violation(
                "engine-links", f"{len(node.links)} `absent` tests and any-of groups hang on "
                f"{where}; the engine links at most {LINKS_MAX} to one node (past it: error 107 "
                "or a crash)", rules,
                "many rules share this test inside an any-of, an `in` list or a negated "
                "comparison (`not` compiles to `absent or ≠`): lead those rules with a condition "
                "that splits them into groups, or merge rules"))
        if len(node.betas) > BETAS_MAX:
            rules = tuple(dict.fromkeys([node.betas[BETAS_MAX]] + node.betas))
            out.append(Violation(
                "engine-same-condition", f"{len(node.betas)} rules have the same compiled "
                f"condition (ending at {where}); the engine ends at most {BETAS_MAX} conditions on one "
                "node (past it: error 108 or a crash)", rules,
                "merge rules whose conditions are identical"))
    return out


def _matchable(node: Node) -> tuple[dict[int, tuple[int, int]], int]:
    """Per property of `node`'s children: how many of them one fact can match at once when the
    property is present, and when it is absent (its `$nex` children); plus the forward links,
    pushed every time `node` matches. Equality children of one property exclude each other
    except where the engine coerces ("1" equals 1); the priming fact and aturan's facts never
    meet (each carries only its own marker)."""
    groups: dict[int, list[Any]] = {}  # group -> [equal values: count, other tests, absent]
    for (h, op, _), child in node.children.items():
        entry = groups.setdefault(_group(child.prop, h), [{}, 0, 0])
        if op == "$eq":
            canon = f"{h}:{_coerced(child.value)}"
            entry[0][canon] = entry[0].get(canon, 0) + 1
        else:
            entry[1] += 1
    forwards = 0
    for child in node.links:
        if child.op == "$nex":
            groups.setdefault(_group(child.prop, fnv1a32(child.prop)), [{}, 0, 0])[2] += 1
        else:
            forwards += 1
    sizes = {g: (max(e[0].values(), default=0) + e[1], e[2]) for g, e in groups.items()}
    return sizes, forwards


_EXCLUSIVE = ("aturan:prime", "aturan:fact")  # never in the same fact: one group


def _coerced(value: Any) -> str:
    """Equality values one fact value can match together: the engine compares a number and a
    numeric string (and 1 and 1.0) as equal."""
    if isinstance(value, bool) or value is None:
        return f"literal:{value}"
    if isinstance(value, (int, float)):
        return repr(float(value))
    try:
        return repr(float(str(value)))
    except ValueError:
        return f"text:{value}"


def _group(prop: str, h: int) -> int:
    return -1 if prop in _EXCLUSIVE else h


def stack_bound(root: Node) -> tuple[int, list[Node]]:
    """An upper bound on `handleAlpha`'s DFS stack for any one fact, and the nodes whose
    children fill it at the worst point.

    When a node is popped it pushes every child the fact matches, then the last of them is
    popped in turn: P(N) = max(w, max over children c of (siblings matchable with c) + P(c)),
    w the most children one fact can match. Equal to the engine on every shape measured."""
    order: list[Node] = []  # children before parents (forward nodes have several parents)
    seen: set[int] = set()
    todo: list[tuple[Node, bool]] = [(root, False)]
    while todo:  # iterative: a long not_in compiles to a chain thousands of nodes deep
        node, expanded = todo.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        todo.append((node, True))
        todo.extend((child, False) for child in (*node.children.values(), *node.links)
                    if id(child) not in seen)
    bound: dict[int, int] = {}
    via: dict[int, Node | None] = {}
    for node in order:
        if not node.children and not node.links:
            bound[id(node)], via[id(node)] = 0, None
            continue
        sizes, forwards = _matchable(node)
        width = forwards + sum(max(s) for s in sizes.values())
        best, best_child = width, None
        for child in node.children.values():
            present, absent = sizes[_group(child.prop, fnv1a32(child.prop))]
            others = width - max(present, absent) + present - 1
            if others + bound[id(child)] > best:
                best, best_child = others + bound[id(child)], child
        for child in node.links:
            if child.op == "$nex":
                present, absent = sizes[_group(child.prop, fnv1a32(child.prop))]
                others = width - max(present, absent) + absent - 1
            else:
                others = width - 1
            if others + bound[id(child)] > best:
                best, best_child = others + bound[id(child)], child
        bound[id(node)], via[id(node)] = best, best_child
    path: list[Node] = []
    step: Node | None = root
    while step is not None:
        path.append(step)
        step = via[id(step)]
    return bound[id(root)], path


def violations(definition: Mapping[str, Any]) -> list[Violation]:
    """Every engine limit `definition` (rule name -> rule, sentinels included) breaks."""
    net = Network()
    for name, body in definition.items():
        net.add_rule(name, body)
    out = list(dict.fromkeys(net.problems))
    if net.rules > RULES_MAX:
        out.append(Violation("engine-rules", f"{net.rules} rules once compiled (aturan adds 2 of "
                             f"its own); the engine takes at most {RULES_MAX} (error 106)",
                             tuple(definition)[RULES_MAX:RULES_MAX + 1],
                             "split the ruleset (an overlay counts its base's rules too)"))
    out.extend(_table_violations(net))
    reserved = [p for p in net.properties.values() if p in RESERVED_PROPERTIES]
    for prop in reserved:
        out.append(Violation("engine-shape", f"a condition tests {prop!r}, a key the engine "
                             "keeps for itself", (), "this is a bug in aturan's compiler"))
    keys = len(set(net.properties.values()) - {"aturan:prime"}) + 1  # + sid
    if keys > FACT_KEYS_MAX:
        out.append(Violation("engine-fact-keys", f"the rules read {keys - 1} different facts; "
                             f"the engine takes at most {FACT_KEYS_MAX - 1} per fact (error 302)",
                             (), "split the ruleset"))
    if not any(v.code == "engine-shape" for v in out):
        depth, path = stack_bound(net.root)
        if depth > STACK_MAX:
            widest = path[-1]  # where the bound is the children matched at once
            pending = list(widest.children.values()) + widest.links
            rules = _owners(sorted(pending, key=lambda n: _rule_order(n.created_by),
                                   reverse=True))
            out.append(Violation(
                "engine-stack", f"one order can match up to {depth} tests at once "
                f"({len(rules)} rules branching off {widest.describe()}); the engine keeps at most "
                f"{STACK_MAX} pending, so such an order would fail with error 303", rules,
                "many rules compare the same fact with ordered or negated tests (amount tiers, "
                "`not … eq`, a shared `in` value): lead them with a condition that splits them "
                "into groups, or use fewer tiers"))
    return out


def _rule_order(name: str) -> tuple[int, str]:
    return (int(name[1:]), name) if name[:1] == "r" and name[1:].isdigit() else (-1, name)
