"""The decision log's writer: rotation by size with gzip, one hash chain across files and
restarts, a torn last line set aside, back-pressure or counted drops when the queue is full,
everything written on close, and a readable log after `kill -9` (a real process)."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import aturan
from aturan.audit import DecisionLog, LogOptions
from aturan.audit.chain import GENESIS, ChainCheck, line_hash, log_files, read_file
from conftest import ROOT, RULESETS, make_facts


def facts_for(n: int) -> dict:
    # a distinct total per order, its parts adding up (shipping carries the difference)
    return make_facts({"order": {"id": f"W-{n}",
                                 "amounts": {"total": 162000 + n, "shipping": 12000 + n}}})


def records_in(folder: Path) -> list[dict]:
    return [line.record for path in log_files([folder]) for line in read_file(path)
            if line.record is not None]


def check(folder: Path) -> ChainCheck:
    chain = ChainCheck()
    for path in log_files([folder]):
        for line in read_file(path):
            chain.feed(line)
    return chain


def test_rotation_gzips_closed_files_and_the_chain_runs_across_them(tmp_path, policies):
    log = DecisionLog(tmp_path / "decisions.jsonl", options=LogOptions(max_bytes=8192))
    observed = log.attach(policies, [RULESETS])
    ids = [observed.decide(facts_for(n)).decision_id for n in range(40)]
    log.close()
    files = log_files([tmp_path])
    rotated = [f for f in files if f.name != "decisions.jsonl"]
    assert len(rotated) >= 3 and all(f.name.endswith(".jsonl.gz") for f in rotated)
    assert all(f.stat().st_size <= 8192 for f in files if not f.name.endswith(".gz"))
    for path in rotated:  # each closed file: whole records, under the size limit before gzip
        with gzip.open(path, "rb") as handle:
            data = handle.read()
        assert data.endswith(b"\n") and len(data) <= 8192
    assert [r["decision_id"] for r in records_in(tmp_path)] == ids
    assert [r["seq"] for r in records_in(tmp_path)] == list(range(1, 41))
    chain = check(tmp_path)
    assert chain.problems == [] and chain.summary()[0]["records"] == 40
    # the first record of each file continues from the last of the one before
    last = None
    for path in files:
        lines = [line for line in read_file(path)]
        if last is not None:
            assert lines[0].record["prev"] == line_hash(last.raw)
        last = lines[-1]
    assert not list(tmp_path.glob("*.tmp")) and not [f for f in tmp_path.glob("*.jsonl")
                                                     if f.name != "decisions.jsonl"]


def test_a_new_log_on_the_same_path_continues_the_chain(tmp_path, policies):
    for round_ in range(2):
        with DecisionLog(tmp_path / "decisions.jsonl") as log:
            observed = log.attach(policies, [RULESETS])
            for n in range(3):
                observed.decide(facts_for(10 * round_ + n))
    records = records_in(tmp_path)
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert len({r["chain"] for r in records}) == 1
    assert records[0]["prev"] == GENESIS
    assert check(tmp_path).problems == []


def test_a_torn_last_line_is_set_aside_and_the_chain_goes_on(tmp_path, policies):
    path = tmp_path / "decisions.jsonl"
    with DecisionLog(path) as log:
        observed = log.attach(policies, [RULESETS])
        for n in range(3):
            observed.decide(facts_for(n))
    with open(path, "ab") as handle:  # what a crash in the middle of a write leaves
        handle.write(b'{"v":1,"decision_id":"01a2')
    with DecisionLog(path) as log:
        observed = log.attach(policies, [RULESETS])
        observed.decide(facts_for(3))
    records = records_in(tmp_path)
    assert [r["seq"] for r in records] == [1, 2, 3, 4]
    chain = check(tmp_path)
    assert [p.kind for p in chain.problems] == ["torn"] and not chain.failed
    assert len(log_files([tmp_path])) == 2  # the torn file kept (compressed) as evidence


@pytest.mark.parametrize("last", ['"abc"', "null", "1e400", "0", "true"])
def test_a_last_record_with_a_malformed_seq_is_skipped_and_the_chain_goes_on(tmp_path, policies,
                                                                            last):
    """A hand-edited last line (seq not a whole number of 1 or more) is no record to continue
    from: the log goes on from the record before it (it crashed with ValueError, TypeError or
    OverflowError in the writer's recovery, or chained from a bogus seq)."""
    path = tmp_path / "decisions.jsonl"
    with DecisionLog(path) as log:
        observed = log.attach(policies, [RULESETS])
        for n in range(2):
            observed.decide(facts_for(n))
    with open(path, "ab") as handle:
        handle.write(b'{"chain":"x","seq":' + last.encode() + b',"prev":"sha256:0"}\n')
    with DecisionLog(path) as log:
        log.attach(policies, [RULESETS]).decide(facts_for(2))
    records = records_in(tmp_path)
    assert [r["seq"] for r in records if isinstance(r.get("decision_id"), str)] == [1, 2, 3]
    assert len({r["chain"] for r in records if isinstance(r.get("decision_id"), str)}) == 1
    assert [p.kind for p in check(tmp_path).problems] == ["unreadable"]  # the edited line


def test_a_file_that_is_not_a_decision_log_is_refused_and_left_as_it_was(tmp_path, policies):
    """An orders file given as the log's path: nothing is appended to it (it was, on a new
    chain), and the error names the file and its first line."""
    from aturan.audit.writer import NotADecisionLog
    path = tmp_path / "orders.jsonl"
    text = json.dumps(facts_for(0)) + "\n"
    path.write_text(text)
    with pytest.raises(NotADecisionLog, match=r"orders\.jsonl:1: this line is not a decision"):
        DecisionLog(path)
    assert path.read_text() == text and sorted(p.name for p in tmp_path.iterdir()) == [
        "orders.jsonl"]


def test_refusing_a_large_file_that_is_no_log_reads_one_line_and_its_end(tmp_path):
    """The check held the whole file in memory (a 100 MB orders file: 336 MiB) and parsed
    its lines again for each doubling of its block; it now reads the first line and at most
    `PROBE_BYTES` of the end, whatever the file's size."""
    import tracemalloc

    from aturan.audit.writer import PROBE_BYTES, NotADecisionLog, check_log_file
    path = tmp_path / "orders.jsonl"
    line = json.dumps(facts_for(0)) + "\n"
    path.write_text(line * (12 * PROBE_BYTES // len(line)))
    tracemalloc.start()
    try:
        with pytest.raises(NotADecisionLog, match=r"orders\.jsonl:1: this line is not a decision"):
            check_log_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * PROBE_BYTES, peak


def test_a_log_whose_first_line_was_damaged_is_still_a_log(tmp_path, policies):
    """Its first line is no record, but the records after it make it a log: it is continued,
    not refused as another program's file."""
    path = tmp_path / "decisions.jsonl"
    with DecisionLog(path) as log:
        observed = log.attach(policies, [RULESETS])
        for n in range(3):
            observed.decide(facts_for(n))
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join([b"{damaged"] + lines[1:]))
    with DecisionLog(path) as log:
        log.attach(policies, [RULESETS]).decide(facts_for(3))
    seqs = [r["seq"] for r in records_in(tmp_path) if isinstance(r.get("decision_id"), str)]
    assert seqs[-1] == seqs[-2] + 1  # the chain went on from the last record


def _blocked(log: DecisionLog) -> threading.Event:
    """Hold the writer thread until the returned event is set."""
    release = threading.Event()
    original = log._drain

    def drain() -> None:
        release.wait()
        original()
    log._drain = drain  # type: ignore[method-assign]
    return release


def test_when_full_drop_counts_every_dropped_record_and_leaves_those_decisions_without_id(
        tmp_path, policies):
    counted = []
    log = DecisionLog(tmp_path / "d.jsonl", options=LogOptions(queue_size=2, when_full="drop"),
                      on_drop=counted.append)
    release = _blocked(log)
    observed = log.attach(policies, [RULESETS])
    decisions = [observed.decide(facts_for(n)) for n in range(10)]
    release.set()
    log.close()
    kept = [d.decision_id for d in decisions if d.decision_id]
    assert len(kept) == 2 and log.dropped == 8 and sum(counted) == 8
    assert [r["decision_id"] for r in records_in(tmp_path)] == kept


def test_when_full_block_waits_for_room_and_loses_nothing(tmp_path, policies):
    log = DecisionLog(tmp_path / "d.jsonl", options=LogOptions(queue_size=2))
    release = _blocked(log)
    observed = log.attach(policies, [RULESETS])
    decisions: list = []
    worker = threading.Thread(target=lambda: decisions.extend(
        observed.decide(facts_for(n)) for n in range(6)))
    worker.start()
    worker.join(timeout=0.5)
    assert worker.is_alive()  # held: the queue is full and the writer cannot drain
    release.set()
    worker.join(timeout=30)
    assert not worker.is_alive()
    log.close()
    assert log.dropped == 0
    assert [r["decision_id"] for r in records_in(tmp_path)] == [d.decision_id for d in decisions]


def test_close_writes_everything_and_later_decisions_are_not_logged(tmp_path, policies):
    log = DecisionLog(tmp_path / "d.jsonl", options=LogOptions(interval=5.0))
    observed = log.attach(policies, [RULESETS])
    ids = [observed.decide(facts_for(n)).decision_id for n in range(20)]
    log.close()
    log.close()  # idempotent
    assert [r["decision_id"] for r in records_in(tmp_path)] == ids
    late = observed.decide(facts_for(99))
    assert late.decision_id is None and log.dropped == 1


def test_the_archive_holds_each_served_text_once_by_digest(tmp_path, policies):
    log = DecisionLog(tmp_path / "d.jsonl")
    log.attach(policies, [RULESETS])
    copies = sorted((tmp_path / "aturan-rulesets").glob("sha256-*/*/*.yaml"))
    assert len(copies) == len(policies.collection.versions)
    for rs in policies.collection.versions:
        [copy] = (tmp_path / "aturan-rulesets" / rs.digest.replace(":", "-")).glob("*/*.yaml")
        assert copy.read_bytes() == (RULESETS.parent / rs.path).read_bytes()
    stamps = [c.stat().st_mtime_ns for c in copies]
    log.attach(policies, [RULESETS])  # written once: never rewritten
    assert [c.stat().st_mtime_ns for c in copies] == stamps
    log.close()


def _orders_file(folder: Path, count: int) -> Path:
    path = folder / "orders.jsonl"
    path.write_text("".join(json.dumps(facts_for(n)) + "\n" for n in range(count)),
                    encoding="utf-8")
    return path


def _decide_process(folder: Path, orders: Path, log: Path) -> subprocess.Popen:
    """`aturan decide --decision-log` writing its decisions to folder/out.jsonl (a file, not a
    pipe nobody reads, which would stop it) and its errors to folder/err.txt."""
    with open(folder / "out.jsonl", "wb") as out, open(folder / "err.txt", "wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "aturan", "decide", str(orders), "--format", "json",
             "--rulesets", str(RULESETS), "--decision-log", str(log)],
            stdout=out, stderr=err, cwd=folder,
            env={**os.environ, "PYTHONPATH": str(ROOT / "engine")})


def _wait_for_records(log: Path, process: subprocess.Popen, at_least: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if log.exists() and log.stat().st_size > at_least * 2500:  # records are under 2.5 kB
            return
        if process.poll() is not None:
            pytest.fail("aturan decide ended early: "
                        + (log.parent.parent / "err.txt").read_text(encoding="utf-8"))
        time.sleep(0.02)
    pytest.fail("no records appeared in the decision log")


@pytest.mark.slow
def test_after_kill_9_the_log_reads_up_to_its_last_complete_record(tmp_path, policies):
    log = tmp_path / "log" / "decisions.jsonl"
    process = _decide_process(tmp_path, _orders_file(tmp_path, 20_000), log)
    _wait_for_records(log, process, 200)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    lines = list(read_file(log))
    complete = [line for line in lines if line.record is not None]
    assert len(complete) >= 200
    assert all(not line.torn for line in lines[:-1])  # only the very last may be incomplete
    assert [r.record["seq"] for r in complete] == list(range(1, len(complete) + 1))
    assert not check(log.parent).failed
    replay = subprocess.run([sys.executable, "-m", "aturan", "replay", str(log), "--verify",
                             "--rulesets", str(RULESETS)], capture_output=True, text=True,
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT / "engine")})
    assert replay.returncode == 0, replay.stdout + replay.stderr
    with DecisionLog(log) as again:  # a restart continues the chain after the crash
        again.attach(policies, [RULESETS]).decide(facts_for(0))
    after = records_in(log.parent)
    assert [r["seq"] for r in after] == list(range(1, len(complete) + 2))
    assert not check(log.parent).failed


