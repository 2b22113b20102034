"""Case text with no file (`cases_from_text`, the playground's path): the same cases as the file
gives, and `base_file` refused at its location since there is no folder to read it from."""

from __future__ import annotations

import pytest

from aturan.errors import RulesetError
from aturan.regression.cases import cases_from_text, load_cases
from conftest import RULESETS

CASES = RULESETS / "tiktok_shop" / "cases" / "1.0.0.yaml"


def test_text_gives_the_cases_the_file_gives():
    from_file = load_cases(CASES, "c.yaml")
    from_text = cases_from_text(CASES.read_text(encoding="utf-8"), "c.yaml")
    assert from_text == from_file


def test_base_file_is_refused_where_it_is_written():
    text = ("ruleset: tiktok_shop@1.0.0\nbase_file: _base.json\n"
            "cases: [{name: a, expect: {outcome: approved}}]\n")
    with pytest.raises(RulesetError) as refused:
        cases_from_text(text, "c.yaml")
    [diagnostic] = refused.value.diagnostics
    assert (diagnostic.code, diagnostic.location.file, diagnostic.location.line) == (
        "case-base-file", "c.yaml", 2)
