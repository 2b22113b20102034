"""`--cluster` and `--workers` values that cannot work are refused before anything runs (a
usage error, exit 2) or end in one line and exit 1: never a Dask traceback, never thousands of
processes started by a typo. (The failures that need a running cluster, a worker dying or none
there, are in test_cluster.py.)"""

from __future__ import annotations

import pytest

from aturan.cli import main
from aturan.regression.cluster import MAX_LOCAL_WORKERS, check_spec
from conftest import RULESETS

OLD, NEW = "tiktok_shop@1.0.0", "tiktok_shop@2.0.0"
ORDERS = RULESETS.parent / "examples" / "orders.jsonl"


@pytest.mark.parametrize("spec", [
    "tcp://127.0.0.1:8786", "tls://scheduler.example:8786", "ws://10.0.0.2:8786",
    "tcp://[::1]:8786", "tcp://[fe80::1%eth0]:8786", "ucx://10.0.0.2:13337", "local:1",
    f"local:{MAX_LOCAL_WORKERS}"])
def test_addresses_dask_can_connect_to_are_accepted(spec):
    assert check_spec(spec) == spec


# each of these reached distributed.Client, which raised a traceback (exit 1)
@pytest.mark.parametrize("spec", [
    "tcp://host:notaport", "tcp://[::1", "tcp://:", "foo://bar", "inproc://x",
    "tcp://127.0.0.1:99999", "tcp://127.0.0.1:0", "tcp://scheduler"])
def test_a_malformed_scheduler_address_is_a_usage_error(spec, capsys, tmp_path):
    with pytest.raises(ValueError):
        check_spec(spec)
    for command in (["diff", OLD, NEW, "--orders", str(ORDERS)],
                    ["decide", str(ORDERS), "--out", str(tmp_path / "out")]):
        assert main([*command, "--rulesets", str(RULESETS), "--cluster", spec]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        assert "Invalid value for --cluster" in err and "tcp://HOST:8786" in err


@pytest.mark.parametrize("spec", ["local:0", "local:100000"])
def test_local_n_is_from_1_to_the_limit(spec, capsys):
    with pytest.raises(ValueError):
        check_spec(spec)
    assert main(["diff", OLD, NEW, "--orders", str(ORDERS), "--rulesets", str(RULESETS),
                 "--cluster", spec]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_too_many_worker_processes_is_a_usage_error(capsys, tmp_path):
    """`--workers 100000` made a pool that spawns a process per chunk in flight."""
    assert main(["diff", OLD, NEW, "--orders", str(ORDERS), "--rulesets", str(RULESETS),
                 "--workers", "100000"]) == 2
    assert f"0<=x<={MAX_LOCAL_WORKERS}" in capsys.readouterr().err
    assert main(["replay", str(tmp_path), "--verify", "--workers", "100000"]) == 2
    assert f"1<=x<={MAX_LOCAL_WORKERS}" in capsys.readouterr().err


@pytest.mark.parametrize("spec, reason", [
    ("tls://127.0.0.1:9", "TLS expects"),  # no TLS configuration: Dask raised TypeError
    ("ucx://127.0.0.1:1", "")])  # no distributed-ucxx here: Dask raised TypeError
def test_an_address_dask_cannot_use_is_one_line_and_exit_1(capsys, spec, reason):
    pytest.importorskip("distributed")
    code = main(["diff", OLD, NEW, "--orders", str(ORDERS), "--rulesets", str(RULESETS),
                 "--cluster", spec])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    [line] = captured.err.strip().splitlines()
    assert line.startswith("aturan: cluster-unreachable: cannot reach the Dask scheduler at "
                           f"{spec}: {reason}")
