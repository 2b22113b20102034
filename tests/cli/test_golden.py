"""The text a person reads, compared whole with tests/golden/*.txt: decide (English and
Indonesian), why-not, lint, a failing `aturan test`, validation errors. A change to any of them
shows up as a diff to review; `pytest --update-golden` rewrites the files."""

from __future__ import annotations

import json
import shutil

import pytest

from aturan.cli import main
from conftest import MINIMAL_RULESET, ROOT, make_facts, write_ruleset


@pytest.fixture
def at_root(monkeypatch):
    """Run from the repository root with relative paths, as the README does."""
    monkeypatch.chdir(ROOT)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def first_orders(tmp_path, count: int):
    lines = (ROOT / "examples" / "orders.jsonl").read_text().splitlines()[:count]
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("lang", ["en", "id"])
def test_decide_text(at_root, tmp_path, capsys, golden, lang):
    code, out, err = run(capsys, "decide", str(first_orders(tmp_path, 4)), "--lang", lang,
                         "--rulesets", "rulesets")
    assert (code, err) == (0, "")
    golden.check(f"decide-{lang}", out)


def test_why_not_text(at_root, tmp_path, capsys, golden):
    path = tmp_path / "order.json"
    path.write_text(json.dumps(make_facts()))
    code, out, err = run(capsys, "decide", str(path), "--why-not", "seller-cancel-out-of-stock",
                         "--rulesets", "rulesets")
    assert (code, err) == (0, "")
    golden.check("why-not", out)


def test_lint_text(at_root, capsys, golden):
    code, out, _ = run(capsys, "lint", "tests/analysis/lint_catalogue/shadowed-rule")
    assert code == 0 and "shadowed-rule" in out  # a warning: exit 0
    golden.check("lint-shadowed-rule", out)


def test_failing_case_text(at_root, tmp_path, capsys, golden, monkeypatch):
    shutil.copytree(ROOT / "rulesets" / "tiktok_shop", tmp_path / "rulesets" / "tiktok_shop")
    cases = tmp_path / "rulesets" / "tiktok_shop" / "cases" / "1.0.0.yaml"
    text = cases.read_text()
    assert "outcome: pending_seller" in text
    cases.write_text(text.replace("outcome: pending_seller", "outcome: approved", 1))
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "test", "rulesets")
    assert code == 1
    golden.check("test-failure", out + err)


def test_validation_errors_text(tmp_path, capsys, golden, monkeypatch):
    write_ruleset(tmp_path, MINIMAL_RULESET.replace("eq: unpaid", "eq: unpiad")
                  .replace("order.status", "order.state", 1))
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "validate", "rulesets")
    assert code == 1
    golden.check("validate-errors", out + err)


def test_why_not_text_in_indonesian(at_root, tmp_path, capsys, golden):
    """--lang id: the frame around the rules' messages is Indonesian too, enum codes labelled."""
    path = tmp_path / "order.json"
    path.write_text(json.dumps(make_facts()))
    code, out, err = run(capsys, "decide", str(path), "--why-not", "seller-cancel-out-of-stock",
                         "--rulesets", "rulesets", "--lang", "id")
    assert (code, err) == (0, "")
    golden.check("why-not-id", out)


BROKEN_CASES = """\
  - name: paid order needs the seller, in Indonesian
    lang: id
    expect:
      outcome: approved
      next_steps: [contact_seller, refund_buyer]
      decided_by: paid-buyer-cancel-needs-seler
      rules: [paid-buyer-cancel-needs-seller, seller-approves-buyer-cancl]

  - name: a case whose facts are invalid
    patch: { order: { status: paidd, amounts: { total: -1 } } }
    expect: { outcome: pending_seller }

  - name: a case that expects a decision but gets an error
    patch: { request: { at: "2022-01-01T00:00:00+07:00" }, order: { placed_at: "2022-01-01T00:00:00+07:00" } }
    ruleset: tiktok_shop
    expect: { outcome: pending_seller }

"""


def test_case_failures_say_what_is_wrong_with_the_case(at_root, tmp_path, capsys, golden,
                                                      monkeypatch):
    """A misspelt rule says it does not exist (Did you mean …?); invalid facts say the case's
    facts are invalid, with every pointer; an error where a decision is expected says so; the
    frame of a `lang: id` case is Indonesian."""
    shutil.copytree(ROOT / "rulesets" / "tiktok_shop", tmp_path / "rulesets" / "tiktok_shop")
    cases = tmp_path / "rulesets" / "tiktok_shop" / "cases" / "1.0.0.yaml"
    text = cases.read_text()
    anchor = "  - name: paid order needs the seller\n"
    assert anchor in text
    cases.write_text(text.replace(anchor, BROKEN_CASES + anchor, 1))
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "test", "rulesets")
    assert code == 1
    golden.check("test-case-problems", out + err)
