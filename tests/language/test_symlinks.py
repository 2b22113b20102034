"""A ruleset file that is a symbolic link out of the rulesets folder is a located error from
`validate`, `aturan.load` and `serve`, never a `ValueError` traceback (issue 14, item 6); links
inside the folder, and a symlinked folder, load as their targets."""

from __future__ import annotations

import shutil

import pytest

import aturan
from aturan.cli import main
from conftest import TIKTOK_1, tiktok_only


@pytest.fixture
def escaping(tmp_path):
    root = tiktok_only(tmp_path / "repo")
    outside = tmp_path / "elsewhere" / "1.1.0.yaml"
    outside.parent.mkdir()
    shutil.copy(TIKTOK_1, outside)
    (root / "tiktok_shop" / "1.1.0.yaml").symlink_to(outside)
    return root, outside


EXPECTED = "rulesets/tiktok_shop/1.1.0.yaml: symlink-outside-root: is a symbolic link to "


def test_validate_reports_a_link_out_of_the_folder(escaping, capsys):
    root, outside = escaping
    assert main(["validate", str(root)]) == 1
    err = capsys.readouterr().err
    assert EXPECTED + str(outside) in err and "Traceback" not in err


def test_load_raises_a_located_ruleset_error(escaping):
    root, _ = escaping
    with pytest.raises(aturan.RulesetError) as caught:
        aturan.load(root)
    assert caught.value.first.code == "symlink-outside-root"
    # paths print as given (absolute here): the file's own, the link's, not its target's
    assert str(caught.value.first).startswith(str(root / "tiktok_shop" / "1.1.0.yaml") + ": ")
    assert EXPECTED in str(caught.value.first)


def test_serve_refuses_to_start_with_the_error(escaping, capsys):
    root, _ = escaping
    assert main(["serve", "--rulesets", str(root), "--probe-timeout", "0", "--port", "1"]) == 1
    assert EXPECTED in capsys.readouterr().err


def test_links_inside_the_folder_and_a_linked_folder_load(tmp_path, policies, facts):
    root = tiktok_only(tmp_path / "repo")
    store = root / ".store"  # hidden: not a ruleset folder itself
    store.mkdir()
    shutil.move(root / "tiktok_shop" / "1.0.0.yaml", store / "tiktok.yaml")
    (root / "tiktok_shop" / "1.0.0.yaml").symlink_to("../.store/tiktok.yaml")
    linked = tmp_path / "live"
    linked.symlink_to(root, target_is_directory=True)
    for folder in (root, linked):
        loaded = aturan.load(folder)
        assert [rs.key for rs in loaded.collection.versions] == ["tiktok_shop@1.0.0"]
        assert loaded.decide(facts()).outcome == policies.decide(facts()).outcome
        loaded.close()
