"""Diff and batch decide over partitioned inputs (`inputs`), on any executor: this process, a
pool of worker processes, or a Dask cluster (`cluster`). Partitions are read by the process
that evaluates them, so orders never travel through the caller; only small results (a
`DiffSummary` per partition, a line count, a decide partition's counts) come back.

Each process loads the rulesets once and keeps them (`policies_for`, a cache keyed by the
rulesets' paths *and* the sha256 digests the caller loaded, checked on load, so a worker that
finds other files at those paths fails loudly rather than deciding by other rules). The
tasks (`diff_partition`, `decide_partition`, `count_partition`) are pure functions of
(job, partition): a partition a dead worker was running can be run again anywhere, with the
same result, which is what lets Dask retry it. A decide partition's output is written to a
temporary file and renamed, so a retried one never leaves half a file behind.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..errors import AturanError, Diagnostic, EngineError, Location, error_body
from ..language.repository import load_rulesets
from ..runtime.decision import canonical_json
from ..runtime.evaluate import Policies, load
from .diff import FILE_STRIDE, Change, DiffSummary, VersionPair, check_pins, diff_items
from .inputs import BLOCK_SIZE, Partition, count_lines, number, plan, read_partition, resolve
from .inputs import to_count as blocks_to_count

J = TypeVar("J")
R = TypeVar("R")
Progress = Callable[[int, int], None]  # (bytes just finished, orders so far)


@dataclass(frozen=True)
class Rulesets:
    """Which rulesets a worker loads (absolute paths, so a worker's own folder does not
    matter) and the digest of every version the caller found there."""

    paths: tuple[str, ...]
    digests: tuple[tuple[str, str], ...]  # (name@version, sha256), sorted

    @classmethod
    def of(cls, paths: Iterable[str | Path], *pins: str) -> Rulesets:
        """Load (without compiling) to learn the digests and check `pins`; raises
        `RulesetError` or `SelectionError` before any worker is asked anything."""
        listed = [str(Path(p).resolve()) for p in paths]
        collection = load_rulesets(listed)
        check_pins(collection, *pins)
        return cls(tuple(listed), _digests(collection.versions))


def _digests(versions: Iterable[Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((rs.key, rs.digest) for rs in versions))


_LOADED: OrderedDict[Rulesets, Policies] = OrderedDict()
_LOADED_LOCK = threading.Lock()
_KEEP = 4  # rulesets kept per process; a worker serving several runs keeps the latest few


def policies_for(rulesets: Rulesets) -> Policies:
    """This process's `Policies` for `rulesets`, loaded and compiled on first use and kept;
    raises `EngineError` if the files at those paths are not the ones the caller loaded."""
    with _LOADED_LOCK:
        found = _LOADED.get(rulesets)
        if found is not None:
            _LOADED.move_to_end(rulesets)
            return found
        policies = load(list(rulesets.paths))
        got = _digests(policies.collection.versions)
        if got != rulesets.digests:
            policies.close()
            differ = sorted(set(got) ^ set(rulesets.digests))
            raise EngineError(Diagnostic(
                "worker-rulesets", f"the rulesets at {', '.join(rulesets.paths)} on this worker "
                f"(pid {os.getpid()}) are not the caller's: {differ[0][0]} differs; give every "
                "worker the same files", Location()))
        _LOADED[rulesets] = policies
        while len(_LOADED) > _KEEP:
            _LOADED.popitem(last=False)[1].close()
        return policies


# ---- tasks: pure functions of (job, partition), run wherever the executor puts them ---------

def count_partition(job: None, part: Partition) -> int:
    return count_lines(part)


@dataclass(frozen=True)
class DiffJob:
    rulesets: Rulesets
    old: str
    new: str
    keep_changes: bool = False


@dataclass
class DiffResult:
    summary: DiffSummary
    changes: list[Change] | None


def diff_partition(job: DiffJob, part: Partition) -> DiffResult:
    """The summary of one partition; positions are `file * FILE_STRIDE + line`."""
    pair = VersionPair(policies_for(job.rulesets), job.old, job.new)
    base = part.file * FILE_STRIDE
    changes: list[Change] | None = [] if job.keep_changes else None
    items = ((base + line, facts) for line, facts in read_partition(part))
    return DiffResult(diff_items(pair, items, changes), changes)


class PartitionLog(Protocol):
    """A decision log per partition (`aturan.audit.batch.BatchLogs`, for `--decision-log`):
    `observe` gives the policies that log partition `index`'s decisions while its block runs,
    and publishes the log when the block ends without an error."""

    def observe(self, policies: Policies, index: int) -> AbstractContextManager[Policies]: ...


@dataclass(frozen=True)
class DecideJob:
    rulesets: Rulesets
    out: str  # a folder every worker can write to
    pin: str | None = None
    lang: str | None = None
    log: PartitionLog | None = None  # --decision-log: one log, with its own chain, a partition


@dataclass(frozen=True)
class DecideResult:
    output: str  # file name inside the output folder
    decided: int
    invalid: int
    errors: tuple[str, ...]  # the first few bad lines, as `file:line:col: code: message`


ERRORS_KEPT = 5


def output_name(part: Partition) -> str:
    return f"part-{part.index:05d}.jsonl"


def decide_partition(job: DecideJob, part: Partition) -> DecideResult:
    """Decide every order of a partition into `<out>/part-NNNNN.jsonl`: one line per order in
    input order, a decision (`Decision.to_json()`) or an error body with its `file` and
    `line` (as `aturan decide --format json` writes one, plus the file). With `job.log`, every
    decision is logged (and carries its `decision_id`) in the partition's own log."""
    if job.log is not None:
        with job.log.observe(policies_for(job.rulesets), part.index) as logged:
            return _decide_into(job, part, logged)
    return _decide_into(job, part, policies_for(job.rulesets))