@pytest.mark.slow
def test_sigterm_ends_aturan_decide_with_every_answered_decision_logged(tmp_path):
    log = tmp_path / "log" / "decisions.jsonl"
    process = _decide_process(tmp_path, _orders_file(tmp_path, 20_000), log)
    _wait_for_records(log, process, 200)
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    assert process.returncode == 128 + signal.SIGTERM, (tmp_path / "err.txt").read_text()
    answered = [json.loads(line)["decision_id"] for line in
                (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    logged = [line.record["decision_id"] for line in read_file(log) if line.record]
    assert not any(line.torn for line in read_file(log))
    # every answer printed was logged, in order; the log may also hold decisions made but not
    # yet printed when the signal came (decide writes its output in blocks)
    assert len(answered) >= 200 and logged[: len(answered)] == answered


def test_a_lone_surrogate_in_the_input_is_refused_and_the_log_carries_on(tmp_path, policies):
    """Facts holding a lone surrogate are refused (facts-text) before any decision, so no
    record is written for them; the next decision is logged as the first record."""
    facts = json.loads(json.dumps(facts_for(1)).replace("W-1", "W-\\ud800"))
    with DecisionLog(tmp_path / "d.jsonl") as log:
        observed = log.attach(policies, [RULESETS])
        with pytest.raises(aturan.FactsError):
            observed.decide(facts)
        observed.decide(facts_for(2))  # the writer carries on
    raw = (tmp_path / "d.jsonl").read_bytes()
    raw.decode("utf-8")  # valid UTF-8
    [only] = records_in(tmp_path)
    assert only["seq"] == 1 and "\\ud800" not in raw.decode("utf-8")
    assert not check(tmp_path).problems
