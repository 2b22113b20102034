"""`aturan sample --platform NAME --n N --seed S`: a reproducible corpus of order facts as
JSON Lines on stdout (or --output), streamed, for `aturan diff`."""

from __future__ import annotations

import sys

import click

from ..errors import RulesetError, SelectionError
from ..language.repository import load_rulesets
from ..regression.sample import generate, plan_for, to_line
from .common import console, default_rulesets, rulesets_option
from .render import print_diagnostics

_BATCH = 1000  # lines per write: fewer system calls, still bounded memory


@click.command()
@click.option("--platform", required=True, metavar="NAME",
              help="Platform ruleset whose versions shape the corpus: a bundled platform, or one "
                   "the policy folder's aturan.yaml declares.")
@click.option("--n", "count", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Number of orders.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Same seed, same bytes.")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8", lazy=True), default="-",
              help="Write here instead of stdout.")
@rulesets_option
def sample(platform: str, count: int, seed: int, output, rulesets_dir: str | None) -> None:
    """Write COUNT realistic, schema-valid orders for PLATFORM as JSON Lines."""
    try:
        collection = load_rulesets([rulesets_dir or default_rulesets()])
    except RulesetError as exc:
        print_diagnostics(console(err=True), exc.diagnostics)
        raise click.exceptions.Exit(1) from exc
    try:
        plan = plan_for(collection, platform)
    except SelectionError as exc:
        first = exc.first
        raise click.BadParameter(first.full_message, param_hint="--platform") from exc
    batch: list[str] = []
    try:
        for facts in generate(plan, count, seed):
            batch.append(to_line(facts))
            if len(batch) >= _BATCH:
                output.write("".join(batch))
                batch.clear()
        output.write("".join(batch))
        output.flush()
    except BrokenPipeError:  # `aturan sample … | head` is fine
        sys.stderr.close()
