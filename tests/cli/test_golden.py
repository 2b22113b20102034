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
