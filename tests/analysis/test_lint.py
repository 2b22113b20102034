"""`aturan lint`: the catalogue of flawed rulesets is caught with the right code, rules, line and a
witness the evaluator confirms; silencing, --orders, text/JSON/SARIF output and exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import aturan
from aturan.analysis.lint.run import lint_collection
from aturan.cli import main
from aturan.language.repository import load_rulesets
from conftest import MINIMAL_RULESET, RULESETS, write_ruleset

CATALOGUE = Path(__file__).parent / "lint_catalogue"
GAP_SILENCE = ('lint:\n  silence:\n    - { code: gap, reason: "only one flaw is under test" }\n')


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def line_of(path: Path, pattern: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if re.search(pattern, line))


def unpaid_ruleset(tmp_path: Path, condition: str, effective_from: str | None = None) -> Path:
    """MINIMAL_RULESET as tiktok_shop, its one rule's condition with `condition` added (and
    in force from `effective_from`); the rulesets root."""
    text = MINIMAL_RULESET.replace("ruleset: demo", "ruleset: tiktok_shop").replace(
        "        - { fact: order.status, eq: unpaid }",
        f"        - {{ fact: order.status, eq: unpaid }}\n        - {condition}")
    if effective_from is not None:
        text = text.replace("2024-01-01T00:00:00+07:00", effective_from)
    return write_ruleset(tmp_path, text, name="tiktok_shop")


def lint_path(path: Path):
    collection = load_rulesets([path])
    policies = aturan.Policies(collection)
    try:
        findings, _ = lint_collection(policies, collection)
    finally:
        policies.close()
    return findings


def active(findings, code=None):
    return [f for f in findings if f.silenced is None and (code is None or f.code == code)]


CATALOGUE_CASES = [
    pytest.param("dead-rule", "warning", ["unpaid-refund"], id="dead-rule"),
    # within one file validation refuses such ties; an overlay's rule against its base's is
    # what only lint sees
    pytest.param("conflict", "error", ["seller-cancel-refund", "out-of-stock-penalty"],
                 id="conflict"),
    pytest.param("shadowed-rule", "warning",
                 ["cod-buyer-cancel-instant", "paid-buyer-cancel-needs-seller"], id="shadowed"),
    pytest.param("redundant-rule", "warning",
                 ["out-of-stock-penalty", "seller-cancel-stock-or-shipping"], id="redundant"),
    pytest.param("gap", "warning", ["default"], id="gap"),
    pytest.param("unused-silence", "warning", ["unpaid-cancel"], id="unused-silence"),
]


@pytest.mark.parametrize("code, severity, rule_ids", CATALOGUE_CASES)
def test_catalogue_is_caught_with_code_rules_line_and_witness(code, severity, rule_ids, policies,
                                                            monkeypatch):
    folder = CATALOGUE / code
    name = "fast_refund" if code == "conflict" else "tiktok_shop"
    path = folder / name / "1.0.0.yaml"
    monkeypatch.chdir(CATALOGUE)  # files are named as given: relative to here
    findings = active(lint_path(Path(code)))
    assert {f.code for f in findings} == {code}, [str(f.diagnostic()) for f in findings]
    finding = findings[0]
    assert finding.severity == severity
    assert [r["id"] for r in finding.rules] == rule_ids
    assert finding.location.file == f"{code}/{name}/1.0.0.yaml"
    if code == "gap":
        assert finding.location.line == line_of(path, r"^default:")
    elif code == "unused-silence":
        assert finding.location.line == line_of(path, r"code: shadowed-rule")
    elif code == "conflict":  # reported at the rule the file order makes lose
        assert finding.location.line == line_of(path, rf"- id: {rule_ids[1]}$")
    else:
        assert finding.location.line == line_of(path, rf"- id: {rule_ids[0]}$")
    if code == "dead-rule":  # no order exists; the finding names what cannot hold, by line
        lines = path.read_text().splitlines()
        start = line_of(path, r"- id: unpaid-refund$")
        status = next(n for n in range(start, len(lines) + 1) if "order.status" in lines[n - 1])
        assert [(c["fact"], c["line"]) for c in finding.core] == [
            ("order.status", status), ("order.payment.paid_at", line_of(path, "paid_at, exists"))]
        assert "unpaid-has-no-paid-at" in finding.message
        return
    if code == "unused-silence":
        return
    assert finding.confirmed and finding.witness is not None
    assert finding.region and finding.fields
    decision = aturan.load(folder).decide(finding.witness, f"{name}@1.0.0")
    decided = decision.explanation[0].rule
    overridden = {o.rule for o in decision.overridden}
    if code == "conflict":
        assert decided == rule_ids[0] and rule_ids[1] in overridden
    elif code == "shadowed-rule":
        assert decided == rule_ids[1] and rule_ids[0] in overridden
    elif code == "redundant-rule":
        codes = [p.code for p in decision.penalties]
        assert codes.count("seller_cancellation") == 2
        assert {p.rule for p in decision.penalties} == set(rule_ids)
    elif code == "gap":
        assert decided == "default" and decision.outcome == "escalated"


def test_catalogue_silences_the_gaps_it_does_not_test():
    findings = lint_path(CATALOGUE / "shadowed-rule")
    silenced = [f for f in findings if f.silenced is not None]
    assert silenced and {f.code for f in silenced} == {"gap"}
    assert silenced[0].silenced == ("catalogue file: only one flaw is under test; the default is "
                                    "fine for the rest")


def test_every_finding_on_the_bundled_rulesets_is_confirmed_by_the_evaluator():
    findings = lint_path(RULESETS)
    assert findings
    for f in findings:
        if f.code in ("dead-rule", "unused-silence"):
            assert f.witness is None
        else:
            assert f.confirmed, str(f.diagnostic())


def test_bundled_rulesets_lint_without_errors():
    errors = [str(f.diagnostic()) for f in active(lint_path(RULESETS)) if f.severity == "error"]
    assert errors == []


REDUNDANT_DECIDER = """\
ruleset: tiktok_shop
version: 1.0.0
effective_from: 2024-01-01T00:00:00+07:00
description: Redundant deciding rule.
sources:
  - { publisher: Test, title: Test source }
