"""`aturan replay`: --verify re-derives every record from the archived ruleset text and checks
the chain, naming each record that was edited or is missing; --against reports what another
version would decide, as `aturan diff` does; --show renders a logged decision again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import aturan
from aturan.audit import DecisionLog, LogOptions
from aturan.cli import main
from conftest import RULESETS, make_facts, varied_facts, write_ruleset

LATER = {"order": {"placed_at": "2025-06-01T10:00:00+07:00",
                   "payment": {"paid_at": "2025-06-01T10:05:00+07:00"},
                   "fulfillment": {"ship_by": "2025-06-03T23:59:00+07:00"}},
         "request": {"at": "2025-06-01T12:00:00+07:00"}}


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def logged(tmp_path):
    """A copy of the bundled rulesets, a log of 30 decisions made with it (rotated), the
    decisions."""
    rulesets = tmp_path / "rulesets"
    shutil.copytree(RULESETS, rulesets)
    policies = aturan.load(rulesets)
    folder = tmp_path / "log"
    log = DecisionLog(folder / "decisions.jsonl", options=LogOptions(max_bytes=32768))
    observed = log.attach(policies, [rulesets])
    decisions = [observed.decide(varied_facts(n)) for n in range(30)]
    log.close()
    policies.close()
    return rulesets, folder, decisions


def rewrite(folder: Path, change) -> None:
    """Apply `change(lines)` to the active file's lines."""
    path = folder / "decisions.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(change(lines)), encoding="utf-8")


