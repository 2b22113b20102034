"""The HTTP decision service in-process (FastAPI TestClient): every endpoint, every error class,
the OpenAPI document, metrics, access log and the atomic reload."""

from __future__ import annotations

import asyncio
import json
import warnings

import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families
from referencing import Registry
from referencing.jsonschema import DRAFT202012

import aturan
from aturan.cli import main
from aturan.errors import EngineError, FactsError, SelectionError, error_body
from aturan.resources import load_schema
from aturan.service import ServiceConfig, create_app
from aturan.service.config import ConfigError
from conftest import RULESETS, make_facts, next_version, tiktok_only

with warnings.catch_warnings():  # starlette nudges towards httpx2; httpx is what we ship with
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient



@pytest.fixture(scope="module")
def client():
    app = create_app(ServiceConfig(RULESETS))
    with TestClient(app) as test_client:
        yield test_client
    app.state.holder.close()


@pytest.fixture
def small_client(tmp_path):
    """A service over tiktok_shop 1.0.0 alone, with small limits."""
    app = create_app(ServiceConfig(tiktok_only(tmp_path), max_body_bytes=4000, batch_limit=3))
    with TestClient(app) as test_client:
        yield test_client
    app.state.holder.close()


def errors_of(response) -> list[dict]:
    return response.json()["errors"]


# --- POST /v1/decisions -------------------------------------------------------------------------

def test_decision_is_the_library_decision_byte_for_byte(client, policies):
    facts = make_facts()
    response = client.post("/v1/decisions", json=facts)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == policies.decide(facts).to_json().encode()


def test_ruleset_pin_and_language_are_query_parameters(client, policies):
    facts = make_facts({"order": {"status": "unpaid"}})
    response = client.post("/v1/decisions?ruleset=tiktok_shop@1.0.0&lang=id", json=facts)
    assert response.status_code == 200
    assert response.text == policies.decide(facts, "tiktok_shop@1.0.0", "id").to_json()
    assert set(response.json()["explanation"][0]["message"]) == {"id"}