def _decide_into(job: DecideJob, part: Partition, policies: Policies) -> DecideResult:
    name = output_name(part)
    target = Path(job.out) / name
    temporary = target.with_name(f".{name}.{os.getpid()}.{threading.get_ident()}.tmp")
    decided = invalid = 0
    errors: list[str] = []
    with open(temporary, "w", encoding="utf-8") as out:
        for line, facts in read_partition(part):
            try:
                if isinstance(facts, AturanError):
                    raise facts
                text = policies.decide(facts, job.pin, job.lang).to_json()
                decided += 1
            except AturanError as exc:
                invalid += 1
                if len(errors) < ERRORS_KEPT:
                    first = exc.first
                    where = first.location
                    place = (str(where) if where.file else f"{part.path}:{line}")
                    errors.append(f"{place}: {first.code}: {first.full_message}"
                                  + (f" (at {where.pointer})" if where.pointer not in ("", "/")
                                     else ""))
                text = canonical_json({**error_body(exc), "file": part.path, "line": line})
            out.write(text + "\n")
    os.replace(temporary, target)
    return DecideResult(name, decided, invalid, tuple(errors))


# ---- executors ---------------------------------------------------------------------------------

class Executor(Protocol):
    """Runs `task(job, part)` for every partition and yields (partition, result) as each
    finishes, in any order."""

    def map(self, task: Callable[[J, Partition], R], job: J, parts: Sequence[Partition]
            ) -> Iterator[tuple[Partition, R]]: ...

    def close(self) -> None: ...


class InProcess:
    """Every partition here, one after another: `--workers 1`, and batch decide without
    `--cluster`."""

    def map(self, task: Callable[[J, Partition], R], job: J, parts: Sequence[Partition]
            ) -> Iterator[tuple[Partition, R]]:
        for part in parts:
            yield part, task(job, part)

    def close(self) -> None:
        pass