default:
  then: { outcome: escalated }
  explain: { en: Nothing matched., id: Tidak ada yang cocok. }
%s
rules:
  - id: unpaid-cancel
    description: Unpaid orders are cancelled at once.
    priority: 10
    when:
      all:
        - { fact: order.status, eq: unpaid }
    then: { outcome: approved, next_steps: [order_cancelled] }
    explain: { en: Unpaid., id: Belum dibayar. }
    source: { publisher: Test, title: Test source }
  - id: unpaid-buyer-cancel
    description: The same, for buyers only.
    priority: 20
    when:
      all:
        - { fact: order.status, eq: unpaid }
        - { fact: request.by, eq: buyer }
    then: { outcome: approved, next_steps: [order_cancelled] }
    explain: { en: Unpaid., id: Belum dibayar. }
    source: { publisher: Test, title: Test source }
%s"""


def test_a_deciding_rule_that_changes_no_decision_is_redundant(tmp_path):
    root = write_ruleset(tmp_path, REDUNDANT_DECIDER % (GAP_SILENCE, ""), name="tiktok_shop")
    findings = active(lint_path(root))
    assert [(f.code, [r["id"] for r in f.rules]) for f in findings] == [
        ("redundant-rule", ["unpaid-buyer-cancel", "unpaid-cancel"])]
    assert findings[0].confirmed
    assert findings[0].fields == {"order.status": "unpaid", "request.by": "buyer"}


def test_a_rule_level_silence_names_the_code_and_keeps_the_reason(tmp_path, capsys):
    silenced = REDUNDANT_DECIDER % (GAP_SILENCE, "    lint:\n      silence:\n        - { code: "
                                    "redundant-rule, reason: kept for the buyer-facing text }\n")
    root = write_ruleset(tmp_path, silenced, name="tiktok_shop")
    findings = lint_path(root)
    assert not active(findings)
    assert [f.silenced for f in findings if f.code == "redundant-rule"] == [
        "kept for the buyer-facing text"]
    code, out, _ = run(capsys, "lint", root)
    assert code == 0 and "redundant-rule" not in out
    assert out.splitlines()[-1].startswith("0 error(s), 0 warning(s), ")
    code, out, _ = run(capsys, "lint", root, "--show-silenced")
    assert "silenced: kept for the buyer-facing text" in out


def test_a_silence_with_an_unknown_code_is_a_schema_error(tmp_path, capsys, monkeypatch):
    bad = REDUNDANT_DECIDER % ('lint:\n  silence:\n    - { code: gaps, reason: typo }\n', "")
    root = write_ruleset(tmp_path, bad, name="tiktok_shop")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "lint", "rulesets")
    assert code == 1
    line = line_of(root / "tiktok_shop" / "1.0.0.yaml", "code: gaps")
    assert err.startswith(f"rulesets/tiktok_shop/1.0.0.yaml:{line}:")
    assert 'Did you mean "gap"?' in err


def test_text_output_shows_location_rules_region_witness_and_fix(capsys, monkeypatch):
    monkeypatch.chdir(CATALOGUE)
    code, out, _ = run(capsys, "lint", "conflict")
    assert code == 1
    first = out.splitlines()[0]
    assert first.startswith("conflict/fast_refund/1.0.0.yaml:15:5: error: conflict: rules "
                            '"seller-cancel-refund"')
    assert ("rules: seller-cancel-refund (conflict/tiktok_shop/1.0.0.yaml:16, priority 50), "
            "out-of-stock-penalty (line 15, priority 50)") in out
    assert "  region:\n    all:\n      - { fact: order.status, in: [paid, to_ship] }" in out
    assert "request.reason: out_of_stock" in out
    assert "approved by seller-cancel-refund ✔" in out
    assert "  fix: Give " in out
    assert out.splitlines()[-1].startswith("1 error(s), 0 warning(s)")


def test_warnings_exit_zero_unless_asked_to_fail(capsys):
    assert run(capsys, "lint", CATALOGUE / "shadowed-rule")[0] == 0
    assert run(capsys, "lint", CATALOGUE / "shadowed-rule", "--fail-on", "warning")[0] == 1


def test_json_output_carries_the_complete_witness(capsys):
    code, out, _ = run(capsys, "lint", CATALOGUE / "shadowed-rule", "--format", "json")
    data = json.loads(out)
    assert code == 0
    (finding,) = [f for f in data["findings"] if f["silenced"] is None]
    assert finding["code"] == "shadowed-rule" and finding["line"] == 28
    assert finding["witness"]["order"]["payment"]["method"] == "cod"
    assert finding["region"][0]["all"][0] == {"fact": "order.payment.method", "eq": "cod"}
    assert data["summary"]["warnings"] == 1 and data["summary"]["errors"] == 0


def test_sarif_output_is_a_sarif_2_1_0_log_with_suppressions(capsys, monkeypatch):
    monkeypatch.chdir(CATALOGUE)
    code, out, _ = run(capsys, "lint", "conflict", "--format", "sarif")
    log = json.loads(out)
    assert code == 1
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    run_ = log["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} >= {"dead-rule", "conflict", "shadowed-rule",
                                        "redundant-rule", "gap", "unused-silence"}
    results = run_["results"]
    errors = [r for r in results if r["level"] == "error"]
    assert len(errors) == 1 and errors[0]["ruleId"] == "conflict"
    assert rules[errors[0]["ruleIndex"]]["id"] == "conflict"
    location = errors[0]["locations"][0]["physicalLocation"]
    assert location == {"artifactLocation": {"uri": "conflict/fast_refund/1.0.0.yaml"},
                        "region": {"startLine": 15, "startColumn": 5}}
    related = errors[0]["relatedLocations"][0]["physicalLocation"]
    assert related == {"artifactLocation": {"uri": "conflict/tiktok_shop/1.0.0.yaml"},
                       "region": {"startLine": 16}}
    suppressed = [r for r in results if "suppressions" in r]
    assert suppressed and all(r["suppressions"][0]["kind"] == "inSource" for r in suppressed)


def test_sarif_names_an_absolute_path_by_a_file_uri(capsys):
    code, out, _ = run(capsys, "lint", CATALOGUE / "conflict", "--format", "sarif")
    [error] = [r for r in json.loads(out)["runs"][0]["results"] if r["level"] == "error"]
    uri = error["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == (CATALOGUE / "conflict" / "fast_refund" / "1.0.0.yaml").as_uri()


def test_invalid_rulesets_are_reported_and_fail(tmp_path, capsys):
    root = write_ruleset(tmp_path, REDUNDANT_DECIDER.replace("eq: unpaid", "eq: unpiad")
                         % (GAP_SILENCE, ""), name="tiktok_shop")
    code, out, err = run(capsys, "lint", root)
    assert code == 1
    assert "bad-enum-value" in err and "not analysed" in out


def test_a_ruleset_the_engine_cannot_build_is_reported_as_validate_does(tmp_path, capsys):
    """Valid files past the engine's limits (an integer beyond 64 bits): `aturan.load` refuses
    them, and lint printed that RulesetError as a traceback."""
    root = unpaid_ruleset(tmp_path, "{ fact: order.amounts.total, gt: 99999999999999999999 }")
    code, out, err = run(capsys, "lint", root)
    assert code == 1 and "Traceback" not in err
    assert "rulesets/tiktok_shop/1.0.0.yaml:11:5: engine-number:" in err
    assert "in 0 ruleset version(s); 1 validation error(s)" in out
    code, out, _ = run(capsys, "lint", root, "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["summary"]["versions"] == [] and report["findings"] == []
    assert [d["code"] for d in report["validation"]] == ["engine-number"]


def test_a_region_no_valid_order_reaches_has_no_witness_instead_of_a_crash(tmp_path, capsys):
    """Durations near the 1,100 years facts may span put a witness's timestamps before 1900
    (the symbolic space does not bound ages): the finding stays, unconfirmed and without a
    witness, where lint crashed with the witness's FactsError."""
    root = unpaid_ruleset(tmp_path, "{ fact: order.placed_at, within: 401769d }")
    code, out, err = run(capsys, "lint", root, "--format", "json")
    assert code == 0 and "Traceback" not in err
    gaps = [f for f in json.loads(out)["findings"] if f["code"] == "gap"]
    far = [f for f in gaps if "older_than" in json.dumps(f["region"])]
    assert len(far) == 1 and far[0].get("witness") is None and not far[0]["confirmed"]
    assert any(f.get("witness") for f in gaps)  # the other gap keeps its witness


