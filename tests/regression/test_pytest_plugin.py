"""The pytest plugin: `pytest rulesets/` collects case files as modules and cases as items named
by the case, shows the `aturan test` diff on failure, and stays out of ordinary test suites."""

from __future__ import annotations

import json

from aturan.regression.cases import describe_failure, load_cases, run_case
from aturan.runtime.evaluate import load
from conftest import BASE_FACTS, MINIMAL_RULESET

pytest_plugins = ["pytester"]

CASES = """\
ruleset: tiktok_shop@1.0.0
base_file: base.json
cases:
  - name: unpaid order is cancelled
    patch: { order: { status: unpaid, payment: { method: virtual_account, paid_at: null } } }
    expect: { outcome: approved, decided_by: unpaid-cancel }
  - name: a paid order is escalated
    expect: { outcome: escalated }
"""


def write(pytester, path: str, text: str) -> None:
    target = pytester.path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def make_rulesets(pytester, cases: str = CASES) -> None:
    write(pytester, "rulesets/tiktok_shop/1.0.0.yaml",
          MINIMAL_RULESET.replace("ruleset: demo", "ruleset: tiktok_shop"))
    write(pytester, "rulesets/tiktok_shop/cases/1.0.0.yaml", cases)
    write(pytester, "rulesets/tiktok_shop/cases/base.json", json.dumps(BASE_FACTS))


def test_each_case_is_an_item_named_by_the_case(pytester):
    make_rulesets(pytester)
    result = pytester.runpytest("rulesets", "--collect-only", "-q", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([
        "rulesets/tiktok_shop/cases/1.0.0.yaml::unpaid order is cancelled",
        "rulesets/tiktok_shop/cases/1.0.0.yaml::a paid order is escalated",
        "2 tests collected*",
    ])
    result = pytester.runpytest("rulesets", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def test_a_failing_case_shows_the_same_diff_as_aturan_test(pytester):
    make_rulesets(pytester, CASES.replace("expect: { outcome: escalated }",
                                          "expect: { outcome: rejected, refund: null }"))
    result = pytester.runpytest("rulesets", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    root = pytester.path / "rulesets"
    file = root / "tiktok_shop" / "cases" / "1.0.0.yaml"
    policies = load("rulesets")  # as `aturan test rulesets` run here names the files
    case = load_cases(file, "rulesets/tiktok_shop/cases/1.0.0.yaml")[1]
    expected = describe_failure(run_case(policies, case))
    assert "outcome: expected rejected, got escalated" in expected[0]
    result.stdout.fnmatch_lines([line.replace("[", "[[]") for line in expected])
    result.stdout.fnmatch_lines(
        ["FAILED rulesets/tiktok_shop/cases/1.0.0.yaml::a paid order is escalated*"])
    policies.close()


def test_a_broken_case_file_is_a_collection_error_with_its_location(pytester):
    make_rulesets(pytester, CASES.replace("outcome: escalated", "outcome: escalate"))
    result = pytester.runpytest("rulesets", "-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*rulesets/tiktok_shop/cases/1.0.0.yaml:8:15: schema: "
                                 "'escalate' is not one of*"])
    assert "Traceback" not in result.stdout.str()


def test_only_yaml_inside_cases_folders_is_collected(pytester):
    make_rulesets(pytester)
    write(pytester, "config/cases_like.yaml", CASES)  # not in a cases/ folder
    write(pytester, "rulesets/tiktok_shop/cases/_shared.yaml", "order: {}")  # a base file
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider", ".")
    result.stdout.fnmatch_lines(["2 tests collected*"])


def test_a_normal_test_suite_collects_nothing_from_the_plugin(pytester):
    make_rulesets(pytester)
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
                               'filterwarnings = ["error"]\n')
    pytester.makepyfile(**{"tests/test_ordinary": "def test_one():\n    assert 1 + 1 == 2\n"})
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result = pytester.runpytest("--collect-only", "-q", "-p", "no:cacheprovider")
    assert "cases" not in result.stdout.str()
