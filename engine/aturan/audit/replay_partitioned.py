"""`aturan replay LOG... --workers N | --cluster local:N | tcp://HOST:PORT`: a decision log
replayed in partitions on worker processes or a Dask cluster (`regression.partitioned`'s
executors), with the same report as the single-process replay, byte for byte.

Partitions. A rotated, compressed file (`.jsonl.gz`) is one partition (gzip cannot be split).
A plain file (the live one, or a rotated one not yet compressed) is cut into blocks at line
boundaries (`regression.inputs`: a block holds the lines that start in it; a first pass counts
the lines before each block, so every record keeps its file:line). The live file is cut at the
size it has when the replay starts: records appended after that are not replayed, and a file
rotated (renamed or replaced) during the replay fails it (`log-rotated`: replay again). Each
partition is read by the process that replays it; only its results come back.

Workers load what they decide by once per process: `--verify` a `Resolver` per run, which loads
each ruleset text by its digest on the first record that names it (a digest names one text, so
no worker can find another) and serves the run's later partitions on that worker; `--against`
the version's `Policies` through `partitioned.policies_for` (keyed by the rulesets' paths and
digests, checked on load).

The hash chain, end to end. Each partition checks its own lines with a `ChainCheck` of its own
(`SegmentCheck`): the problems it finds, except at each chain's first record there (whose link
goes back to the partition or file before), which it hands back whole, and each chain's last
record there (seq, hash). The caller merges the partitions in file order into one `ChainCheck`
(`ChainMerge`): it feeds it each partition's first record of every chain — checking the link
across the partition or file boundary exactly as the single-process scan does, with the same
messages — then moves that chain's head on to the partition's last record. Two things the
scan carries from line to line cannot be moved that way, and for a partition holding either
the caller reads the partition again and feeds every line (tampered or damaged logs only): a
line that is no record (the next record's link is then not checked), and a first record that
does not come after its chain's head (a repeat or an earlier seq, which the scan does not take
as the new head). Problems are put back in line order (a line gives at most one)."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from ..errors import Diagnostic, EngineError, Location
from ..regression.diff import FILE_STRIDE, DiffSummary
from ..regression.inputs import BLOCK_SIZE, Partition, Source, block_lines, number, plan, to_count
from ..regression.partitioned import Executor, Progress, Rulesets, count_partition, policies_for
from .archive import RulesetArchive
from .chain import ChainCheck, LogLine, Problem, parse_lines, read_file
from .replay import LOGGED, Mismatch, Resolver, against_record, verify_record

R = TypeVar("R")


# ---- partitions and their lines ----------------------------------------------------------------

@contextmanager
def unmoved(files: Sequence[Path]) -> Iterator[None]:
    """Fail (`log-rotated`) when a file was replaced or removed while the body ran: a log
    rotated during a partitioned replay, whose later partitions would have opened the new live
    file (one scan keeps its file open, so it reads the old one to its end)."""
    before = [_identity(f) for f in files]
    yield
    for file, was in zip(files, before):
        if _identity(file) != was:
            raise EngineError(Diagnostic(
                "log-rotated", f"{file} was rotated or replaced while it was replayed, so some "
                "partitions may have read another file; replay again (or replay the rotated "
                "files)", Location()))


def _identity(file: Path) -> tuple[int, int] | None:
    try:
        stat = file.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def log_partitions(executor: Executor, files: Sequence[Path], block_size: int = BLOCK_SIZE
                   ) -> list[Partition]:
    """The partitions of `files` (in chain order, `chain.log_files`), every first line known;
    `Partition.file` is the file's index in `files`, `Partition.path` its absolute path."""
    sources = [Source(str(f.resolve()), "gzip" if f.name.endswith(".gz") else "lines",
                      f.stat().st_size) for f in files]
    parts = plan(sources, block_size)
    counts = {p.index: n for p, n in executor.map(count_partition, None, to_count(parts))}
    return number(parts, counts)


def log_lines(part: Partition, shown: str) -> Iterator[LogLine]:
    """The lines of one partition as `chain.read_file` reads them from the whole file, named
    `shown` (the file as the user gave it). A gzip file is read by `read_file` itself; a block
    of a plain file the same way from its first line (tests/audit/test_replay_cluster.py
    compares the two over every block size)."""
    if part.kind == "gzip":
        for line in read_file(Path(part.path)):
            yield line if line.file == shown else replace(line, file=shown)
        return
    yield from parse_lines(block_lines(part), shown, part.first_line)


