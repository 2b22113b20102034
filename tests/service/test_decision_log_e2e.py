"""`aturan serve --decision-log` as a real server under concurrent load with rotation: exactly
one record per answered decision, each with the id its response carried; `aturan replay
--verify` passes, and fails naming the record once one is edited or deleted; the buyer's
personal data never reaches the log while the response keeps it."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from test_service_e2e import Server, varied_orders

from aturan.audit.chain import log_files, read_file
from aturan.runtime.decision import canonical_json
from conftest import ROOT, RULESETS, make_facts

pytestmark = pytest.mark.slow

NAMES = ["Siti Rahayu", "Budi Santoso", "Dewi Lestari", "Agus Salim"]


def with_buyer(facts: dict, i: int) -> dict:
    name = NAMES[i % 4] + f" {i}"
    facts["order"]["buyer"] = {"id": f"BUY-{i:05d}", "name": name,
                               "phone": f"+62 812 {i:04d} 7788", "email": f"buyer{i}@mail.id",
                               "address": f"Jl. Kenanga No. {i}, Surabaya"}
    return facts


def pii_of(facts: dict) -> list[str]:
    buyer = facts["order"].get("buyer") or {}
    return [buyer[k] for k in ("id", "name", "phone", "email", "address") if k in buyer]


def stop(server: Server) -> None:
    """SIGTERM and a generous wait: shutting down writes every queued record, fsyncs and
    finishes gzipping the rotated files, which takes a while on a busy machine."""
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(180)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(10)
        pytest.fail("aturan serve did not shut down within 180 s:\n" + server.err.read_text())


def replay(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aturan", "replay", *args], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "engine")},
                          timeout=600)


def test_every_answered_decision_is_logged_once_verifiable_and_masked(tmp_path):
    rulesets = tmp_path / "rulesets"
    shutil.copytree(RULESETS, rulesets)
    tiktok = rulesets / "tiktok_shop" / "1.0.0.yaml"
    tiktok.write_text(tiktok.read_text(encoding="utf-8").replace(  # the buyer's name in a message
        "so the buyer must ask the seller to cancel it.",
        "so the buyer ({order.buyer.name}) must ask the seller to cancel it.", 1),
        encoding="utf-8")
    key = tmp_path / "hmac.key"
    key.write_text("a-secret-key-for-buyer-ids-0123456789")
    folder = tmp_path / "log"
    server = Server(tmp_path, rulesets, "--decision-log", str(folder / "decisions.jsonl"),
                    "--decision-log-max-bytes", "65536", "--decision-log-key-file",
                    str(key)).started()
    orders = [with_buyer(facts, i) if (i // 2) % 2 == 0 else facts
              for i, facts in enumerate(varied_orders(1500))]
    singles, batches = orders[:1200], [orders[i:i + 5] for i in range(1200, 1500, 5)]

    async def fire() -> tuple[list[httpx.Response], list[httpx.Response]]:
        gate = asyncio.Semaphore(32)
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        async with httpx.AsyncClient(base_url=server.url, limits=limits,
                                     timeout=httpx.Timeout(120)) as client:
            async def one(i: int, facts: dict) -> httpx.Response:
                headers = {"traceparent": f"00-{i + 1:032x}-{i + 1:016x}-01"} if i % 3 == 0 \
                    else {"x-request-id": f"req-{i}"}
                async with gate:
                    return await client.post("/v1/decisions", json=facts, headers=headers)

            async def batch(items: list[dict]) -> httpx.Response:
                async with gate:
                    return await client.post("/v1/decisions:batch", json={"items": items})
            return (await asyncio.gather(*(one(i, f) for i, f in enumerate(singles))),
                    await asyncio.gather(*(batch(items) for items in batches)))

    try:
        answers, batch_answers = asyncio.run(fire())
        with httpx.Client(base_url=server.url, timeout=30) as client:
            health = client.get("/healthz").json()
            metrics = client.get("/metrics").text
    finally:
        stop(server)  # SIGTERM: the lifespan writes every queued record before exit
    # uvicorn re-raises SIGTERM once it has shut down gracefully (the lifespan included)
    assert "Application shutdown complete" in server.err.read_text(), server.err.read_text()

    answered: dict[str, tuple[dict, dict]] = {}  # decision id -> (facts, decision)
    for i, response in enumerate(answers):
        if response.status_code == 200:
            body = response.json()
            assert response.headers["x-decision-id"] == body["decision_id"]
            answered[body["decision_id"]] = (singles[i], body)
        else:
            assert "x-decision-id" not in response.headers and "decision_id" not in response.text
    for items, response in zip(batches, batch_answers):
        assert response.status_code == 200
        for facts, result in zip(items, response.json()["results"]):
            if "errors" not in result:
                answered[result["decision_id"]] = (facts, result)
    assert len(answered) > 1000
    assert "aturan_decision_log_dropped_total 0.0" in metrics
    assert health["decision_log"]["dropped"] == 0

    files = log_files([folder])
    assert len(files) >= 3 and sum(f.name.endswith(".gz") for f in files) >= 2  # rotated
    lines = [line for path in files for line in read_file(path)]
    records = [line.record for line in lines]
    assert all(r is not None for r in records)
    ids = [r["decision_id"] for r in records]
    assert len(ids) == len(set(ids)) == len(answered)  # exactly one record per answer
    assert set(ids) == set(answered)
    for record in records:
        facts, decision = answered[record["decision_id"]]
        assert record["result"]["outcome"] == decision["outcome"]
        assert record["input"]["order"]["id"] == facts["order"]["id"]
    traced = [r for r in records if r["request"].get("trace_id")]
    assert traced and all(len(r["request"]["trace_id"]) == 32 for r in traced)
    assert any(r["request"].get("request_id", "").startswith("req-") for r in records)

    # personal data: never in the log (in any file, compressed or not), still in the answers
    raw = b"".join((gzip.open(f).read() if f.name.endswith(".gz") else f.read_bytes())
                   for f in files).decode("utf-8")
    buyers = [facts for facts, _ in answered.values() if facts["order"].get("buyer")]
    assert len(buyers) > 300
    for facts in buyers:
        for value in pii_of(facts):
            assert value not in raw, value
    named = [(facts, d) for facts, d in answered.values() if facts["order"].get("buyer")
             and d["explanation"][0]["rule"] == "paid-buyer-cancel-needs-seller"
             and d["ruleset"]["version"] == "1.0.0"]
    assert named
    for facts, decision in named:
        assert facts["order"]["buyer"]["name"] in decision["explanation"][0]["message"]["en"]

    verified = replay(str(folder), "--verify", "--format", "json")
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr
    report = json.loads(verified.stdout)
    assert report["records"] == report["rederived"] == len(answered)

    # edit one record in a rotated, compressed file: replay fails and names it
    target = next(f for f in files if f.name.endswith(".gz"))
    original = gzip.open(target).read()
    text = original.decode("utf-8").splitlines(keepends=True)
    record = json.loads(text[3])
    record["result"]["next_steps"] = [*record["result"]["next_steps"], "refund_in_cash"]
    assert canonical_json(record) + "\n" != text[3]  # a real edit
    text[3] = canonical_json(record) + "\n"
    target.write_bytes(gzip.compress("".join(text).encode("utf-8")))
    edited = replay(str(folder), "--verify")
    assert edited.returncode == 1
    assert record["decision_id"] in "\n".join(
        line for line in edited.stdout.splitlines() if line.startswith("FAIL"))

    # restore it, delete another from the active file: replay fails naming the gap
    target.write_bytes(gzip.compress(original))
    assert replay(str(folder), "--verify").returncode == 0
    # the active file, or (when rotation has just emptied it) a rotated one other than `target`
    active = folder / "decisions.jsonl"
    kept = active.read_text(encoding="utf-8").splitlines(keepends=True)
    if len(kept) >= 4:
        active.write_text("".join(kept[:2] + kept[3:]), encoding="utf-8")
    else:
        other = next(f for f in files if f.name.endswith(".gz") and f != target
                     and len(gzip.open(f).read().splitlines()) >= 4)
        kept = gzip.open(other).read().decode("utf-8").splitlines(keepends=True)
        other.write_bytes(gzip.compress("".join(kept[:2] + kept[3:]).encode("utf-8")))
    gone = json.loads(kept[2])
    deleted = replay(str(folder), "--verify")
    assert deleted.returncode == 1
    [failure] = [line for line in deleted.stdout.splitlines() if line.startswith("FAIL")]
    assert f"seq {gone['seq']} missing" in failure
    assert json.loads(kept[1])["decision_id"] in failure
    assert json.loads(kept[3])["decision_id"] in failure


def test_with_two_workers_each_writes_its_own_chain(tmp_path):
    from conftest import tiktok_only
    folder = tmp_path / "log"
    server = Server(tmp_path, tiktok_only(tmp_path), "--workers", "2", "--decision-log",
                    str(folder / "decisions.jsonl")).started(workers=2)
    try:
        ids = []
        for i in range(30):  # new connections, so both workers get some
            response = httpx.post(f"{server.url}/v1/decisions", timeout=30,
                                  json=make_facts({"order": {"id": f"W-{i}"}}))
            ids.append(response.headers["x-decision-id"])
    finally:
        stop(server)
    files = log_files([folder])
    records = [line.record for path in files for line in read_file(path)]
    assert sorted(r["decision_id"] for r in records) == sorted(ids)
    assert len({r["chain"] for r in records}) == len(files) == 2
    assert all(Path(f).name.startswith("decisions.") for f in files)
    assert replay(str(folder), "--verify").returncode == 0
