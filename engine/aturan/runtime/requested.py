"""derived.request.*: what a request covers of its order (language v2), computed after the facts
are validated and only for a ruleset that reads them (`CompiledRuleset.reads_request`), and the
lines a partial request covers, which the decision lists (`Decision.covers`)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any, Protocol


class FlatFacts(Protocol):
    """What is read here of a `facts.FlatFacts` (not imported: `facts` imports this module)."""

    @property
    def values(self) -> dict[str, Any]: ...

    @property
    def lines(self) -> Any: ...

    @property
    def asked(self) -> Any: ...

    @property
    def covering(self) -> Any: ...


REQUEST_PREFIX = "derived.request."


def covered(flat: FlatFacts) -> list[tuple[str, int, int, str]]:
    """(sku, units, their amount, product type) of every line the request covers: the lines
    of request.items with the units asked for, or every line in full. Computed once per
    FlatFacts (kept in `covering`: `add_requested` and the decision's covers both read it)."""
    found: list[tuple[str, int, int, str]] | None = flat.covering
    if found is not None:
        return found
    lines = flat.lines or ()
    if flat.asked is None:
        found = [(line["sku"], line["quantity"], line["quantity"] * line["unit_price"],
                  line["product_type"]) for line in lines]
    elif len(flat.asked) == 1:  # most partial requests: one item, one line
        item = flat.asked[0]
        sku, n = item["sku"], item["quantity"]
        line = next(line for line in reversed(lines) if line["sku"] == sku)  # as by_sku below
        found = [(sku, n, n * line["unit_price"], line["product_type"])]
    else:
        by_sku = {line["sku"]: line for line in lines}
        units: dict[str, int] = {}
        for item in flat.asked:
            units[item["sku"]] = units.get(item["sku"], 0) + item["quantity"]
        found = [(sku, n, n * by_sku[sku]["unit_price"], by_sku[sku]["product_type"])
                 for sku, n in units.items()]
    object.__setattr__(flat, "covering", found)  # a cache of the frozen facts' own lines
    return found


@lru_cache(maxsize=256)
def _kinds_values(product_types: tuple[str, ...], kinds: frozenset[str]
                  ) -> dict[str, bool]:
    """derived.request.any.<type> / all.<type> for every product type, when the request
    covers lines of exactly `kinds`: the same keys, order and values as a loop over the
    types, built once per set of kinds (one `dict.update` per decision instead of ten
    f-strings and stores)."""
    out: dict[str, bool] = {}
    for kind in product_types:
        out[f"{REQUEST_PREFIX}any.{kind}"] = kind in kinds
        out[f"{REQUEST_PREFIX}all.{kind}"] = kinds == {kind}
    return out


def add_requested(flat: FlatFacts, product_types: Iterable[str]) -> None:
    """Fill the derived.request.* facts: whole_order, item_count, amount, and any.<type> /
    all.<type> for every product type (the catalogue's; generated, never listed)."""
    values = flat.values
    if flat.asked is None:  # the whole order: the order-level values
        lines: Any = flat.lines or ()
        kinds = frozenset([lines[0]["product_type"]] if len(lines) == 1 else
                          [line["product_type"] for line in lines])
        values["derived.request.whole_order"] = True
        values["derived.request.item_count"] = values.get("derived.item_count", 0)
        values["derived.request.amount"] = values.get("order.amounts.items", 0)
    else:
        lines = covered(flat)
        if len(lines) == 1:
            _, count, amount, kind = lines[0]
            kinds = frozenset((kind,))
        else:
            count = amount = 0
            kinds_seen = []
            for _, units, money, kind in lines:
                count += units
                amount += money
                kinds_seen.append(kind)
            kinds = frozenset(kinds_seen)
        values["derived.request.whole_order"] = count == values.get("derived.item_count")
        values["derived.request.item_count"] = count
        values["derived.request.amount"] = amount
    values.update(_kinds_values(
        product_types if type(product_types) is tuple else tuple(product_types), kinds))
