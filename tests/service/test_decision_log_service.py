"""The service with a decision log, in process: the id in the body and the x-decision-id
header, batch items' ids, /healthz and the dropped-records metric, logging across a reload,
the settings through the environment, and no change at all when logging is off."""

from __future__ import annotations

import threading
import warnings

import pytest

from aturan.audit import LogSettings
from aturan.audit.chain import log_files, read_file
from aturan.service import ServiceConfig, create_app
from aturan.service.config import ConfigError
from conftest import RULESETS, make_facts, next_version, tiktok_only

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


def records(folder) -> list[dict]:
    return [line.record for path in log_files([folder]) for line in read_file(path)]


def test_decisions_carry_the_logged_id_in_body_and_header(tmp_path):
    folder = tmp_path / "log"
    app = create_app(ServiceConfig(RULESETS, decision_log=LogSettings(folder / "d.jsonl")))
    with TestClient(app) as client:
        one = client.post("/v1/decisions", json=make_facts(),
                          headers={"x-request-id": "abc-1"})
        batch = client.post("/v1/decisions:batch",
                            json={"items": [make_facts(), {"order": 1}, make_facts()]})
        bad = client.post("/v1/decisions", json={"order": 1})
        health = client.get("/healthz").json()
    assert one.headers["x-decision-id"] == one.json()["decision_id"]
    assert list(one.json())[0] == "decision_id"
    assert "x-decision-id" not in batch.headers and "x-decision-id" not in bad.headers
    first, failed, last = batch.json()["results"]
    assert "decision_id" not in failed and first["decision_id"] != last["decision_id"]
    logged = records(folder)  # the lifespan closed the log: everything is written
    assert [r["decision_id"] for r in logged] == [one.json()["decision_id"],
                                                 first["decision_id"], last["decision_id"]]
    assert logged[0]["request"] == {"request_id": "abc-1"}
    assert health["decision_log"]["written"] + health["decision_log"]["queued"] >= 0
    assert set(health["decision_log"]) == {"path", "written", "dropped", "queued", "chain",
                                           "seq", "head"}


def test_without_a_log_nothing_changes(tmp_path, policies):
    app = create_app(ServiceConfig(RULESETS))
    with TestClient(app) as client:
        response = client.post("/v1/decisions", json=make_facts())
        health = client.get("/healthz").json()
    assert response.text == policies.decide(make_facts()).to_json()
    assert "x-decision-id" not in response.headers and "decision_log" not in health


def test_dropped_records_are_counted_in_metrics(tmp_path):
    folder = tmp_path / "log"
    settings = LogSettings(folder / "d.jsonl", when_full="drop", queue_size=1)
    app = create_app(ServiceConfig(tiktok_only(tmp_path), decision_log=settings))
    log = app.state.service.decision_log
    release = threading.Event()
    drain = log._drain
    log._drain = lambda: (release.wait(), drain())  # the writer is stuck: the queue stays full
    with TestClient(app) as client:
        answers = [client.post("/v1/decisions", json=make_facts()) for _ in range(4)]
        metrics = client.get("/metrics").text
        release.set()
    ids = [a.headers.get("x-decision-id") for a in answers]
    assert ids[0] is not None and ids[1:] == [None, None, None]
    assert all("decision_id" not in a.json() for a in answers[1:])
    assert "aturan_decision_log_dropped_total 3.0" in metrics
    assert [r["decision_id"] for r in records(folder)] == ids[:1]


def test_a_reloaded_set_is_archived_and_logged(tmp_path):
    rulesets = tiktok_only(tmp_path)
    folder = tmp_path / "log"
    app = create_app(ServiceConfig(rulesets, decision_log=LogSettings(folder / "d.jsonl")))
    later = make_facts({"order": {"placed_at": "2025-06-01T10:00:00+07:00"},
                        "request": {"at": "2025-06-01T12:00:00+07:00"}})
    with TestClient(app) as client:
        assert client.post("/v1/decisions", json=later).status_code == 422
        (rulesets / "tiktok_shop" / "1.1.0.yaml").write_text(next_version())
        assert app.state.holder.reload().ok
        answer = client.post("/v1/decisions", json=later).json()
    [record] = records(folder)
    assert record["decision_id"] == answer["decision_id"]
    assert record["ruleset"]["version"] == "1.1.0"
    archived = folder / "aturan-rulesets" / record["ruleset"]["digest"].replace(":", "-")
    assert (archived / "tiktok_shop" / "1.1.0.yaml").read_text() == next_version()


def test_log_settings_travel_through_the_environment(tmp_path):
    settings = LogSettings(tmp_path / "d.jsonl", max_bytes=4096, when_full="drop",
                           queue_size=7, masks=("/order/items/*/sku=hmac",),
                           key_file=tmp_path / "k", per_process=True)
    config = ServiceConfig(RULESETS, decision_log=settings)
    assert ServiceConfig.from_env(config.to_env()) == config
    assert ServiceConfig.from_env(ServiceConfig(RULESETS).to_env()).decision_log is None
    with pytest.raises(ConfigError, match="block or drop"):
        ServiceConfig.from_env({**config.to_env(), "ATURAN_DECISION_LOG_WHEN_FULL": "maybe"})
    with pytest.raises(ConfigError, match="JSON pointer"):
        ServiceConfig.from_env({**config.to_env(), "ATURAN_DECISION_LOG_MASK": "oops"})
    assert "ATURAN_DECISION_LOG_KEY" not in config.to_env()  # the key itself never travels
