"""`aturan decide ORDERS... --out DIR --decision-log LOG`: one log per partition, each with its
own hash chain, named after the run, sharing the ruleset archive beside LOG; every decision
written to DIR has its record; `aturan replay --verify` over the folder passes, and fails on
an edit; a failed partition leaves no log, a retried one replaces its earlier attempt's."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
from test_log_records import BUYER

import aturan
from aturan.audit.batch import BatchLogs
from aturan.audit.chain import log_files, read_file
from aturan.audit.settings import LogSettings
from aturan.cli import main
from aturan.regression.sample import generate, plan_for, to_line
from conftest import RULESETS, make_facts


@pytest.fixture(scope="module")
def orders(tmp_path_factory) -> Path:
    """400 sampled orders over two platforms, one of them with a buyer's personal data, and
    one bad line."""
    import aturan.language.repository as repository

    collection = repository.load_rulesets([RULESETS])
    path = tmp_path_factory.mktemp("batch-log") / "orders.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        for platform in ("tiktok_shop", "shopee"):
            out.writelines(to_line(f) for f in generate(plan_for(collection, platform), 200, 5))
        out.write(json.dumps(make_facts({"order": {"id": "BUYER-1", "buyer": BUYER}})) + "\n")
        out.write('{"order": 1}\n')
    return path


def records_of(folder: Path) -> list[dict]:
    return [line.record for file in log_files([folder]) for line in read_file(file)
            if line.record is not None]


def batch(orders: Path, out: Path, log: Path, *extra: str) -> int:
    return main(["decide", str(orders), "--out", str(out), "--decision-log", str(log),
                 "--rulesets", str(RULESETS), "--block-size", "40000", "--no-progress",
                 "--decision-log-max-bytes", "30000", *extra])


def test_each_partition_logs_every_decision_in_its_own_chain_and_replay_verifies(
        orders, tmp_path, capsys):
    out, log = tmp_path / "out", tmp_path / "log" / "decisions.jsonl"
    assert batch(orders, out, log) == 1  # the bad line, as without a log
    err = capsys.readouterr().err
    assert "402 orders: 401 decided, 1 invalid" in err and "decision log: one per partition" in err
    manifest = json.loads((out / "manifest.json").read_text())
    parts = manifest["partitions"]
    assert len(parts) > 2
    written = [json.loads(line) for p in parts
               for line in (out / p["output"]).read_text().splitlines()]
    answered = [d["decision_id"] for d in written if "decision_id" in d]
    assert len(answered) == 401 == len(set(answered))
    records = records_of(log.parent)
    assert sorted(r["decision_id"] for r in records) == sorted(answered)
    by_chain: dict[str, list[int]] = {}
    for record in records:
        by_chain.setdefault(record["chain"], []).append(record["seq"])
    assert len(by_chain) == len(parts)  # one chain a partition, each numbered from 1
    assert all(sorted(seqs) == list(range(1, len(seqs) + 1)) for seqs in by_chain.values())
    names = sorted(p.name for p in log.parent.iterdir())
    assert any(n.endswith(".jsonl.gz") for n in names)  # rotation happened, and gzip
    assert not [n for n in names if n.startswith(".")]  # no private folder left behind
    run = next(n for n in names if n.startswith("decisions.")).split(".")[1]
    assert all(n == "aturan-rulesets" or n.startswith(f"decisions.{run}.part-") for n in names)
    text = "".join(gzip.open(p, "rt").read() if p.name.endswith(".gz") else p.read_text()
                   for p in log.parent.iterdir() if p.is_file())
    for value in (BUYER["name"], BUYER["phone"], BUYER["email"], BUYER["address"], "B-42"):
        assert value not in text  # masked in every partition's log
    assert main(["replay", str(log.parent), "--verify"]) == 0
    report = capsys.readouterr().out
    assert "401 records" in report and "401 re-derived identically" in report

    # an edited record in one partition's log fails, naming it
    active = next(p for p in log.parent.iterdir() if p.name.endswith(".jsonl")
                  and p.name.count(".") == 3)
    lines = active.read_text().splitlines()
    victim = json.loads(lines[0])
    victim["result"]["outcome"] = "rejected" if victim["result"]["outcome"] != "rejected" \
        else "approved"
    active.write_text("\n".join([json.dumps(victim, separators=(",", ":"),
                                            ensure_ascii=False), *lines[1:]]) + "\n")
    assert main(["replay", str(log.parent), "--verify"]) == 1
    assert victim["decision_id"] in capsys.readouterr().out


def test_a_second_run_adds_its_logs_beside_the_first_runs(orders, tmp_path, capsys):
    log = tmp_path / "log" / "decisions.jsonl"
    batch(orders, tmp_path / "one", log)
    first = set(os.listdir(log.parent))
    batch(orders, tmp_path / "two", log)
    capsys.readouterr()
    runs = {n.split(".")[1] for n in os.listdir(log.parent) if n.startswith("decisions.")}
    assert first < set(os.listdir(log.parent)) and len(runs) == 2
    assert len(records_of(log.parent)) == 2 * 401
    assert main(["replay", str(log.parent), "--verify"]) == 0


def test_a_failed_partition_leaves_no_log_and_a_retried_one_replaces_its_first_attempt(
        tmp_path):
    settings = LogSettings((tmp_path / "decisions.jsonl").resolve(), max_bytes=4096)
    logs = BatchLogs.new(settings, (str(RULESETS),))
    policies = aturan.load(RULESETS)
    with pytest.raises(RuntimeError), logs.observe(policies, 3) as observed:
        observed.decide(make_facts())
        raise RuntimeError("the partition failed")
    assert sorted(os.listdir(tmp_path)) == ["aturan-rulesets"]  # no log, no private folder
    for attempt in range(2):  # a retry of the same partition of the same run
        with logs.observe(policies, 3) as observed:
            ids = [observed.decide(make_facts({"order": {"id": f"A{attempt}-{n}"}})).decision_id
                   for n in range(30)]
    records = records_of(tmp_path)
    assert [r["decision_id"] for r in records] == ids  # the second attempt's, in order
    assert {r["input"]["order"]["id"][:2] for r in records} == {"A1"}
    assert len({r["chain"] for r in records}) == 1
    assert all(n.startswith(f"decisions.{logs.run}.part-00003") or n == "aturan-rulesets"
               for n in os.listdir(tmp_path))
    policies.close()


@pytest.mark.slow
def test_on_a_cluster_a_killed_workers_partition_is_logged_once_by_its_retry(orders, tmp_path):
    """Dask workers (2 processes): the first attempt at partition 1 kills its worker midway,
    after logging some decisions; the retry's log replaces nothing of another partition and
    the run's logs hold exactly one record per decision written, verified by replay."""
    dask = pytest.importorskip("dask")
    from distributed import Client

    from aturan.regression.cluster import DaskExecutor, local_cluster
    from aturan.regression.partitioned import (
        DecideJob,
        Rulesets,
        decide_partition,
        partitions,
        run_decide_partitioned,
    )

    marker = tmp_path / "killed-once"

    def dies_once(job, part):
        if part.index == 1 and not marker.exists():
            marker.write_text(str(os.getpid()))
            with job.log.observe(aturan.load(RULESETS), part.index) as observed:
                observed.decide(make_facts())
                os._exit(1)  # killed with a record queued or written in its private folder
        return decide_partition(job, part)

    log = (tmp_path / "log" / "decisions.jsonl").resolve()
    logs = BatchLogs.new(LogSettings(log, max_bytes=30000), (str(RULESETS),))
    job = DecideJob(Rulesets.of([RULESETS]), str(tmp_path / "out"), log=logs)
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), \
            local_cluster(2) as cluster:
        executor = DaskExecutor(Client(cluster.scheduler_address))
        try:
            import aturan.regression.partitioned as partitioned
            layout = partitions(executor, [str(orders)], 40000)
            original = partitioned.decide_partition
            partitioned.decide_partition = dies_once  # what run_decide_partitioned submits
            try:
                run = run_decide_partitioned(executor, job, layout)
            finally:
                partitioned.decide_partition = original
        finally:
            executor.close()
    assert marker.exists()
    assert run.decided == 401
    left = logs.clean()  # the killed attempt's private folder, and only that
    assert len(left) == 1 and ".part-00001." in left[0].name and not left[0].exists()
    written = [json.loads(line)["decision_id"] for p in sorted((tmp_path / "out").glob("part-*"))
               for line in p.read_text().splitlines() if "decision_id" in line]
    assert sorted(r["decision_id"] for r in records_of(log.parent)) == sorted(written)
    assert main(["replay", str(log.parent), "--verify"]) == 0
