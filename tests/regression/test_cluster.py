"""`--cluster` on a real Dask `LocalCluster` (2 single-threaded worker processes, as CI runs
it): the JSON summary and the batch decide files are byte-identical to the in-process run; a
worker killed mid-partition has its partition retried; an unreachable scheduler is one line
and exit 1."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dask
import pytest
from distributed import Client

from aturan.cli import main
from aturan.regression.cluster import ClusterError, DaskExecutor, check_spec, local_cluster
from aturan.regression.partitioned import (
    DiffJob,
    InProcess,
    Rulesets,
    diff_partition,
    partitions,
    run_diff_partitioned,
)
from aturan.regression.sample import generate, plan_for, to_line
from conftest import RULESETS

pytestmark = pytest.mark.slow  # a cluster starts in seconds; `make test` and CI run these

OLD, NEW = "tiktok_shop@1.0.0", "tiktok_shop@2.0.0"
N = 4000


@pytest.fixture(scope="module")
def cluster():
    """LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None),
    its HTTP server on a free port (`cluster.local_cluster`). A task may kill one worker and
    be retried; the second death ends it (Dask's default allows three)."""
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}), local_cluster(2) as local:
        yield local


@pytest.fixture(scope="module")
def orders(tmp_path_factory) -> Path:
    import aturan.language.repository as repository

    sample = plan_for(repository.load_rulesets([RULESETS]), "tiktok_shop")
    path = tmp_path_factory.mktemp("cluster") / "orders.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        for i, facts in enumerate(generate(sample, N, seed=3)):
            out.write(to_line(facts))
            if i == 1234:
                out.write('{"order": 1,\n')  # a bad line, number 1236
    return path


