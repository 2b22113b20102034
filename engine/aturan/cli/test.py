"""`aturan test [PATH...]`: run every case file's cases, one FAIL line (with the diff and the
explanation) per failure, rule coverage on request, and `N passed, N failed` last."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from ..errors import sort_diagnostics
from ..regression.cases import describe_failure, run_suite
from ..regression.coverage import VersionCoverage, format_percent
from ..runtime.evaluate import Policies, load
from .common import console, default_rulesets
from .render import print_diagnostics


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--coverage", "show_coverage", is_flag=True,
              help="Print, per ruleset version, the rules no case fired (file:line each).")
@click.option("--min-coverage", type=click.FloatRange(0, 100), default=None, metavar="PERCENT",
              help="Fail when a ruleset version's rule coverage is below PERCENT.")
@click.option("-v", "--verbose", is_flag=True, help="Also list the cases that pass.")
def test(paths: tuple[str, ...], show_coverage: bool, min_coverage: float | None,
         verbose: bool) -> None:
    """Run the regression cases under PATH (rulesets folders or case files; default
    ./rulesets). Exit 1 on any failure, unloadable file or coverage below --min-coverage."""
    out, err = console(), console(err=True)
    targets = list(paths) or [str(default_rulesets())]
    loaded: dict[Path, Policies] = {}

    def policies_for(root: Path) -> Policies:
        key = root.resolve()
        if key not in loaded:
            loaded[key] = load(root)
        return loaded[key]

    run = run_suite(targets, policies_for)
    print_diagnostics(err, sort_diagnostics(run.problems))
    for result in run.results:
        if not result.passed:
            for line in describe_failure(result):
                out.print(escape(line), soft_wrap=True, style="red" if line[:1] != " " else None)
        elif verbose:
            out.print(escape(f"{result.case.location}: ok {result.case.name}"), soft_wrap=True)
    failed = len(run.failed)
    too_low: list[VersionCoverage] = []
    if show_coverage or min_coverage is not None:
        for report in run.coverage:
            if show_coverage:
                for line in report.lines():
                    out.print(escape(line), soft_wrap=True)
            if min_coverage is not None:
                too_low += report.below(min_coverage)
    for version in too_low:
        err.print(f"[red]coverage of {version.ruleset} is {format_percent(version.percent)}, "
                  f"below --min-coverage {format_percent(min_coverage or 0)}[/]")
    if not run.files:
        err.print(f"[red]no case files found[/] in {', '.join(targets)} (cases live in "
                  "<rulesets>/<name>/cases/*.yaml)")
    if run.problems:
        err.print(f"[red]{len(run.problems)} problem(s) kept cases from running[/]")
    out.print(f"{len(run.results) - failed} passed, {failed} failed", highlight=False)
    if failed or too_low or run.problems or not run.files:
        raise click.exceptions.Exit(1)
