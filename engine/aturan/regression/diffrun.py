"""Runs `diff_items` over a JSON Lines corpus of any size: lines are read in chunks, each chunk is
diffed in a worker process, and the chunk summaries are merged. Memory stays bounded (at most
two chunks per worker are in flight, and a summary holds counts and a few examples), and both
cores are used.

durable_rules is process-global, not thread-safe C state, so parallelism is by process: each
worker loads and compiles the rulesets once (the pool initializer) and then only evaluates,
which is pure. Workers are started with `spawn`, so none inherits engine state from the parent.
Chunk results are collected in submission order, so a list of changes comes out in input order.
As with any `spawn` pool, a script that calls `run_diff` with more than one worker must do so
under `if __name__ == "__main__":`.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import Diagnostic, EngineError
from ..language.repository import load_rulesets
from ..runtime.evaluate import load
from ..runtime.jsonio import read_lines
from .diff import Change, DiffSummary, VersionPair, check_pins, diff_items
from .fastread import fast_items

Chunk = list[tuple[int, bytes]]
_PAIR: VersionPair | None = None  # the worker's rulesets, loaded once by `_init_worker`


@dataclass(frozen=True)
class RunOptions:
    workers: int = 0  # 0: one per CPU; 1: evaluate in this process
    chunk_size: int = 500
    keep_changes: bool = False

    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1


def read_chunks(stream: BinaryIO, size: int) -> Iterator[tuple[Chunk, int]]:
    """(numbered lines, bytes read) per `size` lines; lines stay bytes until a worker parses
    them, so the reading process does almost nothing."""
    chunk: Chunk = []
    nbytes = 0
    for number, raw in enumerate(stream, start=1):
        chunk.append((number, raw))
        nbytes += len(raw)
        if len(chunk) >= size:
            yield chunk, nbytes
            chunk, nbytes = [], 0
    if chunk:
        yield chunk, nbytes


def _init_worker(paths: list[str], old: str, new: str) -> None:
    global _PAIR
    _PAIR = VersionPair(load(paths), old, new)


def _diff_chunk(pair: VersionPair, chunk: Chunk, source: str, keep: bool
                ) -> tuple[DiffSummary, list[Change] | None]:
    """A chunk's summary, its lines read by orjson where that is the strict reading
    (`fastread`)."""
    changes: list[Change] | None = [] if keep else None
    return diff_items(pair, fast_items(read_lines(chunk, source, raw=True), source),
                      changes), changes


def _run_chunk(chunk: Chunk, source: str, keep: bool) -> tuple[DiffSummary, list[Change] | None]:
    assert _PAIR is not None, "worker used before its initializer ran"
    return _diff_chunk(_PAIR, chunk, source, keep)


def run_diff(paths: list[str | Path], old: str, new: str, stream: BinaryIO, source: str,
             options: RunOptions = RunOptions(),
             progress: Callable[[int, int], None] | None = None,
             on_changes: Callable[[list[Change]], None] | None = None) -> DiffSummary:
    """Diff every line of `stream` under `old` and `new` (pins into the rulesets at `paths`).

    `progress(nbytes, orders so far)` is called as chunks finish; `on_changes(changes)` gets each chunk's
    changed orders, in input order, when `options.keep_changes` is set. Raises `RulesetError`
    or `SelectionError` before any order is read if the rulesets or pins are wrong."""
    check_pins(load_rulesets(paths), old, new)
    total = DiffSummary(old, new)

    def take(result: tuple[DiffSummary, list[Change] | None], nbytes: int) -> None:
        nonlocal total
        summary, changes = result
        total = total.merge(summary)
        if on_changes is not None and changes:
            on_changes(changes)
        if progress is not None:
            progress(nbytes, total.orders)

    workers = options.worker_count()
    if workers <= 1:
        pair = VersionPair(load(paths), old, new)
        try:
            for chunk, nbytes in read_chunks(stream, options.chunk_size):
                take(_diff_chunk(pair, chunk, source, options.keep_changes), nbytes)
        finally:
            pair.policies.close()
        return total
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                               initargs=([str(p) for p in paths], old, new))
    pending: deque[tuple[Future, int]] = deque()
    try:
        for chunk, nbytes in read_chunks(stream, options.chunk_size):
            pending.append((pool.submit(_run_chunk, chunk, source, options.keep_changes),
                            nbytes))
            while len(pending) >= 2 * workers:
                future, size = pending.popleft()
                take(future.result(), size)
        while pending:
            future, size = pending.popleft()
            take(future.result(), size)
    except BrokenProcessPool as exc:
        raise EngineError(Diagnostic("diff-worker", f"a diff worker process died: {exc}")
                          ) from exc
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return total