def test_any_content_type_is_read_as_json(client, policies):
    # curl -d sends application/x-www-form-urlencoded unless told otherwise
    response = client.post("/v1/decisions", content=json.dumps(make_facts()),
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200
    assert response.json()["outcome"] == policies.decide(make_facts()).outcome


@pytest.mark.parametrize("body, code, where", [
    pytest.param(b'{"order": {\n  "id": }', "json-syntax", (2, 9), id="syntax-error-line-2"),
    pytest.param(b'{"order": 1, "order": 2}', "json-syntax", None, id="duplicate-key"),
    pytest.param(b'{"now": NaN}', "json-syntax", None, id="nan"),
    pytest.param(b"", "json-empty", None, id="empty"),
    pytest.param(b'{"order": "\xff"}', "json-encoding", (1, 12), id="not-utf8"),
])
def test_malformed_json_is_400_with_where_it_broke(client, body, code, where):
    response = client.post("/v1/decisions", content=body)
    assert response.status_code == 400
    [error] = errors_of(response)
    assert error["code"] == code
    assert error["pointer"] == "/"
    if where:
        assert (error["line"], error["col"]) == where
    assert "Traceback" not in response.text


def test_schema_invalid_facts_are_422_naming_every_pointer(client, policies):
    facts = make_facts({"order": {"status": "lost", "placed_at": "2024-03-01T10:00:00",
                                  "amounts": {"total": -5}, "colour": "red"},
                        "request": {"by": 7}})
    del facts["request"]["reason"]
    response = client.post("/v1/decisions", json=facts)
    assert response.status_code == 422
    assert {e["pointer"] for e in errors_of(response)} == {
        "/order/status", "/order/placed_at", "/order/amounts/total", "/order/colour",
        "/request/by", "/request/reason"}
    with pytest.raises(FactsError) as raised:
        policies.decide(facts)
    assert response.json() == error_body(raised.value)  # the body `aturan decide` prints


def test_facts_that_do_not_add_up_are_422_naming_every_pointer_involved(client, policies):
    facts = make_facts({"order": {"amounts": {"total": 250000}}})
    response = client.post("/v1/decisions", json=facts)
    assert response.status_code == 422
    [error] = errors_of(response)
    assert error["code"] == "facts-inconsistent"
    assert error["pointers"] == ["/order/amounts/total", "/order/amounts/items",
                                 "/order/amounts/shipping", "/order/amounts/discount"]
    with pytest.raises(FactsError) as raised:
        policies.decide(facts)
    assert response.json() == error_body(raised.value)


@pytest.mark.parametrize("query", ["?ruleset=nope@1.0.0", "?ruleset=tiktok_shop@9.9.9",
                                   "?ruleset=nope"])
def test_unknown_ruleset_is_404(client, query):
    response = client.post(f"/v1/decisions{query}", json=make_facts())
    assert response.status_code == 404
    assert errors_of(response)[0]["code"] == "unknown-ruleset"


def test_platform_without_a_loaded_ruleset_is_404(small_client):
    response = small_client.post("/v1/decisions", json=make_facts({"order": {"platform":
                                                                             "shopee"}}))
    assert response.status_code == 404
    [error] = errors_of(response)
    assert error["pointer"] == "/order/platform"
    assert "shopee" in error["message"]


def test_no_version_in_force_is_422_at_request_at(client, policies):
    facts = make_facts({"order": {"placed_at": "2010-01-01T10:00:00+07:00"},
                        "request": {"at": "2010-01-01T12:00:00+07:00"}})
    response = client.post("/v1/decisions", json=facts)
    assert response.status_code == 422
    [error] = errors_of(response)
    assert (error["code"], error["pointer"]) == ("no-version-in-force", "/request/at")
    with pytest.raises(SelectionError) as raised:
        policies.decide(facts)
    assert response.json() == error_body(raised.value)


def test_bad_language_is_400(client):
    response = client.post("/v1/decisions?lang=fr", json=make_facts())
    assert response.status_code == 400
    assert '"fr"' in errors_of(response)[0]["message"]


def test_body_over_the_limit_is_413(small_client):
    facts = make_facts({"order": {"id": "X" * 100}})
    facts["order"]["items"] = facts["order"]["items"] * 60  # about 5 KB > 4000 bytes
    response = small_client.post("/v1/decisions", json=facts)
    assert response.status_code == 413
    [error] = errors_of(response)
    assert error["code"] == "body-too-large"
    assert "4,000" in error["message"]


def test_endless_upload_is_refused_after_reading_just_past_the_limit(tmp_path):
    """No Content-Length, a body that never ends: the service answers 413 once it has read
    past the limit, instead of buffering the upload."""
    app = create_app(ServiceConfig(tiktok_only(tmp_path), max_body_bytes=10_000))
    chunk = b" " * 1000
    pulled = 0
    sent: list[dict] = []

    async def receive():
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/v1/decisions", "raw_path": b"/v1/decisions",
             "query_string": b"", "root_path": "", "headers": [(b"transfer-encoding", b"chunked")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert pulled == 11  # 11,000 bytes read: the first chunk past 10,000
    app.state.holder.close()


# --- POST /v1/decisions:batch -------------------------------------------------------------------

def test_batch_answers_each_item_in_order_and_a_bad_item_fails_alone(client, policies):
    good = [make_facts({"order": {"id": f"B-{i}", "status": s}})
            for i, s in enumerate(["unpaid", "paid", "shipped"])]
    bad_schema = make_facts({"order": {"status": "lost"}})
    too_old = make_facts({"request": {"at": "2010-01-01T12:00:00+07:00"}})
    items = [good[0], bad_schema, good[1], "not an object", too_old, good[2]]
    response = client.post("/v1/decisions:batch", json={"items": items})
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 6
    for index, facts in ((0, good[0]), (2, good[1]), (5, good[2])):
        assert results[index] == policies.decide(facts).to_dict()
        assert policies.decide(facts).to_json() in response.text  # decisions spliced verbatim
    assert results[1]["status"] == 422 and results[1]["errors"][0]["pointer"] == "/order/status"
    assert results[3]["status"] == 422 and results[3]["errors"][0]["code"] == "facts-type"
    assert results[4]["status"] == 422
    assert results[4]["errors"][0]["code"] == "no-version-in-force"


def strict_batch(policies, body: bytes) -> str:
    """The batch answer as the strict reader and `decide_many` give it (the service before
    orjson): the oracle for the body read by orjson."""
    from aturan.runtime.decision import canonical_json
    from aturan.runtime.jsonio import parse_json
    from aturan.service.errors import error_json, status_for
    items = parse_json(body, "<body>")["items"]
    return '{"results":[' + ",".join(
        canonical_json({**error_json(r), "status": status_for(r)}) if isinstance(r, Exception)
        else r.to_json() for r in policies.decide_many(items)) + "]}"


@pytest.mark.parametrize("replace", [
    pytest.param(None, id="plain"),
    pytest.param('"total":18446744073709551616', id="64-bit-overflow"),
    pytest.param('"total":123456789012345678901234567890', id="huge-integer"),
    pytest.param('"total":1.5', id="float"),
    pytest.param('"total":1e3', id="exponent"),
])
def test_a_batch_read_by_orjson_answers_as_the_strict_reader(client, policies, replace):
    items = [json.dumps(make_facts({"order": {"id": f"O-{i}", "status": s}}),
                        separators=(",", ":"))
             for i, s in enumerate(["unpaid", "paid", "shipped", "to_ship"])]
    if replace:
        items[1] = items[1].replace('"total":162000', replace)
        items[3] = items[3].replace('"total":162000', replace)
    body = ('{"items":[' + ",".join(items) + "]}").encode()
    response = client.post("/v1/decisions:batch", content=body)
    assert response.status_code == 200
    assert response.text == strict_batch(policies, body)
    if replace:
        assert [r.get("status") for r in response.json()["results"]] == [None, 422, None, 422]


def test_a_batch_with_a_duplicate_key_is_refused_as_before(client):
    body = b'{"items":[],"items":[]}'
    response = client.post("/v1/decisions:batch", content=body)
    assert response.status_code == 400 and "duplicate key" in errors_of(response)[0]["message"]


def test_batch_pin_applies_to_every_item(client):
    items = [make_facts({"order": {"id": "P-1"}}), make_facts({"order": {"id": "P-2"}})]
    response = client.post("/v1/decisions:batch?ruleset=nope@1.0.0", json={"items": items})
    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == [404, 404]


def test_batch_limit(small_client):
    facts = make_facts()
    assert small_client.post("/v1/decisions:batch", json={"items": [facts] * 3}).status_code == 200
    response = small_client.post("/v1/decisions:batch", json={"items": [facts] * 4})
    assert response.status_code == 413
    [error] = errors_of(response)
    assert (error["code"], error["pointer"]) == ("batch-too-large", "/items")
    assert "4 items; the limit is 3" in error["message"]


@pytest.mark.parametrize("body, status, pointer", [
    pytest.param([], 422, "/", id="array"),
    pytest.param({}, 422, "/items", id="no-items"),
    pytest.param({"items": {}}, 422, "/items", id="items-not-array"),
    pytest.param({"items": [], "lang": "id"}, 422, "/lang", id="unknown-key"),
])
def test_batch_shape_errors(client, body, status, pointer):
    response = client.post("/v1/decisions:batch", json=body)
    assert response.status_code == status
    assert errors_of(response)[0]["pointer"] == pointer


def test_batch_malformed_json_is_400(client):
    assert client.post("/v1/decisions:batch", content=b'{"items": [}').status_code == 400


def test_empty_batch_is_an_empty_answer(client):
    response = client.post("/v1/decisions:batch", json={"items": []})
    assert (response.status_code, response.json()) == (200, {"results": []})


# --- GET endpoints, routing errors, internal errors -----------------------------------------------

def test_rulesets_lists_every_loaded_version(client, policies):
    response = client.get("/v1/rulesets")
    assert response.status_code == 200
    assert response.json() == {"rulesets": policies.describe()}


def test_healthz_reports_status_and_digests(client, policies):
    health = client.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["last_reload"]["ok"] is True
    assert {(r["name"], r["version"], r["digest"]) for r in health["rulesets"]} == {
        (d["name"], d["version"], d["digest"]) for d in policies.describe()}


def test_unknown_path_and_wrong_method_use_the_error_body(client):
    missing = client.get("/v2/decisions")
    assert (missing.status_code, errors_of(missing)[0]["code"]) == (404, "not-found")
    wrong = client.get("/v1/decisions")
    assert (wrong.status_code, errors_of(wrong)[0]["code"]) == (405, "method-not-allowed")


def test_a_fault_of_the_service_is_500_without_details(client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(aturan.Policies, "decide", broken)
    response = client.post("/v1/decisions", json=make_facts())
    assert response.status_code == 500
    assert errors_of(response)[0]["code"] == "internal"
    assert "secret" not in response.text and "Traceback" not in response.text


def test_an_engine_failure_is_500_with_its_message(client, monkeypatch):
    def broken(*args, **kwargs):
        raise EngineError(aturan.Diagnostic("engine-failure", "engine failed"))

    monkeypatch.setattr(aturan.Policies, "decide", broken)
    response = client.post("/v1/decisions", json=make_facts())
    assert (response.status_code, response.json()["kind"]) == (500, "engine")


# --- metrics and access log -----------------------------------------------------------------------

def samples(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def test_metrics_count_decisions_errors_and_latency(small_client):
    for status in ("unpaid", "unpaid", "paid"):
        small_client.post("/v1/decisions", json=make_facts({"order": {"status": status}}))
    small_client.post("/v1/decisions", content=b"{")
    small_client.post("/v1/decisions:batch", json={"items": [make_facts(), {"order": 1}]})
    small_client.post("/v1/decisions?ruleset=nope", json=make_facts())
    small_client.get("/v1/nothing-here")
    found = samples(small_client)

    def decisions(outcome):
        return found.get(("aturan_decisions_total", (("outcome", outcome),
                                                      ("ruleset", "tiktok_shop"),
                                                      ("version", "1.0.0"))))
    assert decisions("approved") == 2
    assert decisions("pending_seller") == 2  # one alone, one inside the batch
    assert found[("aturan_errors_total", (("kind", "malformed_json"),))] == 1
    assert found[("aturan_errors_total", (("kind", "invalid_facts"),))] == 1
    assert found[("aturan_errors_total", (("kind", "unknown_ruleset"),))] == 1
    assert found[("aturan_errors_total", (("kind", "not_found"),))] == 1
    assert found[("aturan_request_duration_seconds_count",
                  (("endpoint", "/v1/decisions"),))] == 5
    assert found[("aturan_request_duration_seconds_count",
                  (("endpoint", "/v1/decisions:batch"),))] == 1


def test_metrics_show_the_memo_of_the_set_being_served(tmp_path):
    config = ServiceConfig(tiktok_only(tmp_path), memo_capacity=2)
    app = create_app(config)
    try:
        with TestClient(app) as client:
            for status in ("unpaid", "paid", "to_ship", "unpaid", "delivered"):
                client.post("/v1/decisions", json=make_facts({"order": {"status": status}}))
            found = samples(client)
    finally:
        app.state.holder.close()
    memo = {name: found[(f"aturan_memo_{name}", ())]
            for name in ("keys", "capacity", "hits", "misses", "evictions")}
    assert memo["capacity"] == 2 and memo["keys"] == 2
    assert memo["hits"] + memo["misses"] == 5 and memo["misses"] >= 3
    assert memo["evictions"] == memo["misses"] - 2


def test_access_log_line_has_order_ruleset_outcome_latency(client, caplog):
    caplog.set_level("INFO", logger="aturan.access")
    client.post("/v1/decisions", json=make_facts({"order": {"id": "LOG-1"}}))
    client.post("/v1/decisions", json=make_facts({"order": {"id": "LOG-2", "status": "x"}}))
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "aturan.access"]
    ok, bad = lines[-2:]
    assert ok["order_id"] == "LOG-1" and ok["ruleset"] == "tiktok_shop@1.0.0"
    assert ok["status"] == 200 and ok["outcome"] == "pending_seller" and ok["latency_ms"] > 0
    assert bad["order_id"] == "LOG-2" and bad["status"] == 422 and bad["error"] == "invalid_facts"


# --- OpenAPI ----------------------------------------------------------------------------------

def test_openapi_uses_the_project_schemas(client, policies):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    facts_file = load_schema("facts")
    assert schemas["Facts"]["properties"].keys() == facts_file["properties"].keys()
    assert schemas["Facts"]["required"] == facts_file["required"]
    assert schemas["Facts.timestamp"] == facts_file["$defs"]["timestamp"]
    assert schemas["Decision"]["required"] == load_schema("decision")["required"]
    post = spec["paths"]["/v1/decisions"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Facts"}
    assert post["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Decision"}
    assert {"400", "404", "413", "422"} <= post["responses"].keys()
    assert "/v1/decisions:batch" in spec["paths"]
    # the re-rooted schemas still validate: good facts and a real decision pass, bad facts fail
    registry = Registry().with_resource("urn:spec", DRAFT202012.create_resource(spec))

    def validator(name):
        return jsonschema.Draft202012Validator(
            {"$ref": f"urn:spec#/components/schemas/{name}"}, registry=registry,
            format_checker=jsonschema.FormatChecker())
    validator("Facts").validate(make_facts())
    validator("Decision").validate(policies.decide(make_facts()).to_dict())
    assert not validator("Facts").is_valid(make_facts({"order": {"status": "lost"}}))
    assert not validator("Facts").is_valid(make_facts({"order": {"amounts": {"total": -1}}}))


# --- reload -----------------------------------------------------------------------------------

def test_reload_keeps_the_old_set_on_a_broken_file_then_serves_the_new_version(tmp_path):
    root = tiktok_only(tmp_path)
    app = create_app(ServiceConfig(root))
    holder = app.state.holder
    later = make_facts({"order": {"placed_at": "2025-06-01T10:00:00+07:00"},
                        "request": {"at": "2025-06-01T12:00:00+07:00"}})
    with TestClient(app) as client:
        before = client.post("/v1/decisions", json=make_facts()).text
        assert client.post("/v1/decisions", json=later).status_code == 422  # nothing in force

        (root / "tiktok_shop" / "1.1.0.yaml").write_text(
            next_version().replace("outcome: approved", "outcome: approvd", 1))
        assert holder.changed()
        result = holder.reload("manual")
        assert not result.ok
        health = client.get("/healthz").json()
        assert health["status"] == "degraded" and health["generation"] == 1
        [problem] = health["last_reload"]["errors"]
        assert problem.startswith(f"{root.as_posix()}/tiktok_shop/1.1.0.yaml:")
        assert "approvd" in problem
        assert client.post("/v1/decisions", json=make_facts()).text == before
        assert client.post("/v1/decisions", json=later).status_code == 422

        (root / "tiktok_shop" / "1.1.0.yaml").write_text(next_version())
        assert holder.reload("manual").ok
        health = client.get("/healthz").json()
        assert (health["status"], health["generation"]) == ("ok", 2)
        assert {r["version"] for r in health["rulesets"]} == {"1.0.0", "1.1.0"}
        served = client.post("/v1/decisions", json=later)
        assert served.status_code == 200 and served.json()["ruleset"]["version"] == "1.1.0"
        assert client.post("/v1/decisions", json=make_facts()).text == before
        found = samples(client)
        assert found[("aturan_reloads_total", (("result", "failed"), ("trigger", "manual")))] == 1
        assert found[("aturan_reloads_total", (("result", "ok"), ("trigger", "manual")))] == 1
    holder.close()


def test_a_request_in_flight_finishes_on_the_set_it_started_with(tmp_path):
    root = tiktok_only(tmp_path)
    app = create_app(ServiceConfig(root))
    holder = app.state.holder
    facts = make_facts()
    closed: list[str] = []
    with holder.lease() as started_with:
        close = started_with.close
        started_with.close = lambda: (closed.append("old"), close())  # type: ignore[method-assign]
        expected = started_with.decide(facts).to_json()
        (root / "tiktok_shop" / "1.1.0.yaml").write_text(next_version())
        assert holder.reload().ok
        assert holder.policies is not started_with
        # replaced, but still leased: its engine rulesets stay open and it still decides
        assert closed == []
        assert started_with.decide(facts).to_json() == expected
    assert closed == ["old"]  # closed when the last lease on it ended
    with holder.lease() as current:
        assert current.decide(facts).to_json() == expected
    holder.close()


def test_a_replaced_set_nobody_holds_is_closed_at_once(tmp_path):
    root = tiktok_only(tmp_path)
    app = create_app(ServiceConfig(root))
    holder = app.state.holder
    old = holder.policies
    closed: list[str] = []
    close = old.close
    old.close = lambda: (closed.append("old"), close())  # type: ignore[method-assign]
    assert holder.reload().ok
    assert closed == ["old"]
    holder.close()


def test_the_reload_event_is_written_before_the_new_generation_is_visible(tmp_path):
    """Whoever sees generation 2 in /healthz can already read the event that announced it: the
    e2e test reads the log as soon as /healthz changes (it failed under load when the swap came
    first)."""
    from aturan.service.holder import PolicyHolder

    root = tiktok_only(tmp_path)
    seen_during_event: list[tuple[int, int, object]] = []
    holder = PolicyHolder(root)
    holder.on_reload = lambda result: seen_during_event.append(
        (result.generation, holder.generation, holder.last_reload and holder.last_reload.trigger))
    holder.start()
    (root / "tiktok_shop" / "1.1.0.yaml").write_text(next_version())
    assert holder.reload("watch").ok
    (root / "tiktok_shop" / "1.1.0.yaml").write_text("rules: [")
    assert not holder.reload("manual").ok
    assert seen_during_event == [(2, 1, "start"), (2, 2, "watch")]
    assert holder.generation == 2 and holder.last_reload.trigger == "manual"
    holder.close()


# --- configuration and the command ------------------------------------------------------------

def test_config_round_trips_through_the_environment(tmp_path):
    config = ServiceConfig(tmp_path, max_body_bytes=123, batch_limit=7, watch=True,
                           watch_interval=0.25, handle_sighup=True, memo_capacity=99)
    assert ServiceConfig.from_env(config.to_env()) == config
    assert ServiceConfig.from_env(ServiceConfig(tmp_path).to_env()).memo_capacity is None


@pytest.mark.parametrize("env, message", [
    ({"ATURAN_BATCH_LIMIT": "lots"}, "ATURAN_BATCH_LIMIT='lots' is not a valid int"),
    ({"ATURAN_BATCH_LIMIT": "0"}, "batch limit must be at least 1"),
    ({"ATURAN_WATCH": "maybe"}, "ATURAN_WATCH='maybe' is not a yes/no value"),
    ({"ATURAN_MAX_BODY_BYTES": "-1"}, "max body size must be at least 1 byte"),
    ({"ATURAN_MEMO_CAPACITY": "0"}, "memo capacity must be at least 1 key"),
])
def test_bad_settings_are_named(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        ServiceConfig.from_env({"ATURAN_RULESETS": str(tmp_path), **env})


def test_serve_refuses_to_start_on_invalid_rulesets(tmp_path, capsys):
    root = tiktok_only(tmp_path)
    path = root / "tiktok_shop" / "1.0.0.yaml"
    path.write_text(path.read_text().replace("eq: unpaid", "eq: unpiad", 1))
    code = main(["serve", "--rulesets", str(root), "--port", "1"])
    assert code == 1
    assert "rulesets/tiktok_shop/1.0.0.yaml:" in capsys.readouterr().err


def test_serve_names_the_files_of_its_first_set_as_its_reloads_do(tmp_path, monkeypatch):
    """`aturan serve --rulesets rulesets` (a relative path, as from a policy repository's root)
    loaded its first set under the path as given but reloaded under the absolute one: the same
    order's decision named its rule files differently after a reload, and the playground had
    no text for any version until the first reload."""
    import uvicorn

    root = tiktok_only(tmp_path)
    monkeypatch.chdir(root.parent)
    started: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **settings: started.setdefault("app", app))
    assert main(["serve", "--rulesets", root.name, "--playground", "--probe-timeout", "0"]) == 0
    app = started["app"]
    with TestClient(app) as client:
        first = client.post("/v1/decisions", json=make_facts()).text
        served = client.get("/v1/playground/bootstrap").json()["rulesets"]
        assert served and all(entry["text"] and entry["served"] for entry in served)
        assert app.state.holder.reload("manual").ok
        assert client.post("/v1/decisions", json=make_facts()).text == first
        # named as the service's reloads, workers and decision log name them: absolute
        named = f'"file":"{(root / "tiktok_shop" / "1.0.0.yaml").as_posix()}"'
        assert named in first
        [listed] = client.get("/v1/rulesets").json()["rulesets"]
        assert listed["file"] == (root / "tiktok_shop" / "1.0.0.yaml").as_posix()
    app.state.holder.close()
