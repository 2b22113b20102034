"""Partitioned inputs (`regression.inputs`, `regression.partitioned`) without a cluster: blocks
cut anywhere read every line once with its true line number; many files, gzip and Parquet
give the summary one file gives; bad lines are counted with their file and line."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aturan.cli import main
from aturan.errors import EngineError, FactsError
from aturan.regression.diffrun import RunOptions, run_diff
from aturan.regression.inputs import InputError, number, plan, read_partition, resolve, to_count
from aturan.regression.partitioned import (
    InProcess,
    Rulesets,
    count_partition,
    partitions,
    policies_for,
    run_diff_partitioned,
)
from aturan.regression.sample import generate, plan_for, to_line
from conftest import RULESETS

OLD, NEW = "tiktok_shop@1.0.0", "tiktok_shop@2.0.0"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """600 sampled tiktok_shop orders as lines, and a folder to write inputs into."""
    import aturan.language.repository as repository

    sample = plan_for(repository.load_rulesets([RULESETS]), "tiktok_shop")
    return [to_line(f) for f in generate(sample, 600, seed=5)], tmp_path_factory.mktemp("in")


def numbered(path, block_size):
    parts = plan(resolve([str(path)]), block_size)
    counts = {p.index: count_partition(None, p) for p in to_count(parts)}
    return [(line, facts) for p in number(parts, counts) for line, facts in read_partition(p)]


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b""])
def test_blocks_cut_anywhere_read_each_line_once_with_its_number(tmp_path, ending):
    """Every block size from 1 byte up, with blank lines, a bad line and no final newline:
    the same (line number, value) pairs as reading the file whole."""
    rows = [b'{"a": 1}', b"", b'{"b": 22}', b"{bad", b"", b"", b'{"c": [1, 2, 3]}', b"7"]
    data = b"\n".join(row.rstrip(b"\n") + (ending[:-1] if ending else b"") for row in rows)
    data += ending
    path = tmp_path / "x.jsonl"
    path.write_bytes(data)

    def plain(items):
        return [(n, v.first.code if isinstance(v, FactsError) else v) for n, v in items]

    whole = plain(numbered(path, len(data) + 1))
    assert [n for n, _ in whole] == [1, 3, 4, 7, 8]
    assert whole[2] == (4, "json-syntax")
    for size in range(1, len(data) + 2):
        assert plain(numbered(path, size)) == whole, size


def test_names_that_match_nothing_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="matches no file"):
        resolve([str(tmp_path / "*.jsonl")])
    with pytest.raises(InputError, match="cannot read"):
        resolve([str(tmp_path / "missing.jsonl")])
    assert main(["diff", OLD, NEW, "--orders", str(tmp_path / "none-*.jsonl")]) == 2


def test_one_file_in_blocks_gives_the_streamed_summary(corpus):
    lines, folder = corpus
    path = folder / "all.jsonl"
    path.write_text("".join(lines[:300]) + '{"nope\n' + "".join(lines[300:]), encoding="utf-8")
    with open(path, "rb") as stream:
        streamed = run_diff([RULESETS], OLD, NEW, stream, str(path), RunOptions(workers=1))
    rulesets = Rulesets.of([RULESETS], OLD, NEW)
    executor = InProcess()
    for block in (4096, 100_000, 10**9):
        layout = partitions(executor, [str(path)], block)
        assert (len(layout.parts) > 10) == (block == 4096)
        got = run_diff_partitioned(executor, rulesets, OLD, NEW, layout)
        assert got.to_dict(layout.sources) == streamed.to_dict()
    assert streamed.invalid == 1 and streamed.changed > 50


def write_parquet_json(lines, path, rows_per_group):
    table = pa.table({"facts": [line.rstrip("\n") for line in lines]})
    pq.write_table(table, path, row_group_size=rows_per_group)


def test_many_files_gzip_and_parquet_name_their_file_and_line(corpus, capsys):
    """The corpus as a plain file, a .gz, Parquet with a JSON column and Parquet with nested
    columns: the counts of one file, examples located `file:line` (`row`), bad lines too."""
    lines, folder = corpus
    one = folder / "one.jsonl"
    one.write_text("".join(lines), encoding="utf-8")
    a, b, c, d = folder / "a.jsonl", folder / "b.jsonl.gz", folder / "c.parquet", folder / "d.pq"
    a.write_text("".join(lines[:150]), encoding="utf-8")
    with gzip.open(b, "wt", encoding="utf-8") as out:
        out.write("".join(lines[150:300]))
    write_parquet_json(lines[300:450], c, 40)
    pq.write_table(pa.Table.from_pylist([json.loads(x) for x in lines[450:]]), d,
                   row_group_size=50)
    executor, rulesets = InProcess(), Rulesets.of([RULESETS], OLD, NEW)
    whole = run_diff_partitioned(executor, rulesets, OLD, NEW,
                                 partitions(executor, [str(one)]))
    layout = partitions(executor, [str(a), str(b), str(c), str(d)], 8192)
    assert [p.kind for p in layout.parts].count("parquet") == 4 + 3
    split = run_diff_partitioned(executor, rulesets, OLD, NEW, layout)
    assert split.to_dict()["by_outcome"] != [] and split.invalid == 0
    for key in ("orders", "changed", "unchanged", "changed_parts"):
        assert split.to_dict()[key] == whole.to_dict()[key]
    counts = {(r["old"], r["new"]): r["count"] for r in split.to_dict()["by_rule"]}
    assert counts == {(r["old"], r["new"]): r["count"] for r in whole.to_dict()["by_rule"]}
    # position i of the whole file is line (i - offset) of the file that holds it
    offsets = [(str(a), 0), (str(b), 150), (str(c), 300), (str(d), 450)]
    examples = [e for row in split.to_dict(layout.sources)["by_rule"] for e in row["examples"]]
    assert {e["file"] for e in examples} == {str(a), str(b), str(c), str(d)}
    for e in examples:
        offset = dict(offsets)[e["file"]]
        assert json.loads(lines[offset + e["line"] - 1])["order"]["id"] == e["order_id"]
    # a truncated .gz and a bad Parquet row: counted, located, never fatal
    broken = folder / "broken.jsonl.gz"
    broken.write_bytes(gzip.compress("".join(lines[:20]).encode())[:-30])
    bad = folder / "bad.parquet"
    write_parquet_json(lines[:3] + ["{not json"], bad, 10)
    assert main(["diff", OLD, NEW, "--orders", str(broken), "--orders", str(bad),
                 "--rulesets", str(RULESETS), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    errors = {r["code"]: r["examples"] for r in data["invalid_orders"]}
    assert errors["json-syntax"] == [{"file": str(bad), "line": 4, "order_id": ""}]
    (unreadable,) = errors["input-unreadable"]
    assert unreadable["file"] == str(broken) and unreadable["line"] >= 1
    assert data["invalid"] == 2 and data["source"] == f"{broken} {bad}"


def test_a_worker_with_other_rulesets_refuses_to_decide(tmp_path):
    rulesets = Rulesets.of([RULESETS], OLD, NEW)
    forged = Rulesets(rulesets.paths, tuple((k, "sha256:" + "0" * 64)
                                            for k, _ in rulesets.digests))
    with pytest.raises(EngineError, match="not the caller's"):
        policies_for(forged)
    assert policies_for(rulesets) is policies_for(rulesets)  # loaded once per process


def test_batch_decide_in_process_writes_partitions_and_a_manifest(corpus, tmp_path, capsys):
    lines, folder = corpus
    path = folder / "batch.jsonl"
    path.write_text("".join(lines[:50]) + "[1]\n" + "".join(lines[50:100]), encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "part-00099.jsonl").write_text("stale", encoding="utf-8")
    code = main(["decide", str(path), "--out", str(out), "--rulesets", str(RULESETS),
                 "--block-size", "20000"])
    err = capsys.readouterr().err
    assert code == 1  # one line could not be decided, as `aturan decide x.jsonl` exits 1
    assert "101 orders: 100 decided, 1 invalid" in err
    assert f"{path}:51: facts-type:" in err
    manifest = json.loads((out / "manifest.json").read_text())
    names = sorted(p.name for p in out.glob("part-*.jsonl"))
    assert names == [p["output"] for p in manifest["partitions"]] and len(names) > 1
    written = [json.loads(x) for n in names for x in (out / n).read_text().splitlines()]
    assert len(written) == 101 and manifest["decided"] == 100
    assert written[50] == {**written[50], "file": str(path), "line": 51}
    from aturan import load
    policies = load(RULESETS)
    assert written[0] == json.loads(policies.decide(json.loads(lines[0])).to_json())
    policies.close()


def test_a_block_size_below_the_line_length_gives_a_partition_per_line_not_per_byte(
        corpus, tmp_path, capsys):
    """`--block-size 1` wrote one output file per byte of the input (tens of thousands for 50
    orders), nearly all empty: blocks in which no line starts are read by the block before."""
    lines, folder = corpus
    path = folder / "tiny-blocks.jsonl"
    path.write_text("".join(lines[:20]), encoding="utf-8")
    whole, tiny = tmp_path / "whole", tmp_path / "tiny"
    for out, size in ((whole, "1MiB"), (tiny, "1")):
        assert main(["decide", str(path), "--out", str(out), "--rulesets", str(RULESETS),
                     "--block-size", size, "--no-progress"]) == 0
    assert "20 orders: 20 decided, 0 invalid" in capsys.readouterr().err
    names = sorted(p.name for p in tiny.glob("part-*.jsonl"))
    assert names == [f"part-{i:05d}.jsonl" for i in range(20)]  # one a line, numbered in order
    manifest = json.loads((tiny / "manifest.json").read_text())
    assert [p["first_line"] for p in manifest["partitions"]] == list(range(1, 21))
    assert b"".join((tiny / n).read_bytes() for n in names) == (
        whole / "part-00000.jsonl").read_bytes()
    parts = partitions(InProcess(), [str(path)], 1)
    assert len(parts.parts) == 20 and parts.nbytes == path.stat().st_size  # progress adds up


def test_a_line_that_ends_mid_document_is_located_on_that_line():
    from aturan.runtime.jsonio import read_lines

    ((line, error),) = read_lines([(7, b'{"order": 1,\n')], "x.jsonl")
    assert line == 7 and isinstance(error, FactsError)
    assert (error.first.location.file, error.first.location.line) == ("x.jsonl", 7)


def test_a_damaged_parquet_file_is_one_bad_row_after_the_good_ones(corpus, tmp_path):
    lines, _ = corpus
    path = tmp_path / "damaged.parquet"
    write_parquet_json(lines[:40], path, 10)
    data = bytearray(path.read_bytes())
    parts = plan(resolve([str(path)]), 1)
    assert len(parts) == 4
    footer = int.from_bytes(data[-8:-4], "little")
    end = len(data) - 8 - footer  # the row groups' bytes end here; the footer stays intact
    data[end // 2:end] = b"\xff" * (end - end // 2)
    path.write_bytes(bytes(data))
    items = [item for part in plan(resolve([str(path)]), 1) for item in read_partition(part)]
    bad = [(n, v.first.code) for n, v in items if isinstance(v, FactsError)]
    assert bad and {code for _, code in bad} <= {"input-unreadable", "json-syntax"}
    assert "input-unreadable" in {code for _, code in bad}
    assert items[0] == (1, json.loads(lines[0]))  # the rows before the damage are read


def test_an_unwritable_output_folder_is_one_line_and_exit_1(corpus, tmp_path, capsys):
    lines, folder = corpus
    path = folder / "few.jsonl"
    path.write_text("".join(lines[:5]), encoding="utf-8")
    blocked = tmp_path / "file"
    blocked.write_text("", encoding="utf-8")
    assert main(["decide", str(path), "--out", str(blocked / "sub"),
                 "--rulesets", str(RULESETS)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"aturan: {blocked / 'sub'}")


def test_partitioned_inputs_default_to_a_process_per_cpu(corpus, monkeypatch, capsys):
    """`--workers 0` (the default) means one process per CPU for partitioned inputs too."""
    import aturan.cli.scale as scale

    lines, folder = corpus
    path = folder / "default.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write("".join(lines[:20]))
    made = []

    class Pool(InProcess):
        def __init__(self, workers: int):
            made.append(workers)

    monkeypatch.setattr(scale, "ProcessPool", Pool)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert main(["diff", OLD, NEW, "--orders", str(path), "--rulesets", str(RULESETS),
                 "--format", "json"]) == 0
    assert made == [2] and json.loads(capsys.readouterr().out)["orders"] == 20