@pytest.mark.parametrize("start", ["1901-01-01", "1900-01-03"])
def test_witnesses_of_a_ruleset_in_force_before_1924_are_valid_orders(tmp_path, capsys, start):
    """Jakarta's offset before 1924 was +07:07:12, which RFC 3339 cannot write: the witnesses
    of a ruleset in force from 1901 carried it and lint crashed deciding them (FactsError).
    They are now written in UTC, the same instants; and where that writes a year before 1900
    (the first hours of 1900 in Jakarta), the point has no witness instead of a crash."""
    root = unpaid_ruleset(tmp_path, "{ fact: order.placed_at, within: 2d }",
                          effective_from=f"{start}T00:00:00+07:00")
    code, out, err = run(capsys, "lint", root, "--format", "json")
    assert code == 0 and "Traceback" not in err
    findings = json.loads(out)["findings"]
    witnesses = [f["witness"] for f in findings if f.get("witness")]
    assert witnesses if start.startswith("1901") else len(witnesses) < len(findings)
    for witness in witnesses:
        assert witness["request"]["at"][:4] in ("1900", "1901")
        assert witness["request"]["at"].endswith("+00:00") and witness["now"].endswith("+00:00")
    policies = aturan.load(root)
    for witness in witnesses:  # each a valid order that decides
        assert policies.decide(witness).outcome
    policies.close()


