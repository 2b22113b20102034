"""`DecisionLog`: records every decision of the `Policies` it is attached to, as JSON Lines.

`record` (the `Policies` hook) runs in the deciding thread: it takes an id, builds the record
body (`record.RecordBuilder`) and puts it on a bounded queue, nothing more; a writer thread
numbers, chains and appends the queued records in batches and rotates the file by size; a
compressor thread gzips the closed files. When the queue is full, `record` either waits for
room (`when_full="block"`, the default: back-pressure, nothing is lost) or drops the record
and counts it (`"drop"`: `dropped`, the `aturan_decision_log_dropped_total` metric), and the
decision then carries no `decision_id`.

Each batch reaches the operating system with one `os.write` of whole lines, so a process
killed at any moment (even `kill -9`) leaves a file readable up to its last complete record;
what was still queued is lost, at most the last `interval` seconds. `close` (called at
shutdown, and at interpreter exit) writes everything queued, fsyncs and finishes compressing.
A new `DecisionLog` on the same path continues the chain where the files end."""

from __future__ import annotations

import atexit
import gzip
import hashlib
import logging
import os
import shutil
import threading
import types
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..runtime.evaluate import Policies
from ..runtime.observe import DecisionEvent
from .archive import RulesetArchive
from .chain import (
    GENESIS,
    finish,
    last_record,
    line_hash,
    link_of,
    read_file,
    rotated_name,
    rotated_pattern,
    stem_of,
)
from .ids import DecisionIds
from .masking import Masker
from .record import RecordBuilder

LOG = logging.getLogger("aturan.audit")
MIB = 1024 * 1024
WHEN_FULL = ("block", "drop")
# queued records that wake the writer before its interval is up, and the most it writes at once
# (larger batches measured slower: a bigger join, colder caches)
_WAKE_BATCH = 256
# gzip of rotated files: with `isal` (ISA-L's deflate, a dependency) at its level 1, about
# 1.1 µs of CPU a record for files 9.8 times smaller; without it zlib at level 3, about 6 µs
# for 10.4 times smaller (level 6: 12 µs, 11.5 times). Both write standard gzip.
_gzip_module: types.ModuleType
try:
    from isal import igzip as _isal_gzip  # type: ignore[import-not-found,unused-ignore]
    _gzip_module, GZIP_LEVEL = _isal_gzip, 1
except ImportError:  # pragma: no cover - isal not installed
    _gzip_module, GZIP_LEVEL = gzip, 3


@dataclass(frozen=True)
class LogOptions:
    max_bytes: int = 64 * MIB  # rotate when the active file would grow past this
    when_full: str = "block"  # block | drop
    queue_size: int = 10_000  # records waiting for the writer
    interval: float = 0.05  # seconds: the longest a record waits in the queue when traffic is low
    compress: bool = True  # gzip rotated files

    def __post_init__(self) -> None:
        if self.when_full not in WHEN_FULL:
            raise ValueError(f"when_full must be block or drop, not {self.when_full!r}")
        if self.max_bytes < 1024:
            raise ValueError(f"max_bytes must be at least 1024, not {self.max_bytes}")
        if self.queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, not {self.queue_size}")


class NotADecisionLog(ValueError):
    """The active file holds lines but no decision log record: another program's file (an
    orders file given as --decision-log by mistake), which a log must not append to."""


# How far from its end a file whose first line is no record is searched for one: records are a
# few kB, so a log whose first line was damaged shows records there; a file that is no log is
# then refused after reading one line and this much, whatever its size.
PROBE_BYTES = 1024 * 1024


def check_log_file(path: Path) -> None:
    """Raise `NotADecisionLog` when `path` holds complete lines and is no decision log: its
    first complete line is no chain's record, and neither is any in its last `PROBE_BYTES`. A
    missing or empty file, a log, or a log whose only line is torn (a crash during its first
    write) are fine."""
    if not path.is_file():
        return
    with closing(read_file(path)) as lines:
        first = next((line for line in lines if not line.torn), None)
    if first is None or link_of(first.record) is not None or last_record(
            path, PROBE_BYTES) is not None:
        return
    raise NotADecisionLog(
        f"{path}:{first.number}: this line is not a decision log record, and neither is any "
        "near the file's end: it is not a decision log, and a log appends only to its own "
        "files; give another path")


