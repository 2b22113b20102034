"""What `aturan diff`, `aturan decide --out` and `aturan replay --workers/--cluster` share to run
over partitioned inputs: the `--cluster` and `--block-size` options, the executor they choose
(this process, a pool of processes, or Dask), the progress bar, and one-line errors."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..errors import AturanError
from ..regression.inputs import BLOCK_SIZE
from ..regression.partitioned import Executor, InProcess, ProcessPool
from .common import console

_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(i?b)?\s*$", re.I)


def parse_size(text: str) -> int:
    """`33554432`, `32MiB`, `64MB`, `1g`: bytes (binary multiples either way)."""
    match = _SIZE.match(text)
    if not match or int(match.group(1)) < 1:
        raise click.BadParameter(f"{text!r} is not a size such as 32MiB", param_hint="--block-size")
    return int(match.group(1)) * 1024 ** "_kmgt".index((match.group(2) or "_").lower())


def cluster_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--block-size", default=str(BLOCK_SIZE // 1024 // 1024) + "MiB", show_default=True,
        metavar="SIZE", help="Partition size for plain JSON Lines files (split at line "
                             "boundaries; a .gz file is one partition, Parquet splits at row "
                             "groups).")(func)
    return click.option(
        "--cluster", "cluster", metavar="local:N|tcp://HOST:PORT", default=None,
        help="Run on Dask: N single-threaded worker processes here, or the scheduler of a "
             "running cluster (needs: pip install 'aturan[cluster]'; see docs/scale.md).")(func)


def fail(exc: AturanError) -> click.exceptions.Exit:
    """Print an error's first diagnostic as one line on stderr; the exit to raise (1)."""
    click.echo(f"aturan: {exc.first.code}: {exc.first.full_message}", err=True)
    return click.exceptions.Exit(1)


@contextmanager
def executor(cluster: str | None, workers: int = 1) -> Iterator[Executor]:
    """The executor for `--cluster` (Dask) or `--workers` (a process pool when above 1, else
    this process), closed afterwards."""
    if cluster is None:
        chosen: Executor = ProcessPool(workers) if workers > 1 else InProcess()
    else:
        from ..regression.cluster import check_spec, connect
        try:
            check_spec(cluster)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--cluster") from exc
        try:
            dask = connect(cluster)
        except AturanError as exc:
            raise fail(exc) from exc
        threads = dask.threads()
        if any(n > 1 for n in threads.values()):
            click.echo(f"aturan: note: workers of {cluster} run {max(threads.values())} threads; "
                       "an engine evaluates one order at a time per process, so start them "
                       "with --nthreads 1 (and more --nworkers)", err=True)
        chosen = dask
    try:
        yield chosen
    finally:
        chosen.close()


@contextmanager
def progress_bar(label: str, total: int | None, show: bool
                 ) -> Iterator[Callable[[int, int], None]]:
    """A progress callback `(bytes done, orders so far)`: a bar on stderr when it is a terminal
    and `show`, else nothing."""
    err = console(err=True)
    if not (show and err.is_terminal):
        yield lambda nbytes, count: None
        return
    bar = Progress(TextColumn(label), BarColumn(), TaskProgressColumn(),
                   TextColumn("{task.fields[orders]:,} orders"), TimeElapsedColumn(),
                   TimeRemainingColumn(), console=err, transient=True)
    task = bar.add_task(label, total=total, orders=0)

    def advance(nbytes: int, count: int) -> None:
        bar.update(task, advance=nbytes, orders=count)

    bar.start()
    try:
        yield advance
    finally:
        bar.stop()