def cli_json(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def test_diff_on_the_cluster_is_the_single_process_diff(cluster, orders, capsys, tmp_path):
    common = ["diff", OLD, NEW, "--orders", str(orders), "--rulesets", str(RULESETS),
              "--format", "json"]
    code, alone = cli_json(capsys, *common, "--workers", "1", "--changes",
                           str(tmp_path / "one.jsonl"))
    assert code == 0
    code, spread = cli_json(capsys, *common, "--cluster", cluster.scheduler_address,
                            "--block-size", "256KiB", "--changes", str(tmp_path / "many.jsonl"))
    assert code == 0
    assert spread == alone  # the same bytes
    data = json.loads(alone)
    assert data["orders"] == N + 1 and data["changed"] > 500
    assert data["invalid_orders"][0]["examples"] == [{"line": 1236, "order_id": ""}]
    assert (tmp_path / "many.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()


def test_local_n_starts_its_own_cluster(orders, capsys, tmp_path):
    part = tmp_path / "head.jsonl"
    part.write_bytes(b"".join(orders.read_bytes().splitlines(True)[:300]))
    common = ["diff", OLD, NEW, "--orders", str(part), "--rulesets", str(RULESETS),
              "--format", "json"]
    assert cli_json(capsys, *common, "--cluster", "local:2", "--block-size", "64KiB") == \
        cli_json(capsys, *common, "--workers", "1")


def test_batch_decide_on_the_cluster_writes_the_in_process_files(cluster, orders, tmp_path,
                                                                  capsys):
    here, there = tmp_path / "here", tmp_path / "there"
    args = ["decide", str(orders), "--rulesets", str(RULESETS), "--block-size", "512KiB"]
    assert main([*args, "--out", str(here)]) == 1  # one bad line
    assert main([*args, "--out", str(there), "--cluster", cluster.scheduler_address]) == 1
    err = capsys.readouterr().err
    assert err.count(f"{N + 1:,} orders: {N:,} decided, 1 invalid") == 2
    assert f"  {orders}:1236:" in err and ": json-syntax: " in err
    files = sorted(p.name for p in here.iterdir())
    assert len(files) > 3 and files == sorted(p.name for p in there.iterdir())
    for name in files:
        assert (here / name).read_bytes() == (there / name).read_bytes(), name


def test_a_worker_killed_mid_partition_has_its_partition_retried(cluster, orders, tmp_path):
    """The first attempt at partition 2 kills its worker process (as an out-of-memory kill
    would); Dask reruns it on a live worker and the summary is the one of a run without."""
    marker = tmp_path / "killed-once"
    rulesets = Rulesets.of([RULESETS], OLD, NEW)

    def dies_once(job: DiffJob, part):
        if part.index == 2 and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(1)
        return diff_partition(job, part)

    here = InProcess()
    layout = partitions(here, [str(orders)], 128 * 1024)
    expected = run_diff_partitioned(here, rulesets, OLD, NEW, layout)
    executor = DaskExecutor(Client(cluster.scheduler_address))
    try:
        got = list(executor.map(dies_once, DiffJob(rulesets, OLD, NEW), layout.parts))
    finally:
        executor.close()
    assert marker.exists()  # a worker did die
    total = expected.__class__(OLD, NEW)
    for _, result in got:
        total = total.merge(result.summary)
    assert total.to_dict() == expected.to_dict()
    assert sorted(p.index for p, _ in got) == list(range(len(layout.parts)))


def test_a_partition_that_keeps_killing_workers_ends_the_run_in_one_line(cluster, orders):
    def always_dies(job: None, part):
        os._exit(1)

    executor = DaskExecutor(Client(cluster.scheduler_address))
    layout = partitions(InProcess(), [str(orders)])
    try:
        with pytest.raises(ClusterError) as raised:
            list(executor.map(always_dies, None, layout.parts))
    finally:
        executor.close()
    assert raised.value.first.code == "cluster-worker-died"
    assert f"partition 0 ({orders} bytes 0-" in raised.value.first.message


def test_an_unreachable_scheduler_is_one_line_and_exit_1(orders, capsys):
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code = main(["diff", OLD, NEW, "--orders", str(orders), "--rulesets", str(RULESETS),
                     "--cluster", "tcp://127.0.0.1:9"])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("aturan: cluster-unreachable: cannot reach the Dask scheduler "
                               "at tcp://127.0.0.1:9")


def test_a_cluster_with_no_worker_ends_the_run_in_one_line(orders, capsys, monkeypatch):
    """A scheduler whose workers all died (none restarts them: `dask worker --no-nanny`) or
    never joined: Dask keeps the tasks waiting for a worker for ever, and `aturan diff` hung
    (killed by `timeout 150` in the experiment). It now ends with cluster-no-workers."""
    import threading
    import time

    from distributed import LocalCluster

    import aturan.regression.cluster as cluster_module

    monkeypatch.setattr(cluster_module, "NO_WORKERS_SECONDS", 2.0)
    outcome: dict[str, int] = {}
    with LocalCluster(n_workers=0, processes=True, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None,
                      scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"}
                      ) as empty:
        began = time.monotonic()
        run = threading.Thread(target=lambda: outcome.update(code=main([
            "diff", OLD, NEW, "--orders", str(orders), "--rulesets", str(RULESETS),
            "--cluster", empty.scheduler_address])), daemon=True)
        run.start()
        run.join(120)
        assert not run.is_alive(), "aturan diff waited for a worker for ever"
    assert time.monotonic() - began < 120
    captured = capsys.readouterr()
    assert outcome["code"] == 1 and captured.out == ""
    [line] = captured.err.strip().splitlines()
    assert line.startswith(f"aturan: cluster-no-workers: the cluster {empty.scheduler_address} "
                           "has had no worker for 2 s with partitions left to run")


def test_cluster_specs_are_checked_before_anything_runs(orders, capsys):
    assert check_spec("local:3") == "local:3"
    for bad in ("local:0", "local", "127.0.0.1:8786", ""):
        with pytest.raises(ValueError):
            check_spec(bad)
    assert main(["diff", OLD, NEW, "--orders", str(orders), "--cluster", "local:0"]) == 2
    assert "neither local:N" in capsys.readouterr().err
    assert main(["diff", OLD, NEW, "--orders", "-", "--cluster", "local:1"]) == 2
    assert "cannot be partitioned" in capsys.readouterr().err


def test_partitioned_inputs_in_a_process_pool_give_the_same_summary(orders, capsys, tmp_path):
    """Several files without --cluster: `--workers 2` runs the partitions in a spawn pool,
    `--workers 1` here; the same JSON either way, examples naming their file."""
    lines = orders.read_bytes().splitlines(True)
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_bytes(b"".join(lines[:2000]))
    second.write_bytes(b"".join(lines[2000:]))
    common = ["diff", OLD, NEW, "--orders", str(first), "--orders", str(tmp_path / "sec*.jsonl"),
              "--rulesets", str(RULESETS), "--format", "json", "--block-size", "200KiB"]
    one, two = cli_json(capsys, *common, "--workers", "1"), cli_json(capsys, *common,
                                                                     "--workers", "2")
    assert one == two and one[0] == 0
    data = json.loads(one[1])
    assert data["orders"] == N + 1
    assert data["invalid_orders"][0]["examples"] == [
        {"file": str(first), "line": 1236, "order_id": ""}]