# ---- the chain, a partition at a time ----------------------------------------------------------

@dataclass(frozen=True)
class ChainEnd:
    """A chain's last record in a partition, and how many of its records the partition holds."""

    seq: int
    hash: str
    decision_id: str | None
    where: str
    count: int


@dataclass
class Segment:
    """What a partition's own chain check found (see the module's docstring)."""

    records: int = 0
    problems: list[tuple[int, Problem]] = field(default_factory=list)  # (line, problem)
    firsts: list[LogLine] = field(default_factory=list)  # each chain's first record, in order
    ends: dict[str, ChainEnd] = field(default_factory=dict)
    unreadable: bool = False  # a line that is no record: the caller checks this one itself


class SegmentCheck:
    """A `ChainCheck` over one partition's lines that sets aside what depends on the lines
    before the partition."""

    def __init__(self) -> None:
        self.check = ChainCheck()
        self.segment = Segment()

    def feed(self, line: LogLine) -> None:
        check, segment = self.check, self.segment
        if line.record is None and not line.torn:
            segment.unreadable = True
        chains, before = len(check.heads), len(check.problems)
        check.feed(line)
        if len(check.heads) > chains:  # a chain's first record here: its link is the caller's
            segment.firsts.append(line)
            del check.problems[before:]
        else:
            segment.problems += [(line.number, p) for p in check.problems[before:]]

    def finish(self) -> Segment:
        segment = self.segment
        segment.records = self.check.records
        segment.ends = {chain: ChainEnd(h.seq, h.hash, h.decision_id, h.where, h.count)
                        for chain, h in self.check.heads.items()}
        return segment


class ChainMerge:
    """The partitions' segments merged in file order into one chain check: `records`,
    `problems` (in line order), `summary()` and `failed` as `ChainCheck` gives them."""

    def __init__(self) -> None:
        self.check = ChainCheck()
        self.problems: list[Problem] = []

    @property
    def records(self) -> int:
        return self.check.records

    @property
    def failed(self) -> bool:
        return any(p.failure for p in self.problems)

    def summary(self) -> list[dict[str, Any]]:
        return self.check.summary()

    def _feed(self, line: LogLine) -> list[Problem]:
        before = len(self.check.problems)
        self.check.feed(line)
        return self.check.problems[before:]

    def add(self, segment: Segment, reread: Callable[[], Iterable[LogLine]]) -> None:
        """The next partition's segment; `reread` gives its lines again when the caller must
        check them itself."""
        heads = self.check.heads
        if segment.unreadable or any(
                (head := heads.get(line.record["chain"])) is not None
                and line.record["seq"] <= head.seq
                for line in segment.firsts if line.record is not None):
            for line in reread():
                self.problems += self._feed(line)
            return
        found = list(segment.problems)
        for line in segment.firsts:
            found += [(line.number, p) for p in self._feed(line)]
        found.sort(key=lambda item: item[0])
        self.problems += [p for _, p in found]
        self.check.records += segment.records - len(segment.firsts)
        for chain, end in segment.ends.items():
            head = heads[chain]
            head.seq, head.hash, head.decision_id, head.where = (end.seq, end.hash,
                                                                 end.decision_id, end.where)
            head.count += end.count - 1


# ---- tasks: pure functions of (job, partition) -------------------------------------------------

@dataclass(frozen=True)
class VerifyJob:
    names: tuple[str, ...]  # the files as the report names them, by `Partition.file`
    archives: tuple[str, ...]  # archive folders, as the single-process replay names them
    roots: tuple[str, ...]  # rulesets folders (absolute)
    run: str = ""  # one replay: a worker's resolver serves the partitions of one run


_RESOLVERS: OrderedDict[VerifyJob, Resolver] = OrderedDict()
_RESOLVERS_LOCK = threading.Lock()
_KEEP = 4


def resolver_for(job: VerifyJob) -> Resolver:
    """This process's `Resolver` for a replay, kept for its later partitions: each ruleset text
    is loaded (and compiled) once per process, on the first record that names its digest. Kept
    per run, not longer: a resolver also remembers a text it could not find, which a later run
    may find (an archive restored). Replay runs one thread per process (`Resolver` is not
    shared across threads)."""
    with _RESOLVERS_LOCK:
        found = _RESOLVERS.get(job)
        if found is None:
            found = Resolver([RulesetArchive(Path(a)) for a in job.archives], job.roots)
            _RESOLVERS[job] = found
            while len(_RESOLVERS) > _KEEP:
                _RESOLVERS.popitem(last=False)[1].close()
        _RESOLVERS.move_to_end(job)
        return found


