"""What a hostile client or a hanging engine must not do to the service (issue 14): lone
surrogates, repeated parameters, bodies that never arrive or are abandoned, JSON logs, the
pre-bound socket's TCP_NODELAY, the OpenAPI document's shapes, and the engine probe."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import logging
import logging.config
import os
import socket
import sys
import time
import warnings

import pytest

from aturan.service import ServiceConfig, create_app
from aturan.service.logs import JsonFormatter, uvicorn_log_config
from conftest import RULESETS, make_facts, tiktok_only

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

SURROGATE_BODY = json.dumps(make_facts()).replace('"TS-1001"', '"TS-\\ud800"').encode()


@pytest.fixture(scope="module")
def app():
    app = create_app(ServiceConfig(RULESETS, body_timeout=0.5))
    yield app
    app.state.holder.close()


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as test_client:
        yield test_client


def test_a_lone_surrogate_is_422_at_its_pointer_and_logged(client, caplog):
    caplog.set_level("INFO", logger="aturan.access")
    response = client.post("/v1/decisions", content=SURROGATE_BODY)
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/order/id"
    assert response.json()["errors"][0]["code"] == "facts-text"
    line = json.loads([r for r in caplog.records if r.name == "aturan.access"][-1].getMessage())
    assert line["status"] == 422 and line["error"] == "invalid_facts"
    batch = client.post("/v1/decisions:batch",
                        content=b'{"items": [' + SURROGATE_BODY + b"]}")
    assert batch.status_code == 200
    assert batch.json()["results"][0]["errors"][0]["pointer"] == "/order/id"


def test_a_log_line_with_a_lone_surrogate_is_escaped_not_lost():
    from aturan.service.logs import json_line
    line = json_line("request", order_id="TS-\ud800")
    assert json.loads(line)["order_id"] == "TS-\ud800"
    line.encode("utf-8")  # writable


@pytest.mark.parametrize("query", ["ruleset=tiktok_shop&ruleset=shopee", "lang=en&lang=id"])
def test_a_repeated_query_parameter_is_400(client, query):
    response = client.post(f"/v1/decisions?{query}", json=make_facts())
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["code"] == "bad-parameter" and "given 2 times" in error["message"]


@pytest.mark.parametrize("path", ["/v1/decisions", "/v1/decisions:batch"])
def test_a_compressed_body_is_415_not_a_utf_8_error(client, path):
    """gzip bodies were read as JSON: 400 "unreadable JSON: 'utf-8' codec can't decode byte
    0x8b in position 1"."""
    facts = make_facts() if path == "/v1/decisions" else {"items": [make_facts()]}
    response = client.post(path, content=gzip.compress(json.dumps(facts).encode()),
                           headers={"content-encoding": "gzip"})
    assert response.status_code == 415
    [error] = response.json()["errors"]
    assert error["code"] == "unsupported-encoding"
    assert error["message"].startswith("Content-Encoding gzip is not read here")
    plain = client.post(path, json=facts, headers={"content-encoding": "identity"})
    assert plain.status_code == 200


def test_a_body_that_is_not_utf8_is_located_at_its_first_bad_byte(client):
    """Was 400 "unreadable JSON: 'utf-8' codec can't decode byte 0xe9 in position 24" at line
    1, column 1."""
    body = json.dumps(make_facts(), indent=1).replace('"TS-1001"', '"caf\u00e9"',
                                                      1).encode("latin-1")
    response = client.post("/v1/decisions", content=body,
                           headers={"content-type": "application/json"})
    assert response.status_code == 400
    [error] = response.json()["errors"]
    line = next(n for n, text in enumerate(body.split(b"\n"), 1) if b"caf" in text)
    column = body.split(b"\n")[line - 1].index(b"\xe9") + 1
    assert (error["code"], error["line"], error["col"]) == ("json-encoding", line, column)
    assert error["message"] == "not UTF-8 text (invalid continuation byte: byte 0xE9)"


@pytest.mark.parametrize("encoding, status", [("utf-16", 400), ("utf-32", 400),
                                              ("utf-8-sig", 200)])
