"""The playground's API in-process (TestClient; each job still runs in a sandbox process): every
job's answer, located errors for bad rulesets, facts and cases, request limits, time limits, and
that no playground request changes, or even compiles in, the process serving /v1/decisions."""

from __future__ import annotations

import builtins
import json
import pathlib
import warnings

import jsonschema
import pytest

import aturan
from aturan.language.repository import RulesetCollection
from aturan.resources import load_schema
from aturan.runtime import _engine
from aturan.service import ServiceConfig, create_app
from aturan.service.playground import TimeLimits, add_playground
from aturan.service.playground.jobs import run_job
from aturan.service.playground.requests import Limits, PlaygroundError, parse_request
from aturan.service.playground.sandbox import Sandbox
from conftest import MINIMAL_RULESET, RULESETS, make_facts, write_ruleset

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

ROOT = RULESETS.parent
TIKTOK_1 = (RULESETS / "tiktok_shop" / "1.0.0.yaml").read_text(encoding="utf-8")
TIKTOK_2 = (RULESETS / "tiktok_shop" / "2.0.0.yaml").read_text(encoding="utf-8")
CASES_1 = (RULESETS / "tiktok_shop" / "cases" / "1.0.0.yaml").read_text(encoding="utf-8")
OVERLAY = (RULESETS / "preorder_firm" / "1.0.0.yaml").read_text(encoding="utf-8")
EXAMPLES = [json.loads(line) for line in
            (ROOT / "examples" / "orders.jsonl").read_text(encoding="utf-8").splitlines()]
SILENT_SELLER = next(e for e in EXAMPLES if e["order"]["id"] == "TT-3005")  # auto_approved, 2d
THRESHOLD = "- { fact: request.at, older_than: 2d }"


def facts_text(facts: dict) -> str:
    return json.dumps(facts, indent=2) + "\n"


@pytest.fixture(scope="module")
def client():
    app = create_app(ServiceConfig(RULESETS, playground=True))
    with TestClient(app) as test_client:
        yield test_client
    app.state.holder.close()


def post(client, job: str, **body):
    return client.post(f"/v1/playground/{job}", json=body)


def errors(response) -> list[dict]:
    return response.json()["errors"]


# --- off unless asked for ------------------------------------------------------------------------

def test_the_playground_is_off_without_the_flag():
    app = create_app(ServiceConfig(RULESETS))
    with TestClient(app) as plain:
        assert plain.get("/playground").status_code == 404
        assert plain.post("/v1/playground/decide", json={}).status_code == 404
        assert "/v1/playground/decide" not in plain.get("/openapi.json").json()["paths"]
    app.state.holder.close()


