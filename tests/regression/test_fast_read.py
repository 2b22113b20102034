"""Corpus lines read by orjson (`regression.fastread`, `jsonio.fast_loads`) in the diff — streamed
and partitioned — and in batch decide give what the strict reader gives, byte for byte, on
ordinary orders and on every line where the two readers could part: duplicate keys, integers
beyond 64 bits, floats, `\\u` escapes, bad UTF-8, NaN, CRLF, blank and non-object lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import aturan
import aturan.regression.fastread as fastread
from aturan.cli import main
from aturan.errors import AturanError, error_body
from aturan.regression.diff import VersionPair, diff_items
from aturan.regression.sample import generate, plan_for, to_line
from aturan.runtime.decision import canonical_json
from aturan.runtime.jsonio import read_lines
from conftest import RULESETS

OLD, NEW = "tiktok_shop@1.0.0", "tiktok_shop@2.0.0"


def tricky(line: str) -> list[bytes]:
    """Variants of one order's line that the two readers could read differently."""
    facts = json.loads(line)
    total = facts["order"]["amounts"]["total"]
    body = line.rstrip("\n")
    assert f'"total":{total}' in body.replace(" ", "")
    text = json.dumps(facts, separators=(",", ":"))
    order_id = facts["order"]["id"]
    return [s.encode("utf-8") if isinstance(s, str) else s for s in (
        text.replace(f'"total":{total}', '"total":123456789012345678901234567890'),
        text.replace(f'"id":"{order_id}"', '"id":-18446744073709551616'),
        text.replace(f'"total":{total}', f'"total":{total}.0'),
        text.replace(f'"total":{total}', '"total":NaN'),
        text.replace(f'"total":{total}', f'"total":{total},"total":{total}'),  # duplicate key
        text.replace(f'"id":"{order_id}"', '"id":"\\u0052-1"'),
        text.replace(f'"id":"{order_id}"', '"id":"\\u00e9t\\u00e9"'),
        text.replace(f'"id":"{order_id}"', '"id":"caf\u00e9"'),  # UTF-8, no escape
        text.encode("utf-8").replace(f'"{order_id}"'.encode(), b'"\xff\xfe"'),  # not UTF-8
        text + "\r",  # CRLF once the newline follows
        "   " + text + "   ",
        "[1]", "{}", '{"order": 1,', "\t",
        text.replace(f'"total":{total}', '"total":-0'),
        text.replace(f'"total":{total}', f'"total":{total}e0'),
    )]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    import aturan.language.repository as repository

    sample = plan_for(repository.load_rulesets([RULESETS]), "tiktok_shop")
    lines = [to_line(f) for f in generate(sample, 200, seed=5)]
    path = tmp_path_factory.mktemp("fast") / "orders.jsonl"
    with open(path, "wb") as out:
        for i, line in enumerate(lines):
            out.write(line.encode("utf-8"))
            if i % 40 == 7:
                out.write(b"".join(variant + b"\n" for variant in tricky(line)))
    return path


def strict_diff(path: Path) -> tuple[str, list[str]]:
    """The diff's JSON and changes as the strict reader reads the corpus."""
    policies = aturan.load(RULESETS)
    changes: list = []
    with open(path, "rb") as handle:
        summary = diff_items(VersionPair(policies, OLD, NEW),
                             read_lines(enumerate(handle, start=1), str(path)), changes)
    policies.close()
    return (canonical_json({**summary.to_dict(), "source": str(path)}),
            [canonical_json(c.to_dict()) for c in changes])


def test_the_diff_reads_lines_as_the_strict_reader_does(corpus, capsys, tmp_path, monkeypatch):
    want, want_changes = strict_diff(corpus)
    report = json.loads(want)
    assert report["invalid"] >= 5 * 9 and report["changed"] > 20
    reads = []
    real = fastread.fast_loads
    monkeypatch.setattr(fastread, "fast_loads", lambda text: reads.append(1) or real(text))
    common = ["diff", OLD, NEW, "--rulesets", str(RULESETS), "--format", "json"]
    for how in (["--orders", str(corpus), "--workers", "1"],  # streamed
                ["--orders", str(corpus).replace("orders.jsonl", "order[s].jsonl"),
                 "--workers", "1", "--block-size", "64KiB"]):  # partitioned
        reads.clear()
        changes = tmp_path / "changes.jsonl"
        code = main([*common, *how, "--changes", str(changes)])
        out = capsys.readouterr().out
        assert code == 0
        got = json.loads(out)
        got["source"] = str(corpus)
        assert canonical_json(got) == want, how
        assert changes.read_text(encoding="utf-8").splitlines() == want_changes, how
        assert len(reads) >= report["orders"] - 5 * 2, how  # every non-blank line, by orjson


def test_batch_decide_reads_lines_as_the_strict_reader_does(corpus, tmp_path, monkeypatch):
    import aturan.runtime.evaluate as evaluate
    reads = []
    real = evaluate.fast_read
    monkeypatch.setattr(evaluate, "fast_read", lambda text: reads.append(1) or real(text))
    out = tmp_path / "out"
    assert main(["decide", str(corpus), "--out", str(out), "--rulesets", str(RULESETS),
                 "--block-size", "64KiB"]) == 1
    policies = aturan.load(RULESETS)
    want = []
    with open(corpus, "rb") as handle:
        for line, facts in read_lines(enumerate(handle, start=1), str(corpus)):
            try:
                if isinstance(facts, AturanError):
                    raise facts
                want.append(policies.decide(facts).to_json())
            except AturanError as exc:
                want.append(canonical_json({**error_body(exc), "file": str(corpus),
                                            "line": line}))
    policies.close()
    got = [line for part in sorted(out.glob("part-*.jsonl"))
           for line in part.read_text(encoding="utf-8").splitlines()]
    assert len(got) == len(want) and got == want
    assert len(reads) >= len(want) - 5 * 2  # every line but the unreadable ones, by orjson first