def test_json_is_utf8_over_http_a_bom_allowed(client, encoding, status):
    """A UTF-16 or UTF-32 body was decided (Python's json reads them), where JSON Lines input
    refused them: JSON is UTF-8 (RFC 8259), with a leading byte order mark allowed."""
    body = json.dumps(make_facts()).encode(encoding)
    response = client.post("/v1/decisions", content=body,
                           headers={"content-type": "application/json"})
    assert response.status_code == status
    if status == 400:
        assert response.json()["errors"][0]["code"] == "json-encoding"


def test_a_body_nested_past_the_reader_is_400_and_says_so(client):
    """Was 400 json-syntax "unreadable JSON: maximum recursion depth exceeded while decoding
    a JSON array from a unicode string", Python's words."""
    response = client.post("/v1/decisions", content=b"[" * 100_000 + b"]" * 100_000)
    assert response.status_code == 400
    [error] = response.json()["errors"]
    assert error["code"] == "json-too-deep"
    assert error["message"].startswith("the document nests too deep to read")


def test_a_pin_without_a_version_is_404_not_the_version_in_force(client):
    response = client.post("/v1/decisions?ruleset=tiktok_shop@", json=make_facts())
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "unknown-ruleset"
    assert 'has no version after "@"' in response.json()["errors"][0]["message"]