def test_orders_weigh_gaps_by_real_orders(tmp_path, capsys):
    folder = CATALOGUE / "gap"
    findings = lint_path(folder)
    witnesses = {tuple(sorted(f.fields.items())): f.witness for f in findings if f.code == "gap"}
    # three real orders in the last gap region shown, one in the first
    gaps = [f for f in findings if f.code == "gap"]
    lines = [json.dumps(gaps[-1].witness)] * 3 + [json.dumps(gaps[0].witness), "{not json"]
    orders = tmp_path / "orders.jsonl"
    orders.write_text("\n".join(lines) + "\n")
    code, out, _ = run(capsys, "lint", folder, "--orders", orders, "--format", "json")
    data = json.loads(out)
    weighed = [f for f in data["findings"] if f["code"] == "gap"]
    assert weighed[0]["orders"] == {"matching": 3, "total": 4}
    assert weighed[0]["fields"] == gaps[-1].fields
    assert weighed[1]["orders"]["matching"] == 1
    assert data["summary"]["orders_unused"] == 1
    assert len(witnesses) == len(gaps)


PAID_BASE = """\
ruleset: tiktok_shop
version: 1.0.0
effective_from: 2024-01-01T00:00:00+07:00
description: A seller's cancellation refunds what was paid.
sources:
  - { publisher: Test, title: Test source }
default:
  then: { outcome: escalated }
  explain: { en: Nothing matched., id: Tidak ada yang cocok. }
%s
rules:
  - id: seller-cancel-refund-paid
    description: Refund what was paid.
    priority: 50
    when:
      all:
        - { fact: order.status, in: [paid, to_ship] }
        - { fact: request.by, eq: seller }
    then: { outcome: approved, refund: { amount: paid, destination: original_method } }
    explain: { en: Refund., id: Refund. }
    source: { publisher: Test, title: Test source }
"""

