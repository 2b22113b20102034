"""`aturan serve` as a real server on a free loopback port: every endpoint and error class over
HTTP, 2,000 concurrent requests that each get exactly the decision computed alone, hot reload
on --watch while requests are in flight, and two workers sharing metrics and reloading on SIGHUP.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import aturan
from aturan.errors import AturanError, error_body
from aturan.runtime.decision import canonical_json
from conftest import RULESETS, make_facts, next_version, tiktok_only

pytestmark = pytest.mark.slow  # long-running: `make test-fast` skips it, `make test` runs it

STARTUP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """`python -m aturan serve` in a subprocess; its stdout (access log) and stderr (events)
    go to files the test can read."""

    def __init__(self, folder: Path, rulesets: Path, *options: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.out = folder / f"serve-{self.port}.out"
        self.err = folder / f"serve-{self.port}.err"
        command = [sys.executable, "-m", "aturan", "serve", "--port", str(self.port),
                   "--rulesets", str(rulesets), *options]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err, cwd=folder, env=env)

    def wait_until(self, condition, what: str, timeout: float = STARTUP_SECONDS):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"server exited ({self.process.returncode}) while waiting for {what}:"
                            f"\n{self.err.read_text()}")
            try:
                value = condition()
            except httpx.TransportError:
                value = None
            if value:
                return value
            time.sleep(0.05)
        pytest.fail(f"timed out waiting for {what}:\n{self.err.read_text()}")

    def events(self, name: str) -> list[dict]:
        lines = (line for line in self.err.read_text().splitlines() if line.startswith("{"))
        return [e for e in map(json.loads, lines) if e["event"] == name]

    def access(self) -> list[dict]:
        return [json.loads(line) for line in self.out.read_text().splitlines()
                if line.startswith("{")]

    def started(self, workers: int = 1) -> Server:
        self.wait_until(lambda: httpx.get(f"{self.url}/healthz").status_code == 200, "/healthz")
        self.wait_until(lambda: len(self.events("start")) >= workers, f"{workers} worker(s)")
        return self

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


LATER = {"order": {"placed_at": "2025-06-01T10:00:00+07:00"},
         "request": {"at": "2025-06-01T12:00:00+07:00"}}


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """A server over a copy of every bundled ruleset, and the same set loaded in-process."""
    folder = tmp_path_factory.mktemp("serve-full")
    rulesets = folder / "rulesets"
    shutil.copytree(RULESETS, rulesets)
    server = Server(folder, rulesets, "--batch-limit", "50").started()
    try:
        yield server, aturan.load(rulesets)
    finally:
        server.stop()


def expected_answer(policies: aturan.Policies, facts, pin=None, lang=None) -> tuple[int, str]:
    try:
        return 200, policies.decide(facts, pin, lang).to_json()
    except AturanError as exc:
        return -1, canonical_json(error_body(exc))


def test_every_endpoint_and_error_class_over_http(full):
    server, policies = full
    with httpx.Client(base_url=server.url, timeout=30) as client:
        facts = make_facts({"order": {"id": "E2E-1"}})
        one = client.post("/v1/decisions", json=facts)
        assert (one.status_code, one.text) == (200, policies.decide(facts).to_json())
        pinned = client.post("/v1/decisions", params={"ruleset": "tiktok_shop@1.0.0",
                                                      "lang": "id"}, json=facts)
        assert pinned.text == policies.decide(facts, "tiktok_shop@1.0.0", "id").to_json()

        batch = client.post("/v1/decisions:batch",
                            json={"items": [facts, make_facts({"order": {"status": "x"}})]})
        assert batch.status_code == 200
        first, second = batch.json()["results"]
        assert first == policies.decide(facts).to_dict()
        assert second["status"] == 422 and second["errors"][0]["pointer"] == "/order/status"
        over = client.post("/v1/decisions:batch", json={"items": [facts] * 51})
        assert (over.status_code, over.json()["errors"][0]["pointer"]) == (413, "/items")

        assert client.get("/v1/rulesets").json() == {"rulesets": policies.describe()}
        health = client.get("/healthz").json()
        assert health["status"] == "ok"
        assert {r["digest"] for r in health["rulesets"]} == {
            d["digest"] for d in policies.describe()}
        metrics = client.get("/metrics")
        assert 'aturan_decisions_total{outcome="pending_seller",ruleset="tiktok_shop",' \
               'version="1.0.0"}' in metrics.text
        assert "aturan_request_duration_seconds_bucket" in metrics.text
        spec = client.get("/openapi.json").json()
        assert spec["paths"]["/v1/decisions"]["post"]["requestBody"]["content"][
            "application/json"]["schema"] == {"$ref": "#/components/schemas/Facts"}

        malformed = client.post("/v1/decisions", content=b'{"order": ')
        assert (malformed.status_code, malformed.json()["errors"][0]["code"]) == (
            400, "json-syntax")
        declared = client.post("/v1/decisions", content=b" " * (2 * 1024 * 1024))
        assert declared.status_code == 413
        streamed = client.post("/v1/decisions", content=(b" " * 4096 for _ in range(512)))
        assert streamed.status_code == 413  # chunked, no Content-Length: refused while reading
        invalid = client.post("/v1/decisions", json=make_facts({"order": {"status": "lost"},
                                                                "request": {"by": "cat"}}))
        assert invalid.status_code == 422
        assert {e["pointer"] for e in invalid.json()["errors"]} == {"/order/status",
                                                                    "/request/by"}
        unknown = client.post("/v1/decisions", params={"ruleset": "nope@1.0.0"}, json=facts)
        assert unknown.status_code == 404
        ancient = client.post("/v1/decisions", json=make_facts(
            {"request": {"at": "2010-01-01T12:00:00+07:00"}}))
        assert (ancient.status_code, ancient.json()["errors"][0]["pointer"]) == (
            422, "/request/at")
        for response in (malformed, declared, streamed, invalid, unknown, ancient):
            assert response.headers["content-type"] == "application/json"
            assert "Traceback" not in response.text
        assert client.get("/healthz").status_code == 200  # still serving after all of that

    lines = server.access()
    decided = next(line for line in lines if line.get("order_id") == "E2E-1")
    assert decided["ruleset"] == "tiktok_shop@1.0.0" and decided["latency_ms"] > 0
    assert {line["status"] for line in lines} >= {200, 400, 404, 413, 422}


def varied_orders(count: int) -> list[dict]:
    """Distinct orders across platforms, statuses, requesters, reasons, amounts and dates."""
    statuses = ["unpaid", "paid", "to_ship", "shipped", "delivered", "completed"]
    methods = ["cod", "ewallet", "bank_transfer", "virtual_account", "credit_card", "paylater"]
    reasons = ["changed_mind", "wrong_item", "found_cheaper", "shipping_delay",
               "not_as_described", "damaged", "out_of_stock", "cannot_ship", "address_issue",
               "payment_timeout", "other"]
    platforms = ["tiktok_shop", "lazada", "shopee", "tokopedia"]
    orders = []
    for i in range(count):
        later = i % 3 == 0
        day = "2025-06-01" if later else "2024-03-01"
        patch = {
            "order": {"id": f"C-{i:05d}", "platform": platforms[i % 4],
                      "status": statuses[(i // 4) % 6],
                      "placed_at": f"{day}T10:00:00+07:00",
                      "payment": {"method": methods[(i // 3) % 6],
                                  "paid_at": f"{day}T10:05:00+07:00"},
                      "amounts": {"items": 10_000 + i, "shipping": 12_000, "discount": 0,
                                  "total": 22_000 + i},
                      "items": [{"sku": f"SKU-{i}", "product_type": "regular", "quantity": 1,
                                 "unit_price": 10_000 + i}],
                      "fulfillment": {"ship_by": f"{day}T23:59:00+07:00"}},
            "request": {"type": ["cancel", "return_refund"][(i // 7) % 2],
                        "by": ["buyer", "seller", "system"][(i // 5) % 3],
                        "reason": reasons[i % 11],
                        "at": f"{day}T{10 + i % 12:02d}:30:00+07:00"},
        }
        orders.append(make_facts(patch))
    return orders


def test_2000_concurrent_requests_each_get_the_decision_computed_alone(full):
    server, policies = full
    orders = varied_orders(2000)
    expected = [expected_answer(policies, facts) for facts in orders]

    async def fire() -> list[httpx.Response]:
        # 2,000 tasks at once, 100 of them in flight at any moment: more connections than the
        # server's threadpool has threads, so requests always wait on one another server-side
        # (httpx's pool gets quadratically slow when thousands queue inside it, hence the gate)
        gate = asyncio.Semaphore(100)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        async with httpx.AsyncClient(base_url=server.url, limits=limits,
                                     timeout=httpx.Timeout(60)) as client:
            async def ask(facts: dict) -> httpx.Response:
                async with gate:
                    return await client.post("/v1/decisions", json=facts)
            return await asyncio.gather(*(ask(facts) for facts in orders))

    responses = asyncio.run(fire())
    mismatched = [i for i, (response, (status, body)) in enumerate(zip(responses, expected))
                  if response.text != body or (status == 200) != (response.status_code == 200)]
    assert mismatched == [], f"{len(mismatched)} answers differ, e.g. order {mismatched[:5]}"
    decided = [json.loads(body) for status, body in expected if status == 200]
    # the orders really are different: many outcomes, several rulesets, every order id once
    assert len(decided) > 1500
    assert len({d["outcome"] for d in decided}) >= 3
    assert len({(d["ruleset"]["name"], d["ruleset"]["version"]) for d in decided}) >= 4
    assert len({d["order_id"] for d in decided}) == len(decided)


def test_watch_reloads_atomically_and_a_broken_file_leaves_the_old_set(tmp_path):
    rulesets = tiktok_only(tmp_path)
    server = Server(tmp_path, rulesets, "--watch", "--watch-interval", "0.1").started()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            now_facts, later_facts = make_facts(), make_facts(LATER)
            before = client.post("/v1/decisions", json=now_facts).text
            assert client.post("/v1/decisions", json=later_facts).status_code == 422

            broken = rulesets / "tiktok_shop" / "1.1.0.yaml"
            broken.write_text(next_version().replace("rules:\n", "rules:\n  - {id: [\n", 1))
            health = server.wait_until(
                lambda: (h := client.get("/healthz").json())["last_reload"]["ok"] is False and h,
                "the failed reload in /healthz")
            assert health["status"] == "degraded" and health["generation"] == 1
            assert health["last_reload"]["errors"][0].startswith(  # `serve` resolves the folder
                f"{rulesets.resolve().as_posix()}/tiktok_shop/1.1.0.yaml:")
            [failed] = server.events("reload")
            assert failed["ok"] is False and failed["trigger"] == "watch"
            assert client.post("/v1/decisions", json=now_facts).text == before  # old set serves
            assert client.post("/v1/decisions", json=later_facts).status_code == 422

            async def traffic_across_the_swap() -> list[httpx.Response]:
                """Requests keep flowing while the fixed file is written and swapped in."""
                answers: list[httpx.Response] = []
                async with httpx.AsyncClient(base_url=server.url, timeout=30) as aclient:
                    async def keep_asking(stop: asyncio.Event) -> None:
                        while not stop.is_set():
                            answers.append(await aclient.post("/v1/decisions", json=now_facts))

                    stop = asyncio.Event()
                    askers = [asyncio.create_task(keep_asking(stop)) for _ in range(8)]
                    await asyncio.sleep(0.2)
                    broken.write_text(next_version())
                    while (await aclient.get("/healthz")).json()["generation"] < 2:
                        await asyncio.sleep(0.05)
                    await asyncio.sleep(0.2)
                    stop.set()
                    await asyncio.gather(*askers)
                return answers

            answers = asyncio.run(asyncio.wait_for(traffic_across_the_swap(), 30))
            assert len(answers) > 20
            assert all(a.status_code == 200 and a.text == before for a in answers)
            health = client.get("/healthz").json()
            assert (health["status"], health["generation"]) == ("ok", 2)
            served = client.post("/v1/decisions", json=later_facts)
            assert served.status_code == 200 and served.json()["ruleset"]["version"] == "1.1.0"
    finally:
        server.stop()


def test_two_workers_sum_metrics_and_each_reloads_on_sighup(tmp_path):
    rulesets = tiktok_only(tmp_path)
    server = Server(tmp_path, rulesets, "--workers", "2").started(workers=2)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for i in range(30):  # new connections, so both workers get some
                response = httpx.post(f"{server.url}/v1/decisions", timeout=30,
                                      json=make_facts({"order": {"id": f"W-{i}"}}))
                assert response.status_code == 200
            workers = {line["pid"] for line in server.events("start")}
            assert len(workers) == 2
            for _ in range(4):  # whichever worker answers the scrape, it reports both
                assert ('aturan_decisions_total{outcome="pending_seller",ruleset="tiktok_shop",'
                        'version="1.0.0"} 30.0') in client.get("/metrics").text

            (rulesets / "tiktok_shop" / "1.1.0.yaml").write_text(next_version())
            server.process.send_signal(signal.SIGHUP)
            server.wait_until(lambda: len([e for e in server.events("reload") if e["ok"]]) == 2,
                              "both workers to reload")
            assert {e["trigger"] for e in server.events("reload")} == {"sighup"}
            for _ in range(10):
                response = httpx.post(f"{server.url}/v1/decisions", json=make_facts(LATER),
                                      timeout=30)
                assert response.status_code == 200
                assert response.json()["ruleset"]["version"] == "1.1.0"
            assert ('aturan_reloads_total{result="ok",trigger="sighup"} 2.0'
                    in client.get("/metrics").text)
    finally:
        server.stop()
    assert server.process.returncode == 0


def test_a_port_in_use_is_exit_1_without_a_traceback(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "aturan", "serve", "--port", str(port),
                               "--rulesets", str(tiktok_only(tmp_path))],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "address already in use" in done.stderr.lower()
    assert "Traceback" not in done.stderr
