"""Files are named as the user gave them, the same in every command: relative to the current
directory for a relative path, absolute for an absolute one, so `file:line:col` can be clicked;
and the file/folder name checks look at the real folder, wherever the command runs from."""

from __future__ import annotations

import json
import os
import shutil

import pytest

import aturan
from aturan.cli import main
from aturan.errors import display_path
from conftest import RULESETS, make_facts


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def broken(tmp_path, monkeypatch):
    """`tmp_path/rs3/tiktok_shop` with an enum typo (on line TYPO), and the current directory
    `tmp_path`."""
    root = tmp_path / "rs3"
    shutil.copytree(RULESETS / "tiktok_shop", root / "tiktok_shop")
    path = root / "tiktok_shop" / "1.0.0.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("eq: unpaid", "eq: unpiad", 1), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return root


TIKTOK_1_LINES = (RULESETS / "tiktok_shop" / "1.0.0.yaml").read_text(encoding="utf-8").splitlines()
TYPO = next(n for n, line in enumerate(TIKTOK_1_LINES, 1) if "eq: unpaid" in line)  # and column 11


def rule_line(rule_id: str) -> int:
    return TIKTOK_1_LINES.index(f"  - id: {rule_id}") + 1


def first_location(text: str) -> str:
    return text.splitlines()[0].split(": ", 1)[0]


def test_validate_and_test_name_a_file_alike_as_given(broken, capsys):
    for given, shown in [("rs3", "rs3/tiktok_shop/1.0.0.yaml"),
                         ("rs3/tiktok_shop", "rs3/tiktok_shop/1.0.0.yaml"),
                         ("./rs3/tiktok_shop/", "rs3/tiktok_shop/1.0.0.yaml"),
                         (str(broken), f"{broken.as_posix()}/tiktok_shop/1.0.0.yaml")]:
        code, _, err = run(capsys, "validate", given)
        assert code == 1 and first_location(err) == f"{shown}:{TYPO}:11", given
        code, _, err = run(capsys, "test", given)
        assert code == 1 and first_location(err) == f"{shown}:{TYPO}:11", given
        code, _, err = run(capsys, "lint", given)
        assert code == 1 and first_location(err) == f"{shown}:{TYPO}:11", given


def test_a_relative_path_from_below_is_named_relative_to_here(broken, capsys, monkeypatch):
    monkeypatch.chdir(broken / "tiktok_shop" / "cases")
    code, _, err = run(capsys, "validate", "..")
    assert code == 1 and first_location(err) == f"../1.0.0.yaml:{TYPO}:11"
    code, _, err = run(capsys, "test", "1.0.0.yaml")  # a case file: its rulesets, from here
    assert code == 1 and first_location(err) == f"../1.0.0.yaml:{TYPO}:11"


def test_load_names_files_absolutely_when_given_an_absolute_path(broken):
    with pytest.raises(aturan.RulesetError) as info:
        aturan.load(str(broken))
    assert str(info.value).startswith(f"{broken.as_posix()}/tiktok_shop/1.0.0.yaml:{TYPO}:11: ")
    with pytest.raises(aturan.RulesetError) as info:
        aturan.load("rs3")
    assert str(info.value).startswith(f"rs3/tiktok_shop/1.0.0.yaml:{TYPO}:11: ")


def test_decide_explanations_name_the_source_as_given(tmp_path, capsys, monkeypatch):
    shutil.copytree(RULESETS / "tiktok_shop", tmp_path / "rulesets" / "tiktok_shop")
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "order.json").write_text(json.dumps(make_facts()))
    monkeypatch.chdir(tmp_path / "work")
    code, out, _ = run(capsys, "decide", "order.json", "--rulesets", "../rulesets")
    assert code == 0 and f"  ../rulesets/tiktok_shop/1.0.0.yaml:{rule_line('paid-buyer-cancel-needs-seller')}" in out
    code, out, _ = run(capsys, "decide", "order.json", "--rulesets", "../rulesets",
                       "--format", "json")
    assert json.loads(out)["explanation"][0]["source"]["file"] == (
        "../rulesets/tiktok_shop/1.0.0.yaml")
    code, out, _ = run(capsys, "decide", "order.json", "--why-not", "seller-cancel-out-of-stock",
                       "--rulesets", str(tmp_path / "rulesets"))
    assert f"  {(tmp_path / 'rulesets').as_posix()}/tiktok_shop/1.0.0.yaml:{rule_line('seller-cancel-out-of-stock')}" in out


