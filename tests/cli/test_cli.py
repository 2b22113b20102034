"""The `aturan` command as a user runs it: exit codes, text for people, JSON for machines."""

import json

from aturan.cli import main
from conftest import MINIMAL_RULESET, RULESETS, make_facts, write_ruleset


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_clean_rulesets(capsys):
    code, out, _ = run(capsys, "validate", str(RULESETS))
    assert code == 0
    assert out.startswith("ok: ")


def test_validate_reports_every_error_with_location(tmp_path, capsys):
    root = write_ruleset(tmp_path, MINIMAL_RULESET.replace("eq: unpaid", "eq: unpiad"))
    write_ruleset(tmp_path, MINIMAL_RULESET.replace("version: 1.0.0", "version: 2.0.0")
                  .replace("order.status", "order.state"), version="2.0.0")
    code, _, err = run(capsys, "validate", str(root))  # an absolute path: absolute names
    assert code == 1
    lines = err.splitlines()
    assert lines[0].startswith(f"{root.as_posix()}/demo/1.0.0.yaml:16:11: bad-enum-value: "
                               "\"unpiad\"")
    assert 'Did you mean "unpaid"?' in lines[0]
    assert lines[1].startswith(f'{root.as_posix()}/demo/2.0.0.yaml:16:11: unknown-fact: '
                               'unknown fact path '
                               '"order.state" (at /rules/0/when/all/0) Did you mean "order.status"?')
    assert lines[-1] == "2 error(s) in 2 file(s)"


def test_decide_text_puts_the_outcome_first(tmp_path, capsys):
    path = tmp_path / "order.json"
    path.write_text(json.dumps(make_facts()))
    code, out, _ = run(capsys, "decide", str(path), "--rulesets", str(RULESETS))
    assert code == 0
    assert out.splitlines()[0].startswith("PENDING_SELLER (waiting for the seller)  order "
                                          "TS-1001 · tiktok_shop@1.0.0")
    assert "paid-buyer-cancel-needs-seller" in out
    yaml_lines = (RULESETS / "tiktok_shop" / "1.0.0.yaml").read_text().splitlines()
    line = yaml_lines.index("  - id: paid-buyer-cancel-needs-seller") + 1
    assert f"rulesets/tiktok_shop/1.0.0.yaml:{line}" in out


def test_decide_json_is_the_library_decision_byte_for_byte(tmp_path, capsys, policies):
    path = tmp_path / "order.json"
    path.write_text(json.dumps(make_facts(), indent=2))
    code, out, _ = run(capsys, "decide", str(path), "--format", "json", "--rulesets",
                       str(RULESETS))
    assert code == 0
    assert out == policies.decide(make_facts()).to_json() + "\n"


def test_decide_json_lines_answers_each_line_and_fails_on_a_bad_one(tmp_path, capsys):
    good = make_facts()
    bad = make_facts({"order": {"status": "lost"}})
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join(json.dumps(f) for f in (good, bad, good)) + "\n{nope\n")
    code, out, _ = run(capsys, "decide", str(path), "--format", "json", "--rulesets",
                       str(RULESETS))
    assert code == 1
    results = [json.loads(line) for line in out.splitlines()]
    assert [r.get("outcome") for r in results] == ["pending_seller", None, "pending_seller", None]
    assert results[1]["errors"][0]["pointer"] == "/order/status"
    assert results[1]["line"] == 2
    assert results[3]["errors"][0]["code"] == "json-syntax"


def test_decide_rejects_nan_and_duplicate_keys(tmp_path, capsys):
    path = tmp_path / "order.json"
    path.write_text('{"order": {}, "order": {}}')
    code, _, err = run(capsys, "decide", str(path), "--rulesets", str(RULESETS))
    assert code == 1 and 'duplicate key "order"' in err
    path.write_text(json.dumps(make_facts()).replace("162000}", "NaN}"))
    code, _, err = run(capsys, "decide", str(path), "--rulesets", str(RULESETS))
    assert code == 1 and "NaN is not valid JSON" in err


def test_usage_errors_exit_2(capsys):
    code, _, err = run(capsys, "decide")
    assert code == 2 and "Missing argument" in err
    code, _, _ = run(capsys, "decide", "x.json", "--format", "yaml")
    assert code == 2


def test_decide_with_a_broken_ruleset_folder_exits_1(tmp_path, capsys):
    root = write_ruleset(tmp_path, "ruleset: [\n")
    path = tmp_path / "order.json"
    path.write_text(json.dumps(make_facts()))
    code, _, err = run(capsys, "decide", str(path), "--rulesets", str(root))
    assert code == 1 and "yaml-syntax" in err
