"""A condition reads back as the author wrote it, and one way in every output: `within: 24h`
stays `24h` (not the `1d` it equals) and `absent` has no operand, in decide, why-not and a
failing case, in text and in the decision's JSON."""

from __future__ import annotations

import json

import pytest

from aturan.cli import main
from conftest import MINIMAL_RULESET, make_facts, write_ruleset

RULESET = MINIMAL_RULESET.replace("ruleset: demo", "ruleset: tiktok_shop") + """\
  - id: seller-silent-a-day
    description: A buyer's request the seller has not answered for a day waits.
    priority: 20
    when:
      all:
        - { fact: request.seller_response.decision, absent: true }
        - { fact: request.at, within: 24h }
        - { fact: request.by, eq: buyer }
    then: { outcome: pending_seller }
    explain: { en: Waiting., id: Menunggu. }
    source: { publisher: Test, title: Test source }
"""

CASES = """\
ruleset: tiktok_shop@1.0.0
cases:
  - name: a silent seller is waited for
    facts: FACTS
    expect: { outcome: rejected }
"""

WITHIN = "request.at within 24h — actual 2024-03-01T12:00:00+07:00 (0s ago)"
ABSENT = "request.seller_response.decision absent — actual absent"


@pytest.fixture
def repo(tmp_path, monkeypatch):
    write_ruleset(tmp_path, RULESET, name="tiktok_shop")
    cases = tmp_path / "rulesets" / "tiktok_shop" / "cases"
    cases.mkdir()
    (cases / "1.0.0.yaml").write_text(CASES.replace("FACTS", json.dumps(make_facts())))
    (tmp_path / "order.json").write_text(json.dumps(make_facts()))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_decide_text_and_json(repo, capsys):
    code, out, _ = run(capsys, "decide", "order.json")
    assert code == 0 and f"· {WITHIN}" in out and f"· {ABSENT}" in out
    assert "absent true" not in out and "1d" not in out
    code, out, _ = run(capsys, "decide", "order.json", "--format", "json")
    because = json.loads(out)["explanation"][0]["because"]
    assert {"fact": "request.at", "op": "within", "expected": "24h",
            "actual": "2024-03-01T12:00:00+07:00", "age": "0s"} in because


def test_why_not_text(repo, capsys):
    code, out, _ = run(capsys, "decide", "order.json", "--why-not", "seller-silent-a-day")
    assert code == 0 and f"✔ {WITHIN}" in out and f"✔ {ABSENT}" in out
    code, out, _ = run(capsys, "decide", "order.json", "--why-not", "seller-silent-a-day",
                       "--format", "json")
    assert json.loads(out)["condition"]["conditions"][1]["expected"] == "24h"


def test_failing_case_text(repo, capsys):
    code, out, _ = run(capsys, "test")
    assert code == 1
    assert f"        {WITHIN}" in out.splitlines() and f"        {ABSENT}" in out.splitlines()