def test_page_and_static_files_under_a_strict_content_security_policy(client):
    page = client.get("/playground")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy
    assert "connect-src 'self'" in policy
    assert 'data-testid="ruleset-editor"' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    script = client.get("/playground/static/js/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "innerHTML" not in script.text and "eval(" not in script.text
    assert "/v1/playground/decide" in client.get("/openapi.json").json()["paths"]


def test_bootstrap_lists_the_served_versions_with_their_texts_and_cases(client):
    body = client.get("/v1/playground/bootstrap").json()
    by_key = {r["key"]: r for r in body["rulesets"]}
    assert set(by_key) == {rs.key for rs in aturan.load(RULESETS).collection.versions}
    assert by_key["tiktok_shop@1.0.0"]["text"] == TIKTOK_1
    assert by_key["tiktok_shop@1.0.0"]["served"] is True  # its digest is the served one's
    assert by_key["tiktok_shop@1.0.0"]["cases"] == CASES_1
    assert {e["id"] for e in body["examples"]} >= {"TS-3001", "TT-3005"}
    assert json.loads(body["examples"][0]["text"]) == EXAMPLES[0]


# --- decide, validate, why-not -------------------------------------------------------------------

def test_decision_is_the_library_decision_for_the_same_text(client, policies):
    response = post(client, "decide", ruleset=TIKTOK_1, facts=facts_text(EXAMPLES[0]))
    assert response.status_code == 200
    got = response.json()["decision"]
    want = policies.decide(EXAMPLES[0], "tiktok_shop@1.0.0").to_dict()
    for item in want["explanation"]:
        item["source"]["file"] = "playground.yaml"  # the virtual file name
    assert got == want  # same digest too: the same bytes
    assert response.json()["ruleset"]["key"] == "tiktok_shop@1.0.0"
    jsonschema.Draft202012Validator(load_schema("decision")).validate(got)


def test_a_changed_threshold_changes_the_decision(client):
    facts = facts_text(SILENT_SELLER)
    before = post(client, "decide", ruleset=TIKTOK_2, facts=facts).json()["decision"]
    assert before["outcome"] == "auto_approved"
    assert THRESHOLD in TIKTOK_2
    after = post(client, "decide", ruleset=TIKTOK_2.replace(THRESHOLD, THRESHOLD.replace(
        "2d", "3d")), facts=facts).json()["decision"]
    assert after["outcome"] != "auto_approved"


def test_a_typo_is_located_with_did_you_mean(client):
    text = TIKTOK_1.replace("fact: request.by, eq: buyer", "fact: request.bye, eq: buyer", 1)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "request.bye" in row)
    response = post(client, "validate", ruleset=text)
    assert response.status_code == 422
    [error] = errors(response)
    assert error["source"] == "ruleset" and error["code"] == "unknown-fact"
    assert error["line"] == line and error["col"] == text.splitlines()[line - 1].index("{") + 1
    assert error["hint"] == 'Did you mean "request.by"?'
    assert response.json()["kind"] == "invalid_ruleset"


def test_yaml_syntax_error_has_line_and_column(client):
    text = TIKTOK_1.replace("rules:\n", "rules: [\n", 1)
    [error] = errors(post(client, "decide", ruleset=text, facts=facts_text(EXAMPLES[0])))
    assert error["code"] == "yaml-syntax" and error["source"] == "ruleset"
    assert error["line"] == text.splitlines().index("rules: [") + 2


def test_ruleset_and_facts_errors_come_together(client):
    bad_facts = make_facts({"order": {"status": "lost"}})
    response = post(client, "decide", ruleset="ruleset: tiktok_shop\n",
                    facts=facts_text(bad_facts))
    assert response.status_code == 422
    sources = {(e["source"], e["pointer"]) for e in errors(response)}
    assert ("facts", "/order/status") in sources
    assert any(source == "ruleset" for source, _ in sources)


def test_facts_syntax_error_at_its_line(client):
    text = facts_text(EXAMPLES[0]).replace('"status": "paid",', '"status": "paid"', 1)
    [error] = errors(post(client, "decide", ruleset=TIKTOK_1, facts=text))
    assert error["source"] == "facts" and error["code"] == "json-syntax"
    assert error["line"] == next(n for n, row in enumerate(text.splitlines(), 1)
                                 if '"status": "paid"' in row) + 1


def test_an_order_of_another_platform_is_a_facts_error(client):
    [error] = errors(post(client, "decide", ruleset=TIKTOK_1,
                          facts=facts_text(make_facts({"order": {"platform": "shopee"}}))))
    assert (error["source"], error["code"], error["pointer"]) == (
        "facts", "platform-mismatch", "/order/platform")


def test_a_served_version_can_be_pasted_under_its_own_name_without_collision(client):
    # same name and version as a served one, different rules: decided on the pasted text
    text = TIKTOK_1.replace("outcome: pending_seller\n      next_steps: [contact_seller]\n",
                            "outcome: rejected\n      next_steps: [contact_seller]\n", 1)
    assert text != TIKTOK_1
    body = post(client, "decide", ruleset=text, facts=facts_text(EXAMPLES[0])).json()
    assert body["decision"]["outcome"] == "rejected"


def test_why_not_traces_every_condition(client):
    response = post(client, "why-not", ruleset=TIKTOK_1, facts=facts_text(EXAMPLES[0]),
                    rule="unpaid-buyer-cancel")
    assert response.status_code == 200
    body = response.json()
    assert body["fired"] is False and body["role"] == "not_matched"
    status = next(c for c in body["condition"]["conditions"] if c["fact"] == "order.status")
    assert (status["expected"], status["actual"], status["holds"]) == ("unpaid", "paid", False)
    assert body["text"][0].startswith("why not unpaid-buyer-cancel")


def test_why_not_an_unknown_rule_suggests_one(client):
    response = post(client, "why-not", ruleset=TIKTOK_1, facts=facts_text(EXAMPLES[0]),
                    rule="unpaid-buyer-cancl")
    assert response.status_code == 422
    [error] = errors(response)
    assert (error["code"], error["pointer"]) == ("unknown-rule", "/rule")
    assert error["hint"] == 'Did you mean "unpaid-buyer-cancel"?'


def test_an_overlay_is_decided_over_the_served_bases(client, policies):
    facts = next(e for e in EXAMPLES if e["order"]["id"] == "PF-3011")
    body = post(client, "decide", ruleset=OVERLAY, facts=facts_text(facts)).json()
    assert body["decision"]["outcome"] == policies.decide(facts).outcome == "rejected"
    assert body["decision"]["ruleset"]["extends"]["name"] == "tiktok_shop"


PROJECT = """\
platforms:
  blibli: { display_name: Blibli, time_zone: Asia/Jakarta, holidays: ID }
facts:
  order.ext.seller_tier: { type: enum, values: [regular, mall], description: Tier. }
"""
BLIBLI = MINIMAL_RULESET.replace("ruleset: demo", "ruleset: blibli").replace(
    "{ fact: order.status, eq: unpaid }", "{ fact: order.ext.seller_tier, eq: mall }")


def test_a_policy_folder_s_own_facts_and_platforms(tmp_path):
    root = write_ruleset(tmp_path, BLIBLI, name="blibli")
    (tmp_path / "aturan.yaml").write_text(PROJECT, encoding="utf-8")
    app = create_app(ServiceConfig(root, playground=True))
    order = make_facts({"order": {"platform": "blibli", "ext": {"seller_tier": "mall"}}})
    with TestClient(app) as folder:
        body = folder.post("/v1/playground/decide", json={"ruleset": BLIBLI, "facts": order})
        assert body.status_code == 200, body.text
        assert body.json()["decision"]["outcome"] == folder.post(
            "/v1/decisions", json=order).json()["outcome"] == "approved"
        typo = BLIBLI.replace("order.ext.seller_tier", "order.ext.seller_teir")
        [error] = folder.post("/v1/playground/validate", json={"ruleset": typo}).json()["errors"]
        assert error["code"] == "unknown-fact"
        assert error["hint"] == 'Did you mean "order.ext.seller_tier"?'
        gold = make_facts({"order": {"platform": "blibli", "ext": {"seller_tier": "gold"}}})
        response = folder.post("/v1/playground/decide", json={"ruleset": BLIBLI, "facts": gold})
        assert response.status_code == 422
        assert [e["pointer"] for e in errors(response)] == ["/order/ext/seller_tier"]
        assert folder.get("/v1/playground/bootstrap").json()["rulesets"][0]["text"] == BLIBLI
    app.state.holder.close()


# --- test, lint, diff, sample --------------------------------------------------------------------

def test_bundled_cases_pass_with_coverage(client):
    body = post(client, "test", ruleset=TIKTOK_1, cases=CASES_1).json()
    assert body["summary"]["failed"] == 0 and body["summary"]["passed"] > 10
    assert body["coverage"]["ruleset"] == "tiktok_shop@1.0.0"
    assert body["coverage"]["uncovered"] == []


def test_a_rule_no_case_fires_is_reported_at_its_line(client):
    text = TIKTOK_1 + """
  - id: never-fires
    description: A rule no case reaches.
    priority: 99
    when:
      all:
        - { fact: order.status, eq: returned }
        - { fact: request.by, eq: system }
    then:
      outcome: rejected
    explain:
      en: never
      id: tidak pernah
    source:
      publisher: test
      title: test
"""
    body = post(client, "test", ruleset=text, cases=CASES_1).json()
    [uncovered] = body["coverage"]["uncovered"]
    assert uncovered["rule"] == "never-fires"
    assert text.splitlines()[uncovered["line"] - 1].strip() == "- id: never-fires"


def test_a_failing_case_and_bad_case_text(client):
    text = TIKTOK_1.replace("outcome: pending_seller\n      next_steps: [contact_seller]\n",
                            "outcome: rejected\n      next_steps: [contact_seller]\n", 1)
    body = post(client, "test", ruleset=text, cases=CASES_1).json()
    assert body["summary"]["failed"] >= 1
    failed = next(c for c in body["cases"] if not c["passed"])
    assert "outcome: expected pending_seller, got rejected" in failed["mismatches"]
    assert failed["facts"]["order"]["platform"] == "tiktok_shop"  # loadable into the pane

    response = post(client, "test", ruleset=TIKTOK_1, cases="ruleset: x\ncases: [{name: 1}]\n")
    assert response.status_code == 422
    assert {e["source"] for e in errors(response)} == {"cases"}
    assert all(e["line"] for e in errors(response))


def test_cases_cannot_read_files(client):
    cases = ("ruleset: tiktok_shop@1.0.0\nbase_file: _base.json\n"
             "cases: [{name: a, expect: {outcome: approved}}]\n")
    [error] = errors(post(client, "test", ruleset=TIKTOK_1, cases=cases))
    assert (error["source"], error["code"], error["line"]) == ("cases", "case-base-file", 2)
    outside = cases.replace("_base.json", "../../../../etc/passwd")
    [error] = errors(post(client, "test", ruleset=TIKTOK_1, cases=outside))
    assert (error["source"], error["pointer"]) == ("cases", "/base_file")


def test_lint_findings_have_witnesses_the_decide_endpoint_agrees_with(client):
    body = post(client, "lint", ruleset=TIKTOK_2).json()
    with_witness = [f for f in body["findings"] if f["witness"]]
    assert with_witness
    for finding in with_witness:
        assert finding["confirmed"], finding
        decided = post(client, "decide", ruleset=TIKTOK_2,
                       facts=facts_text(finding["witness"])).json()["decision"]
        assert finding["decided"].startswith(decided["outcome"])
    assert all(f["file"] == "playground.yaml" for f in body["findings"])


def test_diff_against_the_served_version(client):
    same = post(client, "diff", ruleset=TIKTOK_2, against="tiktok_shop@2.0.0", orders=200).json()
    assert (same["orders"], same["changed"]) == (200, 0)
    assert sum(c["count"] for c in same["cells"]) == 200
    assert all(c["old"] == c["new"] for c in same["cells"])

    edited = TIKTOK_2.replace(THRESHOLD, THRESHOLD.replace("2d", "3d"))
    body = post(client, "diff", ruleset=edited, against="tiktok_shop@2.0.0", orders=400,
                seed=7).json()
    assert body["changed"] > 0
    assert sum(c["count"] for c in body["cells"]) == 400
    moved = next(c for c in body["cells"] if c["old"] == "auto_approved"
                 and c["new"] != "auto_approved")
    example = moved["examples"][0]
    assert example["changed"]
    # the example, decided on its own, lands in its cell
    decided = post(client, "decide", ruleset=edited, facts=facts_text(example["facts"])).json()
    assert decided["decision"]["outcome"] == moved["new"]
    assert body["sample"] == "aturan sample --platform tiktok_shop --n 400 --seed 7"


def test_diff_against_an_unknown_or_other_platform_version(client):
    response = post(client, "diff", ruleset=TIKTOK_2, against="tiktok_shop@2.0.1")
    assert response.status_code == 404
    assert errors(response)[0]["hint"] == 'Did you mean "tiktok_shop@2.0.0"?'
    response = post(client, "diff", ruleset=TIKTOK_2, against="shopee@1.0.0")
    assert response.status_code == 422 and errors(response)[0]["code"] == "diff-platform"


def test_sample_is_reproducible_and_valid(client, policies):
    one = post(client, "sample", ruleset=TIKTOK_2, seed=3, index=4).json()["facts"]
    assert one == post(client, "sample", ruleset=TIKTOK_2, seed=3, index=4).json()["facts"]
    assert one != post(client, "sample", ruleset=TIKTOK_2, seed=3, index=5).json()["facts"]
    assert policies.decide(one, "tiktok_shop@2.0.0").order_id == one["order"]["id"]


# --- requests the playground refuses ------------------------------------------------------------

@pytest.mark.parametrize("body, status, code, pointer", [
    ({"ruleset": TIKTOK_1, "fact": "{}"}, 422, "request-shape", "/fact"),
    ({"facts": "{}"}, 422, "request-shape", "/ruleset"),
    ({"ruleset": 1, "facts": "{}"}, 422, "request-shape", "/ruleset"),
    ({"ruleset": TIKTOK_1, "facts": ["order"]}, 422, "request-shape", "/facts"),
    ({"ruleset": "x" * 300_000, "facts": "{}"}, 413, "ruleset-too-large", "/ruleset"),
    ([], 422, "request-shape", "/"),
])
def test_bad_request_shapes(client, body, status, code, pointer):
    response = client.post("/v1/playground/decide", json=body)
    assert response.status_code == status
    [error] = errors(response)
    assert (error["code"], error["pointer"], error["source"]) == (code, pointer, "request")


def test_facts_may_be_an_object_too(client, policies):
    body = post(client, "decide", ruleset=TIKTOK_1, facts=EXAMPLES[0]).json()
    assert body["decision"]["outcome"] == policies.decide(EXAMPLES[0]).outcome
    response = post(client, "decide", ruleset=TIKTOK_1, facts={"order": {}})
    assert response.status_code == 422
    assert {e["source"] for e in errors(response)} == {"facts"}
    assert "/order/id" in {e["pointer"] for e in errors(response)}


def test_unknown_field_suggests_the_right_one(client):
    [error] = errors(client.post("/v1/playground/decide", json={"ruleset": "", "fact": ""}))
    assert error["hint"] == 'Did you mean "facts"?'


def test_malformed_and_oversized_bodies(client):
    response = client.post("/v1/playground/decide", content=b'{"ruleset": ')
    assert response.status_code == 400 and errors(response)[0]["code"] == "json-syntax"
    response = client.post("/v1/playground/decide", content=b" " * (1024 * 1024 + 1))
    assert response.status_code == 413 and errors(response)[0]["code"] == "body-too-large"
    response = post(client, "diff", ruleset=TIKTOK_2, against="tiktok_shop@2.0.0",
                    orders=100_000)
    assert response.status_code == 422 and errors(response)[0]["pointer"] == "/orders"


def test_too_many_rules(client):
    app = create_app(ServiceConfig(RULESETS))
    add_playground(app, app.state.holder, Limits(rules=3))
    with TestClient(app) as small:
        response = small.post("/v1/playground/validate", json={"ruleset": TIKTOK_1})
    app.state.holder.close()
    assert response.status_code == 413 and errors(response)[0]["code"] == "too-many-rules"


# --- isolation, time and concurrency limits ----------------------------------------------------

def test_nothing_pasted_changes_what_the_service_decides(client, policies):
    orders = [make_facts(), *EXAMPLES]
    before = [client.post("/v1/decisions", json=o).content for o in orders]
    rulesets_before = client.get("/v1/rulesets").content
    generation = client.get("/healthz").json()["generation"]
    registrations = next(_engine._REGISTRATIONS)
    same_name = TIKTOK_1.replace("outcome: pending_seller", "outcome: rejected")
    for text in ("ruleset: tiktok_shop\n", "{ not yaml", same_name, TIKTOK_1 + "\x00",
                 TIKTOK_1.replace("priority: 40", "priority: many")):
        for job, extra in (("validate", {}), ("decide", {"facts": facts_text(orders[0])}),
                           ("lint", {}), ("test", {"cases": CASES_1})):
            post(client, job, ruleset=text, **extra)
    assert [client.post("/v1/decisions", json=o).content for o in orders] == before
    assert before[0] == policies.decide(orders[0]).to_json().encode()
    assert client.get("/v1/rulesets").content == rulesets_before
    assert client.get("/healthz").json()["generation"] == generation
    # the serving process compiled no ruleset at all: each job's engine lived in its sandbox
    assert next(_engine._REGISTRATIONS) == registrations + 1


def test_a_job_over_its_time_limit_is_stopped_and_the_next_one_runs():
    app = create_app(ServiceConfig(RULESETS))
    add_playground(app, app.state.holder, times=TimeLimits(seconds={"lint": 1e-6}))
    with TestClient(app) as limited:
        response = limited.post("/v1/playground/lint", json={"ruleset": TIKTOK_1})
        assert response.status_code == 422
        [error] = errors(response)
        assert error["code"] == "time-limit" and "lint took longer than" in error["message"]
        assert limited.post("/v1/playground/validate", json={"ruleset": TIKTOK_1}
                            ).status_code == 200
        assert limited.post("/v1/decisions", json=make_facts()).status_code == 200
    app.state.holder.close()


def test_beyond_the_queue_requests_are_refused_with_429():
    sandbox = Sandbox(Limits(), TimeLimits(workers=1, queue=0))
    request = parse_request("validate", {"ruleset": TIKTOK_1}, Limits())
    with sandbox._lock:
        sandbox._waiting = 1  # one job running, no room to wait
    with pytest.raises(PlaygroundError) as refused:
        sandbox.run(request, RulesetCollection.of(()))
    assert refused.value.status == 429
    assert refused.value.entries[0]["code"] == "playground-busy"


# --- the jobs themselves, in this process ---------------------------------------------------------

def test_jobs_close_every_engine_ruleset_they_create(monkeypatch, policies):
    opened: list[_engine.EngineRuleset] = []
    original = _engine.EngineRuleset.__init__

    def tracking(self, name, definition):
        original(self, name, definition)
        opened.append(self)

    monkeypatch.setattr(_engine.EngineRuleset, "__init__", tracking)
    served = policies.collection
    limits = Limits()
    for job, body in (("validate", {}), ("decide", {"facts": facts_text(EXAMPLES[0])}),
                      ("why-not", {"facts": facts_text(EXAMPLES[0]), "rule": "unpaid-buyer-cancel"}),
                      ("test", {"cases": CASES_1}), ("lint", {}),
                      ("diff", {"against": "tiktok_shop@1.0.0", "orders": 20}),
                      ("decide", {"facts": facts_text(make_facts({"order": {"platform": "x"}}))})):
        status, _ = run_job(parse_request(job, {"ruleset": TIKTOK_1, **body}, limits), served,
                            limits)
        assert status in (200, 422)
    assert opened and all(engine._handle is None for engine in opened)
    names = [engine.name for engine in opened]
    assert len(set(names)) == len(names)  # unique in the process-global engine


def test_jobs_never_touch_the_file_system(monkeypatch, policies):
    served = policies.collection
    limits = Limits()
    bodies = [("validate", {}), ("decide", {"facts": facts_text(EXAMPLES[0])}),
              ("test", {"cases": CASES_1}), ("lint", {}), ("sample", {"seed": 1}),
              ("diff", {"against": "tiktok_shop@1.0.0", "orders": 10})]
    for job, body in bodies:  # once first: schemas and modules are loaded (and cached) here
        run_job(parse_request(job, {"ruleset": TIKTOK_1, **body}, limits), served, limits)

    def refuse_io(*args, **kwargs):
        raise AssertionError(f"a playground job touched the file system: {args[:2]}")

    for target, name in ((builtins, "open"), (pathlib.Path, "open"), (pathlib.Path, "stat"),
                         (pathlib.Path, "read_bytes"), (pathlib.Path, "read_text"),
                         (pathlib.Path, "iterdir"), (pathlib.Path, "rglob")):
        monkeypatch.setattr(target, name, refuse_io)
    for job, body in bodies:
        status, answer = run_job(parse_request(job, {"ruleset": TIKTOK_1, **body}, limits),
                                 served, limits)
        assert status == 200, answer


def test_every_job_is_routed_and_every_call_of_the_page_has_a_route():
    import re

    from aturan.service.playground import STATIC
    from aturan.service.playground.jobs import JOBS
    from aturan.service.playground.requests import FIELDS
    assert set(JOBS) == set(FIELDS)
    script = (STATIC / "js" / "app.js").read_text(encoding="utf-8")
    called = set(re.findall(r'(?:call|tool)\("([a-z-]+)"', script))
    assert called and called <= set(FIELDS)
