"""Text for people: decisions and diagnostics, outcome first, in colour on a terminal (Rich)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.markup import escape

from ..errors import Diagnostic
from ..language.display import atom_text, between_text, code_and_label, label, rupiah, show, text
from ..language.model import parse_timestamp
from ..runtime.decision import Decision

OUTCOME_STYLE = {"approved": "bold green", "auto_approved": "bold green", "rejected": "bold red",
                 "pending_seller": "bold yellow", "escalated": "bold magenta"}


def print_decision(console: Console, decision: Decision, lang: str = "en") -> None:
    """Outcome first (its code, as in JSON, and its label), then refund, penalties, next steps
    and why; every word around the rules' own messages in `lang` (`language/labels.py`)."""
    d = decision
    style = OUTCOME_STYLE.get(d.outcome, "bold")
    console.print(f"[{style}]{escape(code_and_label('outcome', d.outcome, lang, upper=True))}[/]"
                  f"  {text('order', lang)} {escape(d.order_id)} · "
                  f"{d.ruleset.name}@{d.ruleset.version}"
                  + (f" {text('over', lang)} {d.ruleset.extends.name}@{d.ruleset.extends.version}"
                     if d.ruleset.extends else "")
                  + f" [dim]({d.ruleset.digest[:19]}…)[/]")
    if d.decision_id:  # the field's name: the same in every language
        console.print(f"  [dim]decision_id {d.decision_id}[/]")
    keys = ("refund", "penalty", "next") + (("takes_effect",) if d.effective_at else ()) + (
        ("covers",) if d.covers else ()) + (("return",) if d.return_ is not None else ())
    heads = {key: text(key, lang) for key in keys}
    width = max(len(head) for head in heads.values()) + 2

    def row(key: str, body: str) -> None:
        console.print(f"  {heads[key]:<{width}}{body}")

    if d.effective_at:
        row("takes_effect", show(parse_timestamp(d.effective_at)))
    if d.refund:
        fields = {"amount": rupiah(d.refund.amount),
                  "destination": escape(label("refund.destination", d.refund.destination, lang))}
        row("refund", text("refund_due", lang, **fields, min=d.refund.min_business_days,
                           max=d.refund.max_business_days, due=d.refund.due_by)
            if d.refund.due_by else text("refund_no_time", lang, **fields))
    else:
        row("refund", text("none", lang))
    if d.covers:
        row("covers", ", ".join(f"{c['quantity']} x {escape(c['sku'])} ({rupiah(c['amount'])})"
                                for c in d.covers))
    if d.return_ is not None:
        settled = d.return_
        parts = ([escape(label("return.resolution", settled["resolution"], lang))]
                 if "resolution" in settled else [])
        if "shipping_paid_by" in settled:
            parts.append(text("postage_paid_by", lang, party=escape(label(
                "return.shipping_paid_by", settled["shipping_paid_by"], lang))))
        row("return", ", ".join(parts))
    for p in d.penalties:
        points = (text("points", lang, points=p.points) if p.points is not None
                  else text("points_not_published", lang))
        row("penalty", f"{escape(label('penalties.party', p.party, lang))}: {p.code} "
                       f"({points}) [dim]\\[{p.rule}][/]")
    if d.next_steps:
        row("next", ", ".join(d.next_steps))
    console.print(f"  {text('why', lang)}")
    for item in d.explanation:
        rank = (text("no_rule_decided", lang) if item.rule == "default"
                else text("priority", lang, priority=item.priority))
        console.print(f"    [bold]✔ {escape(item.rule)}[/] ({rank})  "
                      f"[dim]{escape(item.file)}:{item.line}[/]")
        message = item.message.get(lang) or next(iter(item.message.values()), "")
        console.print(f"      {escape(message)}")
        for c in item.because:
            if "of" in c:  # a duration between two timestamps
                console.print("      [dim]· " + escape(between_text(c, lang)) + "[/]")
                continue
            console.print("      [dim]· " + escape(atom_text(
                c["fact"], c["op"], c["expected"], c["actual"], c.get("age"),
                bool(c.get("negated")), lang)) + "[/]")
        if item.citation:
            console.print(f"      [dim]{text('source', lang)}: "
                          f"{escape(item.citation['publisher'])}, "
                          f"\"{escape(item.citation['title'])}\"[/]")
    for o in d.overridden:
        console.print("    [dim]✘ " + escape(text(
            "outranked", lang, rule=o.rule, priority=text("priority", lang, priority=o.priority),
            outcome=o.outcome, by=o.by)) + "[/]")
    console.print()


def print_diagnostics(console: Console, diagnostics: Iterable[Diagnostic]) -> None:
    for d in diagnostics:
        colour = "red" if d.severity == "error" else "yellow"
        console.print(f"[{colour}]{escape(str(d))}[/]", soft_wrap=True)
