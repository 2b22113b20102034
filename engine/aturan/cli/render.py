"""Text for people: decisions and diagnostics, outcome first, in colour on a terminal (Rich)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.markup import escape

from ..errors import Diagnostic
from ..language.display import rupiah, show
from ..language.model import parse_timestamp
from ..runtime.decision import Decision

OUTCOME_STYLE = {"approved": "bold green", "auto_approved": "bold green", "rejected": "bold red",
                 "pending_seller": "bold yellow", "escalated": "bold magenta"}


def print_decision(console: Console, decision: Decision, lang: str = "en") -> None:
    d = decision
    style = OUTCOME_STYLE.get(d.outcome, "bold")
    console.print(f"[{style}]{d.outcome.upper()}[/]  order {escape(d.order_id)} · "
                  f"{d.ruleset.name}@{d.ruleset.version}"
                  + (f" over {d.ruleset.extends.name}@{d.ruleset.extends.version}"
                     if d.ruleset.extends else "")
                  + f" [dim]({d.ruleset.digest[:19]}…)[/]")
    if d.effective_at:
        console.print(f"  takes effect {show(parse_timestamp(d.effective_at))}")
    if d.refund and d.refund.due_by:
        console.print(f"  refund   {rupiah(d.refund.amount)} → {d.refund.destination}, "
                      f"{d.refund.min_business_days}–{d.refund.max_business_days} business days, "
                      f"due by {d.refund.due_by}")
    elif d.refund:
        console.print(f"  refund   {rupiah(d.refund.amount)} → {d.refund.destination} "
                      "(no refund time published)")
    else:
        console.print("  refund   none")
    if d.covers:
        console.print("  covers   " + ", ".join(f"{c['quantity']} x {escape(c['sku'])} "
                                                 f"({rupiah(c['amount'])})" for c in d.covers))
    for p in d.penalties:
        points = f"{p.points} points" if p.points is not None else "points not published"
        console.print(f"  penalty  {p.party}: {p.code} ({points}) [dim]\\[{p.rule}][/]")
    if d.next_steps:
        console.print(f"  next     {', '.join(d.next_steps)}")
    console.print("  why")
    for item in d.explanation:
        rank = "no rule decided" if item.rule == "default" else f"priority {item.priority}"
        console.print(f"    [bold]✔ {escape(item.rule)}[/] ({rank})  "
                      f"[dim]{item.file}:{item.line}[/]")
        message = item.message.get(lang) or next(iter(item.message.values()), "")
        console.print(f"      {escape(message)}")
        for c in item.because:
            neg = "not " if c.get("negated") else ""
            if "of" in c:
                console.print(f"      [dim]· {neg}{escape(between_text(c))}[/]")
                continue
            age = f" ({c['age']} ago)" if "age" in c and not str(c["age"]).startswith("in ") else (
                f" ({c['age']})" if "age" in c else "")
            console.print(f"      [dim]· {neg}{c['fact']} {c['op']} {escape(show(c['expected'], '—'))}"
                          f" — actual {escape(show(c['actual'], '—'))}{age}[/]")
        if item.citation:
            console.print(f"      [dim]source: {escape(item.citation['publisher'])}, "
                          f"\"{escape(item.citation['title'])}\"[/]")
    for o in d.overridden:
        console.print(f"    [dim]✘ {o.rule} (priority {o.priority}, {o.outcome}) matched but "
                      f"{o.by} outranks it[/]")
    console.print()


def between_text(c: dict) -> str:
    """A duration between two timestamps as explained: `request.seller_response.at within 2d
    of request.at — actual …, request.at … (2d2h after request.at)`."""
    gap = c.get("gap")
    after = "" if gap is None else (f" ({gap[1:]} before {c['of']})" if gap.startswith("-")
                                    else f" ({gap} after {c['of']})")
    return (f"{c['fact']} {c['op']} {c['expected']} of {c['of']} — actual "
            f"{show(c['actual'], '—')}, {c['of']} {show(c['of_actual'], '—')}{after}")


def print_diagnostics(console: Console, diagnostics: Iterable[Diagnostic]) -> None:
    for d in diagnostics:
        colour = "red" if d.severity == "error" else "yellow"
        console.print(f"[{colour}]{escape(str(d))}[/]", soft_wrap=True)
