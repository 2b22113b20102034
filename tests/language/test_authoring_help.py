"""What a newcomer writes first: `effective_from` as a date (midnight in the platform's time
zone), codes in the wrong case (told the convention, with the value rewritten), and YAML
mistakes (PyYAML's message, plus what usually causes it)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from aturan.language.catalogue import bundled_catalogue
from aturan.language.loader import parse_yaml, yaml_hint
from aturan.language.repository import load_collection
from conftest import MINIMAL_RULESET, write_ruleset

WIB = ZoneInfo("Asia/Jakarta")


def load(tmp_path, monkeypatch, *files: tuple[str, str, str]):
    for text, name, version in files:
        write_ruleset(tmp_path, text, name, version)
    monkeypatch.chdir(tmp_path)
    return load_collection(["rulesets"])


def errors(problems):
    return [str(d) for d in problems if d.severity == "error"]


def test_a_date_is_midnight_in_the_platforms_time_zone(tmp_path, monkeypatch):
    text = MINIMAL_RULESET.replace("effective_from: 2024-01-01T00:00:00+07:00",
                                   "effective_from: 2024-01-01\neffective_until: 2024-07-01")
    collection, problems = load(tmp_path, monkeypatch, (text, "demo", "1.0.0"))
    assert errors(problems) == []
    [rs] = collection.versions
    assert rs.effective_from == datetime(2024, 1, 1, tzinfo=WIB)
    assert rs.effective_from.isoformat() == "2024-01-01T00:00:00+07:00"
    assert rs.effective_until == datetime(2024, 7, 1, tzinfo=WIB)
    assert bundled_catalogue().platform("demo").zone == WIB


def test_a_date_is_midnight_in_a_project_platforms_own_time_zone(tmp_path, monkeypatch):
    """The zone comes from the policy folder's catalogue (aturan.yaml), the one place zones
    are known: a platform in Asia/Makassar (WITA, +08:00) starts its day an hour earlier."""
    (tmp_path / "aturan.yaml").write_text(
        "platforms:\n  grab_mart: { display_name: Grab Mart, time_zone: Asia/Makassar, "
        "holidays: ID }\n", encoding="utf-8")
    text = (MINIMAL_RULESET.replace("ruleset: demo", "ruleset: grab_mart")
            .replace("effective_from: 2024-01-01T00:00:00+07:00", "effective_from: 2024-01-01"))
    collection, problems = load(tmp_path, monkeypatch, (text, "grab_mart", "1.0.0"))
    assert errors(problems) == []
    [rs] = collection.versions
    assert rs.effective_from.isoformat() == "2024-01-01T00:00:00+08:00"


def test_dates_and_timestamps_meet_exactly_at_a_version_change(tmp_path, monkeypatch):
    first = MINIMAL_RULESET.replace("effective_from: 2024-01-01T00:00:00+07:00",
                                    "effective_from: 2024-01-01\n"
                                    "effective_until: 2024-06-01T00:00:00+07:00")
    second = (MINIMAL_RULESET.replace("version: 1.0.0", "version: 2.0.0")
              .replace("effective_from: 2024-01-01T00:00:00+07:00", "effective_from: 2024-06-01"))
    _, problems = load(tmp_path, monkeypatch, (first, "demo", "1.0.0"),
                       (second, "demo", "2.0.0"))
    assert errors(problems) == []  # no overlap, no gap: the same instant


def test_an_impossible_date_is_refused_as_a_date(tmp_path, monkeypatch):
    text = MINIMAL_RULESET.replace("effective_from: 2024-01-01T00:00:00+07:00",
                                   "effective_from: 2024-02-30")
    _, problems = load(tmp_path, monkeypatch, (text, "demo", "1.0.0"))
    assert errors(problems) == ["rulesets/demo/1.0.0.yaml:3:1: bad-date: effective_from: "
                                "'2024-02-30' is not a real date (day is out of range for "
                                "month) (at /effective_from)"]


def test_a_time_without_an_offset_is_told_what_to_write(tmp_path, monkeypatch):
    text = MINIMAL_RULESET.replace("effective_from: 2024-01-01T00:00:00+07:00",
                                   "effective_from: 2024-01-01T10:00:00")
    _, problems = load(tmp_path, monkeypatch, (text, "demo", "1.0.0"))
    [problem] = errors(problems)
    assert problem.startswith("rulesets/demo/1.0.0.yaml:3:1: schema: '2024-01-01T10:00:00' is "
                              "not well-formed: First instant (inclusive)")
    assert "e.g. 2025-03-26;" in problem and "e.g. 2025-03-26T00:00:00+07:00" in problem
    assert "Asia/Jakarta" in problem


@pytest.mark.parametrize("old, new, expected", [
    ("then: { outcome: approved }", "then: { outcome: approved, next_steps: [Order-Cancelled] }",
     "'Order-Cancelled' is not snake_case (lower-case letters, digits and _): write "
     "order_cancelled"),
    ("then: { outcome: approved }", "then: { outcome: approved, next_steps: [orderCancelled] }",
     "'orderCancelled' is not snake_case (lower-case letters, digits and _): write "
     "order_cancelled"),
    ("- id: unpaid-cancel", "- id: Unpaid_Cancel",
     "'Unpaid_Cancel' is not kebab-case (lower-case letters, digits and -): write unpaid-cancel"),
    ("then: { outcome: approved }", "then: { outcome: approved, next_steps: ['2nd step'] }",
     "'2nd step' is not snake_case (lower-case letters, digits and _, starting with a letter)"),
])
def test_a_code_in_the_wrong_case_is_rewritten_for_the_author(tmp_path, monkeypatch, old, new,
                                                              expected):
    assert old in MINIMAL_RULESET
    _, problems = load(tmp_path, monkeypatch, (MINIMAL_RULESET.replace(old, new), "demo",
                                               "1.0.0"))
    [problem] = errors(problems)
    assert expected in problem, problem


@pytest.mark.parametrize("text, hint", [
    ("description: Note: this is it\n", 'a value containing ": " that is not quoted'),
    ("a:\n  b: 1\n c: 2\n", "indented more than the lines beside it"),
    ("a: 1\n- b\n", "a list item (- …) where a key belongs"),
    ('a: "hello\nb: 2\n', "A quote is opened and never closed."),
    ("a: { en: Note: x }\n", 'Inside [ … ] or { … } a value containing ": "'),
    ("a: @x\n", "cannot start with @"),
    ('a: "c:\\d"\n', "a backslash starts an escape"),
    ("a: 1\nb\nc: 2\n", "neither key: value nor - item"),
    ("a: 'it's'\n", "double the quote ('it''s')"),
    ("a: 1\n---\nb: 2\n", "a second document"),
])
def test_common_yaml_mistakes_say_what_usually_causes_them(text, hint):
    with pytest.raises(Exception) as info:
        parse_yaml(text, "x.yaml")
    diagnostic = info.value.first
    assert diagnostic.code == "yaml-syntax"
    assert hint in diagnostic.hint and hint in str(info.value)


def test_an_unknown_yaml_problem_gets_no_made_up_hint():
    assert yaml_hint("something PyYAML never said") == ""
