"""Ruleset validation: each bad-ruleset class is reported with its exact file:line:col and message,
and loading a broken set raises without touching what was loaded before."""

import pytest

import aturan
from aturan.language.repository import load_collection
from conftest import MINIMAL_RULESET, write_ruleset


def diagnostics(tmp_path, text, name="demo", version="1.0.0"):
    write_ruleset(tmp_path, text, name, version)
    with pytest.MonkeyPatch.context() as patch:  # files named as a user in tmp_path sees them
        patch.chdir(tmp_path)
        _, problems = load_collection(["rulesets"])
    return [d for d in problems if d.severity == "error"]


def only(tmp_path, text, **kw):
    found = diagnostics(tmp_path, text, **kw)
    assert len(found) == 1, [str(d) for d in found]
    return found[0]


def test_minimal_ruleset_is_valid(tmp_path):
    assert diagnostics(tmp_path, MINIMAL_RULESET) == []


@pytest.mark.parametrize("old, new, code, line, col, words", [
    pytest.param("description: A small", "descripton: x\ndescription: A small", "schema", 4, 1,
                 'unknown field "descripton"; Did you mean "description"?', id="unknown-top-level-key"),
    pytest.param("then: { outcome: approved }", "then: { outcome: aproved }", "schema", 17, 13,
                 "'aproved' is not one of: approved, rejected", id="outcome-enum"),
    pytest.param("version: 1.0.0", "version: v1.0.0", "schema", 2, 1, "'v1.0.0' is not well-formed",
                 id="bad-semver"),
    pytest.param("{ fact: order.status, eq: unpaid }", "{ fact: order.status }", "schema", 16, 11,
                 "a condition needs exactly one operator", id="atom-without-operator"),
    pytest.param("{ fact: order.status, eq: unpaid }", "{ fact: order.stauts, eq: unpaid }",
                 "unknown-fact", 16, 11, 'unknown fact path "order.stauts"', id="unknown-fact"),
    pytest.param("{ fact: order.status, eq: unpaid }", "{ fact: order.status, eq: unpiad }",
                 "bad-enum-value", 16, 11, '"unpiad" is not a value of "order.status"', id="enum-value"),
    pytest.param("{ fact: order.status, eq: unpaid }", "{ fact: order.amounts.total, eq: 'a lot' }",
                 "bad-value-type", 16, 11, "is a integer fact; 'a lot' is a str", id="value-type"),
    pytest.param("{ fact: order.status, eq: unpaid }", "{ fact: request.at, older_than: 2x }",
                 "schema", 16, 31, "'2x' is not well-formed", id="bad-duration"),
    pytest.param("{ fact: order.status, eq: unpaid }", "{ fact: request.at, gt: 3 }",
                 "bad-operator", 16, 11, 'operator "gt" does not apply to timestamp fact', id="operator-for-kind"),
    pytest.param("en: Unpaid.", 'en: "Unpaid {order.stat}."', "unknown-placeholder", 11, 5,
                 "explain.en quotes {order.stat}", id="unknown-placeholder"),
])
def test_bad_ruleset_is_located(tmp_path, old, new, code, line, col, words):
    assert old in MINIMAL_RULESET
    err = only(tmp_path, MINIMAL_RULESET.replace(old, new, 1))
    assert (err.code, err.location.line, err.location.col) == (code, line, col), str(err)
    assert words in str(err)
    assert str(err).startswith(f"rulesets/demo/1.0.0.yaml:{line}:{col}: {code}: ")


def test_did_you_mean_for_fact_paths_and_enum_values(tmp_path):
    err = only(tmp_path, MINIMAL_RULESET.replace("order.status, eq: unpaid",
                                                 "order.stauts, eq: unpaid"))
    assert 'Did you mean "order.status"?' in str(err)
    err = only(tmp_path / "b", MINIMAL_RULESET.replace("eq: unpaid", "eq: unpiad"))
    assert 'Did you mean "unpaid"?' in str(err)


def rule(rule_id, priority, outcome, status):
    return f"""  - id: {rule_id}
    description: d
    priority: {priority}
    when: {{ all: [ {{ fact: order.status, in: [{status}] }} ] }}
    then: {{ outcome: {outcome} }}
    explain: {{ en: e, id: i }}
    source: {{ publisher: Test, title: Test source }}
"""