FULL_OVERLAY = """\
ruleset: full_refund
version: 1.0.0
extends: tiktok_shop@^1
effective_from: 2024-01-01T00:00:00+07:00
description: This shop refunds the total, at the platform rule's priority.
sources:
  - { publisher: Test, title: Test source }
default:
  then: { outcome: escalated }
  explain: { en: Nothing matched., id: Tidak ada yang cocok. }
rules:
  - id: seller-cancel-refund-total
    description: Refund the total.
    priority: 50
    when:
      all:
        - { fact: order.status, in: [paid, to_ship] }
        - { fact: request.by, eq: seller }
        - { fact: order.payment.method, %s }
    then: { outcome: approved, refund: { amount: full, destination: original_method } }
    explain: { en: Refund., id: Refund. }
    source: { publisher: Test, title: Test source }
"""


@pytest.mark.parametrize("method, conflicts", [("ne: cod", False), ("eq: cod", True)])
def test_refund_paid_and_full_conflict_only_where_the_order_is_unpaid(tmp_path, method,
                                                                        conflicts, monkeypatch):
    """`paid` refunds the total of a paid order, like `full`; they differ on COD orders only.
    (Validation refuses such a tie within one file; an overlay against its base is lint's.)"""
    write_ruleset(tmp_path, PAID_BASE % GAP_SILENCE, name="tiktok_shop")
    write_ruleset(tmp_path, FULL_OVERLAY % method, name="full_refund")
    monkeypatch.chdir(tmp_path)
    everything = active(lint_path(Path("rulesets")))
    findings = active(everything, "conflict")
    assert bool(findings) == conflicts
    if not conflicts:  # the overlay's rule then only repeats the platform's
        assert [(f.code, f.rules[0]["id"], f.confirmed) for f in everything] == [
            ("redundant-rule", "seller-cancel-refund-total", True)]
    if conflicts:
        assert findings[0].location.file == "rulesets/full_refund/1.0.0.yaml"
        assert findings[0].fields["order.payment.method"] == "cod" and findings[0].confirmed
        assert findings[0].witness["order"]["payment"]["paid_at"] is None


