"""`aturan validate [PATH...]`: schema and semantic checks, every error as file:line:col."""

from __future__ import annotations

import click

from ..errors import sort_diagnostics
from ..language.repository import discover, load_collection
from ..runtime.limits import check_collection
from .common import console, default_rulesets
from .render import print_diagnostics


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
def validate(paths: tuple[str, ...]) -> None:
    """Check ruleset files (default: ./rulesets). Exit 1 on any error."""
    targets = list(paths) or [str(default_rulesets())]
    collection, problems = load_collection(targets)
    # the engine's limits are the compiled network's: checked here, without calling the engine
    problems = sort_diagnostics(problems + check_collection(collection))
    print_diagnostics(console(err=True), problems)
    errors = [d for d in problems if d.severity == "error"]
    files = len(discover(targets))
    if errors:
        console(err=True).print(f"[red]{len(errors)} error(s)[/] in {files} file(s)")
        raise click.exceptions.Exit(1)
    console().print(f"[green]ok[/]: {files} file(s), {len(collection.versions)} ruleset "
                    f"version(s) valid")
