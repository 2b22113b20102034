"""`aturan decide FACTS.json|-`: one decision, or JSON Lines in -> JSON Lines out."""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from ..analysis.reference import format_why_not, why_not
from ..errors import AturanError, FactsError, error_body
from ..runtime.decision import canonical_json
from ..runtime.jsonio import read_documents
from .common import console, load_or_exit, rulesets_option
from .render import print_decision, print_diagnostics

_BLOCK = 256  # JSON lines per write


def _write(lines: list[str]) -> None:
    """Write and forget `lines`, each ended by a newline, in one call."""
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
        lines.clear()


@click.command()
@click.argument("facts_file", type=click.File("r", encoding="utf-8", lazy=True))
@click.option("--ruleset", "pin", metavar="NAME[@VERSION]",
              help="Use this ruleset (version) instead of the one in force at request.at.")
@click.option("--lang", type=click.Choice(["en", "id"]), default=None,
              help="Language of explanation messages (default: both in JSON, en in text).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--why-not", "why_not_rule", metavar="RULE_ID",
              help="Show, condition by condition, why RULE_ID did or did not fire (with --format "
                   "json: the report instead of the decision).")
@rulesets_option
def decide(facts_file, pin: str | None, lang: str | None, fmt: str, why_not_rule: str | None,
           rulesets_dir: str | None) -> None:
    """Decide order FACTS_FILE (JSON, or JSON Lines for many; - reads stdin)."""
    try:
        text = facts_file.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"cannot read {facts_file.name}: {exc}") from exc
    policies = load_or_exit(rulesets_dir)
    source = "<stdin>" if facts_file.name in ("-", "<stdin>") else facts_file.name
    out, err = console(), console(err=True)
    failed = 0
    lines: list[str] = []  # JSON Lines written in blocks: click.echo flushes every line
    # without --why-not each document is read by `decide_text` (orjson when provably exact)
    for number, document in read_documents(text, source, raw=not why_not_rule):
        try:
            if isinstance(document, FactsError):
                raise document
            if why_not_rule:
                decision = policies.decide(document, pin, lang)
                report = why_not(policies, document, why_not_rule, pin, decision)
            else:
                decision = policies.decide_text(document, pin, lang, source=source, line=number)
                report = None
        except AturanError as exc:
            failed += 1
            if fmt == "json":
                lines.append(canonical_json({**error_body(exc), "line": number}))
            else:
                err.print(f"[red]line {number}: invalid input[/]")
                print_diagnostics(err, exc.diagnostics)
            continue
        if fmt == "json":
            lines.append(canonical_json(report.to_dict()) if report else decision.to_json())
            if len(lines) >= _BLOCK:
                _write(lines)
        else:
            print_decision(out, decision, lang or "en")
            for line in format_why_not(report) if report else ():
                out.print(escape(line))
    _write(lines)
    sys.stdout.flush()
    if failed:
        raise click.exceptions.Exit(1)
