"""A ruleset's text loaded without a file (`collection_from_text`, the playground's path): the
same stages and diagnostics as a file on disk, located in the virtual file, nothing read."""

from __future__ import annotations

from aturan.language.repository import collection_from_text, load_collection
from conftest import RULESETS

TIKTOK_1 = RULESETS / "tiktok_shop" / "1.0.0.yaml"
OVERLAY = RULESETS / "preorder_firm" / "1.0.0.yaml"


def test_text_loads_as_its_file_does():
    from_file, _ = load_collection([TIKTOK_1])
    from_text, problems = collection_from_text(TIKTOK_1.read_text(encoding="utf-8"), "x.yaml")
    assert [d for d in problems if d.severity == "error"] == []
    [file_version], [text_version] = from_file.versions, from_text.versions
    assert text_version.digest == file_version.digest  # the same bytes
    assert text_version.path == "x.yaml"
    assert [r.id for r in text_version.rules] == [r.id for r in file_version.rules]
    assert {r.location.file for r in text_version.rules} == {"x.yaml"}


def test_errors_are_located_in_the_virtual_file():
    text = TIKTOK_1.read_text(encoding="utf-8").replace("fact: request.by,", "fact: request.bye,",
                                                         1)
    collection, problems = collection_from_text(text, "playground.yaml")
    [error] = [d for d in problems if d.severity == "error"]
    assert error.code == "unknown-fact" and error.location.file == "playground.yaml"
    assert "request.bye" in text.splitlines()[error.location.line - 1]
    assert error.hint == 'Did you mean "request.by"?'
    assert collection.versions == ()
    [syntax] = collection_from_text("rules: [\n", "playground.yaml")[1]
    assert (syntax.code, syntax.location.file) == ("yaml-syntax", "playground.yaml")


def test_name_and_version_need_not_match_a_path_but_must_be_valid():
    text = TIKTOK_1.read_text(encoding="utf-8")
    _, problems = collection_from_text(text, "anything.yaml")
    assert not {"file-name", "folder-name"} & {d.code for d in problems}
    _, problems = collection_from_text(text.replace("version: 1.0.0", "version: one"), "a.yaml")
    assert [(d.code, d.location.pointer) for d in problems] == [("schema", "/version")]


def test_an_overlay_is_checked_with_the_bases_given_alongside(policies):
    text = OVERLAY.read_text(encoding="utf-8")
    alone = collection_from_text(text, "overlay.yaml")[1]
    assert "overlay-no-base" in {d.code for d in alone}
    bases = [rs for rs in policies.collection.versions if rs.name == "tiktok_shop"]
    collection, problems = collection_from_text(text, "overlay.yaml", bases)
    assert [d for d in problems if d.severity == "error"] == []
    overlay = collection.get("preorder_firm", "1.0.0")
    assert overlay is not None and collection.bases_for(overlay)
