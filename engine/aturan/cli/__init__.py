"""The `aturan` command: one thin module per subcommand over the library.

`main(argv)` returns the exit code (0 ok, 1 invalid input or ruleset, 2 usage) and never lets a
traceback reach a user for bad input."""

from __future__ import annotations

import sys

import click

from .decide import decide
from .diff import diff
from .lint import lint
from .project import init, schema
from .replay import replay
from .sample import sample
from .serve import serve
from .test import test
from .validate import validate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aturan")
def cli() -> None:
    """Marketplace order policies as versioned YAML rulesets: validate, decide, test, diff,
    replay."""


cli.add_command(validate)
cli.add_command(decide)
cli.add_command(serve)
cli.add_command(test)
cli.add_command(sample)
cli.add_command(diff)
cli.add_command(lint)
cli.add_command(init)
cli.add_command(schema)
cli.add_command(replay)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns (and exits with) the exit code."""
    try:
        code = cli.main(args=argv, prog_name="aturan", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        code = 1
    if argv is None:
        sys.exit(code or 0)
    return int(code or 0)
