"""Hostile input to the playground's API (third reliability pass): texts that are no Unicode,
a flood of requests beyond its queue, served folders whose case files are links out of the
folder or FIFOs, and a body that never arrives. Each is a located 4xx, never a 500, a dropped
connection, a hang or a file from elsewhere on the server's disk."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
import time
import warnings

import pytest

from aturan.service import ServiceConfig, create_app
from aturan.service.playground import TimeLimits, add_playground
from conftest import RULESETS

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

TIKTOK_1 = (RULESETS / "tiktok_shop" / "1.0.0.yaml").read_text(encoding="utf-8")
ORDER = (RULESETS.parent / "examples" / "orders.jsonl").read_text(encoding="utf-8"
                                                                   ).splitlines()[0]
DEADLINE = 60.0  # seconds: generous, the machine may be busy


@pytest.fixture(scope="module")
def client():
    app = create_app(ServiceConfig(RULESETS, playground=True))
    with TestClient(app) as test_client:
        yield test_client
    app.state.holder.close()


def raw_post(client, job: str, text: str):
    """`text` as the body, byte for byte (a `\\ud800` escape cannot go through `json=`)."""
    return client.post(f"/v1/playground/{job}", content=text.encode("utf-8"),
                       headers={"content-type": "application/json"})


# --- lone UTF-16 surrogates: no character, so no text -------------------------------------------

@pytest.mark.parametrize("job, body, source, pointer, line, col", [
    # measuring the text in UTF-8 bytes raised UnicodeEncodeError: a 500, and the connection
    # dropped for the next request on it
    ("validate", '{"ruleset": "name: x\\nversion: 1\\u00e9\\ud800"}', "ruleset", "/ruleset",
     2, 12),
    ("decide", '{"ruleset": %s, "facts": "{\\"order\\": \\"\\udc00\\"}"}', "facts", "/facts",
     1, 12),
    ("test", '{"ruleset": %s, "cases": "cases:\\n  - \\ud83d"}', "cases", "/cases", 2, 5),
    # echoed in an error message, they crashed the job's process (worker-crashed)
    ("why-not", '{"ruleset": %s, "facts": %s, "rule": "\\ud800"}', "request", "/rule", 1, 1),
    ("diff", '{"ruleset": %s, "against": "tiktok_shop@\\ud800"}', "request", "/against",
     1, 13),
])
def test_a_lone_surrogate_in_a_text_is_refused_at_its_line(client, job, body, source, pointer,
                                                          line, col):
    fill = (json.dumps(TIKTOK_1), json.dumps(ORDER))[:body.count("%s")]
    response = raw_post(client, job, body % fill if fill else body)
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert (error["code"], error["source"], error["pointer"]) == ("request-text", source,
                                                                   pointer)
    assert (error["line"], error["col"]) == (line, col)
    assert "lone UTF-16 surrogate" in error["message"]
    assert client.post("/v1/playground/validate", json={"ruleset": TIKTOK_1}).status_code == 200


def test_a_lone_surrogate_in_facts_given_as_an_object_is_located_by_the_facts_check(client):
    body = '{"ruleset": %s, "facts": {"order": {"id": "TS-\\ud800"}}}' % json.dumps(TIKTOK_1)
    response = raw_post(client, "decide", body)
    assert response.status_code == 422, response.text
    codes = {(e["source"], e["code"], e["pointer"]) for e in response.json()["errors"]}
    assert ("facts", "facts-text", "/order/id") in codes


# --- more requests than the playground runs and queues ------------------------------------------

def test_requests_beyond_the_queue_are_refused_at_once_not_queued_without_bound(monkeypatch):
    """One job runs (held until the test lets it go), none may wait: the requests that come
    meanwhile get 429 at once. They used to wait in the thread pool's unbounded queue, each
    holding its connection, however many came (30 concurrent diffs: none refused, the last
    answered after 14 s)."""
    app = create_app(ServiceConfig(RULESETS))
    sandbox = add_playground(app, app.state.holder, times=TimeLimits(workers=1, queue=0))
    running, release = threading.Event(), threading.Event()
    real_run = sandbox._run

    def held(request, served):
        running.set()
        release.wait(DEADLINE)
        return real_run(request, served)

    monkeypatch.setattr(sandbox, "_run", held)
    results: dict[str, int] = {}

    def call(name: str) -> None:
        results[name] = limited.post("/v1/playground/validate",
                                     json={"ruleset": TIKTOK_1}).status_code

    with TestClient(app) as limited:
        first = threading.Thread(target=call, args=("first",))
        first.start()
        try:
            assert running.wait(DEADLINE)
            others = [threading.Thread(target=call, args=(f"other{i}",)) for i in range(3)]
            for thread in others:
                thread.start()
            for thread in others:
                thread.join(DEADLINE / 2)
            assert all(not thread.is_alive() for thread in others), "requests were queued"
            assert [results[f"other{i}"] for i in range(3)] == [429, 429, 429]
            assert limited.post("/v1/decisions", content=ORDER).status_code == 200
        finally:
            release.set()
            first.join(DEADLINE)
            for thread in others:
                thread.join(DEADLINE)
        assert results["first"] == 200
        assert limited.post("/v1/playground/validate",
                            json={"ruleset": TIKTOK_1}).status_code == 200
    app.state.holder.close()


# --- the bootstrap reads the served folder's own files, nothing else ----------------------------

@pytest.fixture()
def folder(tmp_path):
    root = tmp_path / "rulesets"
    shutil.copytree(RULESETS / "tiktok_shop", root / "tiktok_shop")
    return root


def bootstrap_cases(root) -> dict[str, str | None]:
    app = create_app(ServiceConfig(root, playground=True, probe_timeout=0))
    with TestClient(app) as served:
        response = served.get("/v1/playground/bootstrap")
    app.state.holder.close()
    assert response.status_code == 200
    return {r["key"]: r["cases"] for r in response.json()["rulesets"]}


def test_bootstrap_never_serves_a_case_file_linked_out_of_the_folder(folder, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    linked = folder / "tiktok_shop" / "cases" / "1.0.0.yaml"
    linked.unlink()
    linked.symlink_to(secret)
    cases = bootstrap_cases(folder)
    assert cases["tiktok_shop@1.0.0"] is None  # it was /etc/passwd's text, to anyone
    assert cases["tiktok_shop@2.0.0"]  # the folder's own cases still come
    inside = folder / "tiktok_shop" / "cases" / "shared.yaml"  # a link inside is fine
    inside.write_text("cases: []\n", encoding="utf-8")
    linked.unlink()
    linked.symlink_to(inside)
    assert bootstrap_cases(folder)["tiktok_shop@1.0.0"] == "cases: []\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_bootstrap_skips_a_fifo_instead_of_hanging(folder):
    fifo = folder / "tiktok_shop" / "cases" / "1.0.0.yaml"
    fifo.unlink()
    os.mkfifo(fifo)
    began = time.monotonic()
    outcome: dict[str, dict[str, str | None]] = {}
    worker = threading.Thread(target=lambda: outcome.update(cases=bootstrap_cases(folder)),
                              daemon=True)
    worker.start()
    worker.join(DEADLINE)
    if worker.is_alive():  # open() blocks on a FIFO until a writer comes: be that writer
        with open(fifo, "w"):
            pass
        worker.join(DEADLINE)
        pytest.fail("the bootstrap hung on a FIFO in cases/")
    assert outcome["cases"]["tiktok_shop@1.0.0"] is None
    assert time.monotonic() - began < DEADLINE


# --- a body that never arrives ------------------------------------------------------------------

def test_a_body_timeout_is_the_configured_one_and_closes_the_connection():
    """The playground waited 30 s whatever --body-timeout said, and kept the connection open
    after its 408, so the late rest of the body was read as the next request."""
    app = create_app(ServiceConfig(RULESETS, playground=True, body_timeout=0.5))
    path = "/v1/playground/validate"
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": [(b"content-length", b"100")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
    sent: list[dict] = []
    first = [True]

    async def receive():
        if first[0]:
            first[0] = False
            return {"type": "http.request", "body": b'{"ruleset": ', "more_body": True}
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    async def run() -> float:
        began = time.monotonic()
        await asyncio.wait_for(app(scope, receive, send), DEADLINE)
        return time.monotonic() - began

    try:
        seconds = asyncio.run(run())
    finally:
        app.state.holder.close()
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = json.loads(b"".join(m.get("body", b"") for m in sent
                               if m["type"] == "http.response.body"))
    assert start["status"] == 408
    assert body["errors"][0]["code"] == "body-timeout"
    assert "within 0.5 s" in body["errors"][0]["message"]
    assert dict(start["headers"])[b"connection"] == b"close"
    assert seconds < 25  # 0.5 s configured (30 s before); generous for a loaded machine
