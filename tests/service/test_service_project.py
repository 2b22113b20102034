"""The service on a policy folder with a project file: `--watch` sees aturan.yaml change, a bad
edit keeps the previous good catalogue and rulesets serving, a good one swaps both, and
/openapi.json follows the catalogue being served."""

from __future__ import annotations

import warnings

import pytest

from conftest import MINIMAL_RULESET, make_facts, write_ruleset

pytest.importorskip("fastapi")
with warnings.catch_warnings():  # starlette nudges towards httpx2; httpx is what we ship with
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from aturan.service import ServiceConfig, create_app  # noqa: E402

PROJECT = """\
platforms:
  blibli: { display_name: Blibli, time_zone: Asia/Jakarta, holidays: ID }
facts:
  order.ext.seller_tier: { type: enum, values: [regular, mall], description: Tier. }
"""
RULESET = MINIMAL_RULESET.replace("ruleset: demo", "ruleset: blibli").replace(
    "{ fact: order.status, eq: unpaid }", "{ fact: order.ext.seller_tier, eq: mall }")


def order(tier: str) -> dict:
    return make_facts({"order": {"platform": "blibli", "ext": {"seller_tier": tier}}})


def tiers(client) -> list[str]:
    spec = client.get("/openapi.json").json()
    order_schema = spec["components"]["schemas"]["Facts"]["properties"]["order"]
    return order_schema["properties"]["ext"]["properties"]["seller_tier"]["enum"]


def test_a_bad_project_file_keeps_the_previous_catalogue_serving(tmp_path):
    root = write_ruleset(tmp_path, RULESET, name="blibli")
    project = tmp_path / "aturan.yaml"
    project.write_text(PROJECT, encoding="utf-8")
    app = create_app(ServiceConfig(root))
    holder = app.state.holder
    with TestClient(app) as client:
        served = client.post("/v1/decisions", json=order("mall"))
        assert served.status_code == 200 and served.json()["outcome"] == "approved"
        assert tiers(client) == ["regular", "mall"]

        project.write_text(PROJECT.replace("values: [regular, mall]", "values: []"), "utf-8")
        assert holder.changed()  # the watcher's poll sees the project file too
        result = holder.reload("watch")
        assert not result.ok
        # the folder was given absolutely: the project file is named so too
        assert result.errors[0].startswith(f"{project.as_posix()}:4:3: project-empty-enum:")
        assert client.get("/healthz").json()["status"] == "degraded"
        assert client.post("/v1/decisions", json=order("mall")).text == served.text
        assert tiers(client) == ["regular", "mall"]

        project.write_text(PROJECT.replace("[regular, mall]", "[regular, mall, star]"),
                           "utf-8")
        assert holder.reload("watch").ok
        assert tiers(client) == ["regular", "mall", "star"]
        assert client.post("/v1/decisions", json=order("star")).json()["outcome"] == "escalated"
        assert client.post("/v1/decisions", json=order("mall")).json()["outcome"] == "approved"
    holder.close()
