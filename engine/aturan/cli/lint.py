"""`aturan lint [PATH...]`: gaps, conflicts, shadowed, redundant and dead rules over every
possible order, each with a witness order; text, JSON or SARIF; exit 1 on errors."""

from __future__ import annotations

from typing import Any

import click
from rich.markup import escape

from .. import __version__
from ..analysis.lint import Finding, condition_lines, lint_collection, region_lines
from ..analysis.sarif import to_sarif
from ..errors import FactsError, RulesetError, sort_diagnostics
from ..language.display import show
from ..language.repository import load_collection
from ..runtime.decision import canonical_json
from ..runtime.evaluate import Policies
from ..runtime.jsonio import read_lines
from .common import console, default_rulesets
from .render import print_diagnostics


def print_finding(out: Any, f: Finding) -> None:
    """One finding for people: location and message, rules, region, witness, fix."""
    colour = "red" if f.severity == "error" else "yellow"
    out.print(f"{escape(str(f.location))}: [{colour}]{f.severity}[/]: [bold]{f.code}[/]: "
              f"{escape(f.message)}")
    if f.silenced is not None:
        out.print(f"  [dim]silenced: {escape(f.silenced)}[/]")
    if f.rules:
        out.print("  rules: " + ", ".join(
            f"{escape(r['id'])} (" + ("line " if r.get("file") in (None, f.location.file)
                                      else f"{r['file']}:") + f"{r['line']}" + (
                f", priority {r['priority']}" if r.get("priority") is not None else "") + ")"
            for r in f.rules))
    if f.core:
        out.print("  cannot hold together:")
        for node in f.core:
            atom = condition_lines({k: v for k, v in node.items() if k != "line"})[0]
            out.print(f"    - {escape(atom)}  [dim](line {node['line']})[/]")
    if f.region:
        out.print("  region:")
        for line in region_lines(f.region):
            out.print("    " + escape(line))
    if f.witness is not None:
        mark = "[green]✔[/]" if f.confirmed else "[red]✘ not confirmed[/]"
        out.print(f"  witness: order {escape(str(f.witness['order']['id']))} at now="
                  f"{f.witness['now']} → {escape(f.decided)} {mark}")
        for path, value in f.fields.items():
            out.print(f"    [bold]{escape(path)}[/]: {escape(show(value, now=f.witness['now']))}")
    if f.fix:
        out.print(f"  fix: {escape(f.fix)}")


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--orders", "orders_file", type=click.File("r", encoding="utf-8", lazy=True),
              metavar="FILE.jsonl", help="Real orders (JSON Lines): weigh gaps by their share.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text",
              show_default=True)
@click.option("--max-gaps", type=click.IntRange(min=1), default=10, show_default=True,
              help="Gap regions shown per ruleset version, largest first.")
@click.option("--fail-on", type=click.Choice(["error", "warning"]), default="error",
              show_default=True, help="Lowest severity that makes the exit code 1.")
@click.option("--show-silenced", is_flag=True, help="Also print silenced findings (text).")
def lint(paths: tuple[str, ...], orders_file: Any, fmt: str, max_gaps: int, fail_on: str,
         show_silenced: bool) -> None:
    """Analyse rulesets over every possible order (default: ./rulesets). Exit 1 on errors."""
    targets = list(paths) or [str(default_rulesets())]
    collection, problems = load_collection(targets)
    problems = sort_diagnostics(problems)
    invalid = [d for d in problems if d.severity == "error"]
    orders = None
    skipped_lines = 0
    if orders_file is not None:
        try:
            text = orders_file.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise click.BadParameter(f"cannot read {orders_file.name}: {exc}",
                                     param_hint="--orders") from exc
        parsed = list(read_lines(enumerate(text.splitlines(), start=1), orders_file.name))
        orders = [doc for _, doc in parsed if not isinstance(doc, FactsError)]
        skipped_lines = len(parsed) - len(orders)
    versions = [rs.key for rs in collection.versions]
    try:
        policies = Policies(collection)
    except RulesetError as exc:  # valid files the engine cannot build (its limits): as validate
        problems = sort_diagnostics(problems + exc.diagnostics)
        invalid = [d for d in problems if d.severity == "error"]
        findings: list[Finding] = []
        skipped, versions = 0, []
    else:
        try:
            findings, skipped = lint_collection(policies, collection, orders, max_gaps)
        finally:
            policies.close()
    skipped += skipped_lines
    active = [f for f in findings if f.silenced is None]
    errors = sum(1 for f in active if f.severity == "error")
    warnings = sum(1 for f in active if f.severity == "warning")
    summary = {"errors": errors, "warnings": warnings, "silenced": len(findings) - len(active),
               "invalid_files": len({d.location.file for d in invalid}),
               "versions": versions}
    if orders is not None:
        summary["orders_unused"] = skipped
    if fmt == "json":
        click.echo(canonical_json({"findings": [f.to_dict() for f in findings],
                                   "validation": [d.to_dict() for d in problems],
                                   "summary": summary}))
    elif fmt == "sarif":
        click.echo(canonical_json(to_sarif(findings, problems, __version__)))
    else:
        print_diagnostics(console(err=True), problems)
        out = console()
        for f in findings:
            if f.silenced is None or show_silenced:
                print_finding(out, f)
                out.print()
        colour = "red" if errors or invalid else ("yellow" if warnings else "green")
        text = (f"[{colour}]{errors} error(s), {warnings} warning(s)[/], "
                f"{summary['silenced']} silenced, in {len(versions)} ruleset "
                f"version(s)")
        if invalid:
            text += f"; {len(invalid)} validation error(s) (those files were not analysed)"
        if orders is not None:
            text += f"; {skipped} order(s) unused (invalid or no version in force)"
        out.print(text)
    failing = errors + (warnings if fail_on == "warning" else 0)
    if failing or invalid:
        raise click.exceptions.Exit(1)