def test_verify_passes_even_after_the_rulesets_folder_moved_on(logged, capsys):
    rulesets, folder, decisions = logged
    shutil.rmtree(rulesets)  # the texts that decided are gone: the archive has them
    code, out, err = run(capsys, "replay", folder, "--verify", "--format", "json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["ok"] and report["records"] == report["rederived"] == 30
    assert report["mismatches"] == [] and report["chain"] == []
    assert len(report["files"]) > 1  # rotated files are verified in chain order
    [chain] = report["chains"]
    assert (chain["first_seq"], chain["last_seq"], chain["complete_start"]) == (1, 30, True)
    code, out, _ = run(capsys, "replay", folder, "--verify")
    assert code == 0 and "30 records in" in out and "30 re-derived identically" in out


def test_an_edited_result_fails_naming_the_record(logged, capsys):
    _, folder, _ = logged
    rewritten: list[str] = []

    def edit(lines: list[str]) -> list[str]:
        record = json.loads(lines[1])
        record["result"]["outcome"] = "rejected" if record["result"]["outcome"] != \
            "rejected" else "approved"
        rewritten.append(record["decision_id"])
        from aturan.runtime.decision import canonical_json
        return [lines[0], canonical_json(record) + "\n", *lines[2:]]
    rewrite(folder, edit)
    code, out, _ = run(capsys, "replay", folder, "--verify")
    assert code == 1
    [edited] = rewritten
    failures = [line for line in out.splitlines() if line.startswith("FAIL")]
    # the chain names it (its hash changed) and so does re-deriving (its result is not the
    # decision's)
    assert len(failures) == 2 and all(edited in line for line in failures), out
    assert any("FAIL edited" in line for line in failures)
    assert any("FAIL result" in line and "outcome" in line for line in failures)


def test_an_edited_input_that_keeps_the_outcome_is_still_caught_by_the_chain(logged, capsys):
    _, folder, _ = logged
    rewrite(folder, lambda lines: [lines[0].replace('"R-', '"X-', 1), *lines[1:]])
    code, out, _ = run(capsys, "replay", folder, "--verify", "--format", "json")
    report = json.loads(out)
    first = json.loads((folder / "decisions.jsonl").read_text().splitlines()[0])
    assert code == 1
    assert [p["kind"] for p in report["chain"]] == ["edited"]
    assert report["chain"][0]["decision_id"] == first["decision_id"]


def test_a_deleted_record_fails_naming_the_gap_and_its_neighbours(logged, capsys):
    _, folder, _ = logged
    lines = (folder / "decisions.jsonl").read_text().splitlines()
    before, gone, after = (json.loads(line) for line in lines[:3])
    rewrite(folder, lambda lines: [lines[0], *lines[2:]])
    code, out, _ = run(capsys, "replay", folder, "--verify")
    assert code == 1
    [failure] = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert f"seq {gone['seq']} missing" in failure
    assert before["decision_id"] in failure and after["decision_id"] in failure


def test_without_the_archive_and_with_the_text_changed_replay_says_which_text_is_missing(
        logged, capsys):
    rulesets, folder, _ = logged
    shutil.rmtree(folder / "aturan-rulesets")
    for path in rulesets.rglob("1.0.0.yaml"):
        path.write_text(path.read_text() + "\n# edited\n")
    code, out, _ = run(capsys, "replay", folder, "--verify", "--rulesets", rulesets)
    assert code == 1 and "FAIL no-ruleset-text" in out and "no ruleset text with digest" in out


def test_without_the_archive_the_unchanged_rulesets_folder_serves(logged, capsys):
    rulesets, folder, _ = logged
    shutil.rmtree(folder / "aturan-rulesets")
    code, out, _ = run(capsys, "replay", folder, "--verify", "--rulesets", rulesets)
    assert code == 0, out


def test_a_rule_reading_a_masked_field_cannot_be_re_derived_and_replay_says_why(tmp_path,
                                                                                capsys):
    text = (RULESETS / "tiktok_shop" / "1.0.0.yaml").read_text(encoding="utf-8")
    marker = "rules:\n"
    vip = """  - id: vip-buyer
    description: Buyers who gave an e-mail address are approved at once (test only).
    priority: 99
    when:
      all:
        - { fact: order.buyer.email, exists: true }
    then: { outcome: approved }
    explain: { en: VIP., id: VIP. }
    source: { publisher: Test, title: Test source }
"""
    root = write_ruleset(tmp_path, text.replace(marker, marker + vip, 1), "tiktok_shop")
    policies = aturan.load(root)
    folder = tmp_path / "log"
    with DecisionLog(folder / "d.jsonl") as log:
        decision = log.attach(policies, [root]).decide(
            make_facts({"order": {"buyer": {"email": "vip@example.id"}}}))
    assert decision.outcome == "approved"
    code, out, _ = run(capsys, "replay", folder, "--verify", "--rulesets", root)
    assert code == 1
    assert "FAIL result" in out and "masked in the log: /order/buyer/email" in out


def test_against_reports_transitions_by_decision_id_as_diff_does(tmp_path, capsys):
    policies = aturan.load(RULESETS)
    folder = tmp_path / "log"
    orders = [make_facts(LATER) | {"order": {**varied_facts(n)["order"], **make_facts(LATER)["order"],
                                             "id": f"R-{n}"}} for n in range(20)]
    with DecisionLog(folder / "d.jsonl") as log:
        observed = log.attach(policies, [RULESETS])
        ids = [observed.decide(o, "tiktok_shop@1.0.0").decision_id for o in orders]
    corpus = tmp_path / "orders.jsonl"
    corpus.write_text("".join(json.dumps(o) + "\n" for o in orders))
    code, out, _ = run(capsys, "replay", folder, "--against", "tiktok_shop@2.0.0",
                       "--format", "json")
    assert code == 0
    replayed = json.loads(out)
    code, out, _ = run(capsys, "diff", "tiktok_shop@1.0.0", "tiktok_shop@2.0.0", "--orders",
                       corpus, "--format", "json", "--workers", "1")
    diffed = json.loads(out)
    assert replayed["old"] == "logged" and replayed["new"] == "tiktok_shop@2.0.0"
    for key in ("orders", "changed", "unchanged", "invalid", "changed_parts"):
        assert replayed[key] == diffed[key], key
    assert replayed["changed"] > 0
    for ours, theirs in zip(replayed["by_outcome"], diffed["by_outcome"]):
        assert (ours["old"], ours["new"], ours["count"]) == (
            theirs["old"], theirs["new"], theirs["count"])
        for example in ours["examples"]:  # named by decision id, and the line of its record
            assert example["decision_id"] == ids[example["line"] - 1]
    code, text, _ = run(capsys, "replay", folder, "--against", "tiktok_shop@2.0.0")
    assert code == 0 and "logged → tiktok_shop@2.0.0" in text
    assert f"{ids[replayed['by_outcome'][0]['examples'][0]['line'] - 1]} (line " in text
    code, _, _ = run(capsys, "replay", folder, "--against", "tiktok_shop@2.0.0",
                     "--fail-on-change")
    assert code == 1
    code, _, err = run(capsys, "replay", folder, "--against", "tiktok_shop@9.9.9")
    assert code == 2 and "tiktok_shop@9.9.9" in err


def test_show_renders_a_logged_decision_again_in_either_language(logged, capsys):
    _, folder, decisions = logged
    chosen = decisions[4]
    code, out, _ = run(capsys, "replay", folder, "--show", chosen.decision_id, "--lang", "id")
    assert code == 0
    message = aturan.load(RULESETS).decide(varied_facts(4), None, "id").explanation[0].message["id"]
    assert chosen.decision_id in out and message in out
    code, out, _ = run(capsys, "replay", folder, "--show", chosen.decision_id, "--format", "json")
    shown = json.loads(out)
    assert (shown["decision_id"], shown["outcome"], shown["refund"]) == (
        chosen.decision_id, chosen.outcome, chosen.to_dict()["refund"])
    code, _, err = run(capsys, "replay", folder, "--show", "no-such-id")
    assert code == 1 and "no record with decision_id no-such-id" in err


def test_usage_errors(logged, capsys, tmp_path):
    _, folder, _ = logged
    assert run(capsys, "replay", folder)[0] == 2
    assert run(capsys, "replay", folder, "--verify", "--against", "tiktok_shop@2.0.0")[0] == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run(capsys, "replay", empty, "--verify")[0] == 2


@pytest.mark.parametrize("damage", ["cut short", "not gzip", "empty"])
@pytest.mark.parametrize("workers", [[], ["--workers", "2"]])
def test_a_damaged_gzip_log_fails_verify_at_the_line_it_cannot_read(logged, capsys, damage,
                                                                    workers):
    """The writer renames a compressed file into place only once it is whole, so a .gz cut
    short, one that is not gzip or an empty one lost records: a failure (exit 1) naming where,
    not the note of a torn line (exit 0, as it was), with and without partitions."""
    _, folder, _ = logged
    rotated = sorted(folder.glob("decisions.*.jsonl.gz"))[0]
    whole = rotated.read_bytes()
    rotated.write_bytes({"cut short": whole[: len(whole) // 2], "not gzip": b"no\n",
                         "empty": b""}[damage])
    code, out, _ = run(capsys, "replay", rotated, "--verify", *workers)
    assert code == 1, out
    assert f"FAIL unreadable: {rotated}:" in out and "any records past here are lost" in out
    assert {"cut short": "cut short", "not gzip": "damaged",
            "empty": "is empty"}[damage] in out and "note torn" not in out
    code, out, err = run(capsys, "replay", folder, "--against", "tiktok_shop@2.0.0")
    assert "the log's hash chain is broken" in err


def test_an_orders_file_given_as_the_log_is_a_usage_error_and_stays_as_it_was(tmp_path,
                                                                            capsys):
    orders = tmp_path / "orders.jsonl"
    orders.write_text("".join(json.dumps(varied_facts(n)) + "\n" for n in range(3)))
    before = orders.read_bytes()
    code, out, err = run(capsys, "decide", orders, "--decision-log", orders)
    assert code == 2 and not out
    assert f"{orders}:1: this line is not a decision log record" in err, err
    assert orders.read_bytes() == before


def test_decide_writes_the_log_and_its_json_carries_the_same_id(tmp_path, capsys):
    orders = tmp_path / "orders.jsonl"
    orders.write_text("".join(json.dumps(varied_facts(n)) + "\n" for n in range(5)))
    log = tmp_path / "log" / "d.jsonl"
    code, out, _ = run(capsys, "decide", orders, "--format", "json", "--decision-log", log,
                       "--rulesets", RULESETS)
    assert code == 0
    answered = [json.loads(line)["decision_id"] for line in out.splitlines()]
    logged_ids = [json.loads(line)["decision_id"] for line in log.read_text().splitlines()]
    assert answered == logged_ids and len(set(answered)) == 5
    code, out, _ = run(capsys, "decide", orders, "--format", "json", "--rulesets", RULESETS)
    assert "decision_id" not in out  # logging off: the canonical bytes as before
    code, _, err = run(capsys, "decide", orders, "--decision-log-mask", "/x")
    assert code == 2 and "need --decision-log" in err
    code, _, err = run(capsys, "decide", orders, "--decision-log", log, "--decision-log-mask",
                       "x")
    assert code == 2 and "JSON pointer" in err


TIER_FACT = """\
  order.ext.seller_tier:
    type: enum
    values: [regular, mall]
    description: The seller's tier.
"""
TIER_RULE = """\
  - id: mall-refunds-at-once
    description: A mall shop refunds a paid cancellation.
    priority: 45
    when:
      all:
        - { fact: order.status, eq: paid }
        - { fact: order.ext.seller_tier, eq: mall }
    then:
      outcome: approved
      refund: { amount: paid, destination: original_method,
                eta: { min_business_days: 1, max_business_days: 3 } }
    explain: { en: Mall shops refund at once., id: Toko mall langsung mengembalikan dana. }
    source: { publisher: Test, title: Test source }
"""


def test_a_policy_folders_catalogue_is_archived_and_replayed(tmp_path, capsys, monkeypatch):
    root = tmp_path / "shop"
    assert run(capsys, "init", root, "--platform", "blibli")[0] == 0
    project = root / "aturan.yaml"
    project.write_text(project.read_text().replace("facts:\n", "facts:\n" + TIER_FACT))
    ruleset = root / "rulesets" / "blibli" / "1.0.0.yaml"
    ruleset.write_text(ruleset.read_text().replace("rules:\n", "rules:\n" + TIER_RULE, 1))
    facts = make_facts({"order": {"platform": "blibli", "id": "BL-1",
                                  "ext": {"seller_tier": "mall"}},
                        "request": {"at": "2025-06-01T12:00:00+07:00"}})
    facts["order"]["placed_at"] = "2025-06-01T10:00:00+07:00"
    (tmp_path / "order.json").write_text(json.dumps(facts))
    monkeypatch.chdir(root)
    log = tmp_path / "log" / "d.jsonl"
    code, out, err = run(capsys, "decide", tmp_path / "order.json", "--format", "json",
                         "--decision-log", log)
    assert code == 0, out + err
    decision = json.loads(out)
    assert decision["outcome"] == "approved" and decision["refund"]["eta"]["max_business_days"] == 3
    record = json.loads(log.read_text())
    assert record["catalogue"]["project"] is True
    assert list((tmp_path / "log" / "aturan-rulesets").glob("catalogue-*/aturan.yaml"))
    monkeypatch.chdir(tmp_path)
    shutil.rmtree(root)  # the policy folder moved on: the archive holds its texts
    code, out, _ = run(capsys, "replay", log, "--verify")
    assert code == 0, out
    shutil.rmtree(tmp_path / "log" / "aturan-rulesets")
    code, out, _ = run(capsys, "replay", log, "--verify")
    assert code == 1 and "no ruleset text with digest" in out


def test_an_unwritable_log_or_unreadable_key_is_a_usage_error(tmp_path, capsys):
    orders = tmp_path / "o.json"
    orders.write_text(json.dumps(make_facts()))
    blocker = tmp_path / "file"
    blocker.write_text("")
    for command in ("decide", "serve"):
        args = [orders] if command == "decide" else ["--port", "1"]
        code, _, err = run(capsys, command, *args, "--decision-log", blocker / "d.jsonl")
        assert code == 2 and "cannot write the decision log" in err, err
    code, _, err = run(capsys, "decide", orders, "--decision-log", tmp_path / "d.jsonl",
                       "--decision-log-key-file", tmp_path)
    assert code == 2


def test_v2_decisions_log_when_they_take_effect_what_they_cover_and_how_a_return_resolves(
        tmp_path, capsys):
    """The language v2 parts of a decision (effective_at, covers, return) are in its record's
    result, valid against the log schema, and --verify re-derives them."""
    import jsonschema

    from aturan.regression.cases import load_cases
    from aturan.resources import load_schema
    from conftest import V2_RULESETS
    rulesets = tmp_path / "rulesets"
    shutil.copytree(V2_RULESETS, rulesets)
    policies = aturan.load(rulesets)
    folder = tmp_path / "log"
    log = DecisionLog(folder / "decisions.jsonl")
    observed = log.attach(policies, [rulesets])
    cases = load_cases(rulesets / "tiktok_shop" / "cases" / "1.0.0.yaml")
    decisions = [observed.decide(case.facts) for case in cases]
    log.close()
    policies.close()
    records = [json.loads(line) for line in
               (folder / "decisions.jsonl").read_text(encoding="utf-8").splitlines()]
    schema = load_schema("decision-log")
    for record, decision in zip(records, decisions, strict=True):
        jsonschema.validate(record, schema)
        shown = decision.to_dict()
        for part in ("effective_at", "covers", "return"):
            assert record["result"].get(part) == shown.get(part)
    assert any("effective_at" in r["result"] for r in records)
    assert any("covers" in r["result"] for r in records)
    assert any("return" in r["result"] for r in records)
    code, out, err = run(capsys, "replay", folder, "--verify", "--format", "json")
    assert code == 0, out + err
    assert json.loads(out)["rederived"] == len(cases)
    # an edited effective_at is caught
    path = folder / "decisions.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, r in enumerate(records) if "effective_at" in r["result"])
    lines[at] = lines[at].replace(records[at]["result"]["effective_at"],
                                  "2030-01-01T00:00:00+07:00")
    path.write_text("".join(lines), encoding="utf-8")
    code, out, _ = run(capsys, "replay", folder, "--verify", "--format", "json")
    assert code != 0 and "effective_at" in out
