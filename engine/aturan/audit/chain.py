"""The hash chain and the log files: how a record line is finished, named and read back.

Every record ends with `"chain"` (the id of its chain: one per log file family, kept across
rotation and restarts), `"seq"` (1, 2, 3, … within the chain) and `"prev"` (the sha256 of the
previous record's line, `GENESIS` for the first). The hash of a record is the sha256 of its
line's bytes without the newline. Editing a record changes its hash, which the next record's
`prev` then contradicts; removing one leaves a gap in `seq`. A crash can leave the last line
of a file incomplete: readers report it and go on (`LogLine.torn`); it is never a record.

The active file is `NAME.jsonl`; a rotated file is `NAME.<first seq, 12 digits>.jsonl`, then
`….jsonl.gz` once compressed."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

GENESIS = "sha256:" + "0" * 64
SUFFIX = ".jsonl"


def finish(body: str, chain: str, seq: int, prev: str) -> bytes:
    """A record line (without its newline) from a `RecordBuilder.body`, in UTF-8. A lone
    surrogate (JSON input may escape one, `"\\ud800"`; UTF-8 cannot hold it) can only be inside
    a JSON string, where `backslashreplace` writes it back as that same escape."""
    return f'{body},"chain":"{chain}","seq":{seq},"prev":"{prev}"}}'.encode(
        "utf-8", "backslashreplace")


def line_hash(line: bytes) -> str:
    return "sha256:" + hashlib.sha256(line).hexdigest()


def link_of(record: dict[str, Any] | None) -> tuple[str, int, str] | None:
    """A record's (chain, seq, prev) when it has them, well-formed (a chain id, a seq of 1 or
    more, a sha256 prev); None for any other JSON object, which is no record of a chain. The
    one test the chain check, the writer's recovery and the file order apply."""
    if record is None:
        return None
    chain, seq, prev = record.get("chain"), record.get("seq"), record.get("prev")
    if (not isinstance(chain, str) or not chain or isinstance(seq, bool)
            or not isinstance(seq, int) or seq < 1 or not isinstance(prev, str)
            or not prev.startswith("sha256:")):
        return None
    return chain, seq, prev


def stem_of(path: Path) -> str:
    """`decisions` for `decisions.jsonl` (the name rotated files share)."""
    name = path.name
    return name[: -len(SUFFIX)] if name.endswith(SUFFIX) else name


def rotated_pattern(stem: str) -> re.Pattern[str]:
    return re.compile(re.escape(stem) + r"\.(\d{12})(-\d+)?\.jsonl(\.gz)?$")


def rotated_name(stem: str, first_seq: int) -> str:
    return f"{stem}.{first_seq:012d}{SUFFIX}"


@dataclass(frozen=True)
class LogLine:
    """One line of a log file: its bytes (no newline), the record it holds (None when it does
    not parse), and whether it is an incomplete last line (`torn`)."""

    file: str
    number: int
    raw: bytes
    record: dict[str, Any] | None
    torn: bool = False
    damaged: str = ""  # a gzip file that cannot be read past here: why (never a crash's trace)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.number}"


def _open(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))  # closed by the caller
    return open(path, "rb")  # noqa: SIM115


def read_file(path: Path) -> Generator[LogLine, None, None]:
    """Every line of one log file (plain or gzip). A line without its newline at the end of the
    file is `torn` (a crash while it was written). A gzip file that is cut short or not gzip
    at all ends in a `damaged` line: the writer renames a compressed file into place only once
    it is whole, so no crash leaves one, and the records past the damage are lost."""
    shown = str(path)
    with _open(path) as handle:
        if path.name.endswith(".gz") and path.stat().st_size == 0:  # gzip reads it as no data
            yield LogLine(shown, 1, b"", None, damaged="the gzip file is empty (a compressed "
                          "log always has a header)")
            return
        counted = _Counted(handle)
        try:
            yield from parse_lines(counted, shown)
        except EOFError:
            yield LogLine(shown, counted.count + 1, b"", None, damaged="the gzip file ends "
                          "in the middle of its compressed data (it was cut short)")
        except (zlib.error, gzip.BadGzipFile) as exc:
            yield LogLine(shown, counted.count + 1, b"", None,
                          damaged=f"the gzip data is damaged ({exc})")


def parse_lines(raws: Iterable[bytes], shown: str, first_number: int = 1) -> Iterator[LogLine]:
    """Log lines from raw lines (each with its newline, but perhaps the last), numbered from
    `first_number` and named `shown`: one reading for a whole file and for a block of one
    (a partitioned replay reads a plain file a block at a time)."""
    number = first_number - 1
    for raw in raws:
        number += 1
        complete = raw.endswith(b"\n")
        text = raw.rstrip(b"\n")
        if not text.strip():
            continue
        record = None
        if complete:
            try:
                parsed = json.loads(text)
                record = parsed if isinstance(parsed, dict) else None
            except ValueError:
                record = None
        yield LogLine(shown, number, text, record, torn=not complete)


class _Counted:
    """The lines of a handle, counting those read: a gzip file cut short fails while the next
    line is read, and its torn line is numbered after the last one read."""

    def __init__(self, raws: Iterable[bytes]):
        self.raws = raws
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        for raw in self.raws:
            self.count += 1
            yield raw