def test_duplicate_rule_id(tmp_path):
    err = only(tmp_path, MINIMAL_RULESET + rule("unpaid-cancel", 5, "approved", "paid"))
    assert err.code == "duplicate-rule-id"
    assert (err.location.line, err.location.col) == (20, 5)
    assert 'rule id "unpaid-cancel" is already used at line 11' in err.message


def test_equal_priority_conflict_is_an_error_unless_obviously_disjoint(tmp_path):
    err = only(tmp_path, MINIMAL_RULESET + rule("paid-reject", 10, "rejected", "unpaid, paid"))
    assert err.code == "priority-conflict"
    assert '"unpaid-cancel" (approved) and "paid-reject" (rejected) have the same priority 10' \
        in err.message
    assert diagnostics(tmp_path / "ok", MINIMAL_RULESET + rule("paid-reject", 10, "rejected",
                                                               "paid")) == []


def test_overlapping_effective_dates(tmp_path, monkeypatch):
    write_ruleset(tmp_path, MINIMAL_RULESET)
    monkeypatch.chdir(tmp_path)
    root = "rulesets"
    second = MINIMAL_RULESET.replace("version: 1.0.0", "version: 2.0.0").replace(
        "effective_from: 2024-01-01", "effective_from: 2024-06-01")
    write_ruleset(tmp_path, second, version="2.0.0")
    _, problems = load_collection([root])
    # demo is no platform: a warning per version (see test_project.py)
    assert [d.code for d in problems] == ["overlapping-versions", "unknown-platform",
                                          "unknown-platform"]
    assert str(problems[0]).startswith("rulesets/demo/2.0.0.yaml:1:1: overlapping-versions: demo@2.0.0 "
                                       "takes effect 2024-06-01T00:00:00+07:00 while demo@1.0.0")
    assert "Set effective_until: 2024-06-01T00:00:00+07:00 in demo@1.0.0." in str(problems[0])


def test_file_and_folder_must_match_name_and_version(tmp_path):
    found = diagnostics(tmp_path, MINIMAL_RULESET, name="other", version="9.9.9")
    assert sorted(d.code for d in found) == ["file-name", "folder-name"]


def test_all_errors_of_all_files_are_reported_together(tmp_path):
    root = write_ruleset(tmp_path, MINIMAL_RULESET.replace("eq: unpaid", "eq: unpiad"))
    write_ruleset(tmp_path, "ruleset: [\n", name="broken")
    _, problems = load_collection([root])
    assert sorted(d.code for d in problems) == ["bad-enum-value", "yaml-syntax"]


def test_loading_a_broken_set_raises_and_leaves_loaded_policies_alone(tmp_path, policies, facts):
    before = policies.decide(facts()).to_json()
    root = write_ruleset(tmp_path, MINIMAL_RULESET.replace("priority: 10", "priority: high"))
    with pytest.raises(aturan.RulesetError) as info:
        aturan.load(root)  # an absolute path: the file is named absolutely
    assert str(info.value) == (f"{root.as_posix()}/demo/1.0.0.yaml:13:5: schema: 'high' is not of type "
                               "'integer' (at /rules/0/priority)")
    assert policies.decide(facts()).to_json() == before


def test_bundled_rulesets_are_valid():
    from conftest import RULESETS
    _, problems = load_collection([RULESETS])
    assert [str(d) for d in problems] == []


def test_equal_priority_rules_with_the_same_outcome_but_other_effects_conflict(tmp_path):
    other = rule("unpaid-reject-steps", 10, "approved", "unpaid").replace(
        "then: { outcome: approved }", "then: { outcome: approved, next_steps: [call_seller] }")
    err = only(tmp_path, MINIMAL_RULESET + other)
    assert err.code == "priority-conflict"
    assert ('rules "unpaid-cancel" and "unpaid-reject-steps" (both approved, with different '
            "refunds, penalties or next steps) have the same priority 10") in err.message
    same = rule("unpaid-again", 10, "approved", "unpaid")
    assert diagnostics(tmp_path / "identical", MINIMAL_RULESET + same) == []
