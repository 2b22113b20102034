"""A policy folder of one's own, as a newcomer builds it: `aturan init` for a marketplace aturan
does not bundle (blibli), one extra fact declared in aturan.yaml, rules that read it, and every
command on it: validate, test --coverage, lint, decide (text, JSON, --why-not), sample, diff
(corpus and exhaustive), serve (a decision over HTTP, the fact in /openapi.json), and the
exported schemas checked by check-jsonschema."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from aturan.cli import main

pytest_plugins = ["pytester"]

TIER = """\
  order.ext.seller_tier:
    type: enum
    values: [regular, star, mall]
    description: The seller's tier on Blibli; mall shops refund at once.
"""

VERSION_2 = """\
# yaml-language-server: $schema=../../schemas/ruleset.schema.json
ruleset: blibli
version: 2.0.0
effective_from: 2026-01-01T00:00:00+07:00
description: Blibli cancellations from 2026, by seller tier.
sources:
  - { publisher: Blibli Seller Centre, title: Pembatalan pesanan }
default:
  then: { outcome: escalated, next_steps: [contact_customer_service] }
  explain: { en: Customer service decides., id: Layanan pelanggan yang memutuskan. }
lint:
  silence:
    - { code: gap, reason: The rest goes to customer service on purpose. }
rules:
  - id: unpaid-buyer-cancel
    description: An unpaid order is cancelled at once.
    priority: 50
    when:
      all:
        - { fact: order.status, eq: unpaid }
        - { fact: request.type, eq: cancel }
    then: { outcome: approved, next_steps: [order_cancelled] }
    explain: { en: Unpaid orders are cancelled at once., id: Pesanan belum dibayar langsung batal. }
    source: { publisher: Blibli Seller Centre, title: Pembatalan pesanan }
  - id: mall-paid-cancel-refunded
    description: A mall shop refunds a paid cancellation before shipping.
    priority: 40
    when:
      all:
        - { fact: order.status, in: [paid, to_ship] }
        - { fact: request.type, eq: cancel }
        - { fact: order.ext.seller_tier, eq: mall }
    then:
      outcome: approved
      refund: { amount: paid, destination: original_method,
                eta: { min_business_days: 1, max_business_days: 3 } }
      next_steps: [order_cancelled]
    explain:
      en: A {order.ext.seller_tier} shop refunds {order.amounts.total} at once.
      id: Toko {order.ext.seller_tier} langsung mengembalikan {order.amounts.total}.
    source: { publisher: Blibli Seller Centre, title: Blibli Mall }
  - id: star-paid-cancel-needs-seller
    description: A star seller answers a paid cancellation first.
    priority: 40
    when:
      all:
        - { fact: order.status, in: [paid, to_ship] }
        - { fact: request.type, eq: cancel }
        - { fact: order.ext.seller_tier, eq: star }
    then: { outcome: pending_seller, next_steps: [contact_seller] }
    explain: { en: The star seller answers first., id: Penjual bintang menjawab dulu. }
    source: { publisher: Blibli Seller Centre, title: Star Seller }
  - id: mall-to-ship-cancel
    description: Written before the broader mall rule; lint finds it can never decide.
    priority: 30
    when:
      all:
        - { fact: order.status, eq: to_ship }
        - { fact: request.type, eq: cancel }
        - { fact: order.ext.seller_tier, eq: mall }
    then: { outcome: approved, next_steps: [order_cancelled, contact_seller] }
    explain: { en: Cancelled., id: Dibatalkan. }
    source: { publisher: Blibli Seller Centre, title: Blibli Mall }
"""

CASES_2 = """\
# yaml-language-server: $schema=../../../schemas/cases.schema.json
ruleset: blibli@2.0.0
base_file: _base.json
cases:
  - name: a mall shop refunds a paid cancellation
    patch: { order: { ext: { seller_tier: mall } } }
    expect: { outcome: approved, refund: { amount: 162000 }, decided_by: mall-paid-cancel-refunded }
  - name: a star seller answers first
    patch: { order: { ext: { seller_tier: star } } }
    expect: { outcome: pending_seller, decided_by: star-paid-cancel-needs-seller }
  - name: an unpaid order is cancelled
    patch: { order: { status: unpaid, payment: { method: virtual_account, paid_at: null } } }
    expect: { outcome: approved, decided_by: unpaid-buyer-cancel }
  - name: a regular seller's paid cancellation goes to customer service
    expect: { outcome: escalated, decided_by: default }