def test_a_linked_folder_keeps_the_name_it_was_reached_by(tmp_path, capsys, monkeypatch):
    shutil.copytree(RULESETS / "tiktok_shop", tmp_path / "store" / "tiktok_shop")
    (tmp_path / "linked").symlink_to(tmp_path / "store")
    monkeypatch.chdir(tmp_path)
    assert display_path("linked/tiktok_shop/1.0.0.yaml", relative=True) == (
        "linked/tiktok_shop/1.0.0.yaml")
    cases = tmp_path / "store" / "tiktok_shop" / "cases" / "1.0.0.yaml"
    cases.write_text(cases.read_text().replace("outcome: pending_seller", "outcome: approved", 1))
    code, out, _ = run(capsys, "test", "linked")
    assert code == 1
    fail = next(line for line in out.splitlines() if " FAIL " in line)
    assert fail.startswith("linked/tiktok_shop/cases/1.0.0.yaml:")
    assert "(linked/tiktok_shop/1.0.0.yaml:" in out


def test_validate_from_inside_the_folder_finds_no_false_folder_name(capsys, monkeypatch):
    monkeypatch.chdir(RULESETS / "tiktok_shop")
    code, out, err = run(capsys, "validate", "2.0.0.yaml")
    assert (code, err) == (0, ""), err
    assert out.startswith("ok: 1 file(s)")
    code, out, err = run(capsys, "validate", ".")
    assert (code, err) == (0, ""), err


def test_lint_from_a_cases_folder_finds_no_false_folder_name(capsys, monkeypatch):
    monkeypatch.chdir(RULESETS / "tiktok_shop" / "cases")
    code, out, err = run(capsys, "lint", "..")
    assert "folder-name" not in err + out
    assert code == 0 and out.splitlines()[-1].startswith("0 error(s)")


def test_a_wrong_folder_is_still_refused_from_inside_it(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "rulesets" / "shopee"
    folder.mkdir(parents=True)
    shutil.copy(RULESETS / "tiktok_shop" / "2.0.0.yaml", folder / "2.0.0.yaml")
    monkeypatch.chdir(folder)
    code, _, err = run(capsys, "validate", "2.0.0.yaml")
    assert code == 1
    assert ('2.0.0.yaml:2:1: folder-name: ruleset "tiktok_shop" is in folder "shopee"; put it '
            'in "tiktok_shop/"') in err


def test_display_path_is_lexical_and_relative_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert display_path("a/./b/../c.yaml", relative=True) == "a/c.yaml"
    assert display_path("c.yaml", relative=False) == (tmp_path / "c.yaml").as_posix()
    assert display_path(tmp_path.parent / "x.yaml", relative=True) == "../x.yaml"
    assert os.path.isabs(display_path("x.yaml", relative=False))


def test_a_policy_folders_project_file_is_named_like_its_rulesets(tmp_path, capsys,
                                                                   monkeypatch):
    shutil.copytree(RULESETS / "tiktok_shop", tmp_path / "rulesets" / "tiktok_shop")
    (tmp_path / "aturan.yaml").write_text(
        "facts:\n  order.ext.tier: { type: enum, values: [], description: d }\n")
    (tmp_path / "rulesets" / "work").mkdir()
    monkeypatch.chdir(tmp_path / "rulesets" / "work")
    code, _, err = run(capsys, "validate", "..")
    assert code == 1 and first_location(err) == "../../aturan.yaml:2:3"
    code, _, err = run(capsys, "validate", str(tmp_path / "rulesets"))
    assert code == 1 and first_location(err) == f"{(tmp_path / 'aturan.yaml').as_posix()}:2:3"