class ProcessPool:
    """Spawned worker processes on this machine (none inherits engine state); each loads
    the rulesets on its first partition (`policies_for`)."""

    def __init__(self, workers: int):
        self._pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))

    def map(self, task: Callable[[J, Partition], R], job: J, parts: Sequence[Partition]
            ) -> Iterator[tuple[Partition, R]]:
        futures = {self._pool.submit(task, job, part): part for part in parts}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BrokenProcessPool as exc:
            raise EngineError(Diagnostic("worker-died", f"a worker process died: {exc}")
                              ) from exc
        finally:
            for future in futures:
                future.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


# ---- runners -----------------------------------------------------------------------------------

@dataclass
class Layout:
    """The partitions of some inputs, every first line known."""

    sources: list[str]
    parts: list[Partition] = field(default_factory=list)

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.parts)


def partitions(executor: Executor, names: Sequence[str], block_size: int = BLOCK_SIZE) -> Layout:
    """Resolve `names` (raises `inputs.InputError`), cut them into partitions and count the
    lines of the blocks that others follow, on the executor (where the files are)."""
    sources = resolve(names)
    parts = plan(sources, block_size)
    counts = {p.index: n for p, n in executor.map(count_partition, None, blocks_to_count(parts))}
    return Layout([s.path for s in sources], number(parts, counts))


def run_diff_partitioned(executor: Executor, rulesets: Rulesets, old: str, new: str,
                         inputs: Layout, keep_changes: bool = False,
                         progress: Progress | None = None,
                         on_changes: Callable[[list[Change]], None] | None = None
                         ) -> DiffSummary:
    """The diff of every partition, merged (`DiffSummary.merge`: the same summary in any
    order of completion). Changed orders go to `on_changes` in input order: a partition's
    wait until every partition before it has been handed on."""
    job = DiffJob(rulesets, old, new, keep_changes)
    total = DiffSummary(old, new)
    waiting: dict[int, list[Change]] = {}
    next_index = 0
    for part, result in executor.map(diff_partition, job, inputs.parts):
        total = total.merge(result.summary)
        if on_changes is not None and result.changes is not None:
            waiting[part.index] = result.changes
            while next_index in waiting:
                changes = waiting.pop(next_index)
                if changes:
                    on_changes(changes)
                next_index += 1
        if progress is not None:
            progress(part.nbytes, total.orders)
    return total


@dataclass
class DecideRun:
    """What a batch decide wrote: one file per partition and the totals."""

    outputs: list[tuple[Partition, DecideResult]]
    decided: int = 0
    invalid: int = 0

    def manifest(self, sources: list[str]) -> dict[str, Any]:
        return {"inputs": sources, "decided": self.decided, "invalid": self.invalid,
                "partitions": [{"output": r.output, "file": p.path, "first_line": p.first_line,
                                "decided": r.decided, "invalid": r.invalid}
                               for p, r in sorted(self.outputs, key=lambda pr: pr[0].index)]}


def run_decide_partitioned(executor: Executor, job: DecideJob, inputs: Layout,
                           progress: Progress | None = None) -> DecideRun:
    """Decide every partition into `job.out` and write `manifest.json` there: inputs, and per
    output file its source, first line and counts. Output files of an earlier run in that
    folder (`part-*.jsonl`, `manifest.json`) are removed first, so the folder holds exactly
    this run."""
    folder = Path(job.out)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in [*folder.glob("part-*.jsonl"), folder / "manifest.json"]:
        stale.unlink(missing_ok=True)
    run = DecideRun([])
    for part, result in executor.map(decide_partition, job, inputs.parts):
        run.outputs.append((part, result))
        run.decided += result.decided
        run.invalid += result.invalid
        if progress is not None:
            progress(part.nbytes, run.decided + run.invalid)
    manifest = Path(job.out) / "manifest.json"
    manifest.write_text(canonical_json(run.manifest(inputs.sources)) + "\n", encoding="utf-8")
    return run