def call(app, receive, path="/v1/decisions"):
    """Drive the ASGI app with a hand-written `receive`; returns (status, body, seconds)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": [(b"content-length", b"100")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def run():
        began = time.monotonic()
        await app(scope, receive, send)
        return time.monotonic() - began

    seconds = asyncio.run(run())
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body, dict(start.get("headers", [])), seconds


def test_a_body_that_stops_arriving_is_408_within_the_body_timeout(app, client):
    async def receive():
        if not hasattr(receive, "once"):
            receive.once = True
            return {"type": "http.request", "body": b'{"order"', "more_body": True}
        await asyncio.sleep(3600)

    status, body, headers, seconds = call(app, receive)
    assert status == 408 and json.loads(body)["errors"][0]["code"] == "body-timeout"
    assert headers[b"connection"] == b"close"
    assert seconds < 30  # 0.5 s configured; generous for a loaded machine


def test_a_client_hanging_up_mid_body_is_not_an_internal_error(app, client, caplog):
    caplog.set_level("INFO")
    before = client.get("/metrics").text
    messages = iter([{"type": "http.request", "body": b'{"order"', "more_body": True},
                     {"type": "http.disconnect"}])

    async def receive():
        return next(messages)

    status, _, _, _ = call(app, receive)
    assert status == 499
    assert not [r for r in caplog.records if "internal-error" in r.getMessage()]
    access = [json.loads(r.getMessage()) for r in caplog.records if r.name == "aturan.access"]
    assert access[-1]["error"] == "client_closed"
    after = client.get("/metrics").text
    internal = [line for line in after.splitlines() if 'kind="internal"' in line]
    assert internal == [line for line in before.splitlines() if 'kind="internal"' in line]


def test_uvicorn_lines_are_json_like_aturans(capsys):
    config = uvicorn_log_config("info")
    for name, formatter in config["formatters"].items():
        if name != "aturan":
            assert formatter["()"] == "aturan.service.logs.JsonFormatter"
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(use_colors=None))
    logger = logging.getLogger("uvicorn.error.test")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("Invalid HTTP request received.")
    finally:
        logger.removeHandler(handler)
    record = json.loads(stream.getvalue())
    assert record["event"] == "server" and record["level"] == "warning"
    assert record["message"] == "Invalid HTTP request received."


def test_the_pre_bound_socket_of_several_workers_has_tcp_nodelay():
    import uvicorn

    from aturan.cli.serve import bind_socket
    config = uvicorn.Config("aturan.service:app_from_env", host="127.0.0.1", port=0, workers=2)
    listener = bind_socket(config)
    try:
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        listener.listen()  # as the server does with it
        client = socket.create_connection(listener.getsockname()[:2])
        accepted, _ = listener.accept()
        with client, accepted:  # what a worker serves a request on
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        listener.close()


def test_openapi_declares_batch_items_loosely_and_the_semantic_422s(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    items = schemas["BatchRequest"]["properties"]["items"]
    assert items["items"] == {} and "each item" in items["description"]
    batch_422 = spec["paths"]["/v1/decisions:batch"]["post"]["responses"]["422"]
    assert "items" in batch_422["description"]
    one = spec["paths"]["/v1/decisions"]["post"]["responses"]
    for code in ("facts-timestamp", "facts-number", "facts-text", "no-version-in-force"):
        assert code in one["422"]["description"]
    for status in ("400", "404", "408", "413", "422"):
        assert one[status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"}


HANG = """\
# Makes the network check blind in this process only: the probe child then hands the engine a
# ruleset it cannot build, as an unforeseen engine hang would.
import aturan.runtime._engine as adapter
import aturan.runtime.limits as limits
adapter.violations = limits.violations = lambda definition: []
"""


def test_a_reload_that_hangs_the_engine_is_killed_and_the_old_set_keeps_serving(
        tmp_path, monkeypatch):
    root = tiktok_only(tmp_path)
    app = create_app(ServiceConfig(root, probe_timeout=3))
    holder = app.state.holder
    before = holder.policies
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HANG, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(hook), *sys.path]))
    folder = root / "tiktok_shop"
    text = (folder / "1.0.0.yaml").read_text(encoding="utf-8")
    rules = "".join(f"  - {{id: tier-{i}, description: t, priority: 1, when: {{fact: "
                    f"order.amounts.total, eq: {i}}}, then: {{outcome: approved}}, explain: "
                    f"{{en: t, id: t}}, source: {{publisher: t, title: t}}}}\n"
                    for i in range(513))
    (folder / "1.0.0.yaml").write_text(text.replace("rules:\n", "rules:\n" + rules, 1),
                                       encoding="utf-8")
    began = time.monotonic()
    result = holder.reload("manual")
    assert time.monotonic() - began < 30
    assert not result.ok and "did not finish within 3 s" in result.errors[0]
    assert holder.policies is before  # still serving the old set
    assert before.decide(make_facts()).outcome == "pending_seller"
    holder.close()


def test_large_bad_bodies_do_not_stay_in_memory(client, monkeypatch):
    """Worker RSS after abuse (issue 14, item 8): bad 1 MiB bodies were kept alive in reference
    cycles (traceback -> threadpool frames -> body) until a full collection; the error's
    traceback is dropped and a large request triggers a (rate-limited) full collection."""
    from aturan.service import app as module
    calls = []
    monkeypatch.setattr(module.gc, "collect", lambda: calls.append(1))
    monkeypatch.setattr(module, "_last_sweep", [0.0])
    big = json.dumps(make_facts({"order": {"id": "x" * 300_000}})).encode()
    for _ in range(3):
        assert client.post("/v1/decisions", content=big).status_code == 422
    assert calls == [1]  # one sweep, then none within SWEEP_EVERY seconds
    monkeypatch.undo()

    class Marker(ValueError):
        pass

    exc = Marker("x")
    try:
        raise exc
    except Marker:
        pass
    assert exc.__traceback__ is not None
    module._failure(exc, {}, client.app.state.service.metrics)
    assert exc.__traceback__ is None


def test_serve_refuses_to_start_when_the_probe_hangs(tmp_path):
    """At start-up too: an engine hang the network check did not foresee (simulated by
    blinding it) kills the probe, and `aturan serve` exits 1 without ever listening."""
    import subprocess
    root = tiktok_only(tmp_path)
    folder = root / "tiktok_shop"
    text = (folder / "1.0.0.yaml").read_text(encoding="utf-8")
    rules = "".join(f"  - {{id: tier-{i}, description: t, priority: 1, when: {{fact: "
                    f"order.amounts.total, eq: {i}}}, then: {{outcome: approved}}, explain: "
                    f"{{en: t, id: t}}, source: {{publisher: t, title: t}}}}\n"
                    for i in range(513))
    (folder / "1.0.0.yaml").write_text(text.replace("rules:\n", "rules:\n" + rules, 1),
                                       encoding="utf-8")
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HANG, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), *sys.path])}
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "aturan", "serve", "--rulesets", str(root),
                           "--probe-timeout", "3", "--port", "1"], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 1 and time.monotonic() - began < 120
    assert "engine-probe: building the rulesets in a probe process did not finish within 3 s" \
        in done.stderr
