"""`aturan diff NAME@V1 NAME@V2 --exhaustive`: compare two versions over every schema-valid
order (aturan.analysis.equivalence), in the corpus diff's text/JSON conventions. Called by `cli/diff.py`."""

from __future__ import annotations

import click
from rich.markup import escape

from ..analysis.equivalence import exhaustive_diff, render_text
from ..analysis.solver import SolverMissing
from ..errors import AturanError, SelectionError
from ..runtime.decision import canonical_json
from .common import console, load_or_exit
from .render import print_diagnostics


def run_exhaustive(old: str, new: str, fmt: str, method: str, timeout: float,
                   fail_on_change: bool, rulesets_dir: str | None) -> None:
    """Prove the versions equal, or list every change group with a confirmed witness.
    Exit 1 with --fail-on-change when they differ or equality is not proved ("unknown")."""
    policies = load_or_exit(rulesets_dir)
    try:
        result = exhaustive_diff(policies, old, new, method, timeout)
    except SolverMissing as exc:
        console(err=True).print(f"[red]{escape(exc.first.message)}[/]", soft_wrap=True)
        raise click.exceptions.Exit(1) from exc
    except SelectionError as exc:
        raise click.BadParameter(exc.first.full_message, param_hint="NAME@V1/NAME@V2") from exc
    except AturanError as exc:
        print_diagnostics(console(err=True), exc.diagnostics)
        raise click.exceptions.Exit(1) from exc
    if fmt == "json":
        click.echo(canonical_json(result.to_dict()))
    else:
        out = console()
        for line in render_text(result):
            out.print(escape(line), soft_wrap=True, highlight=False)
    unconfirmed = any(not g.confirmed for g in result.groups)
    if unconfirmed or (fail_on_change and result.status != "equal"):
        raise click.exceptions.Exit(1)