OVERLAY = """\
ruleset: strict_shop
version: 1.0.0
extends: tiktok_shop@^1
effective_from: 2024-01-01T00:00:00+07:00
description: An overlay whose rule the platform always outranks.
sources:
  - { publisher: Test, title: Test source }
default:
  then: { outcome: escalated, next_steps: [contact_customer_service] }
  explain: { en: No rule covers this request., id: Tidak ada aturan untuk permintaan ini. }
rules:
  - id: cod-cancel-rejected
    description: This shop rejects COD cancellations (but the platform outranks it).
    priority: 30
    when:
      all:
        - { fact: order.status, eq: paid }
        - { fact: order.payment.method, eq: cod }
        - { fact: request.type, eq: cancel }
        - { fact: request.by, eq: buyer }
    then: { outcome: rejected }
    explain: { en: Rejected., id: Ditolak. }
    source: { publisher: Test, title: Test source }
"""


def test_overlay_findings_point_at_the_overlay_file(tmp_path, monkeypatch):
    base = (CATALOGUE / "shadowed-rule" / "tiktok_shop" / "1.0.0.yaml").read_text()
    write_ruleset(tmp_path, base, name="tiktok_shop")
    write_ruleset(tmp_path, OVERLAY, name="strict_shop")
    monkeypatch.chdir(tmp_path)
    findings = active(lint_path(Path("rulesets")))
    mine = [f for f in findings if f.ruleset == "strict_shop@1.0.0"]
    assert [(f.code, f.location.file, f.location.line) for f in mine] == [
        ("shadowed-rule", "rulesets/strict_shop/1.0.0.yaml", 12)]
    assert mine[0].confirmed


AMOUNTS_RULESET = """\
ruleset: tiktok_shop
version: 1.0.0
effective_from: 2024-01-01T00:00:00+07:00
description: Rules on amounts, one of which the sums between amounts rule out.
sources:
  - { publisher: Test, title: Test source }
default:
  then: { outcome: escalated }
  explain: { en: Nothing matched., id: Tidak ada yang cocok. }
""" + GAP_SILENCE + """\
rules:
  - id: above-its-parts
    description: A total of at least 100k from items under 50k and shipping under 10.
    priority: 10
    when:
      all:
        - { fact: order.amounts.total, ge: 100000 }
        - { fact: order.amounts.items, lt: 50000 }
        - { fact: order.amounts.shipping, lt: 10 }
    then: { outcome: approved }
    explain: { en: x, id: x }
    source: { publisher: Test, title: T }
  - id: shipping-heavy
    description: A total of at least 100k from items under 50k.
    priority: 20
    when:
      all:
        - { fact: order.amounts.total, ge: 100000 }
        - { fact: order.amounts.items, lt: 50000 }
    then: { outcome: rejected }
    explain: { en: x, id: x }
    source: { publisher: Test, title: T }
"""


def test_a_rule_the_sums_between_amounts_rule_out_is_dead_and_says_why(tmp_path):
    findings = lint_path(write_ruleset(tmp_path, AMOUNTS_RULESET, name="tiktok_shop"))
    [dead] = active(findings, "dead-rule")
    assert dead.rules[0]["id"] == "above-its-parts"
    assert "total-adds-up (the total is items + shipping - discount)" in dead.message
    assert not active(findings, "shadowed-rule")  # the other rule is possible: its witness
    assert [f.code for f in active(findings)] == ["dead-rule"]


def test_a_rule_that_reads_a_masked_fact_is_warned(tmp_path):
    text = MINIMAL_RULESET.replace("        - { fact: order.status, eq: unpaid }\n",
                                   "        - { fact: order.status, eq: unpaid }\n"
                                   "        - { fact: order.buyer.email, exists: true }\n"
                                   "        - { fact: order.buyer.id, ne: B-0 }\n")
    findings = active(lint_path(write_ruleset(tmp_path, text)), "reads-masked-fact")
    assert [(f.rules[0]["id"], f.severity) for f in findings] == [("unpaid-cancel", "warning")] * 2
    email, buyer_id = findings
    assert "order.buyer.email, which the decision log erases" in email.message
    assert "order.buyer.id, which the decision log replaces by an HMAC" in buyer_id.message
    assert email.location.line == line_of(tmp_path / "rulesets/demo/1.0.0.yaml", "unpaid-cancel")
    plain = active(lint_path(write_ruleset(tmp_path / "plain", MINIMAL_RULESET)),
                   "reads-masked-fact")
    assert plain == []
