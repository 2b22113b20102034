"""`aturan test`: failures as readable diffs with the explanation, the summary line, rule
coverage, base facts files, and agreement with `pytest rulesets/` (the plugin)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from aturan.cli import main
from conftest import BASE_FACTS, MINIMAL_RULESET, RULESETS, write_ruleset

pytest_plugins = ["pytester"]

SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$", re.M)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def summary(out: str) -> tuple[int, int]:
    match = SUMMARY.search(out)
    assert match, out
    return int(match.group(1)), int(match.group(2))


TWO_RULES = MINIMAL_RULESET + """\
  - id: seller-cancel
    description: A seller's cancellation is approved.
    priority: 20
    when:
      all:
        - { fact: request.by, eq: seller }
    then: { outcome: approved, next_steps: [refund_buyer] }
    explain: { en: The seller cancelled., id: Penjual membatalkan. }
    source: { publisher: Test, title: Test source }
"""

DEMO_CASES = """\
ruleset: tiktok_shop@1.0.0
base_file: base.json
cases:
  - name: unpaid order is cancelled
    patch: { order: { status: unpaid, payment: { method: virtual_account, paid_at: null } } }
    expect: { outcome: approved, decided_by: unpaid-cancel }
  - name: nothing matches a paid buyer request
    expect: { outcome: escalated, decided_by: default }
"""


def pinned_root(tmp_path: Path, ruleset: str = TWO_RULES, cases: str = DEMO_CASES,
                base_file: str = "base.json") -> Path:
    """A rulesets folder holding a small tiktok_shop@1.0.0, a JSON base-facts file beside its
    case file, and the case file."""
    root = write_ruleset(tmp_path, ruleset.replace("ruleset: demo", "ruleset: tiktok_shop"),
                         name="tiktok_shop")
    folder = root / "tiktok_shop" / "cases"
    folder.mkdir()
    (folder / "base.json").write_text(json.dumps(BASE_FACTS), encoding="utf-8")
    (folder / "1.0.0.yaml").write_text(cases.replace("base_file: base.json",
                                                     f"base_file: {base_file}"),
                                       encoding="utf-8")
    return root


def test_passing_cases_and_the_summary_line(tmp_path, capsys):
    root = pinned_root(tmp_path)
    code, out, err = run(capsys, "test", str(root))
    assert code == 0, out + err
    assert out.splitlines()[-1] == "2 passed, 0 failed"


def test_a_failure_shows_expected_versus_actual_and_the_explanation(tmp_path, capsys,
                                                                    monkeypatch):
    pinned_root(tmp_path, cases=DEMO_CASES.replace(
        "expect: { outcome: approved, decided_by: unpaid-cancel }",
        "expect: { outcome: rejected, next_steps: [order_cancelled, refund_buyer] }"))
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "test", "rulesets")
    assert code == 1
    lines = out.splitlines()
    fail = [line for line in lines if " FAIL " in line]
    assert len(fail) == 1
    assert fail[0].startswith("rulesets/tiktok_shop/cases/1.0.0.yaml:")
    assert "FAIL unpaid order is cancelled [tiktok_shop@1.0.0]" in fail[0]
    assert "outcome: expected rejected, got approved" in fail[0]
    assert "next_steps: expected [order_cancelled, refund_buyer], got []" in fail[0]
    assert "missing order_cancelled, refund_buyer" in fail[0]
    why = lines[lines.index(fail[0]) + 1]
    assert why.strip().startswith("decided by unpaid-cancel (rulesets/tiktok_shop/1.0.0.yaml:")
    assert "Unpaid." in why
    assert "order.status eq unpaid — actual unpaid" in lines[lines.index(fail[0]) + 2]
    assert lines[-1] == "1 passed, 1 failed"


def test_coverage_lists_rules_no_case_fired_with_file_and_line(tmp_path, capsys, monkeypatch):
    pinned_root(tmp_path)
    monkeypatch.chdir(tmp_path)
    root = "rulesets"
    code, out, _ = run(capsys, "test", root, "--coverage")
    assert code == 0
    assert "tiktok_shop@1.0.0: 1/2 rules fired (50%) by 2 decision(s)" in out
    assert "  rulesets/tiktok_shop/1.0.0.yaml:20:5: not fired: seller-cancel" in out.splitlines()
    code, out, err = run(capsys, "test", str(root), "--min-coverage", "100")
    assert code == 1
    assert "coverage of tiktok_shop@1.0.0 is 50%, below --min-coverage 100%" in err
    assert out.splitlines()[-1] == "2 passed, 0 failed"
    code, _, _ = run(capsys, "test", str(root), "--min-coverage", "50")
    assert code == 0


def test_full_coverage_once_a_case_fires_the_missing_rule(tmp_path, capsys):
    cases = DEMO_CASES + """\
  - name: seller cancels
    patch: { request: { by: seller, reason: out_of_stock } }
    expect: { outcome: approved, rules: [seller-cancel], not_rules: [unpaid-cancel] }
