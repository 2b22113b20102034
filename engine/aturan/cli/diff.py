"""`aturan diff NAME@V1 NAME@V2 --orders ORDERS.jsonl`: what changes if V2 replaces V1, over a
corpus of orders — counts by outcome and by deciding rule, examples, invalid orders."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, BinaryIO

import click
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..errors import AturanError, RulesetError, SelectionError
from ..regression.diff import Change, DiffSummary
from ..regression.diffrun import RunOptions, run_diff
from ..runtime.decision import canonical_json
from .common import console, default_rulesets, rulesets_option
from .render import print_diagnostics


def _rows(summary: DiffSummary) -> list[tuple[str, list[tuple[str, int, list]]]]:
    data = summary.to_dict()
    return [
        ("By outcome (old → new)", [(f"{r['old']} → {r['new']}", r["count"], r["examples"])
                                   for r in data["by_outcome"]]),
        ("By deciding rule (old → new)", [(f"{r['old']} → {r['new']}", r["count"],
                                           r["examples"]) for r in data["by_rule"]]),
        ("Orders either version cannot decide (side: code)",
         [(f"{r['side']}: {r['code']}", r["count"], r["examples"])
          for r in data["invalid_orders"]]),
    ]


def _example(e: dict[str, Any], unit: str = "line") -> str:
    return f"{e['order_id']} ({unit} {e['line']})" if e["order_id"] else f"{unit} {e['line']}"


def render_text(summary: DiffSummary, source: str, unit: str = "line") -> list[str]:
    """The report for people: totals first, then each grouping, biggest group first. `unit`
    names what an example's position counts (`aturan replay --against`: records)."""
    share = f" ({100 * summary.changed / summary.orders:.1f}%)" if summary.orders else ""
    lines = [f"{summary.old} → {summary.new} over {source}",
             f"  {summary.orders:,} orders: {summary.changed:,} changed{share}, "
             f"{summary.unchanged:,} unchanged, {summary.invalid:,} invalid for either version"]
    parts = summary.to_dict()["changed_parts"]
    if parts:
        lines.append("  changed parts: " + " · ".join(f"{k} {v:,}" for k, v in parts.items()))
    for title, rows in _rows(summary):
        if not rows:
            continue
        width = max(len(label) for label, _, _ in rows)
        lines += ["", title]
        lines += [f"  {count:>9,}  {label:<{width}}  e.g. "
                  f"{', '.join(_example(e, unit) for e in ex)}" for label, count, ex in rows]
    return lines


def _progress() -> Progress:
    return Progress(TextColumn("diff"), BarColumn(), TaskProgressColumn(),
                    TextColumn("{task.fields[orders]:,} orders"), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=console(err=True), transient=True)


def _open(orders: str) -> tuple[BinaryIO, int | None]:
    if orders == "-":
        return sys.stdin.buffer, None
    try:
        handle = open(orders, "rb")  # noqa: SIM115 - closed by the caller
    except OSError as exc:
        raise click.BadParameter(f"cannot read {orders}: {exc.strerror}",
                                 param_hint="--orders") from exc
    size = Path(orders).stat().st_size if Path(orders).is_file() else None
    return handle, size


@click.command()
@click.argument("old", metavar="NAME@V1")
@click.argument("new", metavar="NAME@V2")
@click.option("--orders", metavar="ORDERS.jsonl",
              help="Orders to compare on, JSON Lines (- reads stdin); see `aturan sample`.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--fail-on-change", is_flag=True, help="Exit 1 when any decision changes (CI).")
@click.option("--changes", "changes_file", type=click.File("w", encoding="utf-8", lazy=True),
              help="Also write every changed order as JSON Lines here, in input order.")
@click.option("--workers", type=click.IntRange(min=0), default=0, show_default=True,
              help="Worker processes (0: one per CPU; 1: no pool).")
@click.option("--chunk-size", type=click.IntRange(min=1), default=500, show_default=True,
              help="Orders per unit of work sent to a worker.")
@click.option("--progress/--no-progress", "show_progress", default=True,
              help="Progress bar on stderr (only on a terminal).")
@click.option("--exhaustive", is_flag=True,
              help="Instead of a corpus, every schema-valid order: prove the versions equal or "
                   "list each change group with a witness (needs: pip install 'aturan[verify]').")
@click.option("--method", type=click.Choice(["z3", "box", "both"]), default="z3",
              show_default=True, help="--exhaustive: the z3 solver, the pure-Python box "
                                      "analysis, or both cross-checked.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="--exhaustive: seconds per solver call; a time-out reports unknown.")
@rulesets_option
def diff(old: str, new: str, orders: str | None, fmt: str, fail_on_change: bool,
         changes_file, workers: int, chunk_size: int, show_progress: bool, exhaustive: bool,
         method: str, timeout: float, rulesets_dir: str | None) -> None:
    """Decide every order under NAME@V1 and NAME@V2 and summarise what changes."""
    if exhaustive:
        if orders is not None:
            raise click.UsageError("--exhaustive compares every possible order; drop --orders "
                                   "(or run the corpus diff separately)")
        from .exhaustive import run_exhaustive
        return run_exhaustive(old, new, fmt, method, timeout, fail_on_change, rulesets_dir)
    if orders is None:  # the one mode today; an --exhaustive mode would branch here
        raise click.UsageError("--orders ORDERS.jsonl is required (make one with "
                               "`aturan sample --platform NAME --n 100000 > orders.jsonl`)")
    stream, size = _open(orders)
    source = "<stdin>" if orders == "-" else orders
    paths = [rulesets_dir or default_rulesets()]
    err = console(err=True)

    def write_changes(changes: list[Change]) -> None:
        changes_file.write("".join(canonical_json(c.to_dict()) + "\n" for c in changes))

    bar = _progress() if show_progress and err.is_terminal else None
    task = bar.add_task("diff", total=size, orders=0) if bar else None

    def advance(nbytes: int, count: int) -> None:
        if bar is not None and task is not None:
            bar.update(task, advance=nbytes, orders=count)

    try:
        if bar is not None:
            bar.start()
        summary = run_diff(paths, old, new, stream, source,
                           RunOptions(workers, chunk_size, changes_file is not None),
                           progress=advance,
                           on_changes=write_changes if changes_file is not None else None)
    except SelectionError as exc:
        raise click.BadParameter(exc.first.full_message,
                                 param_hint="NAME@V1/NAME@V2") from exc
    except (RulesetError, AturanError) as exc:
        print_diagnostics(err, exc.diagnostics)
        raise click.exceptions.Exit(1) from exc
    finally:
        if bar is not None:
            bar.stop()
        if stream is not sys.stdin.buffer:
            stream.close()
    if fmt == "json":
        click.echo(canonical_json({**summary.to_dict(), "source": source}))
    else:
        out = console()
        for line in render_text(summary, source):
            out.print(escape(line), soft_wrap=True, highlight=False)
    if fail_on_change and summary.changed:
        raise click.exceptions.Exit(1)
