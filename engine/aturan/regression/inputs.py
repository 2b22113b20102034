"""Corpus inputs for the partitioned runners (`partitioned`, `cluster`): JSON Lines files, plain
or gzipped, and Parquet, named by paths or globs, cut into partitions that any process can read
on its own, each order keeping its file and line (or row) number.

- A plain JSON Lines file is cut into blocks of `block_size` bytes at line boundaries: a
  block holds the lines that *start* inside it, so a reader seeks to its block and needs
  nothing else. The line number of a block's first line is the number of lines before it,
  which only a read of the earlier blocks tells: `count_lines` is that read, run as a first,
  cheap (I/O-bound) pass over every block but each file's last, wherever the blocks are.
- A `.gz` file is one partition (gzip cannot be split; many files are the layout that scales).
- A Parquet file is cut at row groups (grouped up to `block_size` compressed bytes); its row
  counts are in the footer, so row numbers are known up front. An order is either a `facts`
  column of JSON text (parsed by the same strict parser as a line), or the row itself, its
  columns the facts' top-level keys (`order`, `request`, `now`) as structs and lists.

Every line goes through `runtime.jsonio` (the one strict reader), so a bad line is an error
for that line, located `file:line`, and reading goes on. A position is unique over all inputs
and sorts in input order: `file index * FILE_STRIDE + line` (`diff.FILE_STRIDE`).
"""

from __future__ import annotations

import glob
import gzip
import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import Any

from ..errors import Diagnostic, FactsError, Location
from ..resources import load_schema
from ..runtime.jsonio import read_lines

BLOCK_SIZE = 32 * 1024 * 1024  # about 40,000 sampled orders: seconds of work per partition
_READ = 1 << 20
KINDS = ("lines", "gzip", "parquet")


class InputError(ValueError):
    """An input that names no file, or a file that cannot be opened (a usage error: nothing
    has been read yet)."""


@dataclass(frozen=True)
class Source:
    """One input file, as named (or matched by a glob): what it holds and how big it is."""

    path: str
    kind: str  # one of KINDS
    size: int


@dataclass(frozen=True)
class Partition:
    """A piece of one input file that a process reads by itself. `start`/`stop`: a byte range
    (`lines`), row groups (`parquet`), or the whole file (`gzip`: 0, size). `first_line` is the
    line (row) number of its first line, 0 until `count_lines` has told it."""

    index: int  # in input order over every source
    file: int  # which source (its index in the input list)
    path: str
    kind: str
    start: int
    stop: int
    nbytes: int  # bytes of the file it covers (compressed, for gzip and Parquet): progress
    first_line: int = 0

    @property
    def known(self) -> bool:
        return self.first_line > 0


def _kind(path: str) -> str:
    if path.endswith(".gz"):
        return "gzip"
    if path.endswith((".parquet", ".pq")):
        return "parquet"
    return "lines"


def resolve(names: Sequence[str]) -> list[Source]:
    """The files `names` (paths, or globs such as `orders/*.jsonl.gz`) name, in the order given,
    each glob's matches sorted; raises `InputError` for a name that matches nothing or a file
    that cannot be read. A file named twice is read twice (as `cat` would)."""
    sources: list[Source] = []
    for name in names:
        matches = sorted(glob.glob(name)) if glob.has_magic(name) else [name]
        if not matches:
            raise InputError(f"{name} matches no file")
        for path in matches:
            try:
                size = os.stat(path).st_size
                with open(path, "rb"):
                    pass
            except OSError as exc:
                raise InputError(f"cannot read {path}: {exc.strerror}") from exc
            if os.path.isdir(path):
                raise InputError(f"{path} is a folder; name its files (e.g. {path}/*.jsonl)")
            sources.append(Source(path, _kind(path), size))
    return sources


def plan(sources: Sequence[Source], block_size: int = BLOCK_SIZE) -> list[Partition]:
    """Every source cut into partitions, in input order. Only the first block of a plain file
    knows its first line (1); gzip and Parquet partitions always know theirs."""
    parts: list[Partition] = []
    for file, source in enumerate(sources):
        if source.kind == "gzip":
            parts.append(Partition(len(parts), file, source.path, "gzip", 0, source.size,
                                   source.size, 1))
        elif source.kind == "parquet":
            for start, stop, rows_before, nbytes in _row_group_runs(source.path, block_size):
                parts.append(Partition(len(parts), file, source.path, "parquet", start, stop,
                                       nbytes, rows_before + 1))
        else:
            for start in range(0, source.size, block_size):
                stop = min(start + block_size, source.size)
                parts.append(Partition(len(parts), file, source.path, "lines", start, stop,
                                       stop - start, 1 if start == 0 else 0))
    return parts