"""
    root = pinned_root(tmp_path, cases=cases)
    code, out, err = run(capsys, "test", str(root), "--coverage", "--min-coverage", "100")
    assert code == 0, out + err
    assert "tiktok_shop@1.0.0: 2/2 rules fired (100%) by 3 decision(s)" in out
    assert "not fired" not in out


def test_base_file_must_stay_in_the_cases_folder(tmp_path, capsys):
    root = pinned_root(tmp_path, base_file="../1.0.0.yaml")
    code, out, err = run(capsys, "test", str(root))
    assert code == 1
    assert re.search(r"rulesets/tiktok_shop/cases/1.0.0.yaml:2:1\d?: case-base-file: "
                     r'base_file "../1.0.0.yaml" must be a relative path inside', err), err
    assert out.splitlines()[-1] == "0 passed, 0 failed"


def test_missing_or_malformed_base_file_is_located(tmp_path, capsys):
    root = pinned_root(tmp_path, base_file="nope.json")
    code, _, err = run(capsys, "test", str(root))
    assert code == 1 and 'base_file "nope.json" does not exist' in err
    (root / "tiktok_shop" / "cases" / "base.json").write_text('{"order": {"id": 1,}}')
    (root / "tiktok_shop" / "cases" / "1.0.0.yaml").write_text(
        (root / "tiktok_shop" / "cases" / "1.0.0.yaml").read_text().replace("nope.json",
                                                                            "base.json"))
    code, _, err = run(capsys, "test", str(root))
    assert code == 1
    assert "rulesets/tiktok_shop/cases/base.json:1:20: json-syntax" in err


def test_a_case_may_name_its_own_base_file_and_yaml_bases_are_not_cases(tmp_path, capsys):
    root = pinned_root(tmp_path)
    folder = root / "tiktok_shop" / "cases"
    seller = json.loads(json.dumps(BASE_FACTS))
    seller["request"].update(by="seller", reason="out_of_stock")
    (folder / "_seller.yaml").write_text(yaml.safe_dump(seller), encoding="utf-8")
    (folder / "more.yaml").write_text("""\
ruleset: tiktok_shop@1.0.0
cases:
  - name: seller base
    base_file: _seller.yaml
    patch: { order: { id: X-2 } }
    expect: { outcome: approved, decided_by: seller-cancel }
