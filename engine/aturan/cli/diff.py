"""`aturan diff NAME@V1 NAME@V2 --orders ORDERS.jsonl`: what changes if V2 replaces V1, over a
corpus of orders — counts by outcome and by deciding rule, examples, invalid orders."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import click
from rich.markup import escape

from ..errors import AturanError, RulesetError, SelectionError
from ..regression.cluster import MAX_LOCAL_WORKERS, ClusterError
from ..regression.diff import Change, DiffSummary
from ..regression.diffrun import RunOptions, run_diff
from ..regression.inputs import InputError, is_plain_lines
from ..regression.partitioned import Rulesets, partitions, run_diff_partitioned
from ..runtime.decision import canonical_json
from .common import console, default_rulesets, rulesets_option
from .render import print_diagnostics
from .scale import cluster_options, executor, fail, parse_size, progress_bar


def _rows(data: dict[str, Any]) -> list[tuple[str, list[tuple[str, int, list]]]]:
    return [
        ("By outcome (old → new)", [(f"{r['old']} → {r['new']}", r["count"], r["examples"])
                                   for r in data["by_outcome"]]),
        ("By deciding rule (old → new)", [(f"{r['old']} → {r['new']}", r["count"],
                                           r["examples"]) for r in data["by_rule"]]),
        ("Orders either version cannot decide (side: code)",
         [(f"{r['side']}: {r['code']}", r["count"], r["examples"])
          for r in data["invalid_orders"]]),
    ]


def _example(e: dict[str, Any]) -> str:
    where = f"{e['file']}:{e['line']}" if "file" in e else f"line {e['line']}"
    return f"{e['order_id']} ({where})" if e["order_id"] else where


def render_text(summary: DiffSummary, source: str, sources: Sequence[str] = ()) -> list[str]:
    """The report for people: totals first, then each grouping, biggest group first;
    examples name their file when there are several `sources`."""
    share = f" ({100 * summary.changed / summary.orders:.1f}%)" if summary.orders else ""
    lines = [f"{summary.old} → {summary.new} over {source}",
             f"  {summary.orders:,} orders: {summary.changed:,} changed{share}, "
             f"{summary.unchanged:,} unchanged, {summary.invalid:,} invalid for either version"]
    data = summary.to_dict(sources)
    parts = data["changed_parts"]
    if parts:
        lines.append("  changed parts: " + " · ".join(f"{k} {v:,}" for k, v in parts.items()))
    for title, rows in _rows(data):
        if not rows:
            continue
        width = max(len(label) for label, _, _ in rows)
        lines += ["", title]
        lines += [f"  {count:>9,}  {label:<{width}}  e.g. {', '.join(_example(e) for e in ex)}"
                  for label, count, ex in rows]
    return lines


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
@click.option("--orders", metavar="ORDERS", multiple=True,
              help="Orders to compare on: JSON Lines (- reads stdin), .jsonl.gz or Parquet; "
                   "repeat it, or give a glob ('orders/*.jsonl.gz'); see `aturan sample`.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.option("--fail-on-change", is_flag=True, help="Exit 1 when any decision changes (CI).")
@click.option("--changes", "changes_file", type=click.File("w", encoding="utf-8", lazy=True),
              help="Also write every changed order as JSON Lines here, in input order.")
@click.option("--workers", type=click.IntRange(min=0, max=MAX_LOCAL_WORKERS), default=0,
              show_default=True, help="Worker processes (0: one per CPU; 1: no pool).")
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
@cluster_options
@rulesets_option
def diff(old: str, new: str, orders: tuple[str, ...], fmt: str, fail_on_change: bool,
         changes_file, workers: int, chunk_size: int, show_progress: bool, exhaustive: bool,
         method: str, timeout: float, cluster: str | None, block_size: str,
         rulesets_dir: str | None) -> None:
    """Decide every order under NAME@V1 and NAME@V2 and summarise what changes."""
    if exhaustive:
        if orders:
            raise click.UsageError("--exhaustive compares every possible order; drop --orders "
                                   "(or run the corpus diff separately)")
        from .exhaustive import run_exhaustive
        return run_exhaustive(old, new, fmt, method, timeout, fail_on_change, rulesets_dir)
    if not orders:
        raise click.UsageError("--orders ORDERS.jsonl is required (make one with "
                               "`aturan sample --platform NAME --n 100000 > orders.jsonl`)")
    names = list(orders)
    source = " ".join("<stdin>" if name == "-" else name for name in names)
    paths = [rulesets_dir or default_rulesets()]
    streamed = cluster is None and len(names) == 1 and (names[0] == "-"
                                                        or is_plain_lines(names[0]))
    if "-" in names and not streamed:
        raise click.UsageError("--orders - (stdin) is one stream: it cannot be partitioned "
                               "with other inputs or on --cluster; name files instead")
    sources: list[str] = []

    def write_changes(changes: list[Change]) -> None:
        changes_file.write("".join(canonical_json(c.to_dict(sources)) + "\n"
                                   for c in changes))

    on_changes = write_changes if changes_file is not None else None
    err = console(err=True)
    try:
        if streamed:
            summary = _streamed(paths, old, new, names[0], source, show_progress,
                                RunOptions(workers, chunk_size, changes_file is not None),
                                on_changes)
        else:
            rulesets = Rulesets.of(paths, old, new)
            with executor(cluster, RunOptions(workers).worker_count()) as chosen:
                layout = partitions(chosen, names, parse_size(block_size))
                sources = layout.sources
                with progress_bar("diff", layout.nbytes, show_progress) as advance:
                    summary = run_diff_partitioned(chosen, rulesets, old, new, layout,
                                                   changes_file is not None, advance, on_changes)
    except InputError as exc:
        raise click.BadParameter(str(exc), param_hint="--orders") from exc
    except SelectionError as exc:
        raise click.BadParameter(exc.first.full_message,
                                 param_hint="NAME@V1/NAME@V2") from exc
    except ClusterError as exc:
        raise fail(exc) from exc
    except (RulesetError, AturanError) as exc:
        print_diagnostics(err, exc.diagnostics)
        raise click.exceptions.Exit(1) from exc
    except OSError as exc:  # an input gone or unreadable since it was listed
        click.echo(f"aturan: {exc.filename or source}: {exc.strerror or exc}", err=True)
        raise click.exceptions.Exit(1) from exc
    if fmt == "json":
        click.echo(canonical_json({**summary.to_dict(sources), "source": source}))
    else:
        out = console()
        for line in render_text(summary, source, sources):
            out.print(escape(line), soft_wrap=True, highlight=False)
    if fail_on_change and summary.changed:
        raise click.exceptions.Exit(1)


def _streamed(paths: list, old: str, new: str, name: str, source: str, show_progress: bool,
              options: RunOptions, on_changes: Any) -> DiffSummary:
    """One JSON Lines file or stdin, read here in chunks for `--workers` processes: the diff
    as it has always run."""
    stream, size = _open(name)
    try:
        with progress_bar("diff", size, show_progress) as advance:
            return run_diff(paths, old, new, stream, source, options, progress=advance,
                            on_changes=on_changes)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
