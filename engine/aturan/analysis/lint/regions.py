"""Regions of the order space back in the ruleset's own condition syntax (`when:` blocks), for
findings and their text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ...language.display import show
from ...language.model import format_duration
from ...language.operators import gap_pair
from ..symbolic import OTHER, Axis, Box, Space


def describe_box(space: Space, box: Box, skip: Sequence[str] = ("order.platform",)
                 ) -> list[dict[str, Any]]:
    """The conditions (as a ruleset would write them, all of which hold) that say what a box
    says beyond the universe: one node per restricted axis."""
    nodes = []
    for i in space.restricted(box):
        axis = space.axes[i]
        if axis.path not in skip:
            nodes.append(_describe_axis(axis, box[i], space.universe[i]))
    return nodes


def _describe_axis(axis: Axis, mask: int, universe: int) -> dict[str, Any]:
    if axis.kind == "gap":
        return _describe_gap(axis, mask, universe)
    fact = axis.path
    absent_bit = axis.absent_bit
    allowed = [c for c in range(len(axis.cells)) if universe >> c & 1 and (1 << c) != absent_bit]
    present = [c for c in allowed if mask >> c & 1]
    with_absent = bool(mask & absent_bit)
    if not present:
        return {"fact": fact, "absent": True}
    if len(present) == len(allowed):
        return {"fact": fact, "exists": True}
    if axis.kind in ("integer", "timestamp"):
        core = _describe_runs(axis, present, allowed)
    else:
        values = [axis.cells[c] for c in present]
        others = [axis.cells[c] for c in allowed if c not in present]
        if OTHER not in values and len(values) == 1:
            core = {"fact": fact, "eq": values[0]}
        elif OTHER in values or len(others) < len(values):
            if with_absent:
                return {"not": {"fact": fact, "in": others}}
            core = {"fact": fact, "not_in": others}
        else:
            core = {"fact": fact, "in": values}
    return {"any": [{"fact": fact, "absent": True}, core]} if with_absent else core


def _describe_gap(axis: Axis, mask: int, universe: int) -> dict[str, Any]:
    """A gap axis as the durations a rule writes: `{fact: B, within: 2d, of: A}`; absent
    (either timestamp absent) as the two timestamps' absence."""
    fact, of = gap_pair(axis.path)
    absent_bit = axis.absent_bit
    allowed = [c for c in range(len(axis.cells)) if universe >> c & 1 and (1 << c) != absent_bit]
    present = [c for c in allowed if mask >> c & 1]
    either_absent = {"any": [{"fact": fact, "absent": True}, {"fact": of, "absent": True}]}
    if not present:
        return either_absent
    core = (_describe_runs(axis, present, allowed, of) if len(present) < len(allowed) else
            {"all": [{"fact": fact, "exists": True}, {"fact": of, "exists": True}]})
    return {"any": [either_absent, core]} if mask & absent_bit else core


def _describe_runs(axis: Axis, present: list[int], allowed: list[int],
                   of: str | None = None) -> dict[str, Any]:
    runs: list[list[int]] = []
    for c in present:
        if runs and allowed.index(c) == allowed.index(runs[-1][-1]) + 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    parts = []
    for run in runs:
        lo = axis.cells[run[0]].lo if run[0] != allowed[0] else None
        hi = axis.cells[run[-1]].hi if run[-1] != allowed[-1] else None
        bounds: list[dict[str, Any]] = []
        if axis.kind == "integer":
            if lo is not None and hi is not None and hi == lo + 1:
                bounds = [{"fact": axis.path, "eq": lo}]
            else:
                bounds = ([{"fact": axis.path, "ge": lo}] if lo is not None else []) + (
                    [{"fact": axis.path, "lt": hi}] if hi is not None else [])
        elif of is not None:  # a gap: durations from `of`, which may be negative
            fact = gap_pair(axis.path)[0]
            bounds = ([_duration(fact, "older_than", lo, of)] if lo is not None else []) + (
                [_duration(fact, "within", hi, of)] if hi is not None else [])
        else:
            bounds = ([{"fact": axis.path, "older_than": format_duration(lo)}]
                      if lo is not None else []) + (
                [{"fact": axis.path, "within": format_duration(hi)}] if hi is not None else [])
        parts.append(bounds[0] if len(bounds) == 1 else {"all": bounds})
    return parts[0] if len(parts) == 1 else {"any": parts}


def _duration(fact: str, op: str, seconds: int, of: str) -> dict[str, Any]:
    """A duration atom between two timestamps. Gap cells are cut at the durations rules
    write, which are never negative, so neither is a bound."""
    assert seconds >= 0, "gap cells are cut at durations, which are not negative"
    return {"fact": fact, op: format_duration(seconds), "of": of}


def condition_lines(node: dict[str, Any], indent: int = 0) -> list[str]:
    """One condition node as YAML in the ruleset's own style (atoms in flow style)."""
    pad = " " * indent
    if "fact" in node:
        op = next(k for k in node if k not in ("fact", "of", "line"))
        of = f", of: {node['of']}" if "of" in node else ""
        return [f"{pad}{{ fact: {node['fact']}, {op}: {show(node[op])}{of} }}"]
    key = next(iter(node))
    if key == "not":
        inner = condition_lines(node["not"], 0)
        if len(inner) == 1:
            return [f"{pad}not: {inner[0]}"]
        return [f"{pad}not:"] + condition_lines(node["not"], indent + 2)
    lines = [f"{pad}{key}:"]
    for child in node[key]:
        sub = condition_lines(child, indent + 4)
        lines.append(f"{pad}  - {sub[0].lstrip()}")
        lines += sub[1:]
    return lines


def region_lines(region: Sequence[Sequence[dict[str, Any]]]) -> list[str]:
    """A region (alternatives of conditions that all hold) as a `when:` block would read."""
    alternatives = [{"all": list(nodes)} if len(nodes) != 1 else nodes[0]
                    for nodes in region if nodes]
    if not alternatives:
        return ["(every order)"]
    node = alternatives[0] if len(alternatives) == 1 else {"any": alternatives}
    return condition_lines(node)
