"""The engine keeps no state between evaluations: 100k decisions in one process, flat memory."""

import resource

import pytest

from aturan.runtime.facts import flatten_facts
from conftest import make_facts


def rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # pragma: no cover


def test_100k_evaluations_leave_no_engine_state(policies):
    statuses = ["unpaid", "paid", "to_ship", "shipped"]
    flats = [flatten_facts(make_facts({"order": {"id": f"M-{i}", "status": statuses[i % 4]},
                                       "request": {"by": ["buyer", "seller"][i % 2]}}))
             for i in range(8)]
    compiled = [policies.compiled_for(f) for f in flats]
    fired = [policies.engine_rules(c, f) for c, f in zip(compiled, flats)]
    samples = []
    for i in range(100_000):
        k = i % 8
        assert policies.engine_rules(compiled[k], flats[k]) == fired[k]
        if i % 20_000 == 19_999:
            samples.append(rss_kib())
    # the first 20k warm up allocators; after that, memory must not keep growing
    assert samples[-1] - samples[0] < 4 * 1024, samples


@pytest.mark.slow
def test_sessions_that_match_no_rule_do_not_crash_the_engine(tmp_path):
    """durable_rules leaves a new session's action context uninitialised and frees it on delete;
    without the adapter's guard, `aturan decide` on an order no rule matches crashed about every
    second fresh process (segfault / invalid free). Fresh processes, because a crash kills one."""
    import json
    import subprocess
    import sys

    from conftest import RULESETS
    order = tmp_path / "nomatch.json"
    order.write_text(json.dumps(make_facts({"order": {"status": "shipped"},
                                            "request": {"type": "return_refund",
                                                        "by": "seller"}})))
    command = [sys.executable, "-m", "aturan", "decide", str(order), "--rulesets", str(RULESETS),
               "--format", "json"]
    for _ in range(10):
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, (result.returncode, result.stderr[-1000:])
        assert json.loads(result.stdout)["outcome"] == "escalated"