def release(job: VerifyJob) -> None:
    """Close this process's resolver of `job` (the caller's, after a run in this process)."""
    with _RESOLVERS_LOCK:
        found = _RESOLVERS.pop(job, None)
    if found is not None:
        found.close()


@dataclass
class VerifyResult:
    segment: Segment
    mismatches: list[Mismatch]


def verify_partition(job: VerifyJob, part: Partition) -> VerifyResult:
    """`verify_record` for every record of a partition, and its chain segment."""
    resolver = resolver_for(job)
    check = SegmentCheck()
    mismatches: list[Mismatch] = []
    for line in log_lines(part, job.names[part.file]):
        check.feed(line)
        if line.record is not None:
            found = verify_record(resolver, line.record, line.where)
            if found is not None:
                mismatches.append(found)
    return VerifyResult(check.finish(), mismatches)


@dataclass(frozen=True)
class AgainstJob:
    names: tuple[str, ...]
    rulesets: Rulesets
    pin: str


@dataclass
class AgainstResult:
    segment: Segment
    summary: DiffSummary


def against_partition(job: AgainstJob, part: Partition) -> AgainstResult:
    """`against_record` for every record of a partition (positions as the single-process
    replay numbers them: file index * FILE_STRIDE + line), and its chain segment."""
    policies = policies_for(job.rulesets)
    check = SegmentCheck()
    summary = DiffSummary(LOGGED, job.pin)
    base = part.file * FILE_STRIDE
    for line in log_lines(part, job.names[part.file]):
        check.feed(line)
        if line.record is not None:
            against_record(policies, job.pin, base + line.number, line.record, summary)
    return AgainstResult(check.finish(), summary)


# ---- runners -----------------------------------------------------------------------------------

def _in_order(executor: Executor, task: Callable[[Any, Partition], R], job: Any,
              parts: Sequence[Partition], progress: Progress | None,
              count: Callable[[R], int]) -> Iterator[tuple[Partition, R]]:
    """`executor.map`'s results in partition order (a result waits for those before it)."""
    waiting: dict[int, tuple[Partition, R]] = {}
    following, done = 0, 0
    for part, result in executor.map(task, job, parts):
        waiting[part.index] = (part, result)
        done += count(result)
        if progress is not None:
            progress(part.nbytes, done)
        while following in waiting:
            yield waiting.pop(following)
            following += 1


@dataclass
class VerifyReport:
    chain: ChainMerge
    mismatches: list[Mismatch]


def run_verify(executor: Executor, files: Sequence[Path], archives: Sequence[str],
               roots: Sequence[str | Path], block_size: int = BLOCK_SIZE,
               progress: Progress | None = None) -> VerifyReport:
    """`aturan replay --verify` over partitions: the chain merged in order, the mismatches
    in line order."""
    names = tuple(str(f) for f in files)
    job = VerifyJob(names, tuple(archives), tuple(str(Path(r).resolve()) for r in roots),
                    uuid.uuid4().hex)
    report = VerifyReport(ChainMerge(), [])
    try:
        with unmoved(files):
            parts = log_partitions(executor, files, block_size)
            for part, result in _in_order(executor, verify_partition, job, parts, progress,
                                          lambda r: r.segment.records):
                report.chain.add(result.segment, partial(log_lines, part, names[part.file]))
                report.mismatches += result.mismatches
    finally:
        release(job)
    return report


def run_against(executor: Executor, files: Sequence[Path], rulesets: Rulesets, pin: str,
                block_size: int = BLOCK_SIZE, progress: Progress | None = None
                ) -> tuple[DiffSummary, ChainMerge]:
    """`aturan replay --against` over partitions: the summaries merged (`DiffSummary.merge`,
    order-independent), the chain checked end to end."""
    names = tuple(str(f) for f in files)
    job = AgainstJob(names, rulesets, pin)
    total, chain = DiffSummary(LOGGED, pin), ChainMerge()
    with unmoved(files):
        parts = log_partitions(executor, files, block_size)
        for part, result in _in_order(executor, against_partition, job, parts, progress,
                                      lambda r: r.segment.records):
            chain.add(result.segment, partial(log_lines, part, names[part.file]))
            total = total.merge(result.summary)
    return total, chain