""", encoding="utf-8")
    code, out, err = run(capsys, "test", str(root), "-v")
    assert code == 0, out + err
    assert "rulesets/tiktok_shop/cases/more.yaml:3:5: ok seller base" in out
    assert out.splitlines()[-1] == "3 passed, 0 failed"


def test_a_file_outside_a_cases_folder_is_refused_without_searching_up_to_the_root(
        tmp_path, capsys, monkeypatch):
    """`aturan test rulesets/x/1.0.0.yaml` (a ruleset, not a case file): the rulesets folder
    was looked for up to `/` and every YAML file below it loaded (15,000 problems and 20 s on
    this machine); now the file is named as no case file, and the other paths still run."""
    root = pinned_root(tmp_path)
    monkeypatch.chdir(tmp_path)
    ruleset = "rulesets/tiktok_shop/1.0.0.yaml"
    for other in ([], ["rulesets"]):
        code, out, err = run(capsys, "test", ruleset, *other)
        assert code == 1
        assert err.startswith(f"{ruleset}: not-a-case-file: is not in a cases/ folder"), err
        assert err.count("\n") <= 4, err  # this problem alone, not the file system's YAML
    assert summary(out)[0] > 0 and root.exists()  # the rulesets folder's cases still ran


def test_a_cases_folder_no_ruleset_holds_is_refused_without_loading_the_folders_above(
        tmp_path, capsys, monkeypatch):
    """`aturan test notes/cases` (a cases/ folder outside the rulesets layout) made the folder
    two above it the rulesets root and loaded every YAML file below that; now the folder is
    named as outside any ruleset's folder, and the other paths still run."""
    pinned_root(tmp_path)
    stray = tmp_path / "notes" / "cases"
    stray.mkdir(parents=True)
    (stray / "a.yaml").write_text("cases: []\n", encoding="utf-8")
    (tmp_path / "unrelated.yaml").write_text("{not: [yaml\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for target in ("notes/cases", "notes/cases/a.yaml"):
        for other in ([], ["rulesets"]):
            code, out, err = run(capsys, "test", target, *other)
            assert code == 1
            assert err.startswith(f"{target}: cases-outside-rulesets: is in a cases/ folder "
                                  "that no ruleset's folder holds (notes has no "), err
            assert "unrelated.yaml" not in err and err.count("\n") <= 4, err
    assert summary(out)[0] > 0  # the rulesets folder's cases still ran


def test_broken_case_file_is_reported_and_other_files_still_run(tmp_path, capsys):
    root = pinned_root(tmp_path)
    (root / "tiktok_shop" / "cases" / "broken.yaml").write_text(
        "ruleset: tiktok_shop@1.0.0\ncases:\n  - name: x\n    expect: { outcome: maybe }\n")
    code, out, err = run(capsys, "test", str(root))
    assert code == 1
    assert "rulesets/tiktok_shop/cases/broken.yaml:4:15: schema: 'maybe' is not one of" in err
    assert out.splitlines()[-1] == "2 passed, 0 failed"


def test_no_case_files_is_an_error(tmp_path, capsys):
    root = write_ruleset(tmp_path, MINIMAL_RULESET)
    code, out, err = run(capsys, "test", str(root))
    assert code == 1
    assert "no case files found" in err
    assert out.splitlines()[-1] == "0 passed, 0 failed"


def test_a_single_case_file_runs_against_its_rulesets(tmp_path, capsys):
    root = pinned_root(tmp_path)
    code, out, _ = run(capsys, "test", str(root / "tiktok_shop" / "cases" / "1.0.0.yaml"))
    assert code == 0
    assert out.splitlines()[-1] == "2 passed, 0 failed"


# --- `aturan test` and `pytest rulesets/` agree, and both catch a changed outcome -------------

def cli_results(capsys, root: Path) -> tuple[int, dict[tuple[str, str], bool]]:
    code, out, _ = run(capsys, "test", str(root), "-v")
    results = {}
    for line in out.splitlines():
        match = re.match(r"^(\S+?):\d+:\d+: (ok|FAIL) (.+?)(?: \[[^\]]*\]: .*)?$", line)
        if match:
            file = "rulesets/" + match.group(1).split("rulesets/", 1)[1]  # as pytest's node ids
            results[(file, match.group(3))] = match.group(2) == "ok"
    assert sum(summary(out)) == len(results)
    return code, results


def pytest_results(pytester, root: Path) -> tuple[int, dict[tuple[str, str], bool]]:
    result = pytester.inline_run(str(root), "-p", "no:cacheprovider")
    outcomes = {}
    for report in result.getreports("pytest_runtest_logreport"):
        if report.when == "call":
            file, name = report.nodeid.split("::", 1)
            outcomes[("rulesets/" + file.split("rulesets/", 1)[1], name)] = report.passed
    return int(result.ret), outcomes


def change_an_outcome(ruleset_file: Path, rule_id: str) -> None:
    """Give rule `rule_id` a different outcome, editing the YAML text in place."""
    text = ruleset_file.read_text(encoding="utf-8")
    start = text.index(f"id: {rule_id}\n")
    match = re.compile(r"outcome: (\w+)").search(text, start)
    assert match
    new = "rejected" if match.group(1) != "rejected" else "approved"
    ruleset_file.write_text(text[:match.start(1)] + new + text[match.end(1):], encoding="utf-8")


@pytest.mark.slow
def test_aturan_test_and_pytest_agree_and_both_fail_on_a_changed_outcome(tmp_path, capsys,
                                                                         pytester):
    root = tmp_path / "rulesets"
    shutil.copytree(RULESETS, root, ignore=shutil.ignore_patterns("__pycache__"))
    code, cli = cli_results(capsys, root)
    pcode, plugin = pytest_results(pytester, root)
    assert cli and cli == plugin
    assert (code == 0) == (pcode == 0)

    # a rule that some case expects to decide, in the first platform version with such a case
    target = None
    for file in sorted(root.glob("*/cases/*.yaml")):
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
        for case in doc["cases"]:
            rule = case["expect"].get("decided_by")
            version = (case.get("ruleset") or doc["ruleset"]).partition("@")[2]
            if rule and rule != "default" and "outcome" in case["expect"] and version:
                target = (file.parent.parent / f"{version}.yaml", rule, case["name"])
                break
        if target:
            break
    assert target, "no case names the rule that decides it"
    change_an_outcome(target[0], target[1])

    code2, cli2 = cli_results(capsys, root)
    pcode2, plugin2 = pytest_results(pytester, root)
    assert code2 == 1 and pcode2 == 1
    assert cli2 == plugin2
    newly_failed = {key for key, ok in cli2.items() if not ok and cli.get(key, False)}
    assert any(name == target[2] for _, name in newly_failed)


def test_one_rulesets_folder_reports_coverage_for_that_ruleset_only(tmp_path, capsys):
    root = pinned_root(tmp_path)
    write_ruleset(tmp_path, MINIMAL_RULESET.replace("ruleset: demo", "ruleset: shopee"),
                  name="shopee")  # no cases: 0% covered
    code, out, _ = run(capsys, "test", str(root), "--coverage", "--min-coverage", "50")
    assert code == 1
    assert "shopee@1.0.0: 0/1 rules fired (0%) by 0 decision(s)" in out
    for target in (root / "tiktok_shop", root / "tiktok_shop" / "cases"):
        code, out, err = run(capsys, "test", str(target), "--coverage", "--min-coverage", "50")
        assert code == 0, out + err
        assert "shopee" not in out
        assert "tiktok_shop@1.0.0: 1/2 rules fired (50%)" in out
        assert out.splitlines()[-1] == "2 passed, 0 failed"