class DecisionLog:
    """A decision log at `path` (the active file; rotated files go in the same folder, and the
    ruleset archive too unless `archive` says where)."""

    def __init__(self, path: str | Path, masker: Masker | None = None,
                 options: LogOptions = LogOptions(),
                 on_drop: Callable[[int], None] | None = None,
                 archive: RulesetArchive | None = None):
        self.path = Path(path)
        self.options = options
        self.masker = masker or Masker.default()
        self.archive = archive or RulesetArchive.beside(self.path)
        self.on_drop = on_drop
        self.written = 0
        self.dropped = 0
        self._builder = RecordBuilder(self.masker)
        self._ids = DecisionIds()
        self._queue: deque[str] = deque()
        self._wake = threading.Event()
        self._state = threading.Condition()  # room in the queue, writer idle
        self._busy = False
        self._closing = False
        self._closed = False
        self._stem = stem_of(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._compress_queue: deque[Path] = deque()
        self._compress_wake = threading.Event()
        self._recover()
        self._writer = threading.Thread(target=self._run, name="aturan-decision-log",
                                        daemon=True)
        self._compressor = threading.Thread(target=self._compress_run,
                                            name="aturan-decision-log-gzip", daemon=True)
        self._writer.start()
        self._compressor.start()
        ref = weakref.ref(self)
        self._atexit = lambda: (lambda log: log.close() if log is not None else None)(ref())
        atexit.register(self._atexit)

    # ---- the deciding thread ----------------------------------------------------------------

    def record(self, event: DecisionEvent) -> str | None:
        """The `Policies` hook: queue this decision's record; its id, or None if dropped.
        The id is the decision's own when `attach` gave it (`event.made_at` set), else new."""
        made_at = event.made_at
        if made_at is None:
            decision_id, made_at = self._ids.next()
        else:
            decision_id = event.decision.decision_id  # type: ignore[assignment]
        body = self._builder.body(event, decision_id, made_at)
        queue = self._queue
        if len(queue) >= self.options.queue_size or self._closing:
            if self._closing or self.options.when_full == "drop" or not self._wait_for_room():
                self._drop(1)
                return None
        queue.append(body)
        if len(queue) >= _WAKE_BATCH and not self._wake.is_set():
            self._wake.set()
        return decision_id

    def _wait_for_room(self) -> bool:
        self._wake.set()
        with self._state:
            while (len(self._queue) >= self.options.queue_size and not self._closing
                   and self._writer.is_alive()):
                self._state.wait(0.1)
        return not self._closing and self._writer.is_alive()

    def _drop(self, count: int) -> None:
        with self._state:
            self.dropped += count
        if self.on_drop is not None:
            self.on_drop(count)

    def attach(self, policies: Policies, roots: Iterable[str | Path]) -> Policies:
        """`policies` reporting to this log, after archiving every ruleset text it holds (read
        from `roots`, the folders it was loaded from)."""
        missing = self.archive.store(policies.collection, roots)
        if missing:
            LOG.warning("decision log: could not archive %s (the file changed after it was "
                        "loaded); their records cannot be re-derived from the archive",
                        ", ".join(missing))
        return policies.observed(self.record, self._ids.next)

    # ---- state ------------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """For /healthz: records written and dropped, queued, and the chain's head (the hash to
        keep elsewhere: a removed last record is only detectable against it)."""
        return {"path": str(self.path), "written": self.written, "dropped": self.dropped,
                "queued": len(self._queue), "chain": self._chain, "seq": self._seq,
                "head": self._prev}

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every record queued so far is written; False on time-out."""
        self._wake.set()
        with self._state:
            return self._state.wait_for(lambda: not self._queue and not self._busy
                                        or not self._writer.is_alive(), timeout)

    def close(self) -> None:
        """Write everything queued, fsync, finish compressing; later decisions are dropped."""
        with self._state:
            if self._closed:
                return
            self._closed = True
            self._closing = True
            self._state.notify_all()
        self._wake.set()
        self._writer.join()
        self._compress_wake.set()
        self._compressor.join()
        atexit.unregister(self._atexit)

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the writer thread ------------------------------------------------------------------

    def _recover(self) -> None:
        """Continue the chain of the files already at `path`; set a torn active file aside."""
        self._chain, self._seq, self._prev = "", 0, GENESIS
        check_log_file(self.path)  # before anything in the folder is touched
        pattern = rotated_pattern(self._stem)
        rotated = sorted((p for p in self.path.parent.iterdir() if pattern.match(p.name)),
                         key=lambda p: p.name)
        for plain in (p for p in rotated if not p.name.endswith(".gz")):
            if plain.with_name(plain.name + ".gz").exists():  # compressed before a crash
                plain.unlink()
            else:
                self._compress_queue.append(plain)
        candidates = [self.path] if self.path.exists() else []
        candidates += sorted({p.with_name(p.name.removesuffix(".gz")).name: p
                              for p in rotated}.values(), key=lambda p: p.name, reverse=True)
        for candidate in candidates:
            if not candidate.exists():
                continue
            last = last_record(candidate)
            link = link_of(last.record) if last is not None else None
            if last is not None and link is not None:
                self._chain, self._seq = link[0], link[1]
                self._prev = line_hash(last.raw)
                break
        if not self._chain:
            self._chain = self._ids.next()[0]
        self._size = 0
        self._first_seq = self._seq + 1
        if self.path.exists() and self.path.stat().st_size:
            with open(self.path, "rb") as handle:
                handle.seek(-1, 2)
                torn = handle.read(1) != b"\n"
            self._first_seq = self._first_seq_of(self.path)
            if torn:  # a crash mid-line: close that file as it is (evidence), start a clean one
                target = self._unique(rotated_name(self._stem, self._first_seq))
                os.replace(self.path, target)
                self._compress_queue.append(target)
                self._first_seq = self._seq + 1
            else:
                self._size = self.path.stat().st_size
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)

    def _first_seq_of(self, path: Path) -> int:
        for line in read_file(path):
            link = link_of(line.record)
            if link is not None:
                return link[1]
        return self._seq + 1

    def _unique(self, name: str) -> Path:
        """A rotated file's path that no file (plain or compressed) has yet."""
        target = self.path.with_name(name)
        number = 1
        while target.exists() or target.with_name(target.name + ".gz").exists():
            number += 1
            target = self.path.with_name(name.replace(".jsonl", f"-{number}.jsonl"))
        return target

    def _run(self) -> None:
        try:
            while True:
                self._wake.wait(self.options.interval)
                self._wake.clear()
                self._drain()
                if self._closing and not self._queue:
                    break
        finally:
            try:
                os.fsync(self._fd)
            except OSError:
                pass
            os.close(self._fd)
            with self._state:
                self._state.notify_all()

    def _drain(self) -> None:
        queue = self._queue
        max_bytes = self.options.max_bytes
        chain, prev = self._chain, self._prev
        sha256 = hashlib.sha256
        while queue:
            with self._state:
                self._busy = True
            out: list[bytes] = []
            count = 0
            while queue and count < 512:
                body = queue.popleft()
                count += 1
                seq = self._seq + 1
                try:
                    line = finish(body, chain, seq, prev)
                except Exception as exc:  # a bug, never a reason to stop writing the others
                    LOG.error("decision log %s: a record could not be written: %r", self.path,
                              exc)
                    self._drop(1)
                    continue
                if self._size and self._size + len(line) + 1 > max_bytes:
                    self._write(out)
                    out = []
                    self._rotate(seq)
                prev = "sha256:" + sha256(line).hexdigest()  # line_hash
                self._seq = seq
                out += (line, b"\n")
                self._size += len(line) + 1
            self._prev = prev
            self._write(out)
            with self._state:
                self._busy = False
                self._state.notify_all()

    def _write(self, lines: list[bytes]) -> None:
        if not lines:
            return
        data = b"".join(lines)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view):]
        except OSError as exc:  # the records are lost: the chain shows the gap, the count says so
            lost = len(lines) // 2
            LOG.error("decision log %s: %d records could not be written: %s", self.path, lost, exc)
            self._drop(lost)
            return
        self.written += len(lines) // 2

    def _rotate(self, next_seq: int) -> None:
        os.fsync(self._fd)
        os.close(self._fd)
        target = self._unique(rotated_name(self._stem, self._first_seq))
        os.replace(self.path, target)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        self._size = 0
        self._first_seq = next_seq
        if self.options.compress:
            self._compress_queue.append(target)
            self._compress_wake.set()

    # ---- the compressor thread --------------------------------------------------------------

    def _compress_run(self) -> None:
        while True:
            self._compress_wake.wait(1.0)
            self._compress_wake.clear()
            while self._compress_queue:
                if not self.options.compress:
                    self._compress_queue.clear()
                    break
                self._compress(self._compress_queue.popleft())
            if self._closed and not self._writer.is_alive() and not self._compress_queue:
                return

    def _compress(self, path: Path) -> None:
        target = path.with_name(path.name + ".gz")
        temporary = path.with_name(path.name + ".gz.tmp")
        try:
            with open(path, "rb") as source, \
                    _gzip_module.open(temporary, "wb", compresslevel=GZIP_LEVEL) as out:
                shutil.copyfileobj(source, out, 1024 * 1024)
            with open(temporary, "rb") as done:
                os.fsync(done.fileno())
            os.replace(temporary, target)
            path.unlink()
        except OSError as exc:
            LOG.error("decision log: could not compress %s: %s (left uncompressed)", path, exc)
            temporary.unlink(missing_ok=True)