def to_count(parts: Sequence[Partition]) -> list[Partition]:
    """The blocks whose line counts give the others their first lines, and say which hold no
    line at all (`number` leaves those out): every block of a plain file cut into several."""
    cut = {p.file for p in parts if p.kind == "lines" and p.start > 0}
    return [p for p in parts if p.kind == "lines" and p.file in cut]


def count_lines(part: Partition) -> int:
    """How many lines start inside a block (`\\n` bytes just before its bytes, and the file's
    first byte): the same lines `read_partition` reads, counted without parsing them."""
    begin = max(part.start, 1) - 1
    count = 1 if part.start == 0 and part.stop > 0 else 0
    with open(part.path, "rb") as handle:
        handle.seek(begin)
        left = part.stop - 1 - begin
        while left > 0:
            data = handle.read(min(_READ, left))
            if not data:
                break
            count += data.count(b"\n")
            left -= len(data)
    return count


def number(parts: Sequence[Partition], counts: dict[int, int]) -> list[Partition]:
    """`parts` with every first line known, from `counts` (partition index -> lines, for the
    partitions `to_count` listed), and numbered again without the blocks in which no line
    starts: such a block is read by the one before it (whose last line runs through it), so it
    would only be an empty task and an empty output file. Its bytes count for that block's
    progress. A block size far below the lines' length (`--block-size 1`) thus gives one
    partition per line, not one per byte."""
    known: list[Partition] = []
    for part in parts:
        if not part.known:
            before = known[-1]
            part = replace(part, first_line=before.first_line + counts[before.index])
        known.append(part)
    out: list[Partition] = []
    for part in known:
        if counts.get(part.index) == 0 and out and out[-1].file == part.file:
            out[-1] = replace(out[-1], nbytes=out[-1].nbytes + part.nbytes)
        else:
            out.append(part if part.index == len(out) else replace(part, index=len(out)))
    return out


def read_partition(part: Partition, raw: bool = False) -> Iterator[tuple[int, Any]]:
    """(line or row number, facts or the `FactsError` for that line) for every order in the
    partition, in order; blank lines are skipped, as in any JSON Lines reader here. `raw`: a
    line's (or JSON column's) text instead of its facts, for the caller to read with
    `jsonio.fast_loads` (rows of nested Parquet columns, and unreadable lines, as before)."""
    assert part.known, "a block's first line must be counted before it is read"
    if part.kind == "parquet":
        yield from _parquet_rows(part, raw)
    elif part.kind == "gzip":
        yield from _gzip_lines(part, raw)
    else:
        yield from read_lines(enumerate(block_lines(part), start=part.first_line), part.path,
                              raw)


def block_lines(part: Partition) -> Iterator[bytes]:
    """The raw lines (each with its newline, the file's last maybe without) that start inside a
    plain block: what `read_partition` parses, and what a partitioned replay hashes."""
    with open(part.path, "rb") as handle:
        if part.start > 0:
            handle.seek(part.start - 1)
            if handle.read(1) != b"\n":
                handle.readline()  # a line begun in the block before belongs to that block
        at = handle.tell()
        while at < part.stop:
            line = handle.readline()
            if not line:
                break
            yield line
            at += len(line)


def _gzip_lines(part: Partition, raw_text: bool = False) -> Iterator[tuple[int, Any]]:
    """A gzip file's lines. A corrupt or truncated file is one bad line after the last good
    one (nothing past it can be read), not the end of the run."""
    number = part.first_line
    with gzip.open(part.path, "rb") as handle:
        lines = iter(handle)
        while True:
            try:
                raw = next(lines)
            except StopIteration:
                return
            except (OSError, EOFError, zlib.error) as exc:
                yield number, FactsError(Diagnostic(
                    "input-unreadable", f"cannot read past here: {exc or type(exc).__name__}",
                    Location(part.path, number, 1, "/")))
                return
            yield from read_lines(((number, raw),), part.path, raw_text)
            number += 1


# ---- Parquet -----------------------------------------------------------------------------------

def _parquet_file(path: str) -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise InputError("reading Parquet needs pyarrow: pip install 'aturan[cluster]'") from exc
    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises its own ArrowInvalid for a file that is not Parquet
        raise InputError(f"{path} is not a Parquet file: {exc}") from exc