def log_files(paths: Iterable[str | Path]) -> list[Path]:
    """The log files named or inside the folders named (`*.jsonl`, `*.jsonl.gz`), in the
    order the chain runs: by each file's first record (chain, seq), then by name."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and (
                p.name.endswith(SUFFIX) or p.name.endswith(SUFFIX + ".gz")))
        else:
            found.append(path)
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=_first_key)


def _first_key(path: Path) -> tuple[str, int, str]:
    try:
        for line in read_file(path):
            link = link_of(line.record)
            if link is not None:
                return (link[0], link[1], path.name)
    except OSError:
        pass
    return ("", 0, path.name)


def last_record(path: Path, within: int | None = None) -> LogLine | None:
    """The last complete record of a file (reading plain files from the end): the last line
    that is a chain's record (`link_of`), whatever follows it. `within`: look only at the
    last that many bytes of a plain file (None: all of it)."""
    if path.name.endswith(".gz"):
        last = None
        for line in read_file(path):
            if link_of(line.record) is not None:
                last = line
        return last
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        end = handle.tell()
        block = 65536
        tail = b""
        position = end
        floor = 0 if within is None else max(0, end - within)
        while position > floor:
            step = min(block, position - floor)
            position -= step
            handle.seek(position)
            tail = handle.read(step) + tail
            lines = tail.split(b"\n")
            # lines[-1] is what follows the last newline: empty, or a torn fragment
            for text in reversed(lines[1:-1] if position > 0 else lines[:-1]):
                if text.strip():
                    try:
                        record = json.loads(text)
                    except ValueError:
                        continue
                    if isinstance(record, dict) and link_of(record) is not None:
                        return LogLine(str(path), 0, text, record)
            block *= 2
    return None


@dataclass(frozen=True)
class Problem:
    """One thing the chain check found wrong, naming the record it is about."""

    kind: str  # edited | missing | duplicate | out-of-order | unreadable | torn
    message: str
    decision_id: str | None
    where: str
    failure: bool = True  # a torn last line (a crash) is reported but fails nothing

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "decision_id": self.decision_id, "where": self.where,
                "message": self.message, "failure": self.failure}


@dataclass
class _Head:
    seq: int
    hash: str
    decision_id: str | None
    where: str
    first_seq: int
    count: int


class ChainCheck:
    """Feed log lines in file order (`log_files`); collects a `Problem` for every break: a
    record whose `prev` is not the hash of the record before it (that record was edited), a
    gap in `seq` (records missing), a repeated or earlier `seq`, a line that is not a record.
    Memory holds one head per chain, whatever the size of the log."""

    def __init__(self) -> None:
        self.heads: dict[str, _Head] = {}
        self.problems: list[Problem] = []
        self.records = 0
        self._after_unreadable = False

    def feed(self, line: LogLine) -> None:
        record = line.record
        if record is None:
            if line.damaged:
                self.problems.append(Problem("unreadable", f"{line.damaged}: any records "
                                             "past here are lost", None, line.where))
                self._after_unreadable = True
            elif line.torn:
                self.problems.append(Problem("torn", "the last line of this file is incomplete "
                                             "(the process stopped while writing it); it is not "
                                             "a record", None, line.where, failure=False))
            else:
                self.problems.append(Problem("unreadable", "this line is not a JSON record",
                                             None, line.where))
                self._after_unreadable = True  # the next record's prev cannot be checked
            return
        self.records += 1
        link = link_of(record)
        decision_id = record.get("decision_id")
        if link is None:
            self.problems.append(Problem("unreadable", "the record has no chain, seq or prev",
                                         decision_id, line.where))
            return
        chain, seq, prev = link
        digest = line_hash(line.raw)
        head = self.heads.get(chain)
        unchecked, self._after_unreadable = self._after_unreadable, False
        if head is None:  # logs given from mid-chain: `summary` says so, it is not a break
            if seq == 1 and prev != GENESIS:
                self.problems.append(Problem("edited", "the first record of its chain does not "
                                             "start from the genesis hash", decision_id,
                                             line.where))
            self.heads[chain] = _Head(seq, digest, decision_id, line.where, seq, 1)
            return
        if seq <= head.seq:
            kind = "duplicate" if seq == head.seq else "out-of-order"
            self.problems.append(Problem(kind, f"seq {seq} comes after seq {head.seq} "
                                         f"({head.where}); the log was rearranged or a record "
                                         "repeated", decision_id, line.where))
            return
        if seq > head.seq + 1:
            missing = (f"seq {head.seq + 1}" if seq == head.seq + 2
                       else f"seq {head.seq + 1}-{seq - 1}")
            self.problems.append(Problem("missing", f"{missing} missing between decision "
                                         f"{head.decision_id} ({head.where}) and this one",
                                         decision_id, line.where))
        elif prev != head.hash and not unchecked:
            self.problems.append(Problem("edited", f"decision {head.decision_id} (seq {head.seq}, "
                                         f"{head.where}) was altered: its hash is not the prev "
                                         f"of the next record", head.decision_id, head.where))
        head.seq, head.hash, head.decision_id, head.where = seq, digest, decision_id, line.where
        head.count += 1

    @property
    def failed(self) -> bool:
        return any(p.failure for p in self.problems)

    def summary(self) -> list[dict[str, Any]]:
        """Per chain: its first and last seq seen, the head hash (compare it with one kept
        elsewhere to detect a removed last record) and whether it starts at the beginning."""
        return [{"chain": chain, "first_seq": h.first_seq, "last_seq": h.seq,
                 "records": h.count, "head": h.hash, "complete_start": h.first_seq == 1}
                for chain, h in sorted(self.heads.items())]
