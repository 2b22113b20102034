"""`aturan decide FACTS.json|-`: one decision, or JSON Lines in -> JSON Lines out."""

from __future__ import annotations

import sys

import click
from rich.markup import escape

from ..analysis.reference import format_why_not, known_rule, why_not
from ..errors import AturanError, FactsError, SelectionError, error_body
from ..runtime.decision import canonical_json
from ..runtime.jsonio import read_documents
from .common import console, load_or_exit, rulesets_option
from .render import print_decision, print_diagnostics


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
    if why_not_rule:  # a rule no version has is a usage error (exit 2), not a bad order
        try:
            known_rule(policies.collection, why_not_rule, pin)
        except SelectionError as exc:
            raise click.BadParameter(exc.first.full_message, param_hint="--why-not") from exc
    source = "<stdin>" if facts_file.name in ("-", "<stdin>") else facts_file.name
    out, err = console(), console(err=True)
    failed = 0
    for number, document in read_documents(text, source):
        try:
            if isinstance(document, FactsError):
                raise document
            decision = policies.decide(document, pin, lang)
            report = (why_not(policies, document, why_not_rule, pin, decision)
                      if why_not_rule else None)
        except AturanError as exc:
            failed += 1
            if fmt == "json":
                click.echo(canonical_json({**error_body(exc), "line": number}))
            else:
                err.print(f"[red]line {number}: invalid input[/]")
                print_diagnostics(err, exc.diagnostics)
            continue
        if fmt == "json":
            click.echo(canonical_json(report.to_dict()) if report else decision.to_json())
        else:
            print_decision(out, decision, lang or "en")
            for line in format_why_not(report, lang) if report else ():
                out.print(escape(line))
    sys.stdout.flush()
    if failed:
        raise click.exceptions.Exit(1)