def _row_group_runs(path: str, block_size: int) -> Iterator[tuple[int, int, int, int]]:
    """(first row group, end row group, rows before, compressed bytes) per run of row groups
    of at most `block_size` bytes (at least one group each)."""
    meta = _parquet_file(path).metadata
    start = rows = run_rows = nbytes = 0
    for group in range(meta.num_row_groups):
        info = meta.row_group(group)
        size = sum(info.column(c).total_compressed_size for c in range(info.num_columns))
        if group > start and nbytes + size > block_size:
            yield start, group, rows, nbytes
            start, rows, run_rows, nbytes = group, rows + run_rows, 0, 0
        run_rows += info.num_rows
        nbytes += size
    if meta.num_row_groups > start:
        yield start, meta.num_row_groups, rows, nbytes


def _parquet_rows(part: Partition, raw: bool = False) -> Iterator[tuple[int, Any]]:
    import pyarrow

    handle = _parquet_file(part.path)
    names = handle.schema_arrow.names
    groups = list(range(part.start, part.stop))
    item: tuple[int, Any] | None = None
    rows = _parquet_records(part, handle, groups, "facts" in names, raw)
    while True:
        try:
            item = next(rows)
        except StopIteration:
            return
        except (OSError, pyarrow.ArrowException) as exc:  # a damaged file: one bad row, stop
            row = part.first_line if item is None else item[0] + 1
            yield row, FactsError(Diagnostic("input-unreadable", f"cannot read past here: "
                                             f"{str(exc).splitlines()[0] if str(exc) else exc!r}",
                                             Location(part.path, row, 1, "/")))
            return
        yield item


def _parquet_records(part: Partition, handle: Any, groups: list[int], json_column: bool,
                     raw: bool = False
                     ) -> Iterator[tuple[int, Any]]:
    row = part.first_line
    if json_column:  # JSON text, one order a row: the strict parser, as for a line
        for batch in handle.iter_batches(row_groups=groups, columns=["facts"]):
            texts = batch.column(0).to_pylist()
            for text in texts:
                if text is None:
                    text = b""
                yield from read_lines([(row, text)], part.path, raw) if text.strip() else [
                    (row, FactsError(Diagnostic("json-empty", "no JSON in the facts column",
                                                Location(part.path, row, 1, "/"))))]
                row += 1
        return
    node = load_schema("facts")
    for batch in handle.iter_batches(row_groups=groups):
        for record in batch.to_pylist():
            yield row, _from_columns(record, node)
            row += 1


@cache
def _defs() -> dict[str, Any]:
    return dict(load_schema("facts").get("$defs", {}))


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref", "")
    return _defs().get(ref.rsplit("/", 1)[-1], node) if ref.startswith("#/$defs/") else node


def _nullable(node: dict[str, Any]) -> bool:
    node = _resolve(node)
    kinds = node.get("type")
    if kinds == "null" or (isinstance(kinds, list) and "null" in kinds):
        return True
    return any(_nullable(branch) for branch in node.get("anyOf", node.get("oneOf", ())))


def _from_columns(value: Any, node: dict[str, Any]) -> Any:
    """A Parquet row as facts. Parquet has no "absent": a null in a column whose field the
    facts schema does not let be null means the field is absent (`delivered` on an item that
    is not digital), so it is dropped; a null the schema allows (`paid_at`) stays. Timestamp
    columns become RFC 3339 text; anything else is left for validation to judge."""
    node = _resolve(node)
    if isinstance(value, dict):
        properties = node.get("properties", {})
        out = {}
        for key, child in value.items():
            schema = properties.get(key, {})
            if child is None and not _nullable(schema):
                continue
            out[key] = _from_columns(child, _object_branch(schema))
        return out
    if isinstance(value, list):
        return [_from_columns(item, _object_branch(node.get("items", {}))) for item in value]
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.isoformat()
    return value


def _object_branch(node: dict[str, Any]) -> dict[str, Any]:
    """The branch of an `anyOf` that describes an object or a list (`seller_response`: a
    response object or null), else the node itself."""
    node = _resolve(node)
    for branch in node.get("anyOf", ()):
        branch = _resolve(branch)
        if branch.get("type") in ("object", "array"):
            return branch
    return node


def is_plain_lines(name: str) -> bool:
    """A name that is one plain JSON Lines file (no glob, not gzip or Parquet)."""
    return not glob.has_magic(name) and _kind(name) == "lines"
