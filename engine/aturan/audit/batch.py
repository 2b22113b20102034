"""The decision log of a batch: `aturan decide ORDERS... --out DIR --decision-log LOG`.

A batch is cut into partitions that run anywhere (this process, worker processes, a Dask
cluster) and may run twice (a retry after a worker died), each a pure function of (job,
partition). Its log follows the same cut: **one log per partition**, with its own hash chain,
named after the run and the partition beside `LOG`:

    LOG = log/decisions.jsonl  ->  log/decisions.<run>.part-00003.jsonl (and its rotated files,
                                   log/decisions.<run>.part-00003.<first seq>.jsonl.gz)
                                   log/aturan-rulesets/ (the archive, shared)

`<run>` (`BatchLogs.new`: UTC time and a random suffix) keeps every run's logs apart, so a
later run never replaces an earlier run's records. A partition writes its log in a private
temporary folder beside `LOG` and moves the finished files into place when it has decided
every order (closed: written, fsynced, rotated files gzipped); a partition that fails leaves
no log, and a retried one replaces what an earlier attempt of the same run may have moved in.
A killed attempt (a worker process gone) leaves its private folder; `clean`, once the run
has finished, removes those of the run. A batch always waits for its log (`block`: nothing to answer quickly), and a record a failed
write lost fails its partition, so a finished run has a record for every decision it wrote.
A log per worker process would instead keep a dead attempt's records beside the retry's and
stay open for as long as a cluster's worker lives.

The HMAC key is never part of the job: each worker reads it from the key file (a path every
worker can read) or from its own `$ATURAN_DECISION_LOG_KEY`. `aturan replay LOG_FOLDER
--verify` checks every partition's chain and re-derives every record."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..runtime.evaluate import Policies
from .archive import RulesetArchive
from .chain import SUFFIX, rotated_pattern, stem_of
from .masking import Masker
from .settings import LogSettings
from .writer import DecisionLog, LogOptions


@dataclass(frozen=True)
class BatchLogs:
    """What every partition of one batch run needs to log its decisions (pickled to workers):
    the settings (`settings.path` is `LOG`, absolute), the run's name, and the folders the
    rulesets were loaded from (archived by digest beside `LOG`)."""

    settings: LogSettings
    run: str
    roots: tuple[str, ...]

    @classmethod
    def new(cls, settings: LogSettings, roots: tuple[str, ...]) -> BatchLogs:
        """A run named by the UTC time it starts and six random hex digits."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        return cls(settings, f"{stamp}-{secrets.token_hex(3)}",
                   tuple(str(Path(r).resolve()) for r in roots))

    def stem(self, index: int) -> str:
        """`decisions.<run>.part-00003`: the file name (less `.jsonl`) of partition `index`."""
        return f"{stem_of(self.settings.path)}.{self.run}.part-{index:05d}"

    def pattern(self) -> str:
        """A glob of this run's log files, for a person."""
        return str(self.settings.path.with_name(f"{stem_of(self.settings.path)}.{self.run}."
                                                "part-*.jsonl*"))

    @contextmanager
    def observe(self, policies: Policies, index: int) -> Iterator[Policies]:
        """`policies` logging to partition `index`'s own log while the block runs; on leaving
        it normally the log is closed and its files moved into place, on an error dropped."""
        settings = self.settings
        folder = settings.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        stem = self.stem(index)
        private = Path(tempfile.mkdtemp(
            prefix=f".{stem}.{os.getpid()}-{threading.get_ident()}.", dir=folder))
        try:
            log = DecisionLog(private / (stem + SUFFIX),
                              Masker.default(settings.rules, settings.key()),
                              LogOptions(settings.max_bytes, "block", settings.queue_size),
                              archive=RulesetArchive.beside(settings.path))
            try:
                yield log.attach(policies, self.roots)
            finally:
                log.close()
            if log.dropped:  # records a failed write lost: the partition fails, it never drops
                raise OSError(f"decision log {stem}: {log.dropped:,} records could not be "
                              "written")
            self._publish(private, folder, stem)
        finally:
            shutil.rmtree(private, ignore_errors=True)

    def clean(self) -> list[Path]:
        """Remove the private folders this run's killed attempts left beside `LOG` (records of
        decisions a retry made again); call once the run has finished. Returns them."""
        folder = self.settings.path.parent
        prefix = f".{stem_of(self.settings.path)}.{self.run}.part-"
        left = [p for p in folder.iterdir() if p.is_dir() and p.name.startswith(prefix)] \
            if folder.is_dir() else []
        for private in left:
            shutil.rmtree(private, ignore_errors=True)
        return left

    @staticmethod
    def _publish(private: Path, folder: Path, stem: str) -> None:
        """Move a closed partition log's files into `folder`, first removing what an earlier
        attempt of the same partition of this run left there."""
        pattern = rotated_pattern(stem)
        for stale in folder.iterdir():
            if stale.name == stem + SUFFIX or pattern.match(stale.name):
                stale.unlink()
        for done in sorted(private.iterdir()):
            if done.is_file():
                os.replace(done, folder / done.name)
        descriptor = os.open(folder, os.O_RDONLY)
        try:  # the renames themselves durable, as the files' contents already are
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
