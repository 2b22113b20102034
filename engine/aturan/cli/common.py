"""What the subcommands share: consoles, the rulesets option, loading with printed errors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click
from rich.console import Console

from ..errors import RulesetError
from ..language.project import default_rulesets
from ..runtime.evaluate import Policies, load
from .render import print_diagnostics


def console(err: bool = False) -> Console:
    return Console(file=sys.stderr if err else sys.stdout, highlight=False, soft_wrap=True)


def rulesets_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--rulesets", "rulesets_dir", type=click.Path(exists=True),
                        default=None, envvar="ATURAN_RULESETS",
                        help="Folder of rulesets (default: ./rulesets, else the bundled ones).")(func)


def load_or_exit(rulesets_dir: str | None, memo_capacity: int | None = None) -> Policies:
    try:
        return load(rulesets_dir or default_rulesets(), memo_capacity=memo_capacity)
    except RulesetError as exc:
        print_diagnostics(console(err=True), exc.diagnostics)
        raise click.exceptions.Exit(1) from exc