"""


def order(tier: str | None = "mall", at: str = "2026-02-02T12:00:00+07:00") -> dict:
    facts = {
        "order": {"id": "BL-1", "platform": "blibli", "placed_at": "2026-02-02T10:00:00+07:00",
                  "status": "paid",
                  "payment": {"method": "ewallet", "paid_at": "2026-02-02T10:05:00+07:00",
                              "deadline_at": None},
                  "amounts": {"items": 150000, "shipping": 12000, "discount": 0, "total": 162000},
                  "items": [{"sku": "K-1", "product_type": "regular", "quantity": 1,
                             "unit_price": 150000}],
                  "seller": {"id": "S-1", "policy": None},
                  "fulfillment": {"ship_by": None, "shipped_at": None, "delivered_at": None}},
        "request": {"type": "cancel", "by": "buyer", "reason": "changed_mind", "at": at,
                    "seller_response": None}}
    if tier is not None:
        facts["order"]["ext"] = {"seller_tier": tier, "official_store": tier == "mall"}
    return facts


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """`aturan init` for blibli, then what a policy author adds: a fact, a version reading it."""
    root = tmp_path_factory.mktemp("policies") / "blibli-policies"
    assert main(["init", str(root), "--platform", "blibli"]) == 0
    project = root / "aturan.yaml"
    project.write_text(project.read_text().replace("facts:\n", "facts:\n" + TIER), "utf-8")
    first = root / "rulesets" / "blibli" / "1.0.0.yaml"
    first.write_text(first.read_text().replace(
        "effective_from: 2025-01-01T00:00:00+07:00\n",
        "effective_from: 2025-01-01T00:00:00+07:00\neffective_until: 2026-01-01T00:00:00+07:00\n"),
        "utf-8")
    (root / "rulesets" / "blibli" / "2.0.0.yaml").write_text(VERSION_2, "utf-8")
    cases = root / "rulesets" / "blibli" / "cases"
    (cases / "2.0.0.yaml").write_text(CASES_2, "utf-8")
    (cases / "_base.json").write_text(json.dumps(order("regular")), "utf-8")
    assert main(["schema", "export", str(root / "schemas")]) == 0
    return root


@pytest.fixture
def inside(folder, monkeypatch) -> Path:
    monkeypatch.chdir(folder)
    return folder


def test_init_writes_a_folder_that_validates_and_whose_cases_pass(tmp_path, capsys, monkeypatch):
    root = tmp_path / "shop"
    code, out, _ = run(capsys, "init", str(root), "--platform", "blibli")
    assert code == 0, out
    for relative in ("aturan.yaml", "rulesets/blibli/1.0.0.yaml", "rulesets/blibli/cases/1.0.0.yaml",
                     ".pre-commit-config.yaml", "schemas/ruleset.schema.json",
                     "schemas/facts.schema.json", "schemas/decision.schema.json",
                     "schemas/cases.schema.json", "schemas/project.schema.json"):
        assert (root / relative).is_file(), relative
    ruleset = (root / "rulesets/blibli/1.0.0.yaml").read_text()
    assert ruleset.startswith("# yaml-language-server: $schema=../../schemas/ruleset.schema.json")
    assert (root / ruleset.split("$schema=", 1)[1].split("\n", 1)[0].replace("../../", "")).exists()
    assert ruleset.count("    source:\n") == 2 and "default:" in ruleset
    hooks = (root / ".pre-commit-config.yaml").read_text()
    assert all(f"id: aturan-{name}" in hooks for name in ("validate", "test", "lint"))
    monkeypatch.chdir(root)
    assert run(capsys, "validate")[0] == 0
    code, out, _ = run(capsys, "test", "--coverage")
    assert code == 0 and "3 passed, 0 failed" in out and "100%" in out
    # init refuses a folder that holds something
    code, _, err = run(capsys, "init", str(root))
    assert code == 2 and "not empty" in err


def test_init_for_a_bundled_platform_declares_no_platform(tmp_path, capsys, monkeypatch):
    root = tmp_path / "ts"
    assert run(capsys, "init", str(root), "--platform", "tiktok_shop")[0] == 0
    assert "\nplatforms:" not in (root / "aturan.yaml").read_text()
    monkeypatch.chdir(root)
    assert run(capsys, "test")[0] == 0


@pytest.mark.parametrize("damage", ["no rulesets folder", "rulesets is a file"])
def test_a_policy_folder_without_its_rulesets_folder_fails_instead_of_using_the_bundled(
        tmp_path, capsys, monkeypatch, damage):
    """With aturan.yaml here and no rulesets/ folder, every command read the bundled rulesets
    instead and passed (validate: 8 files ok; test: 300 passed; decide: TikTok Shop decisions),
    or `test` crashed (FileNotFoundError). Now each names ./rulesets and exits 1."""
    root = tmp_path / "shop"
    assert run(capsys, "init", str(root), "--platform", "blibli")[0] == 0
    shutil.rmtree(root / "rulesets")
    if damage == "rulesets is a file":
        (root / "rulesets").write_text("", "utf-8")
    orders = tmp_path / "o.json"
    orders.write_text(json.dumps(order()), "utf-8")
    monkeypatch.chdir(root)
    for argv in (["validate"], ["test", "--coverage"], ["lint"], ["decide", str(orders)],
                 ["sample", "--platform", "blibli", "--n", "1"]):
        code, out, err = run(capsys, *argv)
        assert code == 1, (argv, out, err)
        assert err.startswith("rulesets:") and "Traceback" not in err, (argv, err)
        assert "tiktok_shop" not in out and "TS-" not in out
        assert "passed" not in out or out.startswith("0 passed, 0 failed")


@pytest.mark.parametrize("damage", ["a folder", "a link to itself", "a dangling link"])
def test_a_project_file_that_is_no_file_is_reported_not_ignored(tmp_path, capsys, monkeypatch,
                                                                damage):
    """An aturan.yaml that cannot be read was passed over as if there were none: the folder's
    rules were checked under the bundled catalogue, and each fact the project adds was
    reported unknown at every rule that reads it. Now the project file itself is the error."""
    root = tmp_path / "shop"
    assert run(capsys, "init", str(root), "--platform", "blibli")[0] == 0
    project = root / "aturan.yaml"
    project.unlink()
    if damage == "a folder":
        project.mkdir()
    else:
        project.symlink_to(project if damage == "a link to itself" else root / "gone.yaml")
    monkeypatch.chdir(root)
    for argv in (["validate"], ["test"], ["lint"]):
        code, out, err = run(capsys, *argv)
        assert code == 1, (argv, out, err)
        assert "aturan.yaml: file-unreadable: cannot read file" in err + out, (argv, err)
        assert "unknown-fact" not in err + out and "Traceback" not in err


def test_validate_and_test_with_coverage(inside, capsys):
    code, out, err = run(capsys, "validate")
    assert code == 0, err
    assert out.startswith("ok: 2 file(s), 2 ruleset version(s) valid")
    code, out, err = run(capsys, "test", "--coverage")
    assert code == 0, out + err
    assert "7 passed, 0 failed" in out
    assert "mall-to-ship-cancel" in out  # the one rule no case fires (lint says why)


def test_the_pytest_plugin_runs_the_folders_cases(folder, pytester):
    shutil.copytree(folder, pytester.path / "policies")
    result = pytester.runpytest(str(pytester.path / "policies" / "rulesets"), "-q",
                                "-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)


def test_lint_witnesses_are_blibli_orders_with_the_extra_fact(inside, capsys):
    code, out, err = run(capsys, "lint", "--format", "json")
    assert code == 0, err
    findings = json.loads(out)["findings"]
    shadowed = [f for f in findings if f["code"] == "shadowed-rule"]
    assert [r["id"] for r in shadowed[0]["rules"]][0] == "mall-to-ship-cancel"
    witness = shadowed[0]["witness"]
    assert witness["order"]["platform"] == "blibli"
    assert witness["order"]["ext"]["seller_tier"] == "mall"
    assert shadowed[0]["confirmed"] is True
    # every witness is an order of this folder's platform
    assert {f["witness"]["order"]["platform"] for f in findings if f.get("witness")} == {"blibli"}


def test_decide_text_json_and_why_not(inside, capsys, tmp_path):
    path = tmp_path / "order.json"
    path.write_text(json.dumps(order("mall")))
    code, out, err = run(capsys, "decide", str(path))
    assert code == 0, err
    assert out.startswith("APPROVED  order BL-1 · blibli@2.0.0")
    assert "A mall shop refunds Rp162.000 at once." in out
    code, out, _ = run(capsys, "decide", str(path), "--format", "json")
    decision = json.loads(out)
    assert decision["explanation"][0]["rule"] == "mall-paid-cancel-refunded"
    because = {b["fact"]: b["actual"] for b in decision["explanation"][0]["because"]}
    assert because["order.ext.seller_tier"] == "mall"
    assert decision["refund"]["eta"]["due_by"] == "2026-02-05"  # 3 business days after Mon 2 Feb
    code, out, _ = run(capsys, "decide", str(path), "--why-not", "star-paid-cancel-needs-seller")
    assert code == 0
    assert "order.ext.seller_tier" in out and "star" in out
    # a value the project file does not declare is refused at its JSON pointer
    path.write_text(json.dumps(order("platinum")))
    code, out, _ = run(capsys, "decide", str(path), "--format", "json")
    assert code == 1
    assert json.loads(out)["errors"][0]["pointer"] == "/order/ext/seller_tier"


def test_sample_then_diff_on_the_corpus(inside, capsys, tmp_path):
    corpus = tmp_path / "orders.jsonl"
    code, _, err = run(capsys, "sample", "--platform", "blibli", "--n", "300", "--seed", "7",
                       "--output", str(corpus))
    assert code == 0, err
    lines = [json.loads(line) for line in corpus.read_text().splitlines()]
    assert len(lines) == 300 and {o["order"]["platform"] for o in lines} == {"blibli"}
    tiers = {o["order"].get("ext", {}).get("seller_tier") for o in lines}
    assert {"regular", "star", "mall"} <= tiers
    assert lines[0]["order"]["id"] == "BL-00000001"
    code, out, err = run(capsys, "decide", str(corpus), "--format", "json")
    assert code == 0, err  # every sampled order is valid and decided
    code, out, err = run(capsys, "diff", "blibli@1.0.0", "blibli@2.0.0", "--orders", str(corpus),
                         "--format", "json", "--no-progress")
    assert code == 0, err
    summary = json.loads(out.splitlines()[0]) if out.startswith("{") else json.loads(out)
    assert summary["changed"] > 0


def test_exhaustive_diff_names_the_extra_fact(inside, capsys):
    pytest.importorskip("z3")
    code, out, err = run(capsys, "diff", "blibli@1.0.0", "blibli@2.0.0", "--exhaustive")
    assert code == 0, err
    assert out.startswith("DIFFERENT  blibli@1.0.0 -> blibli@2.0.0")
    assert "order.ext.seller_tier=" in out
    assert "NOT confirmed" not in out


def test_serve_decides_and_documents_the_extra_fact(folder):
    pytest.importorskip("fastapi")
    with warnings.catch_warnings():  # starlette nudges towards httpx2; httpx is what we ship
        warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
        from fastapi.testclient import TestClient

    from aturan.service import ServiceConfig, create_app

    app = create_app(ServiceConfig(folder / "rulesets"))
    with TestClient(app) as client:
        response = client.post("/v1/decisions", json=order("star"))
        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "pending_seller"
        spec = client.get("/openapi.json").json()
    app.state.holder.close()
    facts = spec["components"]["schemas"]["Facts"]["properties"]["order"]["properties"]
    assert "blibli" in facts["platform"]["enum"]
    assert facts["ext"]["properties"]["seller_tier"]["enum"] == ["regular", "star", "mall"]


@pytest.mark.slow  # check-jsonschema runs as a subprocess, five times
def test_check_jsonschema_accepts_the_exported_schemas_and_the_files(folder, tmp_path):
    tool = shutil.which("check-jsonschema") or str(Path(sys.executable).parent /
                                                   "check-jsonschema")
    if not Path(tool).exists():
        pytest.skip("check-jsonschema is not installed (pip install '.[test]')")
    schemas = folder / "schemas"

    def check(*argv: str) -> None:
        done = subprocess.run([tool, *argv], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr

    check("--check-metaschema", *sorted(str(p) for p in schemas.glob("*.schema.json")))
    check("--schemafile", str(schemas / "ruleset.schema.json"),
          str(folder / "rulesets/blibli/1.0.0.yaml"), str(folder / "rulesets/blibli/2.0.0.yaml"))
    check("--schemafile", str(schemas / "cases.schema.json"),
          str(folder / "rulesets/blibli/cases/1.0.0.yaml"))
    check("--schemafile", str(schemas / "project.schema.json"), str(folder / "aturan.yaml"))
    facts = tmp_path / "order.json"
    facts.write_text(json.dumps(order("mall")))
    check("--schemafile", str(schemas / "facts.schema.json"), str(facts))
    # and the exported ruleset schema is stricter than the bundled one where it can be
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(VERSION_2.replace("order.ext.seller_tier, eq: star",
                                       "order.ext.seller_teir, eq: star"))
    done = subprocess.run([tool, "--schemafile", str(schemas / "ruleset.schema.json"),
                           str(wrong)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1


def test_generated_reference_docs_read_the_folders_catalogue(folder, tmp_path, capsys):
    from aturan.language import docgen

    assert docgen.main(["--rulesets", str(folder / "rulesets"), "--out", str(tmp_path)]) == 0
    reference = (tmp_path / "reference.md").read_text()
    assert "| `order.ext.seller_tier` | enum | `regular`, `star`, `mall` |" in reference
    assert "| `blibli` | Blibli | Asia/Jakarta | ID |" in reference
    assert "### blibli@2.0.0" in (tmp_path / "policies.md").read_text()
